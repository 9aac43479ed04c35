"""What happens to provider containers when Hangar itself goes away, cleanly or not."""

from __future__ import annotations

import uuid
from pathlib import Path

import docker

from tests.support import HangarProcess, wait_until

from .conftest import containers_of, docker_provider_body


def test_sigkilled_hangar_leaves_nothing_running_and_the_next_one_sweeps(
    docker_api: docker.APIClient, tmp_path: Path
) -> None:
    pid = f"dk-{uuid.uuid4().hex[:8]}"
    first = HangarProcess(tmp_path).start(timeout=60)
    try:
        with first.client() as api:
            assert api.post("/api/providers", json=docker_provider_body(pid, minimal=True)).status_code == 201
            assert api.post(f"/api/providers/{pid}/start").status_code == 200
        [running] = containers_of(docker_api, pid)
        assert running["State"] == "running"
    finally:
        first.kill()  # SIGKILL: no shutdown hook runs

    # Its attach socket died with it, which closed the container's stdin: the server exits.
    # (Gone already also counts: any other Hangar on this host may have swept it first.)
    assert wait_until(lambda: all(c["State"] == "exited" for c in containers_of(docker_api, pid)), 15)

    second = HangarProcess(tmp_path, config=first.config, db_url=first.db_url).start(timeout=60)
    try:
        # The new Hangar sweeps containers whose owner process is gone (a few seconds after start).
        assert wait_until(lambda: containers_of(docker_api, pid) == [], 30)
        with second.client() as api:
            assert api.get(f"/api/providers/{pid}").json()["state"] == "cold"  # reconciled
            assert api.post(f"/api/providers/{pid}/start").status_code == 200
        assert [c["State"] for c in containers_of(docker_api, pid)] == ["running"]
    finally:
        second.stop()  # SIGTERM: a clean shutdown stops and removes every provider container
    assert containers_of(docker_api, pid) == []
