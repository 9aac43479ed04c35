"""Breakers, failover and rebalancing with real providers that fail on demand.

Failing members use the fixture's ``FIXTURE_FAIL_FILE`` with ``FIXTURE_FAIL_MODE=rpc``: while the
file exists every tool answers with a JSON-RPC error, which Hangar counts against the provider.
(A tool's ``isError`` result is an answer, not a failure: the group returns it without failover.)
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import time
from pathlib import Path

import httpx

from tests.groups.conftest import assert_envelope, group_invoke, new_group, new_provider
from tests.support import pids_with_mark, wait_until


def failing_provider(api: httpx.Client, flag: Path) -> str:
    pid, _ = new_provider(api, env={"FIXTURE_FAIL_FILE": str(flag), "FIXTURE_FAIL_MODE": "rpc"})
    return pid


def member(api: httpx.Client, gid: str, pid: str) -> dict:
    return next(m for m in api.get(f"/api/groups/{gid}").json()["members"] if m["id"] == pid)


def start_all(api: httpx.Client, *pids: str) -> None:
    with concurrent.futures.ThreadPoolExecutor(len(pids)) as pool:
        for r in pool.map(lambda p: api.post(f"/api/providers/{p}/start"), pids):
            assert r.status_code == 200, r.text


def test_member_breaker_opens_calls_flow_to_others_and_a_probe_closes_it(api: httpx.Client, tmp_path: Path) -> None:
    flag = tmp_path / "a-fails"
    a = failing_provider(api, flag)
    b, _ = new_provider(api)
    c, _ = new_provider(api)
    start_all(api, a, b, c)
    gid = new_group(api, [a, b, c])
    flag.touch()
    results = [group_invoke(api, gid, "add", a=1, b=1) for _ in range(12)]
    assert all(r.status_code == 200 for r in results), [r.text for r in results if r.status_code != 200]
    assert a not in {r.json()["provider_id"] for r in results}
    assert any(r.json()["attempts"] == 2 for r in results)  # failed over within the call
    # Open; or, when the calls took longer than the 1 s reset timeout, offered (and failing) probes.
    m = member(api, gid, a)
    assert m["circuit_breaker_state"] in ("open", "half_open") and m["healthy"] is False
    assert m["in_rotation"] is (m["circuit_breaker_state"] == "half_open")
    detail = api.get(f"/api/groups/{gid}").json()
    assert detail["state"] == "degraded" and detail["healthy_count"] == 2
    failed = [h for h in api.get(f"/api/providers/{a}/tools/history").json()["history"]
              if h["event_type"] == "ToolInvocationFailed"]
    assert 2 <= len(failed) < 12 and {h["group_id"] for h in failed} == {gid}  # breaker threshold 2

    flag.unlink()
    # After the reset timeout (1 s) the member is offered a probe; its success closes the breaker.
    assert wait_until(lambda: group_invoke(api, gid, "add", a=1, b=1).json()["provider_id"] == a, 15, 0.1)
    m = member(api, gid, a)
    assert m["circuit_breaker_state"] == "closed" and m["in_rotation"] is True
    assert api.get(f"/api/providers/{a}").json()["circuit_breaker_state"] == "closed"


def test_group_breaker_never_blocks_a_healthy_member_and_refuses_fast_otherwise(
    api: httpx.Client, tmp_path: Path
) -> None:
    fx, fy = tmp_path / "x-fails", tmp_path / "y-fails"
    x, y = failing_provider(api, fx), failing_provider(api, fy)
    start_all(api, x, y)
    gid = new_group(api, [x, y])  # runtime.group_breaker_failure_threshold: 1
    fx.touch()
    fy.touch()
    assert_envelope(group_invoke(api, gid, "add", a=1, b=1), 502, "ProviderError")
    detail = api.get(f"/api/groups/{gid}").json()
    assert detail["circuit_breaker_state"] == "open" and detail["circuit_open"] is True

    # y recovers: the open group breaker must not keep the group offline while y could serve.
    fy.unlink()
    r = group_invoke(api, gid, "add", a=1, b=1)
    assert r.status_code == 200 and r.json()["provider_id"] == y, r.text
    assert api.get(f"/api/groups/{gid}").json()["circuit_breaker_state"] == "closed"

    # Every member failing: once no member is healthy the group refuses at once.
    fy.touch()
    statuses = []
    for _ in range(6):
        r = group_invoke(api, gid, "add", a=1, b=1)
        statuses.append(r.status_code)
        if r.status_code == 503:
            break
    assert statuses[-1] == 503 and set(statuses[:-1]) <= {502}, statuses
    body = assert_envelope(r, 503, "CircuitOpenError")
    assert "group" in body["message"] and int(r.headers["retry-after"]) >= 1

    fx.unlink()
    fy.unlink()
    # The group's half-open probe (after 1 s) finds members whose own breakers admit probes.
    assert wait_until(lambda: group_invoke(api, gid, "add", a=1, b=1).status_code == 200, 15, 0.2)
    assert api.get(f"/api/groups/{gid}").json()["circuit_breaker_state"] == "closed"


def test_failover_within_one_call_when_a_member_dies(api: httpx.Client) -> None:
    a, mark_a = new_provider(api)
    b, _ = new_provider(api)
    start_all(api, a, b)
    gid = new_group(api, [(a, 1, 1), (b, 1, 2)], strategy="priority")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        fut = pool.submit(group_invoke, api, gid, "slow", None, seconds=1.0)
        assert wait_until(lambda: member(api, gid, a)["inflight"] == 1, 10)
        for pid in pids_with_mark(mark_a):
            os.kill(pid, signal.SIGKILL)
        r = fut.result(30)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["provider_id"] == b and out["attempts"] == 2 and out["result"][0]["text"] == "slept 1.0"
    failed = [h for h in api.get(f"/api/providers/{a}/tools/history").json()["history"]
              if h["event_type"] == "ToolInvocationFailed"]
    assert failed and failed[-1]["error_type"] == "ProviderError" and failed[-1]["group_id"] == gid


def test_failover_stops_at_the_callers_deadline(api: httpx.Client) -> None:
    a, _ = new_provider(api)
    b, _ = new_provider(api)
    start_all(api, a, b)
    gid = new_group(api, [(a, 1, 1), (b, 1, 2)], strategy="priority")
    started = time.monotonic()
    r = group_invoke(api, gid, "slow", 1.0, seconds=5)
    assert_envelope(r, 504, "ProviderTimeoutError")
    assert time.monotonic() - started < 4
    assert api.get(f"/api/providers/{b}/tools/history").json()["total"] == 0  # no time was left for b


def test_rebalance_resets_breakers_of_ready_members(api: httpx.Client, tmp_path: Path) -> None:
    flag = tmp_path / "r-fails"
    a = failing_provider(api, flag)
    b, _ = new_provider(api)
    start_all(api, a, b)
    gid = new_group(api, [(a, 1, 1), (b, 1, 2)], strategy="priority")
    flag.touch()
    for _ in range(2):
        assert group_invoke(api, gid, "add", a=1, b=1).json()["provider_id"] == b
    assert member(api, gid, a)["circuit_breaker_state"] in ("open", "half_open")
    flag.unlink()
    r = api.post(f"/api/groups/{gid}/rebalance")
    assert r.status_code == 200 and r.json()["in_rotation"] == [a, b]
    m = member(api, gid, a)
    assert m["circuit_breaker_state"] == "closed" and m["healthy"] is True
    assert group_invoke(api, gid, "add", a=1, b=1).json()["provider_id"] == a
