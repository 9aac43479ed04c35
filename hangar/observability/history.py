"""Metrics history: periodic snapshots of the headline metrics in a bounded ring, for charts."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any

import msgspec
import structlog

from hangar.app.codec import iso
from hangar.observability.metrics import Metrics

log = structlog.get_logger("hangar.metrics")


class Snapshot(msgspec.Struct):
    timestamp: str
    recorded_at: float
    metrics: dict[str, float]
    providers: dict[str, dict[str, float]]


class Point(msgspec.Struct):
    metric_name: str
    value: float
    recorded_at: float
    timestamp: str
    provider_id: str | None = None


class MetricsHistory:
    def __init__(self, metrics: Metrics, interval_s: float, max_points: int) -> None:
        self.metrics = metrics
        self.interval_s = interval_s
        self.ring: deque[Snapshot] = deque(maxlen=max_points)
        self._task: asyncio.Task[None] | None = None

    def reconfigure(self, interval_s: float, max_points: int) -> None:
        self.interval_s = interval_s
        if self.ring.maxlen != max_points:
            self.ring = deque(self.ring, maxlen=max_points)

    def sample(self) -> Snapshot:
        samples = self.metrics.samples(states=False)
        now = time.time()
        snap = Snapshot(
            timestamp=iso(now), recorded_at=round(now, 3),
            metrics=self.metrics.summary(samples), providers=self.metrics.per_provider(samples),
        )
        self.ring.append(snap)
        return snap

    def window(self, minutes: float) -> list[Snapshot]:
        since = time.time() - minutes * 60
        return [s for s in self.ring if s.recorded_at >= since]

    def query(self, minutes: float, metric: str | None = None, provider_id: str | None = None) -> dict[str, Any]:
        snaps = self.window(minutes)
        points: list[Point] = []
        series: dict[str, list[list[float]]] = {}
        for s in snaps:
            if provider_id is None:
                for name, value in s.metrics.items():
                    if metric is None or metric == name:
                        points.append(Point(name, value, s.recorded_at, s.timestamp))
                        series.setdefault(name, []).append([s.recorded_at, value])
            for pid, row in s.providers.items():
                if provider_id is not None and pid != provider_id:
                    continue
                for name, value in row.items():
                    if metric is None or metric == name:
                        points.append(Point(name, value, s.recorded_at, s.timestamp, pid))
        return {
            "minutes": minutes,
            "interval_s": self.interval_s,
            "snapshots": [msgspec.to_builtins(s) for s in snaps],
            "series": series,
            "points": [msgspec.to_builtins(p) for p in points],
            "count": len(points),
            "snapshots_count": len(snaps),
        }

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="hangar-metrics-history")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                self.sample()
            except Exception:  # a failed sample loses one point, never the loop
                log.exception("metrics_history_sample_failed")
            await asyncio.sleep(self.interval_s)
