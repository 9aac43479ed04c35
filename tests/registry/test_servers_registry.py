"""``/registry/default/v0.1/servers``: the catalog in the MCP Registry shape, and a round trip of
the document it serves into a fresh Hangar's catalog."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import HangarProcess

SERVERS = "/registry/default/v0.1/servers"

ENTRIES = [
    {"name": "io.github.acme/weather", "description": "Weather forecasts", "mode": "docker",
     "image": "ghcr.io/acme/weather:1.0.0", "args": ["--units", "metric"], "version": "1.0.0",
     "repository_url": "https://github.com/acme/weather", "tags": ["weather", "oci"],
     "env_vars": [{"name": "API_KEY", "description": "OpenWeather key", "required": True, "secret": True},
                  {"name": "REGION", "default": "eu"}]},
    {"name": "io.github.acme/files", "description": "Files over npx", "mode": "subprocess",
     "command": ["npx", "-y", "@acme/files@2.1.0"], "tags": ["files"], "metadata": {"title": "Files"}},
    {"name": "remote-search", "description": "A remote search server", "mode": "remote",
     "endpoint": "https://search.example.com/mcp", "transport": "streamable-http"},
    {"name": "local-math", "description": "Math over a local command", "mode": "subprocess",
     "command": [sys.executable, "-m", "hangar.examples.math_server"], "env": {"PRECISION": "4"}},
]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HangarProcess]:
    proc = HangarProcess(Path(tmp_path_factory.mktemp("fresh"))).start()
    try:
        yield proc
    finally:
        proc.stop()


def catalog_without_ids(api: httpx.Client) -> list[dict[str, object]]:
    drop = {"entry_id", "created_at", "updated_at", "last_deployed_at", "deploy_count"}
    return [{k: v for k, v in e.items() if k not in drop} for e in api.get("/api/catalog").json()["entries"]]


def test_servers_in_registry_shape_and_round_trip(api: httpx.Client, fresh: HangarProcess) -> None:
    for e in ENTRIES:
        assert api.post("/api/catalog", json=e).status_code == 201
    doc = api.get(SERVERS).json()
    assert doc["metadata"]["total"] == 4 and doc["metadata"]["count"] == 4
    by_name = {s["name"]: s for s in doc["servers"]}
    weather = by_name["io.github.acme/weather"]
    assert weather["version"] == "1.0.0" and weather["description"] == "Weather forecasts"
    assert weather["repository"] == {"url": "https://github.com/acme/weather", "source": "github"}
    pkg = weather["packages"][0]
    assert pkg["registryType"] == "oci" and pkg["identifier"] == "ghcr.io/acme/weather:1.0.0"
    assert pkg["transport"] == {"type": "stdio"}
    assert pkg["environmentVariables"] == [
        {"name": "API_KEY", "description": "OpenWeather key", "isRequired": True, "isSecret": True},
        {"name": "REGION", "isRequired": False, "isSecret": False, "default": "eu"},
    ]
    files = by_name["io.github.acme/files"]["packages"][0]
    assert (files["registryType"], files["identifier"], files["version"]) == ("npm", "@acme/files", "2.1.0")
    assert by_name["remote-search"]["remotes"] == [{"type": "streamable-http", "url": "https://search.example.com/mcp"}]
    assert "packages" not in by_name["local-math"]

    latest = api.get(f"{SERVERS}/io.github.acme%2Fweather/versions/latest")
    assert latest.status_code == 200 and latest.json() == weather
    assert api.get(f"{SERVERS}/io.github.acme%2Fweather/versions/1.0.0").json() == weather
    nf = api.get(f"{SERVERS}/io.github.acme%2Fnothing/versions/latest")
    assert nf.status_code == 404 and set(nf.json()) == {"code", "message"}

    with fresh.client() as other:
        r = other.post("/api/catalog/import", json={"document": doc})
        assert r.status_code == 200 and r.json()["imported"] == 4, r.text
        assert catalog_without_ids(other) == catalog_without_ids(api)
        assert other.get(SERVERS).json() == doc


def test_paging_limit_and_cursor(api: httpx.Client) -> None:
    first = api.get(SERVERS, params={"limit": 3}).json()
    assert len(first["servers"]) == 3 and first["metadata"]["nextCursor"]
    rest = api.get(SERVERS, params={"limit": 3, "cursor": first["metadata"]["nextCursor"]}).json()
    page2 = api.get(SERVERS, params={"limit": 3, "page": 2}).json()
    assert rest["servers"] == page2["servers"]
    names = [s["name"] for s in first["servers"] + rest["servers"]]
    assert len(names) == len(set(names)) == first["metadata"]["total"]
    assert api.get(SERVERS, params={"q": "weather"}).json()["metadata"]["total"] == 1
    for bad in ({"limit": 0}, {"limit": 201}, {"cursor": "nope"}):
        r = api.get(SERVERS, params=bad)
        assert r.status_code == 400 and set(r.json()) == {"code", "message"}, r.text


def test_secret_values_never_leave(api: httpx.Client) -> None:
    r = api.post("/api/catalog", json={
        "name": "io.github.acme/secretive", "description": "holds secrets", "mode": "docker", "image": "x/y:1",
        "env": {"API_TOKEN": "hush-token", "PLAIN": "visible"},
        "env_vars": [{"name": "PASSWORD", "secret": True, "default": "hush-default"}]})
    assert r.status_code == 201
    r = api.get(f"{SERVERS}/io.github.acme%2Fsecretive/versions/latest")
    assert r.status_code == 200 and "hush" not in r.text
    assert r.json()["packages"][0]["environmentVariables"] == [
        {"name": "PASSWORD", "isRequired": False, "isSecret": True}]
    assert r.json()["_meta"]["dev.hangar/catalog"]["env"] == {"PLAIN": "visible"}
