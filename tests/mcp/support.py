"""What the MCP front-door tests share: a Hangar whose ``/mcp`` is up, and comparable results."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.support import HangarProcess


def serving_mcp(proc: HangarProcess) -> HangarProcess:
    """Start ``proc`` and wait for ``/mcp``: the SDK loads in the background after start-up, and
    ``/mcp`` answers 503 until it is ready."""
    if proc.proc is None or proc.proc.poll() is not None:
        proc.start()
    deadline = time.monotonic() + 30
    while httpx.get(proc.base + "/mcp").status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc


def dump(model: Any) -> Any:
    """A result as JSON, without what legitimately differs between two servers (cache hints,
    the result type of the 2026 envelope, ``_meta``)."""
    data = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    for key in ("_meta", "ttlMs", "cacheScope", "resultType"):
        data.pop(key, None)
    return data


async def raw(session: Any, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """A request sent as is on a ``ClientSession``. The SDK validates a ``tools/call`` answer as a
    ``CallToolResult`` and has no ``tasks/*`` methods (tasks are types-only in it), so a client
    using MCP tasks sends them on the raw channel, as here."""
    data: dict[str, Any] = {"method": method, "params": dict(params)}
    opts: dict[str, Any] = {"timeout": 30}
    session._stamp(data, opts)  # the 2026-07-28 envelope (_meta) and headers, as on any request
    result: dict[str, Any] = await session._dispatcher.send_raw_request(method, data["params"], opts)
    return result


TERMINAL = ("completed", "failed", "cancelled")


async def run_task(session: Any, name: str, arguments: dict[str, Any]
                   ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A task-augmented call, polled until it ends: ``(created, last tasks/get, tasks/result)``."""
    import asyncio

    created = await raw(session, "tools/call", {"name": name, "arguments": arguments, "task": {"ttl": 60000}})
    tid = created["task"]["taskId"]
    status = await raw(session, "tasks/get", {"taskId": tid})
    while status["status"] not in TERMINAL:
        await asyncio.sleep(0.2)
        status = await raw(session, "tasks/get", {"taskId": tid})
    return created, status, await raw(session, "tasks/result", {"taskId": tid})
