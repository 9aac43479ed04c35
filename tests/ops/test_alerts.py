"""Alerts raised and resolved, as events, by driving real fixture providers into trouble and out."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
from typing import Any

import httpx
import pytest

from tests.ops.conftest import error_of, new_mark
from tests.support import HangarProcess, fixture_provider, pid_alive, pids_with_mark, wait_until

RUNTIME = """
runtime:
  health: {degraded_after: 1, dead_after: 2, timeout_s: 0.5}
  restart_backoff_initial_s: 0.2
  restart_backoff_max_s: 1.0
  max_restarts: 5
  breaker_failure_threshold: 2
  breaker_reset_timeout_s: 1.0
observability:
  alerts: {start_failures_threshold: 2}
"""


def alerts(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    r = api.get("/api/observability/alerts", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"alerts", "total"}
    rows: list[dict[str, Any]] = body["alerts"]
    return rows


def find(api: httpx.Client, rule: str, target: str) -> dict[str, Any] | None:
    return next((a for a in alerts(api, limit=1000) if a["rule"] == rule and a["target"] == target), None)


def state_of(api: httpx.Client, rule: str, target: str) -> str | None:
    a = find(api, rule, target)
    return a["state"] if a else None


def stored_alert_events(server: HangarProcess, target: str) -> list[tuple[str, str]]:
    with sqlite3.connect(server.workdir / "hangar.db") as db:
        rows = db.execute("select event_type, data from events where stream_id = 'system:alerts' order by position")
        return [(t, json.loads(d)["rule"]) for t, d in rows if json.loads(d)["target"] == target]


def test_provider_degraded_dead_and_back(api: httpx.Client, server: HangarProcess) -> None:
    pid, mark = "sick", new_mark()
    assert api.post("/api/providers", json=fixture_provider(pid, mark, health_check_interval_s=1)).status_code == 201
    assert api.post(f"/api/providers/{pid}/start").status_code == 200
    (stopped,) = pids_with_mark(mark)
    os.kill(stopped, signal.SIGSTOP)  # pings time out: degraded, then dead, then replaced
    try:
        assert wait_until(lambda: state_of(api, "provider_degraded", pid) is not None, 10)
        assert wait_until(lambda: state_of(api, "provider_dead", pid) is not None, 10)
        assert wait_until(lambda: api.get(f"/api/providers/{pid}").json()["state"] == "ready", 15)
    finally:
        if pid_alive(stopped):
            os.kill(stopped, signal.SIGCONT)
    assert wait_until(lambda: state_of(api, "provider_dead", pid) == "resolved", 5)
    assert wait_until(lambda: state_of(api, "provider_degraded", pid) == "resolved", 5)
    dead = find(api, "provider_dead", pid)
    assert dead is not None and dead["level"] == "critical" and dead["resolved_at"] >= dead["raised_at"]
    assert find(api, "provider_degraded", pid)["level"] == "warning"  # type: ignore[index]
    events = stored_alert_events(server, pid)
    assert ("AlertRaised", "provider_dead") in events and ("AlertResolved", "provider_dead") in events
    api.delete(f"/api/providers/{pid}")


def test_start_failures_and_group_below_min_healthy(api: httpx.Client) -> None:
    pid = "broken"
    body = {"provider_id": pid, "mode": "subprocess", "command": [sys.executable, "-c", "import sys; sys.exit(3)"]}
    assert api.post("/api/providers", json=body).status_code == 201
    assert api.post("/api/groups", json={"group_id": "needs1", "min_healthy": 1}).status_code == 201
    assert api.post("/api/groups/needs1/members", json={"member_id": pid}).status_code == 201
    for _ in range(2):  # start_failures_threshold: 2
        assert api.post(f"/api/providers/{pid}/start").status_code == 503
    assert wait_until(lambda: state_of(api, "provider_dead", pid) == "active", 5)
    assert wait_until(lambda: state_of(api, "repeated_start_failures", pid) == "active", 5)
    assert wait_until(lambda: state_of(api, "group_below_min_healthy", "needs1") == "active", 5)
    critical = alerts(api, level="critical", state="active")
    assert {a["rule"] for a in critical} >= {"provider_dead", "repeated_start_failures", "group_below_min_healthy"}
    assert all(a["level"] == "critical" and a["state"] == "active" for a in critical)
    assert not any(a["rule"] == "provider_dead" for a in alerts(api, level="warning"))

    # Fixed: it starts, and every alert about it resolves.
    fixed = fixture_provider(pid, new_mark())
    assert api.put(f"/api/providers/{pid}", json={"command": fixed["command"]}).status_code == 200
    assert api.post(f"/api/providers/{pid}/start").status_code == 200
    for rule, target in (("provider_dead", pid), ("repeated_start_failures", pid),
                         ("group_below_min_healthy", "needs1")):
        assert wait_until(lambda r=rule, t=target: state_of(api, r, t) == "resolved", 5), (rule, target)
    api.delete("/api/groups/needs1")
    api.delete(f"/api/providers/{pid}")


def test_breaker_open_alert(api: httpx.Client) -> None:
    pid = "flaky"
    assert api.post("/api/providers", json=fixture_provider(pid, new_mark())).status_code == 201
    for _ in range(2):  # breaker_failure_threshold: 2
        r = api.post(f"/api/providers/{pid}/tools/slow/invoke", json={"arguments": {"seconds": 3}, "timeout_s": 0.2})
        assert r.status_code == 504
    assert wait_until(lambda: state_of(api, "breaker_open", pid) == "active", 5)
    assert find(api, "breaker_open", pid)["level"] == "warning"  # type: ignore[index]
    assert wait_until(lambda: api.post(f"/api/providers/{pid}/tools/add/invoke",
                                       json={"arguments": {"a": 1, "b": 1}}).status_code == 200, 5)
    assert wait_until(lambda: state_of(api, "breaker_open", pid) == "resolved", 5)
    api.delete(f"/api/providers/{pid}")


def test_alerts_query_validation(api: httpx.Client) -> None:
    body = api.get("/api/observability/alerts").json()
    assert body["total"] >= len(body["alerts"]) and isinstance(body["active"], int)
    assert len(alerts(api, limit=1)) <= 1
    for params in ({"level": "bogus"}, {"level": "CRITICAL"}, {"state": "open"}, {"limit": 0}, {"limit": "x"}):
        error_of(api.get("/api/observability/alerts", params=params), 422)


@pytest.fixture(scope="module")
def hangar_config() -> str:
    return RUNTIME
