"""Asynchronous REST calls live in the log: a finished task answers the same after Hangar restarts
(real server subprocess, SQLite file), a task running when Hangar died is failed with
``TaskInterrupted`` at start-up, a graceful stop records it the same way, and only the
submitting principal sees a task."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.auth.conftest import make_key
from tests.support import NO_DISCOVERY, HangarProcess, fixture_provider, pids_with_mark

ADMIN_KEY = "mcp_test-admin-key-0123456789abcdefghijklmnopqrstuv"
CONFIG = "providers: {}\nauth:\n  enabled: true\n  rate_limit: {requests_per_second: 10000, burst: 10000}\n"


@pytest.fixture
def hangar(tmp_path: Path) -> Iterator[HangarProcess]:
    cfg = tmp_path / "hangar.yaml"
    cfg.write_text(CONFIG + NO_DISCOVERY)
    proc = HangarProcess(tmp_path, config=cfg, env={"HANGAR_ADMIN_KEY": ADMIN_KEY})
    try:
        yield proc.start()
    finally:
        proc.stop()


def api(proc: HangarProcess, key: str = ADMIN_KEY) -> httpx.Client:
    return httpx.Client(base_url=proc.base, timeout=30, headers={"X-API-Key": key})


def wait_status(client: httpx.Client, task_id: str, status: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = client.get(f"/api/tasks/{task_id}").json()
        if body.get("status") == status:
            return body
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} never became {status}: {body}")


def test_tasks_survive_a_crash_and_running_ones_are_interrupted(hangar: HangarProcess) -> None:
    mark = uuid.uuid4().hex
    with api(hangar) as admin:
        assert admin.post("/api/providers", json=fixture_provider("slowpoke", mark)).status_code == 201
        done = admin.post("/api/providers/slowpoke/tools/add/invoke-async", json={"arguments": {"a": 2, "b": 3}})
        assert done.status_code == 202, done.text
        finished = wait_status(admin, done.json()["task_id"], "completed")
        running = admin.post("/api/providers/slowpoke/tools/slow/invoke-async",
                             json={"arguments": {"seconds": 30}}).json()
        assert running["status"] == "working"
        bob = make_key(admin, "bob", "admin")
    hangar.kill()
    for pid in pids_with_mark(mark):  # what the reaper would clean up after a real crash
        os.kill(pid, signal.SIGKILL)
    hangar.start()
    with api(hangar) as admin:
        assert admin.get(f"/api/tasks/{finished['task_id']}").json() == finished
        failed = wait_status(admin, running["task_id"], "failed")
        assert failed["error"]["error"] == "TaskInterrupted" and failed["finished_at"]
        # A cancel of an ended task changes nothing.
        assert admin.post(f"/api/tasks/{running['task_id']}/cancel").json()["status"] == "failed"
    with api(hangar, bob) as other:
        r = other.get(f"/api/tasks/{finished['task_id']}")
        assert r.status_code == 404 and r.json()["error"] == "AsyncTaskNotFoundError"
        assert other.post(f"/api/tasks/{running['task_id']}/cancel").status_code == 404


def test_a_graceful_stop_interrupts_running_tasks(hangar: HangarProcess) -> None:
    with api(hangar) as admin:
        assert admin.post("/api/providers", json=fixture_provider("slow2", uuid.uuid4().hex)).status_code == 201
        task = admin.post("/api/providers/slow2/tools/slow/invoke-async", json={"arguments": {"seconds": 30}}).json()
        time.sleep(0.5)
    hangar.stop()
    hangar.start()
    with api(hangar) as admin:
        body = admin.get(f"/api/tasks/{task['task_id']}").json()
        assert body["status"] == "failed" and body["error"]["error"] == "TaskInterrupted"
