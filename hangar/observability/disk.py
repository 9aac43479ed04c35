"""Free space in the data directory: a gauge and an alert, so a disk is seen filling up before
writes start failing (they then answer 507 ``InsufficientStorage`` naming the directory)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Callable

import structlog
from prometheus_client import CollectorRegistry, Gauge

from hangar.domain.alerts import AlertLevel

log = structlog.get_logger("hangar.disk")

RULE = "data_dir_low_space"

Raise = Callable[[str, AlertLevel, str, str], None]
Resolve = Callable[[str, str, str], None]


class DiskWatch:
    def __init__(
        self, directory: str, registry: CollectorRegistry, raise_alert: Raise, resolve_alert: Resolve,
        min_free_bytes: int, interval_s: float,
    ) -> None:
        self.directory = directory
        self.min_free_bytes = min_free_bytes
        self.interval_s = interval_s
        self._raise, self._resolve = raise_alert, resolve_alert
        try:
            gauge = Gauge("hangar_data_dir_free_bytes", "Free bytes on the data directory's file system",
                          ["directory"], registry=registry)
        except ValueError:  # a second lifespan of the same app: the first one's gauge stays
            pass
        else:
            gauge.labels(directory).set_function(self.free_bytes)
        self._task: asyncio.Task[None] | None = None

    def free_bytes(self) -> float:
        try:
            return float(shutil.disk_usage(self.directory).free)
        except OSError:
            return float("nan")

    def check(self) -> None:
        free = self.free_bytes()
        if free != free:  # NaN: the directory is unreadable; nothing to judge
            return
        if free < self.min_free_bytes:
            self._raise(RULE, AlertLevel.CRITICAL, self.directory,
                        f"{int(free)} bytes free in {self.directory} (below {self.min_free_bytes})")
        else:
            self._resolve(RULE, self.directory, f"{int(free)} bytes free")

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="hangar-disk-watch")

    async def _loop(self) -> None:
        while True:
            try:
                self.check()
            except Exception:
                log.exception("disk_check_failed")
            await asyncio.sleep(self.interval_s)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
