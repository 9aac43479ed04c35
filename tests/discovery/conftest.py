from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import httpx
import yaml

from tests.support import REPO

ENTRYPOINT_PKG = REPO / "tests" / "fixtures" / "entrypoint_pkg"
TEST_GROUP = "hangar_test.providers"


def ensure_entrypoint_package() -> None:
    """The Makefile installs the fixture package; a venv made before that gets it here."""
    if entry_points(group=TEST_GROUP):
        return
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-e", str(ENTRYPOINT_PKG)],
        check=True, timeout=300,
    )


def write_def(directory: Path, name: str, body: object) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(body if isinstance(body, str) else yaml.safe_dump(body))
    return path


def math_def(**extra: object) -> dict[str, object]:
    """A providers.d definition of the math server that ships with Hangar."""
    return {"mode": "subprocess",
            "connection": {"command": sys.executable, "args": ["-m", "hangar.examples.math_server"]}, **extra}


def assert_envelope(r: httpx.Response, status: int, error: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "message", "status_code"}, body
    assert body["status_code"] == status and body["message"]
    if error:
        assert body["error"] == error, body
    return body


def register(api: httpx.Client, source_type: str, mode: str = "additive", enabled: bool = True,
             **config: object) -> str:
    """A disabled source has no background loop: a test then decides when it scans."""
    r = api.post("/api/discovery/sources",
                 json={"source_type": source_type, "mode": mode, "enabled": enabled, "config": config})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["registered"] is True
    return str(body["source_id"])


def pending_names(api: httpx.Client, source_id: str) -> set[str]:
    return {p["name"] for p in api.get("/api/discovery/pending").json()["pending"] if p["source_id"] == source_id}


def quarantined(api: httpx.Client, source_id: str) -> dict[str, dict]:
    q = api.get("/api/discovery/quarantined").json()["quarantined"]
    return {v["provider"]["name"]: v for v in q.values() if v["source_id"] == source_id}


