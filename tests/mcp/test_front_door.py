"""MCP clients from the official SDK against ``/mcp`` of a real Hangar server.

Both protocol eras: the 2025 handshake (``ClientSession`` over ``streamable_http_client``, with
``notifications/tools/list_changed`` on the session's GET stream) and 2026-07-28 (``mcp.Client``
in its default ``auto`` mode, changes on a ``subscriptions/listen`` stream).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.mcp.support import serving_mcp
from tests.support import HangarProcess, fixture_provider

ADD = {"name": "add", "description": "Add two numbers.",
       "input_schema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                        "required": ["a", "b"]}}
FAIL = {"name": "fail", "description": "Fail as a tool.",
        "input_schema": {"type": "object", "properties": {"message": {"type": "string"}}}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HangarProcess]:
    proc = HangarProcess(Path(tmp_path_factory.mktemp("mcp")))
    try:
        yield serving_mcp(proc)
    finally:
        proc.stop()


def add_provider(base: str, tools: list[dict[str, Any]]) -> str:
    pid = f"p-{uuid.uuid4().hex[:6]}"
    body = fixture_provider(pid, uuid.uuid4().hex, env={"FIXTURE_ASYNC_STDIO": "1"}, tools=tools)
    assert httpx.post(base + "/api/providers", json=body).status_code == 201
    return pid


def add_group(base: str, members: list[str]) -> str:
    gid = f"g-{uuid.uuid4().hex[:6]}"
    assert httpx.post(base + "/api/groups", json={"group_id": gid}).status_code == 201
    for m in members:
        assert httpx.post(f"{base}/api/groups/{gid}/members", json={"member_id": m}).status_code == 201
    return gid


def text(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


async def test_handshake_client_lists_calls_and_hears_list_changed(server: HangarProcess) -> None:
    p = add_provider(server.base, [ADD, FAIL])
    g = add_group(server.base, [p])
    changed = asyncio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    async with streamable_http_client(server.base + "/mcp") as (read, write), \
            ClientSession(read, write, message_handler=on_message) as session:
        init = await session.initialize()
        assert init.capabilities.tools is not None and init.capabilities.tools.list_changed is True
        listed = {t.name: t for t in (await session.list_tools()).tools}
        # A cold provider's predefined tools are listed; a group offers its members' tools.
        assert {f"{p}__add", f"{p}__fail", f"{g}__add", f"{g}__fail"} <= set(listed)
        assert listed[f"{p}__add"].description == "Add two numbers."
        assert listed[f"{g}__add"].input_schema["required"] == ["a", "b"]

        res = await session.call_tool(f"{p}__add", {"a": 2, "b": 3})  # starts the provider
        assert res.is_error is False and float(text(res)) == 5
        res = await session.call_tool(f"{g}__add", {"a": 4, "b": 3})  # through the balancer
        assert res.is_error is False and float(text(res)) == 7
        async with httpx.AsyncClient() as http:
            history = (await http.get(f"{server.base}/api/providers/{p}/tools/history")).json()["history"]
        assert [h.get("group_id") for h in history if h["event_type"] == "ToolInvocationCompleted"] == [None, g]

        res = await session.call_tool(f"{p}__fail", {"message": "boom"})  # the tool's own error
        assert res.is_error is True and "boom" in text(res)
        res = await session.call_tool(f"{g}__add", {"a": "x", "b": 1})  # Hangar's refusal
        assert res.is_error is True and res.structured_content is not None
        assert res.structured_content["error"] == "ValidationError" and res.structured_content["status_code"] == 422
        with pytest.raises(MCPError):
            await session.call_tool("no-such-target__add", {})
        with pytest.raises(MCPError):
            await session.call_tool("nodot", {})

        changed.clear()
        added = await asyncio.to_thread(add_provider, server.base, [ADD])
        await asyncio.wait_for(changed.wait(), 10)
        assert f"{added}__add" in {t.name for t in (await session.list_tools()).tools}


async def test_2026_client_lists_calls_and_listens_for_changes(server: HangarProcess) -> None:
    p = add_provider(server.base, [ADD])
    g = add_group(server.base, [p])
    async with Client(server.base + "/mcp") as client:
        assert client.protocol_version == "2026-07-28"
        names = {t.name for t in (await client.list_tools()).tools}
        assert {f"{p}__add", f"{g}__add"} <= names
        res = await client.call_tool(f"{g}__add", {"a": 1, "b": 2})
        assert res.is_error is False and float(text(res)) == 3

        async with client.listen(tools_list_changed=True) as sub:
            added = await asyncio.to_thread(add_provider, server.base, [ADD])

            async def first_event() -> Any:
                async for event in sub:
                    return event

            event = await asyncio.wait_for(first_event(), 10)
            assert type(event).__name__ == "ToolsListChanged"
        assert f"{added}__add" in {t.name for t in (await client.list_tools()).tools}


def test_front_door_refuses_other_methods_in_the_sdk_way(server: HangarProcess) -> None:
    # No session, not an initialize: the SDK's own JSON-RPC error, not a Hangar 5xx.
    r = httpx.post(server.base + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                   headers={"accept": "application/json, text/event-stream"})
    assert 400 <= r.status_code < 500
