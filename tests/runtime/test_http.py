"""HttpClient against the SDK's Streamable HTTP and legacy SSE servers (real subprocesses)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from hangar.runtime import CallTimeout, HttpClient, McpClient, ProviderUnavailable, ToolCallError

from .conftest import HttpFactory, HttpFixture, free_port

FixtureFactory = Callable[..., Awaitable[HttpFixture]]


async def _session_alive(url: str, session_id: str) -> bool:
    """Whether the server still knows a session, asked directly over HTTP."""
    async with httpx.AsyncClient() as raw:
        response = await raw.post(
            url,
            json={"jsonrpc": "2.0", "id": 99, "method": "ping"},
            headers={
                "Accept": "application/json, text/event-stream",
                "Mcp-Session-Id": session_id,
                "MCP-Protocol-Version": "2025-06-18",
            },
        )
        return response.status_code != 404


@pytest.mark.parametrize("json_response", [False, True], ids=["sse-responses", "json-responses"])
async def test_initialize_list_call(
    http_fixture: FixtureFactory, http_client: HttpFactory, json_response: bool
) -> None:
    server = await http_fixture(*(["--json-response"] if json_response else []))
    client = await http_client(server.url)
    assert isinstance(client, McpClient)
    assert client.transport_kind == "streamable"
    assert client.server_info is not None and client.server_info.name == "fixture-http"
    assert client.session_id  # stateful server: a session was issued and is sent from now on
    tools = {t.name for t in await client.list_tools()}
    assert {"add", "echo", "slow", "fail", "big"} <= tools
    result = await client.call_tool("add", {"a": 20, "b": 22})
    assert result.structured_content == {"result": 42.0}
    failed = await client.call_tool("fail", {"message": "nope"})
    assert failed.is_error and "nope" in failed.content[0]["text"]
    with pytest.raises(ToolCallError) as err:
        await client.call_tool("rpc_error", {"code": -32050, "message": "remote says no"})
    assert err.value.code == -32050
    results = await asyncio.gather(*(client.call_tool("add", {"a": i, "b": 0}) for i in range(20)))
    assert [r.structured_content for r in results] == [{"result": float(i)} for i in range(20)]
    assert await client.ping() > 0
    assert client.alive


async def test_close_deletes_the_session(http_fixture: FixtureFactory) -> None:
    server = await http_fixture()
    client = HttpClient("remote", server.url)
    await client.start()
    session = client.session_id
    assert session is not None and await _session_alive(server.url, session)
    await client.close()
    assert not await _session_alive(server.url, session)
    with pytest.raises(ProviderUnavailable):
        await client.call_tool("add", {"a": 1, "b": 2})


async def test_server_restart_forgets_session_and_client_reinitialises_once(
    http_fixture: FixtureFactory, http_client: HttpFactory
) -> None:
    server = await http_fixture()
    client = await http_client(server.url)
    assert (await client.call_tool("add", {"a": 1, "b": 1})).structured_content == {"result": 2.0}
    old_session = client.session_id
    await server.restart()  # same port, new process: the old session id now answers 404
    results = await asyncio.gather(*(client.call_tool("add", {"a": i, "b": 1}) for i in range(5)))
    assert [r.structured_content for r in results] == [{"result": i + 1.0} for i in range(5)]
    assert client.reinitializations == 1  # concurrent callers shared one re-initialisation
    assert client.session_id not in (None, old_session)
    assert client.alive


async def test_call_timeout_then_connection_still_works(
    http_fixture: FixtureFactory, http_client: HttpFactory
) -> None:
    server = await http_fixture()
    client = await http_client(server.url)
    with pytest.raises(CallTimeout):
        await client.call_tool("slow", {"seconds": 30}, timeout_s=0.3)
    assert (await client.call_tool("echo", {"text": "after"})).content[0]["text"] == "after"


async def test_fallback_to_legacy_sse(http_fixture: FixtureFactory, http_client: HttpFactory) -> None:
    server = await http_fixture("--transport", "sse")
    seen: list[str] = []
    client = await http_client(server.url, on_notification=lambda m, p: seen.append(m))
    assert client.transport_kind == "sse"
    assert client.server_info is not None and client.server_info.name == "fixture-http"
    assert "echo" in {t.name for t in await client.list_tools()}
    results = await asyncio.gather(*(client.call_tool("add", {"a": i, "b": 2}) for i in range(10)))
    assert [r.structured_content for r in results] == [{"result": i + 2.0} for i in range(10)]
    with pytest.raises(ToolCallError):
        await client.call_tool("rpc_error", {"code": -32050, "message": "legacy no"})
    with pytest.raises(CallTimeout):
        await client.call_tool("slow", {"seconds": 30}, timeout_s=0.3)
    assert (await client.call_tool("ping_client", {}, timeout_s=5)).content[0]["text"] == "pong"
    await client.call_tool("notify_tools_changed", {})
    assert "notifications/tools/list_changed" in seen


async def test_legacy_sse_reconnects_after_server_restart(
    http_fixture: FixtureFactory, http_client: HttpFactory
) -> None:
    server = await http_fixture("--transport", "sse")
    client = await http_client(server.url)
    await server.restart()
    result = await client.call_tool("add", {"a": 2, "b": 2}, timeout_s=10)
    assert result.structured_content == {"result": 4.0}
    assert client.reinitializations == 1


async def test_unreachable_endpoint_is_unavailable() -> None:
    client = HttpClient("remote", f"http://127.0.0.1:{free_port()}/mcp", start_timeout_s=5)
    with pytest.raises(ProviderUnavailable):
        await client.start()
    assert not client.alive


async def test_streamable_only_mode_does_not_fall_back(http_fixture: FixtureFactory) -> None:
    server = await http_fixture("--transport", "sse")
    client = HttpClient("remote", server.url, transport="streamable")
    with pytest.raises(ProviderUnavailable, match="refused initialize"):
        await client.start()
