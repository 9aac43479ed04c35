"""Crashes, health, idle shutdown, breakers and process cleanup, with real processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import httpx
import websockets

from tests.lifecycle.conftest import RUNTIME_CONFIG
from tests.lifecycle.test_start_stop_invoke import invoke, new
from tests.support import HangarProcess, pid_alive, pids_with_mark, wait_until


def state(api: httpx.Client, pid: str) -> str:
    return str(api.get(f"/api/providers/{pid}").json()["state"])


def spawn_grandchild(api: httpx.Client, pid: str) -> int:
    r = invoke(api, pid, "spawn_grandchild")
    assert r.status_code == 200, r.text
    grandchild = int(float(r.json()["result"][0]["text"]))
    assert pid_alive(grandchild)
    return grandchild


def test_stop_and_delete_leave_no_grandchild(api: httpx.Client) -> None:
    pid, mark = new(api)
    grandchild = spawn_grandchild(api, pid)
    assert len(pids_with_mark(mark)) == 2  # the server and its sleeping grandchild
    api.post(f"/api/providers/{pid}/stop")
    assert wait_until(lambda: not pids_with_mark(mark) and not pid_alive(grandchild), 5)

    grandchild = spawn_grandchild(api, pid)
    assert api.delete(f"/api/providers/{pid}").status_code == 200
    assert wait_until(lambda: not pids_with_mark(mark) and not pid_alive(grandchild), 5)


def test_sigkill_of_hangar_leaves_no_provider_process(tmp_path: Path) -> None:
    cfg = tmp_path / "hangar.yaml"
    cfg.write_text(RUNTIME_CONFIG)
    server = HangarProcess(tmp_path, config=cfg).start()
    try:
        with server.client() as api:
            pid, mark = new(api)
            grandchild = spawn_grandchild(api, pid)
            assert pids_with_mark(mark)
    finally:
        server.kill()
    assert wait_until(lambda: not pids_with_mark(mark) and not pid_alive(grandchild), 5), pids_with_mark(mark)
    # After a restart the log no longer claims the provider runs: it was reconciled to cold.
    again = HangarProcess(tmp_path, config=cfg, db_url=server.db_url).start()
    try:
        with again.client() as api:
            assert state(api, pid) == "cold"
    finally:
        again.stop()


def test_crash_mid_call_then_restart_with_backoff(api: httpx.Client) -> None:
    pid, mark = new(api)
    api.post(f"/api/providers/{pid}/start")
    first = pids_with_mark(mark)
    started = time.monotonic()
    r = invoke(api, pid, "crash")
    assert time.monotonic() - started < 5  # reported at once, not at the call timeout
    assert r.status_code == 502 and "crashed" in r.json()["message"], r.text
    # The provider is brought back by the supervisor (backoff 0.2 s in this config).
    assert wait_until(lambda: state(api, pid) == "ready" and pids_with_mark(mark) not in ([], first), 10)
    assert invoke(api, pid, "add", a=1, b=2).status_code == 200
    frames = api.get(f"/api/providers/{pid}/tools/history").json()["history"]
    assert any(f["event_type"] == "ToolInvocationFailed" for f in frames)
    api.delete(f"/api/providers/{pid}")


def test_idle_provider_goes_cold(api: httpx.Client) -> None:
    pid, mark = new(api, idle_ttl_s=1)
    api.post(f"/api/providers/{pid}/start")
    assert wait_until(lambda: state(api, pid) == "cold", 6)
    assert wait_until(lambda: not pids_with_mark(mark), 5)
    api.delete(f"/api/providers/{pid}")


def test_health_failures_degrade_then_kill_and_restart(api: httpx.Client) -> None:
    pid, mark = new(api, health_check_interval_s=1)
    api.post(f"/api/providers/{pid}/start")
    (stopped,) = pids_with_mark(mark)
    os.kill(stopped, signal.SIGSTOP)  # pings now time out
    try:
        assert wait_until(lambda: state(api, pid) == "degraded", 6)
        health = api.get(f"/api/providers/{pid}/health").json()
        assert health["consecutive_failures"] >= 1 and health["history"][-1]["healthy"] is False
        # dead_after: 2 → the process is replaced by a fresh one.
        assert wait_until(lambda: state(api, pid) == "ready" and pids_with_mark(mark) not in ([], [stopped]), 12)
    finally:
        if pid_alive(stopped):
            os.kill(stopped, signal.SIGCONT)
    assert not pid_alive(stopped)
    api.delete(f"/api/providers/{pid}")


def test_breaker_opens_fails_fast_then_half_opens(api: httpx.Client) -> None:
    pid, _ = new(api)
    for _ in range(2):  # breaker_failure_threshold: 2
        assert invoke(api, pid, "slow", timeout_s=0.2, seconds=3).status_code == 504
    r = invoke(api, pid, "add", a=1, b=1)
    assert r.status_code == 503 and r.json()["error"] == "CircuitOpenError"
    assert "retry-after" in r.headers
    assert api.get(f"/api/providers/{pid}").json()["circuit_breaker_state"] == "open"
    time.sleep(1.1)  # breaker_reset_timeout_s: 1.0 → one probe is admitted
    assert invoke(api, pid, "add", a=1, b=1).status_code == 200
    assert api.get(f"/api/providers/{pid}").json()["circuit_breaker_state"] == "closed"
    api.delete(f"/api/providers/{pid}")


def test_logs_rest_and_websocket(api: httpx.Client, server: HangarProcess) -> None:
    pid, _ = new(api)
    for i in range(5):
        assert invoke(api, pid, "stderr_line", text=f"line {i}").status_code == 200
    body = api.get(f"/api/providers/{pid}/logs", params={"lines": 3}).json()
    assert body["provider_id"] == pid and body["count"] == 3
    assert [e["line"] for e in body["logs"]] == ["line 2", "line 3", "line 4"]
    assert set(body["logs"][0]) == {"timestamp", "line", "provider_id", "stream"}
    assert body["logs"][0]["stream"] == "stderr"

    async def scenario() -> None:
        url = server.base.replace("http://", "ws://") + f"/api/ws/providers/{pid}/logs"
        async with websockets.connect(url) as ws:
            backlog = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(5)]
            assert [f["line"] for f in backlog][-5:] == [f"line {i}" for i in range(5)]
            async with httpx.AsyncClient(base_url=server.base) as c:
                await c.post(f"/api/providers/{pid}/tools/stderr_line/invoke", json={"arguments": {"text": "live!"}})
            live = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert live["line"] == "live!" and set(live) == {"timestamp", "line", "provider_id", "stream"}
        async with websockets.connect(server.base.replace("http://", "ws://")
                                      + "/api/ws/providers/nobody-here/logs") as ws:
            err = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert err["status_code"] == 404

    asyncio.run(scenario())
    api.delete(f"/api/providers/{pid}")


def test_stderr_heavy_provider_never_stalls(api: httpx.Client, server: HangarProcess) -> None:
    """Every call writes a 500-byte stderr line; far past the 64 KiB pipe buffer (~600 KiB in
    all) nothing stalls."""
    pid, _ = new(api, env={"FIXTURE_STDERR_EVERY_CALL": "1", "FIXTURE_STDERR_PAD": "490"})
    api.post(f"/api/providers/{pid}/start")
    n, concurrency = 1200, 16

    async def scenario() -> int:
        ok = 0
        async with httpx.AsyncClient(base_url=server.base, timeout=30,
                                     limits=httpx.Limits(max_connections=concurrency)) as c:
            async def worker(k: int) -> None:
                nonlocal ok
                for i in range(k, n, concurrency):
                    r = await c.post(f"/api/providers/{pid}/tools/echo/invoke",
                                     json={"arguments": {"text": "x" * 200 + str(i)}})
                    ok += r.status_code == 200
            await asyncio.gather(*(worker(k) for k in range(concurrency)))
        return ok

    assert asyncio.run(scenario()) == n
    logs = api.get(f"/api/providers/{pid}/logs", params={"lines": 1000}).json()
    assert logs["count"] == 1000 and all(e["line"] == "call echo " + "." * 490 for e in logs["logs"])
    api.delete(f"/api/providers/{pid}")


def test_shutdown_stops_every_provider(tmp_path: Path) -> None:
    server = HangarProcess(tmp_path).start()
    marks = []
    with server.client() as api:
        for _ in range(3):
            pid, mark = new(api)
            api.post(f"/api/providers/{pid}/start")
            marks.append(mark)
    assert all(pids_with_mark(m) for m in marks)

    async def abandon_log_stream() -> None:
        # A client that leaves a quiet log stream must not keep a task alive that blocks shutdown.
        url = server.base.replace("http://", "ws://") + f"/api/ws/providers/{pid}/logs"
        async with websockets.connect(url):
            await asyncio.sleep(0.2)

    asyncio.run(abandon_log_stream())
    started = time.monotonic()
    server.stop()  # SIGTERM: graceful (uvicorn re-raises the signal once it has shut down)
    assert time.monotonic() - started < 10, "shutdown hung"
    assert server.proc is not None and server.proc.returncode in (0, -signal.SIGTERM), server.log()
    assert all(not pids_with_mark(m) for m in marks)
    with sqlite3.connect(tmp_path / "hangar.db") as db:
        reasons = [json.loads(row[0])["reason"] for row in
                   db.execute("select data from events where event_type = 'ProviderStopped'")]
    assert reasons.count("shutdown") == 3, reasons
    again = HangarProcess(tmp_path, config=server.config, db_url=server.db_url).start()
    try:
        with again.client() as api:
            rows = api.get("/api/providers").json()["providers"]
            assert rows and all(r["state"] == "cold" for r in rows)
    finally:
        again.stop()
