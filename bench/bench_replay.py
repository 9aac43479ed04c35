"""Replay and aggregate-load figures for the whole read path, not just the raw store.

    .venv/bin/python bench/bench_replay.py [--events 1000000] [--db URL]

1. Writes N provider events (registrations, state changes, health checks) across 1,000
   providers, then rebuilds the read models from position 0 with a fresh Projector: store
   paging + msgspec decoding (a page at a time, only what a read model reads) + projection
   folds, reported as events per wall second and per CPU second of this process (the latter
   barely moves when other work shares the machine).
2. Loads one provider whose stream holds 100,000 events with a recent snapshot (snapshot +
   tail), reported as milliseconds per load with the repository cache bypassed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path

from hangar.app import codec
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.projections.streams import StreamIndex
from hangar.app.projector import Projector
from hangar.app.repository import provider_repository
from hangar.domain import events as ev
from hangar.domain.provider_spec import ProviderSpec
from hangar.store import create_event_store, migrate

SPEC = ProviderSpec(mode="remote", endpoint="http://127.0.0.1:9/mcp", description="bench")
META = codec.EventMetadata(principal="bench")


def provider_events(pid: str, n: int) -> list[ev.Event]:
    out: list[ev.Event] = [ev.ProviderRegistered(provider_id=pid, spec=SPEC)]
    states = [("cold", "initializing"), ("initializing", "ready"), ("ready", "cold")]
    i = 0
    while len(out) < n:
        if i % 4 == 3:
            out.append(ev.HealthCheckPassed(provider_id=pid, duration_ms=0.4))
        else:
            old, new = states[i % 3]
            out.append(ev.ProviderStateChanged(provider_id=pid, old_state=old, new_state=new, reason="bench"))
        i += 1
    return out


async def write(store: object, total: int, providers: int = 1000, batch: int = 500) -> float:
    per = total // providers
    started = time.perf_counter()
    sem = asyncio.Semaphore(64)

    async def one(p: int) -> None:
        async with sem:
            evs = [codec.encode(e, META) for e in provider_events(f"p{p}", per)]
            version = 0
            for i in range(0, len(evs), batch):
                chunk = evs[i:i + batch]
                version, _ = await store.append(f"provider:p{p}", version, chunk)  # type: ignore[attr-defined]

    await asyncio.gather(*(one(p) for p in range(providers)))
    return time.perf_counter() - started


async def main(events: int, db: str | None, per_event: bool = False) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="hangar-replay-"))
    url = db or f"sqlite+aiosqlite:///{work / 'replay.db'}"
    await migrate(url)
    store = create_event_store(url)
    await store.start()
    try:
        write_s = await write(store, events)
        total = await store.last_position()

        providers = ProvidersProjection()
        projector = Projector(store, [StreamIndex(), providers])
        started, cpu = time.perf_counter(), time.process_time()
        position = 0
        while True:
            page = await store.read_all(position, limit=10_000)
            if not page:
                break
            if per_event:
                for rec in page:
                    projector.apply(rec)
            else:
                projector.apply_page(page)
            position = page[-1].position
        replay_s, replay_cpu = time.perf_counter() - started, time.process_time() - cpu

        # One provider with 100,000 events and a snapshot near its head.
        big = provider_events("big", 100_000)
        version = 0
        for i in range(0, len(big), 1000):
            version, _ = await store.append("provider:big", version,
                                            [codec.encode(e, META) for e in big[i:i + 1000]])

        async def no_wait(_: int) -> None:
            return None

        repo = provider_repository(store, no_wait, snapshot_every=100)
        agg = await repo.load("big")  # first load folds everything; then snapshot it
        from hangar.app.ports import Snapshot
        await store.save_snapshot(Snapshot(stream_id="provider:big", version=agg.version, state=agg.snapshot()))
        tail = [ev.HealthCheckPassed(provider_id="big", duration_ms=0.1) for _ in range(20)]
        await store.append("provider:big", agg.version, [codec.encode(e, META) for e in tail])
        loads = []
        for _ in range(200):
            repo.forget("big")
            t = time.perf_counter()
            await repo.load("big", trust_index=False)
            loads.append(time.perf_counter() - t)
        loads.sort()
        return {
            "events_written": total,
            "write_events_per_s": round(total / write_s),
            "replay_events_per_s": round(total / replay_s),
            "replay_seconds": round(replay_s, 2),
            "replay_events_per_cpu_s": round(total / replay_cpu),
            "providers_in_read_model": len(providers.views),
            "load_100k_stream_ms_p50": round(loads[len(loads) // 2] * 1000, 3),
            "load_100k_stream_ms_p99": round(loads[int(len(loads) * 0.99)] * 1000, 3),
            "db": url.split("://")[0],
        }
    finally:
        await store.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--db")
    ap.add_argument("--per-event", action="store_true", help="replay event by event (Projector.apply), as before")
    a = ap.parse_args()
    print(json.dumps(asyncio.run(main(a.events, a.db, a.per_event)), indent=2))
