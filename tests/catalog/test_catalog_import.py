"""Importing registry documents (file, URL, inline, CLI) and deploying what was imported."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.catalog.documents import MCP_REGISTRY_LIST, MCP_SERVER_JSON, SECRET, TOOLHIVE_REGISTRY
from tests.discovery.conftest import assert_envelope
from tests.support import REPO, HangarProcess, wait_until


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A local HTTP server over a directory, for imports by URL."""
    root = Path(tmp_path_factory.mktemp("served"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def entry(api: httpx.Client, name: str) -> dict:
    [e] = [e for e in api.get("/api/catalog", params={"search": name}).json()["entries"] if e["name"] == name]
    return dict(e)


def test_toolhive_file_import_and_deploy_keeps_secrets(api: httpx.Client, hangar: HangarProcess,
                                                       tmp_path: Path) -> None:
    doc = tmp_path / "registry.json"
    doc.write_text(json.dumps(TOOLHIVE_REGISTRY))
    r = api.post("/api/catalog/import", json={"path": str(doc)})
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["format"] == "toolhive" and res["imported"] == 3 and res["updated"] == 0
    assert {i["name"]: i["status"] for i in res["entries"]} == {"th-echo": "added", "th-web": "added",
                                                               "th-remote": "added"}
    again = api.post("/api/catalog/import", json={"path": str(doc)}).json()
    assert again["imported"] == 0 and again["unchanged"] == 3

    echo = entry(api, "th-echo")
    assert echo["source"] == "toolhive" and echo["mode"] == "docker" and echo["required_env"] == ["ECHO_TOKEN"]
    assert echo["tools"] == ["echo", "add"] and echo["transport"] == "stdio"
    assert echo["repository_url"] == "https://example.invalid/echo"
    assert [e["name"] for e in api.get("/api/catalog", params={"tags": "test,echo"}).json()["entries"]] == ["th-echo"]

    url = f"/api/catalog/{echo['entry_id']}/deploy"
    body = assert_envelope(api.post(url, json={"provider_id": "th-echo"}), 422, "ValidationError")
    assert "ECHO_TOKEN" in body["message"] and "ECHO_LEVEL" not in body["message"]
    assert api.get("/api/providers/th-echo").status_code == 404
    r = api.post(url, json={"env": {"ECHO_TOKEN": SECRET}})
    assert r.status_code == 201 and r.json()["provider_id"] == "th-echo" and r.json()["mode"] == "docker"
    assert SECRET not in r.text
    detail = api.get("/api/providers/th-echo")
    assert detail.json()["config"]["image"] == "hangar-test-python:latest"
    assert detail.json()["config"]["command"] == ["python3", "-S", "/srv/echo.py"]
    assert detail.json()["config"]["env"]["ECHO_LEVEL"] == "info" and SECRET not in detail.text
    assert SECRET not in api.get(f"/api/catalog/{echo['entry_id']}").text
    assert SECRET not in hangar.log_path.read_text()

    web = entry(api, "th-web")
    assert "streamable-http" in assert_envelope(api.post(f"/api/catalog/{web['entry_id']}/deploy"), 422)["message"]
    remote = entry(api, "th-remote")
    r = api.post(f"/api/catalog/{remote['entry_id']}/deploy")
    assert r.status_code == 201 and r.json()["mode"] == "remote"
    assert api.get("/api/providers/th-remote").json()["config"]["endpoint"] == "https://mcp.example.invalid/mcp"


def test_mcp_registry_inline_and_by_url(api: httpx.Client, served: tuple[Path, str], tmp_path: Path) -> None:
    res = api.post("/api/catalog/import", json={"document": MCP_SERVER_JSON}).json()
    assert res["format"] == "mcp-registry" and res["imported"] == 1
    w = entry(api, "io.github.example/weather")
    assert w["command"] == ["npx", "-y", "@example/weather-mcp@1.2.0"] and w["args"] == ["--units", "metric"]
    assert w["env_vars"] == [{"name": "WEATHER_API_KEY", "description": "API key", "required": True,
                              "secret": True, "default": None}]
    msg = assert_envelope(api.post(f"/api/catalog/{w['entry_id']}/deploy"), 422)["message"]
    assert "WEATHER_API_KEY" in msg
    # A program that is not on PATH is named at deploy time, not discovered at the first start.
    nowhere = {"WEATHER_API_KEY": SECRET, "PATH": str(tmp_path / "empty")}
    msg = assert_envelope(api.post(f"/api/catalog/{w['entry_id']}/deploy", json={"env": nowhere}), 422)["message"]
    assert "'npx' was not found on PATH" in msg and SECRET not in msg
    assert api.get("/api/providers/weather").status_code == 404
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "npx").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "npx").chmod(0o755)
    env = {"WEATHER_API_KEY": SECRET, "PATH": str(bin_dir)}
    r = api.post(f"/api/catalog/{w['entry_id']}/deploy", json={"env": env})
    assert r.status_code == 201 and r.json()["provider_id"] == "weather" and SECRET not in r.text

    root, base = served
    (root / "list.yaml").write_text(json.dumps(MCP_REGISTRY_LIST))
    res = api.post("/api/catalog/import", json={"url": f"{base}/list.yaml", "format": "mcp-registry"}).json()
    assert sorted(i["name"] for i in res["entries"]) == ["io.example/hosted", "io.example/timekeeper"]
    assert entry(api, "io.example/timekeeper")["command"] == ["uvx", "timekeeper-mcp==0.3.0"]
    assert entry(api, "io.example/hosted")["mode"] == "remote"

    # overwrite: false leaves an existing entry as it is.
    changed = {**MCP_SERVER_JSON, "description": "changed"}
    assert api.post("/api/catalog/import", json={"document": changed, "overwrite": False}).json()["skipped"] == 1
    assert entry(api, "io.github.example/weather")["description"] == "Weather forecasts"
    assert api.post("/api/catalog/import", json={"document": changed}).json()["updated"] == 1
    assert entry(api, "io.github.example/weather")["description"] == "changed"


def test_bad_imports_are_refused_and_import_nothing(api: httpx.Client, served: tuple[Path, str],
                                                   tmp_path: Path) -> None:
    before = api.get("/api/catalog").json()["total"]
    _, base = served
    (tmp_path / "junk.yaml").write_text("servers: [unclosed\n")
    half_bad = {"servers": {"ok-one": {"description": "fine", "image": "x:1"}, "bad-one": {"description": "none"}}}
    for body in (
        {}, {"path": "/x", "document": {}}, {"path": str(tmp_path / "missing.json")},
        {"path": str(tmp_path / "junk.yaml")}, {"document": {"foo": 1}}, {"document": half_bad},
        {"document": MCP_SERVER_JSON, "format": "xml"}, {"url": "file:///etc/passwd"},
        {"url": f"{base}/nothing-here.json"}, {"url": "http://127.0.0.1:9/x.json"}, {"document": [1, 2]},
        {"path": 5}, {"document": TOOLHIVE_REGISTRY, "format": "hangar"}, {"surprise": 1},
    ):
        assert_envelope(api.post("/api/catalog/import", json=body), 422)
    assert_envelope(api.post("/api/catalog/import", content=b"{", headers={"content-type": "application/json"}), 400)
    assert api.get("/api/catalog").json()["total"] == before


def test_cli_import_reaches_a_running_server(api: httpx.Client, hangar: HangarProcess, tmp_path: Path) -> None:
    doc = tmp_path / "cli.json"
    doc.write_text(json.dumps({"servers": [{"name": "cli-imported", "description": "by the CLI", "image": "x:1"}]}))
    done = subprocess.run([sys.executable, "-m", "hangar.cli", "catalog", "import", str(doc), "--db", hangar.db_url],
                          capture_output=True, text=True, timeout=120, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr
    assert "toolhive: 1 added" in done.stdout
    assert wait_until(lambda: api.get("/api/catalog", params={"search": "cli-imported"}).json()["total"] == 1, 10)
    bad = tmp_path / "bad.json"
    bad.write_text('{"foo": 1}')
    done = subprocess.run([sys.executable, "-m", "hangar.cli", "catalog", "import", str(bad), "--db", hangar.db_url],
                          capture_output=True, text=True, timeout=120, cwd=REPO, check=False)
    assert done.returncode == 2 and "unrecognised catalog document" in done.stderr
