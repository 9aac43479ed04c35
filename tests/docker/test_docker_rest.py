"""``mode: docker`` providers end to end: a real ``hangar serve``, real HTTP, the real engine."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from hangar.runtime.docker_engine import LABEL_INSTANCE
from tests.support import HangarProcess, wait_until

from .conftest import IMAGE, containers_of, docker_provider_body

# Short backoff so that a crashed provider is brought back within the test.
RUNTIME_CONFIG = """
runtime:
  restart_backoff_initial_s: 0.2
  restart_backoff_max_s: 1.0
  max_restarts: 3
"""


@pytest.fixture(scope="module")
def api(docker_api: docker.APIClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    work = Path(tmp_path_factory.mktemp("docker-rest"))
    cfg = work / "hangar.yaml"
    cfg.write_text(RUNTIME_CONFIG)
    proc = HangarProcess(work, config=cfg).start(timeout=60)
    try:
        with proc.client() as client:
            yield client
    finally:
        proc.stop()


def new_id() -> str:
    return f"dr-{uuid.uuid4().hex[:8]}"


def state(api: httpx.Client, pid: str) -> str:
    return str(api.get(f"/api/providers/{pid}").json()["state"])


def invoke(api: httpx.Client, pid: str, tool: str, **arguments: object) -> httpx.Response:
    return api.post(f"/api/providers/{pid}/tools/{tool}/invoke", json={"arguments": arguments})


def test_docker_provider_lifecycle(api: httpx.Client, docker_api: docker.APIClient) -> None:
    pid = new_id()
    r = api.post("/api/providers", json=docker_provider_body(pid, env={"FIXTURE_STDERR_EVERY_CALL": "1"}))
    assert r.status_code == 201, r.text
    detail = api.get(f"/api/providers/{pid}").json()
    assert detail["mode"] == "docker" and detail["state"] == "cold"

    r = api.post(f"/api/providers/{pid}/start")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "ready" and {"add", "echo", "crash"} <= set(r.json()["tools"])
    [container] = containers_of(docker_api, pid)
    assert container["State"] == "running" and container["Image"] == IMAGE
    inspected = docker_api.inspect_container(container["Id"])
    assert inspected["HostConfig"]["NetworkMode"] == "none"
    assert inspected["HostConfig"]["ReadonlyRootfs"] is True
    assert inspected["Config"]["Labels"][LABEL_INSTANCE].split(":")[1] != ""

    r = invoke(api, pid, "add", a=20, b=22)
    assert r.status_code == 200, r.text
    assert float(r.json()["result"][0]["text"]) == 42 and r.json()["is_error"] is False

    # FIXTURE_STDERR_EVERY_CALL: the container's stderr shows up in the provider's logs.
    def logged() -> bool:
        lines = api.get(f"/api/providers/{pid}/logs", params={"lines": 10}).json()["logs"]
        return any(e["line"] == "call add" and e["stream"] == "stderr" and e["provider_id"] == pid for e in lines)

    assert wait_until(logged, 5)

    r = api.post(f"/api/providers/{pid}/stop", json={"reason": "maintenance"})
    assert r.status_code == 200 and r.json()["state"] == "cold"
    assert containers_of(docker_api, pid) == []

    # Lazy start on the first call, then DELETE stops and removes the container.
    r = invoke(api, pid, "echo", text="again")
    assert r.status_code == 200 and r.json()["result"][0]["text"] == "again"
    assert len(containers_of(docker_api, pid)) == 1
    assert api.delete(f"/api/providers/{pid}").status_code in (200, 204)
    assert containers_of(docker_api, pid) == []


def test_container_crash_is_reported_at_once_and_restarted(api: httpx.Client, docker_api: docker.APIClient) -> None:
    pid = new_id()
    assert api.post("/api/providers", json=docker_provider_body(pid)).status_code == 201
    assert api.post(f"/api/providers/{pid}/start").status_code == 200
    [first] = containers_of(docker_api, pid)
    started = time.monotonic()
    r = invoke(api, pid, "crash")
    assert time.monotonic() - started < 5  # noticed when the attach stream ends, not at a health check
    assert r.status_code == 502 and "crashed" in r.json()["message"] and "code 3" in r.json()["message"], r.text

    def replaced() -> bool:
        found = containers_of(docker_api, pid)
        return state(api, pid) == "ready" and len(found) == 1 and found[0]["Id"] != first["Id"]

    assert wait_until(replaced, 20)
    assert invoke(api, pid, "add", a=1, b=2).status_code == 200
    api.delete(f"/api/providers/{pid}")
    assert containers_of(docker_api, pid) == []


def test_no_engine_is_503_and_dead_with_the_reason(tmp_path: Path) -> None:
    dead_socket = f"unix://{tmp_path}/no-engine.sock"
    server = HangarProcess(tmp_path, env={"DOCKER_HOST": dead_socket}).start(timeout=60)
    try:
        with server.client() as api:
            pid = new_id()
            body = {"provider_id": pid, "mode": "docker", "image": IMAGE, "command": ["python3", "-V"]}
            assert api.post("/api/providers", json=body).status_code == 201
            r = api.post(f"/api/providers/{pid}/start")
            assert r.status_code == 503, r.text
            err = r.json()
            assert set(err) == {"error", "message", "status_code"} and err["status_code"] == 503
            assert f"Docker engine not reachable at {dead_socket}" in err["message"]
            detail = api.get(f"/api/providers/{pid}").json()
            assert detail["state"] == "dead"
            assert f"Docker engine not reachable at {dead_socket}" in detail["health"]["last_error"]
            # A call fails the same clear way instead of hanging.
            r = invoke(api, pid, "add", a=1, b=2)
            assert r.status_code == 503 and "Docker engine not reachable" in r.json()["message"]
    finally:
        server.stop()
