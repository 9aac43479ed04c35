from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support import fixture_provider

# Short timers so that breakers and recovery show within seconds.
RUNTIME_CONFIG = """
runtime:
  health: {degraded_after: 1, dead_after: 2, timeout_s: 0.5}
  restart_backoff_initial_s: 0.2
  restart_backoff_max_s: 1.0
  breaker_failure_threshold: 2
  breaker_reset_timeout_s: 1.0
  group_breaker_failure_threshold: 1
  group_breaker_reset_timeout_s: 1.0
"""


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def new_provider(api: httpx.Client, prefix: str = "m", **fields: object) -> tuple[str, str]:
    """A fixture provider (fast asyncio stdio); returns its id and its process mark."""
    pid, mark = uid(prefix), uuid.uuid4().hex
    env = {"FIXTURE_ASYNC_STDIO": "1", **dict(fields.pop("env", {}) or {})}  # type: ignore[call-overload]
    r = api.post("/api/providers", json=fixture_provider(pid, mark, env=env, **fields))
    assert r.status_code == 201, r.text
    return pid, mark


def new_group(api: httpx.Client, members: list[str] | list[tuple[str, int, int]], **fields: object) -> str:
    gid = uid("g")
    r = api.post("/api/groups", json={"group_id": gid, **fields})
    assert r.status_code == 201, r.text
    for m in members:
        pid, weight, priority = (m, 1, 1) if isinstance(m, str) else m
        r = api.post(f"/api/groups/{gid}/members", json={"member_id": pid, "weight": weight, "priority": priority})
        assert r.status_code == 201, r.text
    return gid


def group_invoke(api: httpx.Client, gid: str, tool: str, timeout_s: float | None = None,
                 **arguments: object) -> httpx.Response:
    body: dict[str, object] = {"arguments": arguments}
    if timeout_s is not None:
        body["timeout_s"] = timeout_s
    return api.post(f"/api/groups/{gid}/tools/{tool}/invoke", json=body)


def assert_envelope(r: httpx.Response, status: int, error: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "message", "status_code"}, body
    assert body["status_code"] == status and body["message"]
    if error:
        assert body["error"] == error, body
    return body


@pytest.fixture(scope="module")
def hangar_config() -> str:
    return RUNTIME_CONFIG
