"""The log as a product: as-of reads in the middle of a 1M-event log, and paging GET /api/events.

    .venv/bin/python bench/bench_log.py                 # 1,000,000 events (a few minutes)
    .venv/bin/python bench/bench_log.py --events 200000 # quicker

Builds a SQLite log straight through the event store (20 providers, their definition updates
and start/stop state changes, and tool calls: requested + completed pairs on ``calls:*``), starts
``hangar serve`` on it in a subprocess (the console script, granian embedded, as users run it;
it replays the log and writes a read-model checkpoint every 10,000 events), then measures:

* ``GET /api/providers?as_of=<position>`` and ``GET /api/system?as_of=...`` at the middle and at
  other positions (each read folds at most one checkpoint interval onto fresh read models);
* ``GET /api/events?limit=1000`` paged by ``next_cursor`` over 200,000 events on one keep-alive
  connection, ``--page-runs`` times: events/s (wall clock), and the CPU the server process and
  this client spent per 1,000 events (from ``/proc``: barely moved by other load, unlike rates).

The closing summary prints the two target figures. ``bench/bench_events_cpu.py`` measures the
server's CPU per page in process, with a cProfile summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import urlopen

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_api import free_port, wait_ready  # noqa: E402
from profile_api import cpu_seconds  # noqa: E402

from hangar.app import codec  # noqa: E402
from hangar.domain import events as ev  # noqa: E402
from hangar.domain.provider_spec import ProviderSpec  # noqa: E402
from hangar.store import create_event_store, migrate  # noqa: E402

PROVIDERS = 20
BATCH = 2000


async def build(url: str, total: int) -> int:
    await migrate(url)
    store = create_event_store(url, sqlite_synchronous="NORMAL", batch_max=BATCH)
    await store.start()
    meta = codec.EventMetadata(principal="bench", correlation_id="bench")
    written = 0
    try:
        for i in range(PROVIDERS):
            spec = ProviderSpec(mode="docker", image=f"img:{i}")
            registered = ev.ProviderRegistered(provider_id=f"p{i}", spec=spec)
            await store.append(f"provider:p{i}", 0, [codec.encode(registered, meta)])
            written += 1
        versions = dict.fromkeys(range(PROVIDERS), 1)
        n = 0
        while written < total:
            pid = n % PROVIDERS
            if n % 500 == 0:  # now and then a definition change and a state change
                spec = ProviderSpec(mode="docker", image=f"img:{pid}", description=f"rev {n}")
                old, new = ("cold", "ready") if (n // 500) % 2 == 0 else ("ready", "cold")
                updated = ev.ProviderUpdated(provider_id=f"p{pid}", spec=spec, changed=["description"])
                batch = [codec.encode(updated, meta),
                         codec.encode(ev.ProviderStateChanged(provider_id=f"p{pid}", old_state=old, new_state=new,
                                                              reason="bench"), meta)]
                await store.append(f"provider:p{pid}", versions[pid], batch)
                versions[pid] += 2
                written += 2
            calls = []
            for k in range(BATCH // 2):
                cid = f"c{n}-{k}"
                calls.append(codec.encode(ev.ToolInvocationRequested(
                    provider_id=f"p{pid}", tool_name="echo", call_id=cid, arguments_size=12, principal="bench"), meta))
                calls.append(codec.encode(ev.ToolInvocationCompleted(
                    provider_id=f"p{pid}", tool_name="echo", call_id=cid, duration_ms=1.5, result_size=20), meta))
            await store.append(f"calls:p{pid}", None, calls)
            written += len(calls)
            n += 1
        return await store.last_position()
    finally:
        await store.close()


def get(url: str) -> tuple[float, bytes, dict[str, str]]:
    started = time.perf_counter()
    with urlopen(url, timeout=120) as r:
        body = r.read()
        return time.perf_counter() - started, body, dict(r.headers)


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def page_log(base: str, server_pid: int, start: int, events: int) -> float:
    """Pages ``events`` events from ``start`` on one keep-alive connection, as a consumer of the
    log would; returns events/s. The cursor is read from the tail of each body; full JSON decoding
    of the first 20,000 events is timed separately (a client cost) and excluded."""
    cursor: int | None = start
    seen, decode_s, decode_cpu, nbytes = 0, 0.0, 0.0, 0
    with httpx.Client(base_url=base, timeout=120) as client:
        client.get("/api/events", params={"from_position": cursor, "limit": 1})  # connect
        server_cpu, client_cpu = cpu_seconds(server_pid), time.process_time()
        started = time.perf_counter()
        while seen < events and cursor is not None:
            body = client.get("/api/events", params={"from_position": cursor, "limit": 1000}).content
            nbytes += len(body)
            tail = json.loads(b"{" + body[body.rindex(b',"count":') + 1:])
            seen += tail["count"]
            cursor = tail["next_cursor"]
            if seen <= 20_000:
                t, c = time.perf_counter(), time.process_time()
                json.loads(body)
                decode_s += time.perf_counter() - t
                decode_cpu += time.process_time() - c
        elapsed = time.perf_counter() - started - decode_s
        server_cpu = cpu_seconds(server_pid) - server_cpu
        client_cpu = time.process_time() - client_cpu - decode_cpu
    rate = seen / elapsed
    print(f"GET /api/events paged {seen} events ({nbytes / 1e6:.0f} MB) in {elapsed:.2f} s: {rate:,.0f} events/s;"
          f" CPU per 1,000 events: server {server_cpu / seen * 1e6:.2f} ms, client {client_cpu / seen * 1e6:.2f} ms"
          f" (client JSON decoding of 20,000 events excluded: {decode_s:.2f} s; load average {load()})", flush=True)
    return rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--page-events", type=int, default=200_000)
    ap.add_argument("--page-runs", type=int, default=3)
    ap.add_argument("--reuse", type=Path, default=None, help="a directory left by --keep: skip building")
    ap.add_argument("--keep", action="store_true", help="keep the database for --reuse")
    args = ap.parse_args()
    work = args.reuse or Path(tempfile.mkdtemp(prefix="hangar-bench-log-"))
    url = f"sqlite+aiosqlite:///{work / 'hangar.db'}"
    if args.reuse:
        with sqlite3.connect(work / "hangar.db") as conn:
            head = int(conn.execute("SELECT max(position) FROM events").fetchone()[0])
    else:
        t0 = time.perf_counter()
        head = asyncio.run(build(url, args.events))
        print(f"built {head} events in {time.perf_counter() - t0:.1f} s in {work}", flush=True)
    cfg = work / "hangar.yaml"
    cfg.write_text("providers: {}\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "hangar"), "serve", "--server", "granian", "--config", str(cfg),
         "--port", str(port), "--db", url],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(base + "/api/system", timeout=900)
        print(f"server ready (replayed the log) in {time.perf_counter() - t0:.1f} s", flush=True)
        time.sleep(2)  # let the checkpoints written during the replay land
        middle = head // 2
        with sqlite3.connect(work / "hangar.db") as conn:
            marks = [p for (p,) in conn.execute("SELECT position FROM read_model_checkpoints ORDER BY position")]
        print(f"{len(marks)} checkpoints stored")
        worst = min((p for p in marks if p > middle), default=head + 1) - 1  # the longest fold near the middle
        times_middle = [get(f"{base}/api/providers?as_of={middle}")[0] for _ in range(5)]
        times_worst = [get(f"{base}/api/providers?as_of={worst}")[0] for _ in range(5)]
        worst_ms = statistics.median(times_worst) * 1000
        for label, pos, times in [("middle", middle, times_middle), ("worst case near the middle", worst, times_worst)]:
            print(f"as_of {label} ({pos}) GET /api/providers: median {statistics.median(times) * 1000:.1f} ms,"
                  f" max {max(times) * 1000:.1f} ms")
        rnd = random.Random(1)
        times = []
        for _ in range(20):
            pos = rnd.randrange(1, head)
            times.append(get(f"{base}/api/system?as_of={pos}")[0])
        print(f"as_of 20 random positions GET /api/system: median {statistics.median(times) * 1000:.1f} ms,"
              f" max {max(times) * 1000:.1f} ms")
        _, body, _ = get(f"{base}/api/system?as_of={middle}")
        print("system as of middle:", json.loads(body)["system"]["total_tool_calls"], "tool calls")

        middle_ms = statistics.median(times_middle) * 1000
        rates = [page_log(base, proc.pid, max(0, middle - args.page_events // 2), args.page_events)
                 for _ in range(args.page_runs)]
        print()
        print(f"SUMMARY (load average {load()}):")
        print(f"  as-of read in the middle of the {head:,}-event log (GET /api/providers?as_of={middle}):"
              f" median {middle_ms:.1f} ms; worst case near the middle: median {worst_ms:.1f} ms   [target < 1 s]")
        print(f"  GET /api/events paging over HTTP: {', '.join(f'{r:,.0f}' for r in rates)} events/s"
              f" (best {max(rates):,.0f}, median {statistics.median(rates):,.0f})   [target >= 50,000]")
    finally:
        proc.terminate()
        proc.wait(30)
        if not (args.keep or args.reuse):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
