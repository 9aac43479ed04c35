"""The official third-party servers as providers: ``@modelcontextprotocol/server-everything`` and
``server-filesystem`` (installed by ``make npm-servers`` into ``.npm-servers``). Every tool,
resource, prompt and task of server-everything answers through ``/mcp`` as on a direct connection
(``tests/mcp/test_tasks.py`` covers tasks further)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import StdioServerParameters
from mcp.client.session import ClientSession
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from hangar.app.mcp_catalog import exposed_uri
from tests.mcp.support import dump, run_task, serving_mcp
from tests.support import REPO, HangarProcess

MODULES = REPO / ".npm-servers" / "node_modules" / "@modelcontextprotocol"
EVERYTHING = MODULES / "server-everything" / "dist" / "index.js"
FILESYSTEM = MODULES / "server-filesystem" / "dist" / "index.js"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None or not EVERYTHING.exists() or not FILESYSTEM.exists(),
    reason="needs node and `make npm-servers` (npm install of the official MCP servers)",
)

ARGS: dict[str, dict[str, Any]] = {
    "echo": {"message": "hi"},
    "get-annotated-message": {"messageType": "success", "includeImage": True},
    "get-resource-links": {"count": 2},
    "get-resource-reference": {"resourceType": "Text", "resourceId": 2},
    "get-structured-content": {"location": "Chicago"},
    "get-sum": {"a": 2, "b": 5},
    "simulate-research-query": {"topic": "tasks"},
    "gzip-file-as-resource": {"name": "x.gz", "data": "data:text/plain;base64,aGVsbG8=", "outputType": "resource"},
    "trigger-long-running-operation": {"duration": 0.3, "steps": 3},
    "trigger-sampling-request": {"prompt": "hello", "maxTokens": 5},
    "trigger-url-elicitation": {"url": "https://example.com/consent", "elicitationId": "fixed-id"},
}
# Answers that depend on the process (its environment, a toggled state), compared by shape only.
BY_SHAPE = {"get-env", "toggle-simulated-logging", "toggle-subscriber-updates", "gzip-file-as-resource"}
PROMPT_ARGS = {"args-prompt": {"city": "Oslo", "state": "N/A"},
               "completable-prompt": {"department": "Sales", "name": "Ann"},
               "resource-prompt": {"resourceType": "Text", "resourceId": "1"}}


async def on_sampling(ctx: Any, params: Any) -> types.CreateMessageResult:
    return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text="ok"), model="m")


async def on_elicit(ctx: Any, params: Any) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={})


async def on_roots(ctx: Any) -> types.ListRootsResult:
    return types.ListRootsResult(roots=[types.Root(uri="file:///tmp", name="tmp")])


CALLBACKS: dict[str, Any] = {"sampling_callback": on_sampling, "elicitation_callback": on_elicit,
                             "list_roots_callback": on_roots}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HangarProcess, Path]]:
    work = Path(tmp_path_factory.mktemp("mcp-npm"))
    files = work / "files"
    files.mkdir()
    (files / "hello.txt").write_text("hello from the filesystem server\n")
    cfg = work / "hangar.yaml"
    cfg.write_text(
        "providers:\n"
        f"  everything: {{mode: subprocess, command: [{NODE}, {EVERYTHING}, stdio]}}\n"
        f"  files: {{mode: subprocess, command: [{NODE}, {FILESYSTEM}, {files}]}}\n"
    )
    proc = HangarProcess(work, config=cfg, discover=True)
    try:
        yield serving_mcp(proc), files
    finally:
        proc.stop()


@asynccontextmanager
async def via_hangar(base: str) -> AsyncIterator[ClientSession]:
    async with streamable_http_client(base + "/mcp") as (read, write), \
            ClientSession(read, write, **CALLBACKS) as session:
        await session.initialize()
        yield session


@asynccontextmanager
async def direct(*args: str) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(command=NODE or "node", args=list(args))
    async with stdio_client(params) as (read, write), ClientSession(read, write, **CALLBACKS) as session:
        await session.initialize()
        yield session


def shape(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: shape(v) for k, v in data.items() if k not in ("text", "blob", "uri", "data")}
    if isinstance(data, list):
        return [shape(v) for v in data]
    return type(data).__name__


async def test_server_everything_through_mcp_equals_direct(server: tuple[HangarProcess, Path]) -> None:
    proc, _ = server
    async with via_hangar(proc.base) as h, direct(str(EVERYTHING), "stdio") as d:
        direct_tools = {t.name: t for t in (await d.list_tools()).tools}
        hangar_tools = {t.name: t for t in (await h.list_tools()).tools if t.name.startswith("everything__")}
        assert set(hangar_tools) == {f"everything__{n}" for n in direct_tools}
        for name, tool in direct_tools.items():
            listed = dump(hangar_tools[f"everything__{name}"])
            assert listed == {**dump(tool), "name": f"everything__{name}"}, name
            args = ARGS.get(name, {})
            if tool.execution and tool.execution.task_support == "required":
                # Tasks: created, polled and fetched through /mcp as directly (more in test_tasks).
                (_, h_status, got_r), (_, d_status, want_r) = await asyncio.gather(
                    run_task(h, f"everything__{name}", args), run_task(d, name, args))
                assert h_status["status"] == d_status["status"] == "completed", name
                got_r.pop("_meta", None)
                want_r.pop("_meta", None)
                assert got_r == want_r, name
                continue
            got, want = dump(await h.call_tool(f"everything__{name}", args)), dump(await d.call_tool(name, args))
            if name in BY_SHAPE:
                assert shape(got) == shape(want), name
            else:
                assert got == want, name

        want_resources = dump(await d.list_resources())["resources"]
        got_resources = [r for r in dump(await h.list_resources())["resources"]
                         if r["uri"].startswith("hangar://everything/")]
        assert got_resources == [{**r, "uri": exposed_uri("everything", r["uri"])} for r in want_resources]
        for r in want_resources:
            got = dump(await h.read_resource(exposed_uri("everything", r["uri"])))
            want = dump(await d.read_resource(r["uri"]))
            assert got == {"contents": [{**c, "uri": exposed_uri("everything", c["uri"])}
                                        for c in want["contents"]]}, r["uri"]
        templates = dump(await d.list_resource_templates())["resourceTemplates"]
        assert [t for t in dump(await h.list_resource_templates())["resourceTemplates"]
                if t["uriTemplate"].startswith("hangar://everything/")] == \
            [{**t, "uriTemplate": exposed_uri("everything", t["uriTemplate"])} for t in templates]
        uri = "demo://resource/dynamic/text/3"
        got = dump(await h.read_resource(exposed_uri("everything", uri)))
        assert got["contents"][0]["uri"] == exposed_uri("everything", uri)
        assert got["contents"][0]["text"] == dump(await d.read_resource(uri))["contents"][0]["text"]

        for p in (await d.list_prompts()).prompts:
            args = PROMPT_ARGS.get(p.name, {})
            assert dump(await h.get_prompt(f"everything__{p.name}", args)) == dump(await d.get_prompt(p.name, args))
        ref = "completable-prompt"
        got_c = await h.complete(types.PromptReference(name=f"everything__{ref}"), {"name": "department", "value": "E"})
        want_c = await d.complete(types.PromptReference(name=ref), {"name": "department", "value": "E"})
        assert dump(got_c) == dump(want_c)


async def test_server_filesystem_reads_a_file_through_mcp(server: tuple[HangarProcess, Path]) -> None:
    proc, files = server
    async with via_hangar(proc.base) as h, direct(str(FILESYSTEM), str(files)) as d:
        args = {"path": str(files / "hello.txt")}
        got = dump(await h.call_tool("files__read_text_file", args))
        assert got == dump(await d.call_tool("read_text_file", args))
        assert "hello from the filesystem server" in str(got)
        names = {t.name for t in (await h.list_tools()).tools if t.name.startswith("files__")}
        assert names == {f"files__{t.name}" for t in (await d.list_tools()).tools}
