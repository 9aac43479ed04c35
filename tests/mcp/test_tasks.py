"""MCP tasks (2025-11-25) through ``/mcp``: server-everything's ``simulate-research-query``
(``taskSupport: required``) called with task augmentation gives the same final result as on a
direct connection; ``tasks/get``/``list``/``cancel``/``result`` relay; status notifications reach
the creating session; another principal cannot see the task; an open task holds off the
provider's idle shutdown.

The SDK's client validates a ``tools/call`` answer as a ``CallToolResult`` and has no ``tasks/*``
methods, so these requests go through the session's raw request channel (same as a client that
implements tasks itself would send them)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.extension import NotificationBinding
from mcp.client.session import ClientSession
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.auth.conftest import make_key
from tests.mcp.support import raw, run_task
from tests.mcp.test_third_party import CALLBACKS, EVERYTHING, FILESYSTEM, NODE
from tests.support import HangarProcess

pytestmark = pytest.mark.skipif(
    NODE is None or not EVERYTHING.exists() or not FILESYSTEM.exists(),
    reason="needs node and `make npm-servers` (npm install of the official MCP servers)",
)
TOOL = "simulate-research-query"
ARGS = {"topic": "hangars"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HangarProcess]:
    work = Path(tmp_path_factory.mktemp("mcp-tasks"))
    cfg = work / "hangar.yaml"
    cfg.write_text(
        "auth:\n  enabled: true\n  rate_limit: {requests_per_second: 10000, burst: 10000}\n"
        "providers:\n"
        f"  everything: {{mode: subprocess, command: [{NODE}, {EVERYTHING}, stdio]}}\n"
        f"  idler: {{mode: subprocess, command: [{NODE}, {EVERYTHING}, stdio], idle_ttl_s: 1}}\n"
    )
    proc = HangarProcess(work, config=cfg, discover=True, env={"HANGAR_ADMIN_KEY": ADMIN_KEY})
    try:
        proc.start()
        deadline = time.monotonic() + 30
        while httpx.get(proc.base + "/mcp", headers=ADMIN).status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.05)
        yield proc
    finally:
        proc.stop()


ADMIN_KEY = "mcp_test-admin-key-0123456789abcdefghijklmnopqrstuv"
ADMIN = {"X-API-Key": ADMIN_KEY}


def second_key(proc: HangarProcess) -> dict[str, str]:
    with httpx.Client(base_url=proc.base, headers=ADMIN, timeout=30) as admin:
        return {"X-API-Key": make_key(admin, "bob", "admin")}


@asynccontextmanager
async def via_hangar(base: str, headers: dict[str, str], statuses: list[Any] | None = None
                     ) -> AsyncIterator[ClientSession]:
    async def heard(params: types.TaskStatusNotificationParams) -> None:
        if statuses is not None:
            statuses.append(params)

    binding = NotificationBinding(method="notifications/tasks/status", params_type=types.TaskStatusNotificationParams,
                                  handler=heard)
    async with httpx.AsyncClient(headers=headers, timeout=30) as http, \
            streamable_http_client(base + "/mcp", http_client=http) as (read, write), \
            ClientSession(read, write, notification_bindings=[binding], **CALLBACKS) as session:
        await session.initialize()
        yield session


@asynccontextmanager
async def direct() -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(command=NODE or "node", args=[str(EVERYTHING), "stdio"])
    async with stdio_client(params) as (read, write), ClientSession(read, write, **CALLBACKS) as session:
        await session.initialize()
        yield session


def comparable(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("_meta", "resultType")}


async def test_task_augmented_call_equals_direct(server: HangarProcess) -> None:
    statuses: list[Any] = []
    async with via_hangar(server.base, ADMIN, statuses) as h, direct() as d:
        caps = (await raw(h, "ping", {}), h.initialize_result)[1]
        assert caps is not None and caps.capabilities.tasks is not None
        assert caps.capabilities.tasks.requests.tools.call is not None  # type: ignore[union-attr]
        tools = {t.name: t for t in (await h.list_tools()).tools}
        execution = tools[f"everything__{TOOL}"].execution
        assert execution is not None and execution.task_support == "required"

        (h_created, h_status, h_result), (d_created, d_status, d_result) = await asyncio.gather(
            run_task(h, f"everything__{TOOL}", ARGS), run_task(d, TOOL, ARGS))
        tid = h_created["task"]["taskId"]
        assert tid.startswith("ht1.") and tid != d_created["task"]["taskId"]
        assert h_created["task"]["status"] == d_created["task"]["status"] == "working"
        assert h_status["taskId"] == tid and h_status["status"] == d_status["status"] == "completed"
        assert comparable(h_result) == comparable(d_result)
        assert "Research Report: hangars" in h_result["content"][0]["text"]
        meta = h_result.get("_meta", {}).get("io.modelcontextprotocol/related-task")
        assert meta is None or meta["taskId"] == tid

        listed = await raw(h, "tasks/list", {})
        assert tid in {t["taskId"] for t in listed["tasks"]}
        # The provider's status notifications reached this session, with Hangar's task id.
        for _ in range(50):
            if any(s.status == "completed" for s in statuses):
                break
            await asyncio.sleep(0.1)
        assert {s.task_id for s in statuses} == {tid}
        assert statuses[-1].status == "completed"


async def test_cancel_relays_and_other_principals_see_nothing(server: HangarProcess) -> None:
    bob = second_key(server)
    async with via_hangar(server.base, ADMIN) as h, via_hangar(server.base, bob) as other:
        created = await raw(h, "tools/call", {"name": f"everything__{TOOL}", "arguments": ARGS, "task": {}})
        tid = created["task"]["taskId"]
        for method in ("tasks/get", "tasks/cancel", "tasks/result"):
            with pytest.raises(Exception, match="not found"):
                await raw(other, method, {"taskId": tid})
        assert tid not in {t["taskId"] for t in (await raw(other, "tasks/list", {}))["tasks"]}
        cancelled = await raw(h, "tasks/cancel", {"taskId": tid})
        assert cancelled["taskId"] == tid and cancelled["status"] == "cancelled"
        assert (await raw(h, "tasks/get", {"taskId": tid}))["status"] == "cancelled"
        with pytest.raises(Exception, match="not found"):
            await raw(h, "tasks/get", {"taskId": tid[:-2] + "xx"})


async def test_task_on_a_tool_without_task_support_is_refused(server: HangarProcess) -> None:
    async with via_hangar(server.base, ADMIN) as h:
        with pytest.raises(Exception, match="does not support task"):
            await raw(h, "tools/call", {"name": "everything__echo", "arguments": {"message": "x"}, "task": {}})
        # Without a task the tool that requires one answers as directly: an isError result.
        res = await h.call_tool(f"everything__{TOOL}", ARGS)
        assert res.is_error and "requires task augmentation" in str(res.content)


async def test_2026_client_runs_a_task(server: HangarProcess) -> None:
    # Per-request envelope, no session: the same methods; the creation is tagged resultType "task".
    async with httpx.AsyncClient(headers=ADMIN, timeout=30) as http, \
            Client(streamable_http_client(server.base + "/mcp", http_client=http)) as client:
        assert client.protocol_version == "2026-07-28"
        created, status, result = await run_task(client.session, f"everything__{TOOL}", ARGS)
        assert created["resultType"] == "task" and created["task"]["taskId"].startswith("ht1.")
        assert status["status"] == "completed"
        assert "Research Report: hangars" in result["content"][0]["text"]


def test_rest_invoke_async_runs_a_task_required_tool_as_a_provider_task(server: HangarProcess) -> None:
    with httpx.Client(base_url=server.base, headers=ADMIN, timeout=30) as admin:
        r = admin.post(f"/api/providers/everything/tools/{TOOL}/invoke-async", json={"arguments": ARGS})
        assert r.status_code == 202, r.text
        task = r.json()
        assert task["provider_task"] is True and task["status"] == "working"
        deadline = time.monotonic() + 30
        while (body := admin.get(f"/api/tasks/{task['task_id']}").json())["status"] == "working":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert body["status"] == "completed", body
        assert body["result"]["is_error"] is False
        assert "Research Report: hangars" in body["result"]["result"][0]["text"]
        # Cancelled while the provider runs it: recorded, and the provider's task is cancelled too.
        task = admin.post(f"/api/providers/everything/tools/{TOOL}/invoke-async", json={"arguments": ARGS}).json()
        cancelled = admin.post(f"/api/tasks/{task['task_id']}/cancel").json()
        assert cancelled["status"] == "cancelled"


async def test_an_open_task_holds_off_the_idle_shutdown(server: HangarProcess) -> None:
    async with httpx.AsyncClient(base_url=server.base, headers=ADMIN, timeout=30) as api:
        async def state() -> str:
            return str((await api.get("/api/providers/idler")).json()["state"])

        async def cold_within(seconds: float) -> bool:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                if await state() == "cold":
                    return True
                await asyncio.sleep(0.1)
            return False

        # No task: idle_ttl_s (1 s) after its last use the provider is stopped, as ever.
        assert await cold_within(15)
        statuses: list[Any] = []
        async with via_hangar(server.base, ADMIN, statuses) as h:
            created = await raw(h, "tools/call", {"name": f"idler__{TOOL}", "arguments": ARGS, "task": {}})
            tid = created["task"]["taskId"]
            # The task runs ~4 s (four 1 s stages); nothing is asked of the provider meanwhile,
            # so only the open task keeps it up past its 1 s idle ttl.
            seen: set[str] = set()
            deadline = time.monotonic() + 20
            while not any(s.status == "completed" for s in statuses):
                assert time.monotonic() < deadline, statuses
                seen.add(await state())
                await asyncio.sleep(0.1)
            assert seen == {"ready"}
            # The idle clock restarted when the task ended: the result is still there to fetch.
            result = await raw(h, "tasks/result", {"taskId": tid})
            assert "Research Report: hangars" in result["content"][0]["text"]
            # Then, nothing open and nothing in flight, the provider goes cold.
            assert await cold_within(10)


def test_a_rest_provider_task_holds_off_the_idle_shutdown(server: HangarProcess) -> None:
    with httpx.Client(base_url=server.base, headers=ADMIN, timeout=30) as admin:
        task = admin.post(f"/api/providers/idler/tools/{TOOL}/invoke-async", json={"arguments": ARGS}).json()
        # The provider answers tasks/result only once the task ends: no call is in flight meanwhile,
        # only the open task keeps the provider up past its 1 s idle ttl.
        seen: list[str] = []
        deadline = time.monotonic() + 20
        while (body := admin.get(f"/api/tasks/{task['task_id']}").json())["status"] == "working":
            assert time.monotonic() < deadline
            seen.append(admin.get("/api/providers/idler").json()["state"])
            time.sleep(0.1)
        assert body["status"] == "completed", body
        running = seen[seen.index("ready"):] if "ready" in seen else []
        assert len(running) > 20 and set(running) == {"ready"}, seen
