"""StdioClient against the SDK-built stdio fixture, as real subprocesses."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest

from hangar.runtime import (
    CallTimeout,
    McpClient,
    ProviderCrashed,
    ProviderUnavailable,
    StdioClient,
    ToolCallError,
)

from .conftest import STDIO_SERVER, StdioFactory, wait_until


async def test_start_initialize_and_list_tools(stdio_client: StdioFactory) -> None:
    client = await stdio_client(env={"FIXTURE_NAME": "named-fixture"})
    assert isinstance(client, McpClient)
    assert client.alive
    info = client.server_info
    assert info is not None
    assert info.name == "named-fixture"
    assert info.protocol_version == "2025-06-18"
    assert "tools" in info.capabilities
    tools = {t.name: t for t in await client.list_tools()}
    assert {"add", "echo", "slow", "crash", "stderr_line", "spawn_grandchild", "fail", "big"} <= set(tools)
    assert tools["add"].description == "Add two numbers."
    assert tools["add"].input_schema["required"] == ["a", "b"]


async def test_call_tools(stdio_client: StdioFactory) -> None:
    client = await stdio_client()
    result = await client.call_tool("add", {"a": 2, "b": 40})
    assert not result.is_error
    assert result.content == [{"type": "text", "text": "42.0"}]
    assert result.structured_content == {"result": 42.0}
    echoed = await client.call_tool("echo", {"text": "héllo\nworld"})
    assert echoed.content[0]["text"] == "héllo\nworld"
    assert await client.ping() > 0


async def test_concurrent_calls_share_one_connection(stdio_client: StdioFactory) -> None:
    client = await stdio_client()
    # The slow calls overlap: 10 x 1 s finishing in half the serial time proves multiplexing.
    started = time.perf_counter()
    slow = [client.call_tool("slow", {"seconds": 1.0}) for _ in range(10)]
    fast = [client.call_tool("add", {"a": i, "b": 1}) for i in range(200)]
    results = await asyncio.gather(*slow, *fast)
    assert time.perf_counter() - started < 5
    assert [r.structured_content for r in results[10:]] == [{"result": float(i + 1)} for i in range(200)]
    assert client.pending_count == 0


async def test_stdout_banner_is_logged_not_fatal(stdio_client: StdioFactory) -> None:
    client = await stdio_client(env={"FIXTURE_BANNER": "1"})
    assert (await client.call_tool("add", {"a": 1, "b": 1})).structured_content == {"result": 2.0}
    stdout_lines = [e for e in client.logs.tail() if e.stream == "stdout"]
    assert [e.line for e in stdout_lines] == ["fixture server starting (this banner is not JSON)"]


async def test_tool_error_is_a_result_but_jsonrpc_error_raises(stdio_client: StdioFactory) -> None:
    client = await stdio_client()
    failed = await client.call_tool("fail", {"message": "disk on fire"})
    assert failed.is_error
    assert "disk on fire" in failed.content[0]["text"]
    with pytest.raises(ToolCallError) as err:
        await client.call_tool("rpc_error", {"code": -32050, "message": "custom failure"})
    assert err.value.code == -32050
    assert err.value.message == "custom failure"
    assert err.value.data == {"hint": "fixture"}
    with pytest.raises(ToolCallError) as unknown:
        await client.request("no/such/method")
    assert unknown.value.code == -32601
    assert client.alive  # neither kind of error harms the connection


async def test_timeout_sends_cancellation_and_connection_survives(stdio_client: StdioFactory) -> None:
    client = await stdio_client()
    sent: list[bytes] = []
    assert client._proc is not None
    stdin = client._proc.stdin
    original_write = stdin.write

    def spy(data: bytes | bytearray | memoryview) -> None:
        sent.append(bytes(data))
        original_write(data)

    stdin.write = spy  # type: ignore[method-assign]
    started = time.perf_counter()
    with pytest.raises(CallTimeout):
        await client.call_tool("slow", {"seconds": 30}, timeout_s=0.3)
    assert time.perf_counter() - started < 5
    cancels = [line for line in sent if b"notifications/cancelled" in line]
    assert len(cancels) == 1 and b'"requestId"' in cancels[0] and b'"reason"' in cancels[0]
    assert client.pending_count == 0
    assert client.alive
    assert (await client.call_tool("add", {"a": 1, "b": 2})).structured_content == {"result": 3.0}


async def test_caller_cancellation_also_cancels_remotely(stdio_client: StdioFactory) -> None:
    client = await stdio_client()
    task = asyncio.create_task(client.call_tool("slow", {"seconds": 30}))
    await wait_until(lambda: client.pending_count == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert client.pending_count == 0
    assert (await client.call_tool("echo", {"text": "still here"})).content[0]["text"] == "still here"


async def test_crash_mid_call_fails_fast_and_fires_on_exit(stdio_client: StdioFactory) -> None:
    exits: list[int] = []
    client = await stdio_client(on_exit=exits.append)
    await client.call_tool("stderr_line", {"text": "about to die"})
    slow = asyncio.create_task(client.call_tool("slow", {"seconds": 30}, timeout_s=60))
    started = time.perf_counter()
    with pytest.raises(ProviderCrashed) as crashed:
        await client.call_tool("crash", {}, timeout_s=60)
    assert time.perf_counter() - started < 5  # detected by the exit, not by the 60 s timeout
    assert crashed.value.returncode == 3
    assert "exited with code 3" in str(crashed.value)
    assert "about to die" in str(crashed.value)
    with pytest.raises(ProviderCrashed):
        await slow  # every in-flight call fails, not just the one that crashed it
    assert exits == [3]
    assert not client.alive
    with pytest.raises(ProviderCrashed):
        await client.call_tool("add", {"a": 1, "b": 2})


async def test_stderr_goes_to_log_buffer(stdio_client: StdioFactory) -> None:
    client = await stdio_client(provider_id="logger")
    await client.call_tool("stderr_line", {"text": "hello from stderr"})
    assert await wait_until(lambda: client.logs.last_line() == "hello from stderr")
    entry = client.logs.tail(1)[0]
    assert entry.provider_id == "logger" and entry.stream == "stderr"


async def test_big_result_does_not_break_framing(stdio_client: StdioFactory) -> None:
    client = await stdio_client()
    n = 3 * 1024 * 1024  # content + structuredContent: a ~6 MiB line, far above asyncio's 64 KiB
    result = await client.call_tool("big", {"n": n})
    assert len(result.content[0]["text"]) == n
    assert (await client.call_tool("add", {"a": 1, "b": 1})).structured_content == {"result": 2.0}


async def test_line_over_the_stream_limit_is_dropped_and_framing_recovers(stdio_client: StdioFactory) -> None:
    client = await stdio_client(stream_limit=64 * 1024)
    with pytest.raises(CallTimeout):
        await client.call_tool("big", {"n": 300_000}, timeout_s=1)
    assert (await client.call_tool("add", {"a": 1, "b": 1})).structured_content == {"result": 2.0}
    stdout_lines = [e.line for e in client.logs.tail() if e.stream == "stdout"]
    assert any(line.startswith("<dropped stdout line over") for line in stdout_lines)
    assert all(len(line) < 10_000 for line in stdout_lines)


async def test_notifications_and_server_requests(stdio_client: StdioFactory) -> None:
    seen: list[tuple[str, object]] = []
    client = await stdio_client(on_notification=lambda m, p: seen.append((m, p)))
    await client.call_tool("notify_tools_changed", {})
    assert await wait_until(lambda: ("notifications/tools/list_changed", None) in seen)
    # The server pings *us* mid-call; the call only completes if we answer.
    assert (await client.call_tool("ping_client", {}, timeout_s=5)).content[0]["text"] == "pong"


async def test_env_is_isolated_from_hangar(
    stdio_client: StdioFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HANGAR_SECRET_TOKEN", "do-not-leak")
    client = await stdio_client(env={"PROVIDER_VAR": "mine"})

    async def getenv(name: str) -> str:
        return str((await client.call_tool("getenv", {"name": name})).content[0]["text"])

    assert await getenv("PROVIDER_VAR") == "mine"
    assert await getenv("HANGAR_SECRET_TOKEN") == ""
    assert await getenv("PATH") != ""


async def test_unstartable_commands_raise_provider_unavailable(stdio_client: StdioFactory) -> None:
    with pytest.raises(ProviderUnavailable, match="cannot spawn"):
        await stdio_client(command=["/nonexistent/mcp-server"])
    with pytest.raises(ProviderUnavailable) as exited:
        no_config = "import sys; sys.stderr.write('no config\\n'); sys.exit(2)"
        await stdio_client(command=[sys.executable, "-c", no_config])
    assert "code 2" in str(exited.value) and "no config" in str(exited.value)
    with pytest.raises(ProviderUnavailable, match="timed out"):
        await stdio_client(command=[sys.executable, "-c", "import time; time.sleep(30)"], start_timeout_s=0.5)


async def test_calls_after_close_are_refused_and_close_is_idempotent(stdio_client: StdioFactory) -> None:
    exits: list[int] = []
    client = await stdio_client(on_exit=exits.append)
    pending = asyncio.create_task(client.call_tool("slow", {"seconds": 30}))
    await wait_until(lambda: client.pending_count == 1)
    await asyncio.gather(client.close(), client.close())
    await client.close()
    with pytest.raises(ProviderUnavailable):
        await pending
    with pytest.raises(ProviderUnavailable):
        await client.call_tool("add", {"a": 1, "b": 2})
    assert not client.alive
    assert client.returncode is not None
    assert exits == []  # a stop we asked for is not reported as an unexpected exit


async def test_start_twice_is_an_error() -> None:
    client = StdioClient("x", STDIO_SERVER)
    try:
        await client.start()
        with pytest.raises(RuntimeError):
            await client.start()
    finally:
        await client.close()
