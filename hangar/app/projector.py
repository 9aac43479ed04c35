"""Feeds every committed event, in commit order, to the read models and live listeners."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable, Sequence

import structlog

from hangar.app import codec
from hangar.app.ports import EventStore, RecordedEvent
from hangar.app.projections.base import Projection
from hangar.domain.events import Event

log = structlog.get_logger("hangar.projector")

REPLAY_PROGRESS_EVERY_S = 1.0

Listener = Callable[[RecordedEvent, Event], None]


class Projector:
    def __init__(self, store: EventStore, projections: Sequence[Projection]) -> None:
        self._store = store
        self.projections = list(projections)
        self._listeners: list[Listener] = []
        self.position = 0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._task: asyncio.Task[None] | None = None
        self.undecodable = 0
        self._seeded: dict[str, int] = {}
        self.replayed = False
        """True once the start-up replay reached the log's last position (``/health/ready``)."""

    def add_listener(self, listener: Listener) -> None:
        """Listeners run synchronously on the projector task and must never block."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def start(self) -> None:
        await self._seed_compacted_streams()
        self._task = asyncio.create_task(self._run(), name="hangar-projector")
        # Serve nothing until the read models have caught up with the log.
        await self._replay(await self._store.last_position())
        self.replayed = True

    async def _replay(self, target: int) -> None:
        """Wait for the start-up replay, logging progress every second so a long one is visible."""
        began = time.monotonic()
        done = asyncio.ensure_future(self.wait_for(target))
        while not done.done():
            await asyncio.wait([done], timeout=REPLAY_PROGRESS_EVERY_S)
            if not done.done():
                elapsed = time.monotonic() - began
                log.info("replaying_event_log", position=self.position, last=target,
                         events_per_s=round(self.position / elapsed) if elapsed else None)
        done.result()
        elapsed = time.monotonic() - began
        if target:
            log.info("event_log_replayed", events=target, seconds=round(elapsed, 3),
                     events_per_s=round(target / elapsed) if elapsed else None)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
        for _, _, fut in self._waiters:
            if not fut.done():
                fut.cancel()
        self._waiters.clear()

    async def wait_for(self, position: int) -> None:
        """Return once every event up to ``position`` is in the read models."""
        if position <= self.position:
            return
        if self._task is not None and self._task.done():
            raise RuntimeError("projector is not running")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (position, next(self._seq), fut))
        await fut

    async def _seed_compacted_streams(self) -> None:
        """Compaction deletes a stream's early events, so replaying from position 0 alone would
        lose what they established (a provider's registration). Projections that can, start
        those streams from their latest snapshot; events at or below it are then skipped."""
        from hangar.app.maintenance import MAINTENANCE_STREAM

        compacted: set[str] = set()
        for rec in await self._store.read_stream(MAINTENANCE_STREAM):
            event = codec.decode(rec)
            stream = getattr(event, "stream_id", None)
            if stream:
                compacted.add(stream)
        for stream in sorted(compacted):
            snap = await self._store.load_snapshot(stream)
            if snap is None:
                continue
            for projection in self.projections:
                seed = getattr(projection, "seed", None)
                if seed is not None:
                    seed(snap)
            self._seeded[stream] = snap.version

    def apply(self, rec: RecordedEvent) -> None:
        if self._seeded and rec.stream_version <= self._seeded.get(rec.stream_id, 0):
            self.position = rec.position  # already part of a seeded snapshot
            return
        try:
            event = codec.decode(rec)
        except Exception:
            # An unreadable event is logged and skipped rather than halting every read model.
            self.undecodable += 1
            log.error("undecodable_event", position=rec.position, event_type=rec.event_type)
            self.position = rec.position
            return
        for projection in self.projections:
            projection.apply(rec, event)
        self.position = rec.position
        for listener in self._listeners:
            try:
                listener(rec, event)
            except Exception:
                log.exception("listener_failed", event_type=rec.event_type)

    async def _run(self) -> None:
        async for rec in self._store.subscribe(self.position):
            self.apply(rec)
            waiters = self._waiters
            while waiters and waiters[0][0] <= self.position:
                _, _, fut = heapq.heappop(waiters)
                if not fut.done():
                    fut.set_result(None)
