"""Runtime benchmark: Hangar's stdio client vs the ``mcp`` SDK's own stdio client.

    .venv/bin/python bench/bench_runtime.py [--calls 2000] [--warmup 200] [--concurrency 16] [--repeat 3]

Both clients drive the same servers:

* ``sdk-fixture``  tests/fixtures/stdio_server.py, an SDK-built server (stock stdio transport)
* ``minimal``      tests/fixtures/minimal_stdio_server.py, stdlib only: the server costs almost
                   nothing, so latency there is mostly the client and the pipes

Reported per (server, client): p50/p99/mean latency of sequential ``call_tool("add")``, the
client process's own CPU time per sequential call (user+sys: the part a client adds, and a figure
that background load barely moves), calls/s with N calls in flight, and cold start
(spawn -> initialized -> tools listed). Each
measurement runs ``--repeat`` times, alternating the two clients so that background load hits both
alike, and the median of each figure is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402

from hangar.runtime import StdioClient  # noqa: E402

SERVERS: dict[str, list[str]] = {
    "sdk-fixture": [sys.executable, str(ROOT / "tests/fixtures/stdio_server.py")],
    "minimal": [sys.executable, "-S", str(ROOT / "tests/fixtures/minimal_stdio_server.py")],
}

CallFn = Callable[[int], Awaitable[Any]]


async def open_hangar(stack: AsyncExitStack, argv: list[str]) -> CallFn:
    client = StdioClient("bench", argv)
    await client.start()
    stack.push_async_callback(client.close)
    await client.list_tools()

    async def call(i: int) -> Any:
        return await client.call_tool("add", {"a": i, "b": 1})

    return call


async def open_sdk(stack: AsyncExitStack, argv: list[str]) -> CallFn:
    params = StdioServerParameters(command=argv[0], args=argv[1:])
    client = await stack.enter_async_context(Client(params, mode="legacy"))
    await client.list_tools()

    async def call(i: int) -> Any:
        return await client.call_tool("add", {"a": i, "b": 1})

    return call


OPENERS = {"hangar": open_hangar, "mcp-sdk": open_sdk}


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pct(sorted_us: list[float], q: float) -> float:
    return sorted_us[min(len(sorted_us) - 1, int(q * len(sorted_us)))]


async def measure(
    opener: Callable[..., Awaitable[CallFn]], argv: list[str], args: argparse.Namespace
) -> dict[str, float]:
    async with AsyncExitStack() as stack:
        t0 = time.perf_counter()
        call = await opener(stack, argv)
        cold_ms = (time.perf_counter() - t0) * 1000
        for i in range(args.warmup):
            await call(i)
        lat: list[float] = []
        cpu0 = _cpu_s()
        for i in range(args.calls):
            t_ns = time.perf_counter_ns()
            await call(i)
            lat.append((time.perf_counter_ns() - t_ns) / 1000)
        cpu_us = (_cpu_s() - cpu0) / args.calls * 1e6
        lat.sort()
        per_worker = args.calls * 2 // args.concurrency

        async def worker(k: int) -> None:
            for i in range(per_worker):
                await call(k * per_worker + i)

        t = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(args.concurrency)))
        rate = per_worker * args.concurrency / (time.perf_counter() - t)
    return {
        "p50": pct(lat, 0.50),
        "p99": pct(lat, 0.99),
        "mean": statistics.fmean(lat),
        "cpu": cpu_us,
        "rate": rate,
        "cold": cold_ms,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--servers", default=",".join(SERVERS))
    args = parser.parse_args()

    header = (
        f"{'server':<12} {'client':<8} {'p50 us':>9} {'p99 us':>9} {'mean us':>9} {'cpu us':>8} "
        f"{'calls/s@' + str(args.concurrency):>12} {'cold start ms':>14}"
    )
    print(
        f"{args.calls} sequential calls after {args.warmup} warm-up, median of {args.repeat} runs; "
        f"python {sys.version.split()[0]}"
    )
    print(header)
    print("-" * len(header))
    for server in args.servers.split(","):
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in OPENERS}
        for _ in range(args.repeat):
            for name, opener in OPENERS.items():
                runs[name].append(await measure(opener, SERVERS[server], args))
        rows = {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}
        for name, r in rows.items():
            print(
                f"{server:<12} {name:<8} {r['p50']:>9.0f} {r['p99']:>9.0f} {r['mean']:>9.0f} "
                f"{r['cpu']:>8.0f} {r['rate']:>12.0f} {r['cold']:>14.0f}",
                flush=True,
            )
        delta = rows["mcp-sdk"]["p50"] - rows["hangar"]["p50"]
        print(f"{'':<12} p50 saved by hangar vs sdk client: {delta:.0f} us")


if __name__ == "__main__":
    asyncio.run(main())
