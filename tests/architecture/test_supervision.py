"""The supervisor as the rest of Hangar sees it: queries leave it alone, and the facts it
reports travel the bus like an operator's command (audited, counted, correlated)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from hangar.asgi import create_app
from hangar.config.loader import parse_config
from tests.support import fixture_provider, pids_with_mark

# Providers stay cold until a test starts them: no discovery start on registration.
CONFIG = """
mcp:
  discover_on_register: false
runtime:
  breaker_failure_threshold: 1
  breaker_reset_timeout_s: 60
"""


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(config=parse_config(CONFIG), db_url=f"sqlite+aiosqlite:///{tmp_path / 'hangar.db'}")
    async with AsyncTestClient(app) as c:
        yield c


def supervision_state(client: AsyncTestClient[Any]) -> tuple[Any, Any]:
    services = client.app.state.services
    return dict(services.supervisor.statuses()), services.group_module.router.routing_state()


async def add_provider(client: AsyncTestClient[Any], **fields: Any) -> str:
    pid = f"p-{uuid.uuid4().hex[:8]}"
    env = {"FIXTURE_ASYNC_STDIO": "1"}
    r = await client.post("/api/providers", json=fixture_provider(pid, uuid.uuid4().hex, env=env, **fields))
    assert r.status_code == 201, r.text
    return pid


async def test_group_queries_change_no_runtime_state(client: AsyncTestClient[Any]) -> None:
    used, idle = await add_provider(client), await add_provider(client)
    for gid, pid in (("g-used", used), ("g-idle", idle)):
        assert (await client.post("/api/groups", json={"group_id": gid})).status_code == 201
        r = await client.post(f"/api/groups/{gid}/members", json={"member_id": pid})
        assert r.status_code == 201, r.text
    # One group has live routing state and a started member; the other has never been called.
    r = await client.post("/api/groups/g-used/tools/add/invoke", json={"arguments": {"a": 1, "b": 2}})
    assert r.status_code == 200, r.text
    before = supervision_state(client)
    assert used in before[0] and idle not in before[0] and list(before[1]) == ["g-used"]
    for _ in range(1000):
        assert (await client.get("/api/groups")).status_code == 200
        assert (await client.get("/api/groups/g-used")).status_code == 200
        assert (await client.get("/api/groups/g-idle")).status_code == 200
    assert supervision_state(client) == before


async def audit_for(client: AsyncTestClient[Any], pid: str) -> list[dict[str, Any]]:
    r = await client.get("/api/observability/audit", params={"provider_id": pid, "limit": 500})
    assert r.status_code == 200, r.text
    records: list[dict[str, Any]] = r.json()["records"]
    return records


async def wait_for_audit(
    client: AsyncTestClient[Any], pid: str, command: str, wait_s: float = 15,
    where: Callable[[dict[str, Any]], bool] = lambda rec: True,
) -> dict[str, Any]:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        for rec in await audit_for(client, pid):
            if rec["command"] == command and where(rec):
                return rec
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {command} in the audit of {pid}: {await audit_for(client, pid)}")


def command_count(text: str, command: str) -> float:
    prefix = f'mcp_hangar_commands_total{{command="{command}",outcome="success"}} '
    return sum(float(line[len(prefix):]) for line in text.splitlines() if line.startswith(prefix))


async def test_runtime_facts_are_audited_counted_and_correlated(client: AsyncTestClient[Any]) -> None:
    pid = await add_provider(client)
    cid = f"corr-{uuid.uuid4().hex}"
    r = await client.post(f"/api/providers/{pid}/start", headers={"X-Correlation-Id": cid})
    assert r.status_code in (200, 202), r.text
    start = await wait_for_audit(client, pid, "StartProvider")
    began = await wait_for_audit(client, pid, "BeginProviderStart")
    started = await wait_for_audit(client, pid, "RecordProviderStarted")
    # The facts carry the operator's correlation id, and the events they recorded.
    assert start["correlation_id"] == began["correlation_id"] == started["correlation_id"] == cid
    assert "ProviderStarted" in started["events"]
    assert began["principal"] == start["principal"]

    # A breaker opened by a failing call: the call's correlation id again.
    cid2 = f"corr-{uuid.uuid4().hex}"
    r = await client.post(f"/api/providers/{pid}/tools/rpc_error/invoke",
                          json={"arguments": {"code": -32000, "message": "boom"}},
                          headers={"X-Correlation-Id": cid2})
    assert r.status_code >= 400
    opened = await wait_for_audit(client, pid, "RecordBreakerState")
    assert opened["correlation_id"] == cid2 and "CircuitBreakerStateChanged" in opened["events"]

    # The idle timer stops a provider nobody calls: a fact with no request behind it.
    idle = await add_provider(client, idle_ttl_s=1)
    assert (await client.post(f"/api/providers/{idle}/start")).status_code in (200, 202)
    stopped = await wait_for_audit(client, idle, "RecordProviderStopped")
    assert stopped["principal"] == "system" and "ProviderStopped" in stopped["events"]

    # A failing health check (the process stops answering its pings): a fact with no request
    # behind it either, audited with the events it recorded.
    sick, mark = f"p-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    body = fixture_provider(sick, mark, env={"FIXTURE_ASYNC_STDIO": "1"}, health_check_interval_s=1)
    assert (await client.post("/api/providers", json=body)).status_code == 201
    assert (await client.post(f"/api/providers/{sick}/start")).status_code in (200, 202)
    (process,) = pids_with_mark(mark)
    os.kill(process, signal.SIGSTOP)
    try:
        failed = await wait_for_audit(client, sick, "RecordHealthCheck", wait_s=20,
                                      where=lambda rec: "HealthCheckFailed" in rec["events"])
        assert failed["principal"] == "system"
    finally:
        os.kill(process, signal.SIGCONT)
        await client.delete(f"/api/providers/{sick}")

    text = (await client.get("/api/observability/metrics")).json()["prometheus_text"]
    for command in ("StartProvider", "BeginProviderStart", "RecordProviderStarted", "RecordBreakerState",
                    "RecordProviderStopped", "RecordHealthCheck"):
        assert command_count(text, command) >= 1, command
