"""Added latency of a tool call through Hangar's MCP front door and through a group.

    .venv/bin/python bench/bench_mcp.py [--calls 2000] [--warmup 200] [--repeat 3] [--sync FULL]

One real ``hangar serve`` (SQLite event store in a temp dir, ``--sync`` its synchronous mode)
manages the SDK-built fixture server as provider ``p`` and a group ``g`` whose only member is
``p``; the same fixture is also spawned directly. Sequential ``add`` calls are timed on:

* ``direct stdio``     Hangar's own stdio client straight to the fixture (no Hangar server)
* ``REST provider``    ``POST /api/providers/p/tools/add/invoke``
* ``REST group``       ``POST /api/groups/g/tools/add/invoke``
* ``MCP provider``     ``tools/call p__add`` on ``/mcp`` (Streamable HTTP; a JSON answer, nothing streams)
* ``MCP group``        ``tools/call g__add`` on ``/mcp``

and each row's p50/p99 is reported next to what it adds over the direct call. HTTP is spoken by
a minimal keep-alive client on one connection (httpx costs milliseconds of client CPU per
request here, which would measure the client). Each measurement runs ``--repeat`` times,
interleaved, and the median of each figure is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hangar.runtime import StdioClient  # noqa: E402
from tests.support import STDIO_FIXTURE, HangarProcess  # noqa: E402

FIXTURE_ENV = {"FIXTURE_ASYNC_STDIO": "1"}
PROTOCOL = "2025-11-25"

CONFIG = """
event_store:
  sqlite_synchronous: {sync}
logging:
  level: warning
providers:
  p:
    mode: subprocess
    command: [{python}, {fixture}]
    env: {{FIXTURE_ASYNC_STDIO: "1"}}
    idle_ttl_s: 0
groups:
  g:
    strategy: round_robin
    members:
      - id: p
"""


class Http:
    """One keep-alive HTTP/1.1 connection: Content-Length or chunked bodies, nothing more."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        self.writer.close()

    async def request(self, method: str, path: str, body: bytes = b"",
                      headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        hdrs = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        if "content-length" in hdrs:
            data = await self.reader.readexactly(int(hdrs["content-length"]))
        elif hdrs.get("transfer-encoding") == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(chunk[:-2])
            data = b"".join(parts)
        else:
            data = b""
        return status, hdrs, data


def sse_json(data: bytes) -> Any:
    for line in data.decode().splitlines():
        if line.startswith("data:"):
            return json.loads(line[5:])
    return json.loads(data)


CallFn = Callable[[int], Awaitable[None]]


async def open_direct(stack: list[Callable[[], Awaitable[None]]], base: str) -> CallFn:
    client = StdioClient("bench", [sys.executable, str(STDIO_FIXTURE)], env=FIXTURE_ENV)
    await client.start()
    stack.append(client.close)

    async def call(i: int) -> None:
        await client.call_tool("add", {"a": i, "b": 1})

    return call


async def _http(stack: list[Callable[[], Awaitable[None]]], base: str) -> Http:
    host, port = base.removeprefix("http://").split(":")
    http = Http(host, int(port))
    await http.open()
    stack.append(http.close)
    return http


def open_rest(kind: str, target: str) -> Callable[..., Awaitable[CallFn]]:
    async def opener(stack: list[Callable[[], Awaitable[None]]], base: str) -> CallFn:
        http = await _http(stack, base)
        path = f"/api/{kind}/{target}/tools/add/invoke"
        ctype = {"Content-Type": "application/json"}

        async def call(i: int) -> None:
            status, _, body = await http.request("POST", path, json.dumps({"arguments": {"a": i, "b": 1}}).encode(),
                                                 ctype)
            if status != 200:
                raise RuntimeError(f"{path}: {status} {body[:200]!r}")

        return call

    return opener


def open_mcp(tool: str) -> Callable[..., Awaitable[CallFn]]:
    async def opener(stack: list[Callable[[], Awaitable[None]]], base: str) -> CallFn:
        http = await _http(stack, base)
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}}
        status, hdrs, body = await http.request("POST", "/mcp", json.dumps(init).encode(), headers)
        if status != 200:
            raise RuntimeError(f"initialize: {status} {body[:200]!r}")
        headers |= {"mcp-session-id": hdrs["mcp-session-id"], "mcp-protocol-version": PROTOCOL}
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        await http.request("POST", "/mcp", json.dumps(note).encode(), headers)

        async def call(i: int) -> None:
            msg = {"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                   "params": {"name": tool, "arguments": {"a": i, "b": 1}}}
            status, _, body = await http.request("POST", "/mcp", json.dumps(msg).encode(), headers)
            reply = sse_json(body)
            if status != 200 or "result" not in reply or reply["result"].get("isError"):
                raise RuntimeError(f"tools/call {tool}: {status} {body[:300]!r}")

        async def end() -> None:
            await http.request("DELETE", "/mcp", b"", headers)

        stack.append(end)
        return call

    return opener


ROWS: dict[str, Callable[..., Awaitable[CallFn]]] = {
    "direct stdio": open_direct,
    "REST provider": open_rest("providers", "p"),
    "REST group": open_rest("groups", "g"),
    "MCP provider": open_mcp("p__add"),
    "MCP group": open_mcp("g__add"),
}


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (and its reaped children: none here), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(xs: list[float], q: float) -> float:
    return xs[min(len(xs) - 1, int(q * len(xs)))]


async def measure(opener: Callable[..., Awaitable[CallFn]], base: str, calls: int, warmup: int,
                  server_pid: int) -> dict[str, float]:
    stack: list[Callable[[], Awaitable[None]]] = []
    try:
        call = await opener(stack, base)
        for i in range(warmup):
            await call(i)
        lat = []
        cpu0 = cpu_seconds(server_pid)
        for i in range(calls):
            t0 = time.perf_counter()
            await call(i)
            lat.append((time.perf_counter() - t0) * 1e6)
        cpu = (cpu_seconds(server_pid) - cpu0) / calls * 1e6
        lat.sort()
        return {"p50": pct(lat, 0.5), "p99": pct(lat, 0.99), "mean": statistics.fmean(lat), "cpu": cpu}
    finally:
        for close in reversed(stack):
            await close()


async def run(base: str, server_pid: int, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in ROWS}
    for _ in range(args.repeat):
        for name, opener in ROWS.items():
            runs[name].append(await measure(opener, base, args.calls, args.warmup, server_pid))
    return {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}


def wait_for_front_door(base: str, timeout: float = 60.0) -> None:
    """The SDK loads in the background after start-up; /mcp answers 503 until then."""
    import httpx

    deadline = time.monotonic() + timeout
    while httpx.get(base + "/mcp").status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sync", default="FULL", choices=["FULL", "NORMAL", "EXTRA"])
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with tempfile.TemporaryDirectory(prefix="hangar-bench-mcp-") as tmp:
        work = Path(tmp)
        cfg = work / "hangar.yaml"
        cfg.write_text(CONFIG.format(sync=args.sync, python=json.dumps(sys.executable),
                                     fixture=json.dumps(str(STDIO_FIXTURE))))
        server = HangarProcess(work, config=cfg, env={"PYTHONHASHSEED": "0", **dict(os.environ)}).start(60)
        try:
            assert server.proc is not None
            wait_for_front_door(server.base)
            results = asyncio.run(run(server.base, server.proc.pid, args))
        finally:
            server.stop()
    base = results["direct stdio"]
    print(f"sequential tools/call 'add', {args.calls} calls x {args.repeat} runs (median), "
          f"sqlite synchronous={args.sync}; microseconds")
    print(f"{'path':<16}{'p50':>9}{'p99':>9}{'mean':>9}{'+p50':>9}{'+p99':>9}{'hangar CPU/call':>17}")
    for name, r in results.items():
        if name == "direct stdio":
            print(f"{name:<16}{r['p50']:>9.0f}{r['p99']:>9.0f}{r['mean']:>9.0f}{'':>18}{'-':>17}")
            continue
        print(f"{name:<16}{r['p50']:>9.0f}{r['p99']:>9.0f}{r['mean']:>9.0f}"
              f"{r['p50'] - base['p50']:>9.0f}{r['p99'] - base['p99']:>9.0f}{r['cpu']:>17.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
