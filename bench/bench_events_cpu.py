"""CPU per ``GET /api/events`` page of 1,000 events, in process: robust on a shared machine.

    .venv/bin/python bench/bench_events_cpu.py --db /tmp/hangar-bench-log-XXXX/hangar.db
    .venv/bin/python bench/bench_events_cpu.py --db ... --asgi --profile    # whole app + cProfile

``--db`` is a log left by ``bench/bench_log.py --keep`` (without it, a 200,000-event log is built
in a temporary directory). Request rates on a loaded 2-core machine move 2-3x between runs;
``time.process_time`` around N page requests barely moves, so before/after comparisons use it.
It counts every thread of this process (aiosqlite's reader thread included).

* ``core``: ``EventLog.page`` + the page body: the store read and the framing, no HTTP stack.
* ``--asgi``: the whole Litestar app (every middleware, routing, parameter parsing, the
  response) called as ASGI with a no-op ``send``; needs the app's start-up (a replay of the log).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from hangar.api.events import page_body  # noqa: E402
from hangar.app.log.events import EventLog  # noqa: E402
from hangar.app.log.ports import EventQuery  # noqa: E402
from hangar.store import create_event_store  # noqa: E402

PAGE = 1000


async def measure(label: str, one: Callable[[int], Awaitable[Any]], pages: int, start: int, reps: int = 5) -> float:
    """Min over ``reps`` of the CPU per page over ``pages`` consecutive pages."""
    for i in range(3):
        await one(start + i * PAGE)  # warm the page cache and any lazily built state
    runs = []
    for _ in range(reps):
        t0 = time.process_time()
        for i in range(pages):
            await one(start + i * PAGE)
        runs.append((time.process_time() - t0) / pages * 1000)
    runs.sort()
    print(f"{label}: {runs[0]:.2f} ms CPU per {PAGE}-event page (min of {reps}; median {runs[reps // 2]:.2f})",
          flush=True)
    return runs[0]


async def core(url: str, pages: int, start: int, profile: bool) -> None:
    store = create_event_store(url)
    await store.start()
    log = EventLog(store, None)  # type: ignore[arg-type]  # paging never touches the projector

    async def one(after: int) -> bytes:
        page = await log.page(EventQuery(after=after, limit=PAGE))
        return page_body(page.frames, page.last_position, page.has_more)

    try:
        await measure("core (EventLog.page + body)", one, pages, start)
        if profile:
            await profiled(one, pages, start)
    finally:
        await store.close()


async def asgi(db: Path, url: str, pages: int, start: int, profile: bool) -> None:
    from hangar.asgi import create_app

    cfg = db.parent / "bench-events-cpu.yaml"
    cfg.write_text("providers: {}\nlogging: {level: warning}\n")
    app = create_app(str(cfg), url)
    sizes: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            sizes.append(len(message.get("body", b"")))

    async def one(after: int) -> None:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": "/api/events", "raw_path": b"/api/events", "root_path": "",
            "query_string": b"from_position=%d&limit=%d" % (after, PAGE),
            "headers": [(b"host", b"127.0.0.1"), (b"accept", b"*/*")],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
        }
        await app(scope, receive, send)  # type: ignore[arg-type]

    t0 = time.perf_counter()
    async with app.lifespan():
        print(f"app started (replayed the log) in {time.perf_counter() - t0:.1f} s", flush=True)
        await measure("asgi (whole app, no socket)", one, pages, start)
        print(f"  page body: {sizes[-1]:,} bytes")
        if profile:
            await profiled(one, pages, start)


async def profiled(one: Callable[[int], Awaitable[Any]], pages: int, start: int) -> None:
    prof = cProfile.Profile()
    prof.enable()
    for i in range(pages):
        await one(start + i * PAGE)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(22)
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:5000])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, default=None, help="a log left by bench_log.py --keep")
    ap.add_argument("--pages", type=int, default=50)
    ap.add_argument("--asgi", action="store_true", help="also the whole app (replays the log first)")
    ap.add_argument("--profile", action="store_true", help="cProfile summary (own time) of the paths measured")
    args = ap.parse_args()
    work = None
    db = args.db
    if db is None:
        from bench_log import build

        work = Path(tempfile.mkdtemp(prefix="hangar-bench-events-cpu-"))
        db = work / "hangar.db"
        asyncio.run(build(f"sqlite+aiosqlite:///{db}", 200_000))
    url = f"sqlite+aiosqlite:///{db}"
    import sqlite3

    with sqlite3.connect(db) as conn:
        head = int(conn.execute("SELECT max(position) FROM events").fetchone()[0])
    start = max(0, head // 2 - args.pages * PAGE // 2)
    try:
        asyncio.run(core(url, args.pages, start, args.profile))
        if args.asgi:
            asyncio.run(asgi(db, url, args.pages, start, args.profile))
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
