"""Everything a provider offers, through ``/mcp`` of a real Hangar, compared with a direct
connection to the same SDK-built server (``tests/fixtures/rich_server.py``): resources, a
template, prompts, completions, progress, logging, elicitation; names every LLM API accepts;
cancellation reaching the provider; list_changed on add, remove and the provider's own notice.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp import StdioServerParameters
from mcp.client.session import ClientSession
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from hangar.app.mcp_catalog import exposed_uri
from tests.mcp.support import dump, serving_mcp
from tests.support import REPO, HangarProcess, wait_until

RICH = REPO / "tests" / "fixtures" / "rich_server.py"
STRICT = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HangarProcess]:
    proc = HangarProcess(Path(tmp_path_factory.mktemp("mcp-rich")), discover=True)
    try:
        yield serving_mcp(proc)
    finally:
        proc.stop()


def add_rich(base: str, marks: Path) -> str:
    pid = f"rich-{uuid.uuid4().hex[:6]}"
    body = {"provider_id": pid, "mode": "subprocess", "command": [sys.executable, str(RICH)],
            "env": {"RICH_MARK_DIR": str(marks)}}
    assert httpx.post(base + "/api/providers", json=body).status_code == 201
    return pid


class Recorder:
    def __init__(self) -> None:
        self.logs: list[tuple[str, Any]] = []
        self.progress: list[tuple[float, float | None, str | None]] = []
        self.notices: list[str] = []
        self.changed = asyncio.Event()

    async def on_log(self, params: types.LoggingMessageNotificationParams) -> None:
        self.logs.append((params.level, params.data))

    async def on_progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.progress.append((progress, total, message))

    async def on_elicit(self, ctx: Any, params: Any) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"colour": "teal"})

    async def on_message(self, message: Any) -> None:
        if isinstance(message, types.ServerNotification | types.Notification):
            method = getattr(message, "method", "")
            self.notices.append(method)
            self.changed.set()


@asynccontextmanager
async def hangar_session(base: str, rec: Recorder) -> AsyncIterator[ClientSession]:
    async with streamable_http_client(base + "/mcp") as (read, write), ClientSession(
        read, write, logging_callback=rec.on_log, elicitation_callback=rec.on_elicit, message_handler=rec.on_message,
    ) as session:
        await session.initialize()
        yield session


@asynccontextmanager
async def direct_session(marks: Path, rec: Recorder) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(command=sys.executable, args=[str(RICH)], env={"RICH_MARK_DIR": str(marks)})
    async with stdio_client(params) as (read, write), ClientSession(
        read, write, logging_callback=rec.on_log, elicitation_callback=rec.on_elicit,
    ) as session:
        await session.initialize()
        yield session


async def test_everything_passes_through_like_a_direct_connection(server: HangarProcess, tmp_path: Path) -> None:
    pid = await asyncio.to_thread(add_rich, server.base, tmp_path)
    via, direct = Recorder(), Recorder()
    async with hangar_session(server.base, via) as h, direct_session(tmp_path, direct) as d:
        # Known before first use: discovered in the background when registered.
        names = {t.name for t in (await h.list_tools()).tools}
        assert f"{pid}__add" in names and f"{pid}__progress" in names

        for tool, args in (("add", {"a": 2, "b": 3}), ("chatty", {}), ("ask", {})):
            assert dump(await h.call_tool(f"{pid}__{tool}", args)) == dump(await d.call_tool(tool, args))
        assert dump(await h.call_tool(f"{pid}__ask", {})) == dump(await d.call_tool("ask", {}))
        assert "accept:teal" in str(dump(await h.call_tool(f"{pid}__ask", {})))
        assert via.logs and via.logs[:2] == direct.logs[:2] == [("info", "first line"), ("warning", "second line")]

        res_h = await h.call_tool(f"{pid}__progress", {"steps": 3}, progress_callback=via.on_progress)
        res_d = await d.call_tool("progress", {"steps": 3}, progress_callback=direct.on_progress)
        assert dump(res_h) == dump(res_d)
        assert via.progress == direct.progress == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]

        # Resources and the template: URIs behind hangar://{provider}/, otherwise identical.
        listed = dump(await h.list_resources())["resources"]
        mine = [r for r in listed if r["uri"].startswith(f"hangar://{pid}/")]
        expected = dump(await d.list_resources())["resources"]
        assert mine == [{**r, "uri": exposed_uri(pid, r["uri"])} for r in expected]
        templates = [t for t in dump(await h.list_resource_templates())["resourceTemplates"]
                     if t["uriTemplate"].startswith(f"hangar://{pid}/")]
        assert templates == [{**t, "uriTemplate": exposed_uri(pid, t["uriTemplate"])}
                             for t in dump(await d.list_resource_templates())["resourceTemplates"]]
        for uri in ("memo://readme", "memo://notes/alpha"):
            got, want = dump(await h.read_resource(exposed_uri(pid, uri))), dump(await d.read_resource(uri))
            assert got == {"contents": [{**c, "uri": exposed_uri(pid, c["uri"])} for c in want["contents"]]}

        prompts = [p for p in dump(await h.list_prompts())["prompts"] if p["name"].startswith(f"{pid}__")]
        assert prompts == [{**p, "name": f"{pid}__{p['name']}"} for p in dump(await d.list_prompts())["prompts"]]
        got_p = await h.get_prompt(f"{pid}__greet", {"name": "Ada"})
        assert dump(got_p) == dump(await d.get_prompt("greet", {"name": "Ada"}))

        got = await h.complete(types.PromptReference(name=f"{pid}__review"), {"name": "language", "value": "p"})
        want = await d.complete(types.PromptReference(name="review"), {"name": "language", "value": "p"})
        assert dump(got) == dump(want) and want.completion.values == ["python", "perl"]
        ref_h = types.ResourceTemplateReference(uri=exposed_uri(pid, "memo://notes/{topic}"))
        ref_d = types.ResourceTemplateReference(uri="memo://notes/{topic}")
        assert dump(await h.complete(ref_h, {"name": "topic", "value": "a"})) == \
            dump(await d.complete(ref_d, {"name": "topic", "value": "a"}))


async def test_awkward_names_are_valid_callable_and_distinct(server: HangarProcess, tmp_path: Path) -> None:
    pid = await asyncio.to_thread(add_rich, server.base, tmp_path)
    async with hangar_session(server.base, Recorder()) as h:
        tools = [t for t in (await h.list_tools()).tools if t.name.startswith(pid)]
        names = [t.name for t in tools]
        assert len(names) == len(set(names)) == 11
        assert all(STRICT.match(n) for n in names), names
        awkward = [t for t in tools if (t.description or "").startswith("tool named")]
        assert len(awkward) == 5
        for t in awkward:
            res = await h.call_tool(t.name, {})
            assert res.is_error is False
            block = res.content[0]
            assert isinstance(block, types.TextContent) and repr(block.text) in (t.description or "")


async def test_client_cancel_reaches_the_provider_and_history(server: HangarProcess, tmp_path: Path) -> None:
    pid = await asyncio.to_thread(add_rich, server.base, tmp_path)
    async with hangar_session(server.base, Recorder()) as h:
        await h.list_tools()
        call = asyncio.create_task(h.call_tool(f"{pid}__long", {"seconds": 10}))
        await asyncio.sleep(0.5)
        started = time.monotonic()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await asyncio.to_thread(wait_until, (tmp_path / "cancelled").exists, 3)
        # The provider's call ended (it saw the cancellation) within a second of the client's cancel.
        assert time.monotonic() - started < 1.0
        assert (tmp_path / "cancelled").read_text() == "yes"
        async with httpx.AsyncClient() as http:
            for _ in range(60):
                history = (await http.get(f"{server.base}/api/providers/{pid}/tools/history")).json()["history"]
                failed = [e for e in history if e["event_type"] == "ToolInvocationFailed"]
                if failed:
                    break
                await asyncio.sleep(0.05)
            # One request was cancelled, not the provider torn down: still ready, still answering.
            assert (await http.get(f"{server.base}/api/providers/{pid}")).json()["state"] == "ready"
        assert failed and failed[-1]["tool_name"] == "long" and failed[-1]["error_type"] == "Cancelled"
        res = await h.call_tool(f"{pid}__add", {"a": 1, "b": 2})
        assert res.is_error is False


async def test_list_changed_on_add_remove_and_provider_notice(server: HangarProcess, tmp_path: Path) -> None:
    rec = Recorder()
    async with hangar_session(server.base, rec) as h:
        await h.list_tools()

        async def changed_after(action: Any) -> set[str]:
            rec.changed.clear()
            rec.notices.clear()
            result = await action()
            await asyncio.wait_for(rec.changed.wait(), 15)
            await asyncio.sleep(0.2)  # the resources/prompts notices of the same change
            return result

        pid = await changed_after(lambda: asyncio.to_thread(add_rich, server.base, tmp_path))
        assert "notifications/tools/list_changed" in rec.notices
        names = {t.name for t in (await h.list_tools()).tools}
        assert f"{pid}__add" in names
        if "notifications/prompts/list_changed" not in rec.notices:  # offerings land just after
            rec.changed.clear()
            await asyncio.wait_for(rec.changed.wait(), 10)
        assert any(p.name == f"{pid}__greet" for p in (await h.list_prompts()).prompts)

        await changed_after(lambda: h.call_tool(f"{pid}__grow", {}))
        assert "notifications/tools/list_changed" in rec.notices
        assert f"{pid}__extra" in {t.name for t in (await h.list_tools()).tools}

        async def delete() -> None:
            async with httpx.AsyncClient() as http:
                assert (await http.delete(f"{server.base}/api/providers/{pid}")).status_code in (200, 204)

        await changed_after(delete)
        assert "notifications/tools/list_changed" in rec.notices
        assert not any(t.name.startswith(pid) for t in (await h.list_tools()).tools)
        assert not any(p.name.startswith(pid) for p in (await h.list_prompts()).prompts)


async def test_2026_client_reads_resources_and_prompts(server: HangarProcess, tmp_path: Path) -> None:
    from mcp import Client

    pid = await asyncio.to_thread(add_rich, server.base, tmp_path)
    async with Client(server.base + "/mcp") as client:
        assert client.protocol_version == "2026-07-28"
        assert f"{pid}__add" in {t.name for t in (await client.list_tools()).tools}
        uris = {r.uri for r in (await client.list_resources()).resources}
        assert exposed_uri(pid, "memo://readme") in uris
        read = await client.read_resource(exposed_uri(pid, "memo://notes/beta"))
        block = read.contents[0]
        assert isinstance(block, types.TextResourceContents) and block.text == "note about beta"
        prompt = await client.get_prompt(f"{pid}__greet", {"name": "Ada"})
        assert "Hello, Ada!" in str(prompt.messages[0].content)


async def test_a_provider_that_cannot_start_shows_why_and_lists_nothing(server: HangarProcess) -> None:
    pid = f"broken-{uuid.uuid4().hex[:6]}"
    body = {"provider_id": pid, "mode": "subprocess",
            "command": [sys.executable, "-c", "import sys; sys.stderr.write('no config here\\n'); sys.exit(3)"]}
    async with httpx.AsyncClient(base_url=server.base) as http:
        assert (await http.post("/api/providers", json=body)).status_code == 201
        view: dict[str, Any] = {}
        for _ in range(200):
            view = (await http.get(f"/api/providers/{pid}")).json()
            if view["health"]["last_error"]:
                break
            await asyncio.sleep(0.05)
    assert "no config here" in view["health"]["last_error"] or "exited" in view["health"]["last_error"], view
    assert view["state"] == "dead" and view["tools_count"] == 0  # a failed start is recorded as such
    async with hangar_session(server.base, Recorder()) as h:
        assert not any(t.name.startswith(pid) for t in (await h.list_tools()).tools)


def test_answers_are_json_unless_something_streams(server: HangarProcess, tmp_path: Path) -> None:
    """A 2025-era request POST is answered as one JSON body when nothing came before its
    response, as an SSE stream when the provider sent something first (progress here)."""
    import json

    pid = add_rich(server.base, tmp_path)
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    with httpx.Client(base_url=server.base + "/mcp", headers=headers, timeout=30) as http:
        init = http.post("", json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})
        assert init.status_code == 200
        http.headers.update({"mcp-session-id": init.headers["mcp-session-id"], "mcp-protocol-version": "2025-11-25"})
        assert http.post("", json={"jsonrpc": "2.0", "method": "notifications/initialized"}).status_code == 202

        plain = http.post("", json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                    "params": {"name": f"{pid}__add", "arguments": {"a": 2, "b": 3}}})
        assert plain.status_code == 200 and plain.headers["content-type"] == "application/json"
        assert plain.headers["mcp-session-id"] == http.headers["mcp-session-id"]
        assert plain.json()["id"] == 1 and plain.json()["result"]["content"][0]["text"] == "5.0"

        streamed = http.post("", json={"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": f"{pid}__progress", "arguments": {"steps": 2}, "_meta": {"progressToken": "tok"}}})
        assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
        frames = [json.loads(line[5:]) for line in streamed.text.splitlines() if line.startswith("data:")]
        assert [f.get("method") for f in frames] == ["notifications/progress"] * 2 + [None]
        assert frames[0]["params"]["progressToken"] == "tok" and frames[-1]["id"] == 2

        listing = http.post("", json={"jsonrpc": "2.0", "id": 3, "method": "resources/list"})
        assert listing.headers["content-type"] == "application/json" and listing.json()["id"] == 3
