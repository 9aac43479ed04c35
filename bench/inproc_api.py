"""CPU per request of Hangar's REST hot paths, in process (no HTTP server, no load client).

    .venv/bin/python bench/inproc_api.py                       # every path, 3,000 requests each
    .venv/bin/python bench/inproc_api.py --path create -n 5000 --profile 25

The app is built by ``hangar.asgi.create_app`` on a fresh SQLite database (``synchronous=FULL``),
its lifespan started, 20 providers created, and then requests are driven straight into the ASGI
callable, 32 at a time, with the same headers a client sends. What is measured is the process's
CPU time (``time.process_time``: every thread, the SQLite writer's included) divided by the
number of requests: the server's own cost, without the HTTP parser of granian or uvicorn (about
15-25 us per request) and without the load client. It barely moves when other work shares the
machine, unlike a request rate. ``--profile N`` prints cProfile's top N functions (event-loop
thread CPU; cProfile's own overhead inflates functions with many calls), ``--spy DIR`` a py-spy
summary of the measured requests (all threads).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CREATE = b'{"provider_id": "p-%d", "mode": "remote", "endpoint": "http://127.0.0.1:9/mcp"}'
PATHS = ("system", "list", "get", "list_ready", "create")

Scope = dict[str, Any]


def _scope(method: str, path: str, query: bytes = b"", body: bytes = b"") -> Scope:
    headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench"), (b"accept", b"*/*")]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000),
        "extensions": {}, "state": {},
    }


async def request(app: Any, method: str, path: str, query: bytes = b"", body: bytes = b"") -> tuple[int, bytes]:
    scope = _scope(method, path, query, body)
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # a disconnect never comes
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def lifespan(app: Any) -> Callable[[], Awaitable[None]]:
    to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                                   to_app.get, from_app.put))
    await to_app.put({"type": "lifespan.startup"})
    msg = await from_app.get()
    if msg["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"start-up failed: {msg}")

    async def stop() -> None:
        await to_app.put({"type": "lifespan.shutdown"})
        await from_app.get()
        await task

    return stop


def _call(path: str, n: int) -> tuple[str, str, bytes, bytes]:
    if path == "system":
        return "GET", "/api/system", b"", b""
    if path == "list":
        return "GET", "/api/providers", b"", b""
    if path == "list_ready":
        return "GET", "/api/providers", b"state=cold", b""
    if path == "get":
        return "GET", "/api/providers/seed-7", b"", b""
    return "POST", "/api/providers", b"", CREATE % n


def _spy(out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling this very process (every thread, native frames off) until stopped."""
    spy = subprocess.Popen(
        [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(os.getpid()), "--format", "raw",
         "-o", str(out), "--rate", "400", "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached
    return spy


def _summary(raw: Path, top: int) -> str:
    sys.path.insert(0, str(REPO / "bench"))
    from profile_api import summarize

    return summarize(raw, top)


async def measure(app: Any, path: str, count: int, concurrency: int, profile: int,
                  spy_dir: Path | None = None) -> tuple[float, str]:
    """CPU per request of the process, and a text: the event-loop thread's share, profiles."""
    counter = iter(range(10**9))
    statuses: dict[int, int] = {}

    async def worker(share: int) -> None:
        for _ in range(share):
            method, p, q, body = _call(path, next(counter))
            status, _ = await request(app, method, p, q, body)
            statuses[status] = statuses.get(status, 0) + 1

    # warm-up (caches, first-use paths)
    await asyncio.gather(*(worker(max(1, count // 20 // concurrency)) for _ in range(concurrency)))
    statuses.clear()
    spy = _spy(spy_dir / f"{path}.txt") if spy_dir else None
    prof = cProfile.Profile(time.thread_time) if profile else None  # CPU of the loop thread, not wall time
    cpu, loop_cpu = time.process_time(), time.thread_time()
    if prof:
        prof.enable()
    await asyncio.gather(*(worker(count // concurrency) for _ in range(concurrency)))
    # Background starts the creates queued (discovery on) are part of what a create costs.
    discovery = getattr(app.state.services, "mcp_discovery", None)
    if discovery is not None:
        await discovery.settled(120)
    if prof:
        prof.disable()
    cpu, loop_cpu = time.process_time() - cpu, time.thread_time() - loop_cpu
    if spy is not None and spy_dir is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)
    done = sum(statuses.values())
    bad = {s: k for s, k in statuses.items() if s >= 400}
    if bad:
        raise RuntimeError(f"{path}: error statuses {bad}")
    text = _summary(spy_dir / f"{path}.txt", max(profile, 30)) if spy_dir else ""
    if prof:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(profile)
        text = out.getvalue()
    return 1e6 * cpu / done, f"  (event-loop thread {1e6 * loop_cpu / done:.1f} us)\n" + text


async def main(args: argparse.Namespace) -> None:
    import uvloop

    from hangar.asgi import create_app

    work = Path(tempfile.mkdtemp(prefix="hangar-inproc-"))
    cfg = work / "hangar.yaml"
    mcp = "" if args.discovery else "mcp:\n  discover_on_register: false\n"
    cfg.write_text("providers: {}\nlogging:\n  level: warning\n" + mcp)
    app = create_app(str(cfg), f"sqlite+aiosqlite:///{work / 'hangar.db'}")
    del uvloop
    stop = await lifespan(app)
    await asyncio.sleep(args.settle)  # background imports of the start-up (the MCP SDK) finish first
    try:
        for i in range(20):
            body = b'{"provider_id": "seed-%d", "mode": "remote", "endpoint": "http://127.0.0.1:9/mcp"}' % i
            status, answer = await request(app, "POST", "/api/providers", body=body)
            assert status == 201, answer
        if args.spy:
            args.spy.mkdir(parents=True, exist_ok=True)
        for path in args.path or PATHS:
            us, text = await measure(app, path, args.n, args.concurrency, args.profile, args.spy)
            print(f"{path:11s} {us:8.1f} us CPU per request (n={args.n}, concurrency {args.concurrency})"
                  + text.rstrip("\n"), flush=True)
    finally:
        await stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", action="append", choices=PATHS)
    ap.add_argument("-n", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--profile", type=int, default=0, help="print cProfile's top N functions per path")
    ap.add_argument("--discovery", action="store_true",
                    help="keep mcp.discover_on_register on: every create then also tries to start its provider"
                         " in the background (a failing connect to port 9 here), which costs more than the create")
    ap.add_argument("--settle", type=float, default=4.0, help="seconds to wait after start-up")
    ap.add_argument("--spy", type=Path, help="py-spy the measured requests; raw stacks and a summary per path"
                                             " go to this directory (CPU per request is then inflated)")
    ns = ap.parse_args()
    os.environ.setdefault("HANGAR_LOG_LEVEL", "warning")
    import uvloop

    uvloop.run(main(ns))
