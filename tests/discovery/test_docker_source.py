"""Docker source end to end against the real Docker engine on this machine.

Skipped, with the reason shown, only when no engine answers. The labelled containers are
sentinels (a sleeping process in the test image); approving one makes Hangar run the labelled
command in a new container of the same image through its docker mode.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.discovery.conftest import pending_names, quarantined, register
from tests.support import REPO, wait_until

IMAGE = os.environ.get("HANGAR_TEST_IMAGE", "hangar-test-python:latest")
BUILD_SCRIPT = REPO / "tests" / "fixtures" / "docker" / "build_image.sh"
MINIMAL_SERVER = REPO / "tests" / "fixtures" / "minimal_stdio_server.py"


@pytest.fixture(scope="module")
def engine() -> Iterator[Any]:
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:
        pytest.skip(f"no Docker engine reachable ({type(exc).__name__}: {exc}); start dockerd to run this")
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        done = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            pytest.fail(f"could not build {IMAGE}:\n{done.stdout}\n{done.stderr}")
    yield client
    client.close()


@pytest.fixture
def sentinels(engine: Any) -> Iterator[list[Any]]:
    made: list[Any] = []
    yield made
    for c in made:
        c.remove(force=True)


def sentinel(engine: Any, made: list[Any], labels: dict[str, str]) -> Any:
    c = engine.containers.run(IMAGE, ["python3", "-S", "-c", "import time; time.sleep(600)"], detach=True,
                              labels=labels, network_mode="none", name=f"disc-{uuid.uuid4().hex[:8]}")
    made.append(c)
    return c


def test_labelled_container_is_approved_and_runs_in_a_real_container(
    api: httpx.Client, engine: Any, sentinels: list[Any]
) -> None:
    name = f"dk-{uuid.uuid4().hex[:6]}"
    sentinel(engine, sentinels, {
        "mcp.hangar.enabled": "true", "mcp.hangar.name": name, "mcp.hangar.mode": "docker",
        "mcp.hangar.command": f"python3 -S {MINIMAL_SERVER}", "mcp.hangar.volumes": f"{REPO}:{REPO}:ro",
        "mcp.hangar.group": "fixtures",
    })
    sentinel(engine, sentinels, {"mcp.hangar.enabled": "false", "mcp.hangar.name": f"{name}-off"})
    sentinel(engine, sentinels, {"mcp.hangar.enabled": "true", "mcp.hangar.name": f"{name}-ghost",
                                 "mcp.hangar.image": "no-such-image:never"})
    sentinel(engine, sentinels, {"mcp.hangar.enabled": "true", "mcp.hangar.name": f"{name}-nope",
                                 "mcp.hangar.command": f"python3 -S {MINIMAL_SERVER}"})
    sid = register(api, "docker", enabled=False, interval_s=3600)
    assert api.get(f"/api/discovery/sources/{sid}").json()["require_approval"] is True
    r = api.post(f"/api/discovery/sources/{sid}/scan")
    assert r.status_code == 200 and r.json()["error"] is None, r.text
    assert r.json()["providers_found"] >= 3
    assert {name, f"{name}-nope"} <= pending_names(api, sid)
    assert f"{name}-off" not in pending_names(api, sid)
    ghost = quarantined(api, sid)[f"{name}-ghost"]
    assert "image not known to the Docker engine: no-such-image:never" in ghost["reasons"]
    [p] = [p for p in api.get("/api/discovery/pending").json()["pending"] if p["name"] == name]
    assert p["mode"] == "docker" and p["connection_info"]["image"] == IMAGE and p["metadata"]["group"] == "fixtures"

    assert api.post(f"/api/discovery/reject/{name}-nope").status_code == 200
    assert api.post(f"/api/discovery/approve/{name}").status_code == 200
    detail = api.get(f"/api/providers/{name}").json()
    assert detail["mode"] == "docker" and detail["config"]["image"] == IMAGE
    try:
        assert api.post(f"/api/providers/{name}/start").status_code == 200
        assert wait_until(lambda: api.get(f"/api/providers/{name}").json()["state"] == "ready", 60)
        running = engine.containers.list(filters={"label": f"hangar.provider={name}"})
        assert len(running) == 1 and running[0].image.tags[0] == IMAGE
    finally:
        api.post(f"/api/providers/{name}/stop")
    assert wait_until(lambda: not engine.containers.list(filters={"label": f"hangar.provider={name}"}), 30)
    # Rejected and approved candidates are not proposed again on the next scan.
    api.post(f"/api/discovery/sources/{sid}/scan")
    assert pending_names(api, sid) == set()
