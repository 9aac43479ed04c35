"""Hangar and the peer mcp-hangar 0.12.0 through the same load, in one run, with the ratios.

    .venv/bin/python bench/compare_peer.py [--duration 8] [--calls 1000] [--peer-venv DIR]

The peer comes from PyPI into a venv this script creates (``mcp-hangar==0.12.0`` with ``mcp<2``
pinned, as the peer does not run on mcp 2); it is started in its HTTP mode
(``mcp-hangar --config FILE serve --http``). Each server gets a fresh work directory and the
SDK-built fixture server as provider ``p``. Rows, all with bench/loadgen.py at concurrency 32:

* ``GET /api/providers`` with 20 providers registered;
* ``POST /api/providers`` (Hangar: durable, SQLite ``synchronous=FULL``);
* ``GET /api/system``;

then the added latency of one sequential tool call (``add``) over calling the same fixture
directly with the ``mcp`` SDK's stdio client: Hangar's REST invoke, and the peer's ``hangar_call``
tool on its ``/mcp`` endpoint (it has no REST invoke route); and, Hangar only (the peer has no
event log), ``bench/bench_replay.py`` over ``--replay-events`` events (0 skips it). Absolute
figures move with the machine's load; the ratios of one run, and each server's CPU per request
(user + system time of its process over the row, which other load barely moves), are the
comparable part.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_api import free_port, post, stop, wait_ready  # noqa: E402
from bench_mcp import PROTOCOL, Http, sse_json  # noqa: E402
from loadgen import run  # noqa: E402

from tests.support import STDIO_FIXTURE  # noqa: E402

PEER = "mcp-hangar==0.12.0"
FIXTURE_ENV = {"FIXTURE_ASYNC_STDIO": "1"}
CallFn = Callable[[int], Awaitable[None]]


def ensure_peer(venv: Path) -> Path:
    exe = venv / "bin" / "mcp-hangar"
    if not exe.exists():
        print(f"creating {venv} with {PEER} (mcp<2) from PyPI ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", PEER, "mcp<2"], check=True)
    return exe


def provider_config() -> str:
    command = json.dumps([sys.executable, str(STDIO_FIXTURE)])
    return f"  p:\n    mode: subprocess\n    command: {command}\n    env: {{FIXTURE_ASYNC_STDIO: \"1\"}}\n"


class Target:
    def __init__(self, name: str, work: Path, cmd: list[str], env: dict[str, str], slash: str) -> None:
        self.name, self.work, self.slash = name, work, slash
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.cmd = [c.replace("{port}", str(self.port)) for c in cmd]
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def path(self, p: str) -> str:
        return p + self.slash

    def start(self) -> None:
        self.proc = subprocess.Popen(self.cmd, cwd=self.work, env={**os.environ, **self.env},
                                     stdout=subprocess.DEVNULL, stderr=(self.work / "server.log").open("wb"))
        wait_ready(self.base + self.path("/api/system"), timeout=120)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, 30)


def hangar(work: Path, server: str, discovery: bool = True) -> Target:
    db = f"sqlite+aiosqlite:///{work / 'hangar.db'}"
    cfg = work / "hangar.yaml"
    # With discovery on (Hangar's default) every created provider is also started once in the
    # background to learn its tools: here a failing connect and two more durable events per
    # create, which the peer does not do.
    mcp = "" if discovery else "mcp:\n  discover_on_register: false\n"
    cfg.write_text("logging:\n  level: warning\n" + mcp + "providers:\n" + provider_config())
    subprocess.run([sys.executable, "-m", "hangar.cli", "migrate", "--db", db], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cmd = [sys.executable, "-m", "hangar.cli", "serve", "--config", str(cfg), "--port", "{port}", "--db", db,
           "--server", server]
    return Target(f"Hangar ({server})", work, cmd, {}, "")


def peer(work: Path, exe: Path) -> Target:
    cfg = work / "config.yaml"
    cfg.write_text("providers:\n" + provider_config())
    cmd = [str(exe), "--config", str(cfg), "serve", "--http", "--host", "127.0.0.1", "--port", "{port}",
           "--log-level", "WARNING"]
    # Its default rate limiter (10 req/s, burst 20) would answer most of the load with 429:
    # lifted, so the figures measure its request path rather than its limiter.
    env = {"MCP_CONFIG": str(cfg), "MCP_RATE_LIMIT_RPS": "1000000", "MCP_RATE_LIMIT_BURST": "1000000"}
    return Target("mcp-hangar 0.12.0", work, cmd, env, "/")


def _ok(result: Any) -> dict[str, Any]:
    """Only 2xx answers count as served."""
    out: dict[str, Any] = result.as_dict()
    ok = sum(n for status, n in result.statuses.items() if 200 <= status < 300)
    out["ok_per_s"] = round(ok / result.elapsed, 1) if result.elapsed else 0.0
    return out


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _row(t: Target, method: str, url: str, duration: float, body: str | None = None) -> dict[str, Any]:
    pid = t.proc.pid if t.proc is not None else 0
    cpu = cpu_seconds(pid)
    out = _ok(await run(method, url, concurrency=32, duration=duration, body=body))
    out["server_cpu_us"] = round(1e6 * (cpu_seconds(pid) - cpu) / max(1, out["requests"]))
    return out


async def load(t: Target, duration: float) -> dict[str, dict[str, Any]]:
    providers = t.base + t.path("/api/providers")
    out = {"GET /api/providers (20)": await _row(t, "GET", providers, duration)}
    # Before the creates, so both answer it over the same 21 providers.
    out["GET /api/system"] = await _row(t, "GET", t.base + t.path("/api/system"), duration)
    body = '{"provider_id": "b-{n}", "mode": "remote", "endpoint": "http://127.0.0.1:9/mcp"}'
    out["POST /api/providers"] = await _row(t, "POST", providers, duration, body)
    return out


def replay(events: int) -> dict[str, Any]:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_replay.py"), "--events", str(events)],
                          check=True, capture_output=True, text=True, cwd=ROOT)
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


async def tool_rounds(t: Target, calls: int, warmup: int, rounds: int) -> dict[str, Any]:
    """Direct SDK call and the call through the target, alternated, so both see the same load;
    the added latency is the median over rounds of the per-round difference."""
    through = hangar_rest if not t.slash else peer_mcp
    diffs: dict[str, list[float]] = {"p50": [], "p99": []}
    raw = []
    for _ in range(rounds):
        direct = await direct_sdk(calls, warmup)
        via = await through(t, calls, warmup)
        raw.append({"direct": direct, "through": via})
        for k in diffs:
            diffs[k].append(via[k] - direct[k])
    return {k: statistics.median(v) for k, v in diffs.items()} | {"rounds": raw}


async def _timed(call: CallFn, calls: int, warmup: int) -> dict[str, float]:
    for i in range(warmup):
        await call(i)
    lat = []
    for i in range(calls):
        t0 = time.perf_counter()
        await call(i)
        lat.append((time.perf_counter() - t0) * 1000)
    lat.sort()
    return {"p50": statistics.median(lat), "p99": lat[min(len(lat) - 1, int(0.99 * len(lat)))]}


async def direct_sdk(calls: int, warmup: int) -> dict[str, float]:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=sys.executable, args=[str(STDIO_FIXTURE)],
                                   env={**os.environ, **FIXTURE_ENV})
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()

        async def call(i: int) -> None:
            result = await session.call_tool("add", {"a": i, "b": 1})
            if result.is_error:
                raise RuntimeError(str(result))

        return await _timed(call, calls, warmup)


async def hangar_rest(t: Target, calls: int, warmup: int) -> dict[str, float]:
    http = Http("127.0.0.1", t.port)
    await http.open()
    try:
        async def call(i: int) -> None:
            body = json.dumps({"arguments": {"a": i, "b": 1}}).encode()
            status, _, data = await http.request("POST", "/api/providers/p/tools/add/invoke", body,
                                                 {"Content-Type": "application/json"})
            if status != 200:
                raise RuntimeError(f"invoke: {status} {data[:200]!r}")

        return await _timed(call, calls, warmup)
    finally:
        await http.close()


async def peer_mcp(t: Target, calls: int, warmup: int) -> dict[str, float]:
    http = Http("127.0.0.1", t.port)
    await http.open()
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}}
    try:
        status, hdrs, data = await http.request("POST", "/mcp", json.dumps(init).encode(), headers)
        if status != 200:
            raise RuntimeError(f"peer initialize: {status} {data[:200]!r}")
        if "mcp-session-id" in hdrs:
            headers["mcp-session-id"] = hdrs["mcp-session-id"]
        headers["mcp-protocol-version"] = sse_json(data)["result"].get("protocolVersion", PROTOCOL)
        await http.request("POST", "/mcp", json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})
                           .encode(), headers)

        async def call(i: int) -> None:
            msg = {"jsonrpc": "2.0", "id": i + 1, "method": "tools/call", "params": {
                "name": "hangar_call", "arguments": {"calls": [
                    {"provider": "p", "tool": "add", "arguments": {"a": i, "b": 1}}]}}}
            status, _, data = await http.request("POST", "/mcp", json.dumps(msg).encode(), headers)
            reply = sse_json(data)
            if status != 200 or "result" not in reply or reply["result"].get("isError"):
                raise RuntimeError(f"peer hangar_call: {status} {data[:300]!r}")

        return await _timed(call, calls, warmup)
    finally:
        await http.close()


def ratio(ours: float, theirs: float, higher_is_better: bool = True) -> str:
    if ours <= 0 or theirs <= 0:
        return "-"
    return f"x{(ours / theirs if higher_is_better else theirs / ours):.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=8.0)
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--server", default="granian", choices=["granian", "uvicorn"])
    ap.add_argument("--peer-venv", type=Path, default=Path(tempfile.gettempdir()) / "hangar-bench-peer-venv")
    ap.add_argument("--no-discovery", action="store_true",
                    help="Hangar with mcp.discover_on_register off: creates do not also start the provider")
    ap.add_argument("--replay-events", type=int, default=1_000_000, help="0: no replay row")
    ap.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    args = ap.parse_args()
    import uvloop

    exe = ensure_peer(args.peer_venv)
    results: dict[str, dict[str, Any]] = {}
    for make in (lambda w: hangar(w, args.server, not args.no_discovery), lambda w: peer(w, exe)):
        work = Path(tempfile.mkdtemp(prefix="hangar-compare-"))
        t = make(work)
        try:
            t.start()
            for i in range(20):
                post(t.base + t.path("/api/providers"), {"provider_id": f"seed-{i}", "mode": "remote",
                                                         "endpoint": "http://127.0.0.1:9/mcp"})
            tool = uvloop.run(tool_rounds(t, args.calls, args.warmup, args.rounds))
            results[t.name] = {**uvloop.run(load(t, args.duration)), "tool call added ms": tool}
        finally:
            t.stop()
            shutil.rmtree(work, ignore_errors=True)
    ours, theirs = results[f"Hangar ({args.server})"], results["mcp-hangar 0.12.0"]
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; concurrency 32, {args.duration:.0f} s per row")
    print(f"{'path':<28}{'Hangar':>12}{'peer':>12}{'ratio':>8}")
    for row in ("GET /api/providers (20)", "POST /api/providers", "GET /api/system"):
        a, b = ours[row], theirs[row]
        print(f"{row + ' 2xx/s':<28}{a['ok_per_s']:>12,.0f}{b['ok_per_s']:>12,.0f}"
              f"{ratio(a['ok_per_s'], b['ok_per_s']):>8}"
              f"   (p50 {a['p50_ms']:.1f} / {b['p50_ms']:.1f} ms; server CPU per request {a['server_cpu_us']} /"
              f" {b['server_cpu_us']} us; errors {a['errors']} / {b['errors']};"
              f" statuses {a['statuses']} / {b['statuses']})")
    a, b = ours["tool call added ms"], theirs["tool call added ms"]
    print(f"{'tool call added p50 ms':<28}{a['p50']:>12.2f}{b['p50']:>12.2f}{ratio(a['p50'], b['p50'], False):>8}")
    print(f"{'tool call added p99 ms':<28}{a['p99']:>12.2f}{b['p99']:>12.2f}{ratio(a['p99'], b['p99'], False):>8}")
    print(f"(added = median over {args.rounds} rounds of through-minus-direct, each round {args.calls} sequential "
          "calls; direct = the mcp SDK's stdio client; Hangar: REST invoke; peer: hangar_call on /mcp, "
          "it has no REST invoke)")
    if args.replay_events:
        r = results["replay"] = replay(args.replay_events)
        print(f"{'replay events/s (wall)':<28}{r['replay_events_per_s']:>12,}{'-':>12}{'-':>8}"
              f"   ({r['events_written']:,} events in {r['replay_seconds']} s; "
              f"{r['replay_events_per_cpu_s']:,} events per CPU second of the process; target >= 250,000)")
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
