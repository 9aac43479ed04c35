"""What a replica does because of its place in the cluster.

* ``LeaderDuties``: singleton work (discovery scans, alert evaluation, the config-file watch,
  scheduled refreshes) switched on when this replica becomes the leader and off when it stops
  being it; a periodic round while leading (new discovery sources, orphaned providers).
* ``OrphanSweep``: the leader records as stopped every provider the log says is running whose
  owner's lease has run out (the owner died), with the reason ``owner_lost``.
* ``providers_to_reconcile``: at start, only providers no live replica owns are recorded as
  stopped; a live replica's providers are left alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import structlog

from hangar.app.bus import CommandContext
from hangar.app.cluster import Coordination, Leadership, Membership
from hangar.app.cluster_runtime import PROVIDER_LEASE

log = structlog.get_logger("hangar.cluster")

Duty = Callable[[], Awaitable[Any]]


def leader_context(leadership: Leadership) -> CommandContext:
    """The context of leader-only commands: their events carry the fencing generation."""
    return CommandContext(principal="system", fencing=leadership.generation)


class LeaderDuties:
    def __init__(self, leadership: Leadership) -> None:
        self._leadership = leadership
        self._on: list[Duty] = []
        self._off: list[Duty] = []
        self._rounds: list[Duty] = []
        self._lock = asyncio.Lock()
        self._active = False
        self._enabled = False
        self._tasks: set[asyncio.Task[None]] = set()
        leadership.on_change.append(self._changed)

    def add(self, on: Duty, off: Duty) -> None:
        """``on`` runs when leadership is gained, ``off`` when it is lost (or at shutdown)."""
        self._on.append(on)
        self._off.append(off)

    def every_round(self, duty: Duty) -> None:
        """Runs after each leadership round while this replica leads."""
        self._rounds.append(duty)

    def enable(self) -> None:
        """Duties start only once the replica has started (the log replayed, config applied)."""
        self._enabled = True
        self._changed(self._leadership.is_leader)

    def _changed(self, leading: bool) -> None:
        task = asyncio.ensure_future(self.apply())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def apply(self) -> None:
        async with self._lock:
            leading = self._leadership.is_leader and self._enabled
            if leading == self._active:
                return
            self._active = leading
            for duty in self._on if leading else reversed(self._off):
                try:
                    await duty()
                except Exception:
                    log.exception("leader_duty_failed", gaining=leading)

    async def round(self) -> None:
        await self.apply()
        if not self._active:
            return
        for duty in self._rounds:
            try:
                await duty()
            except Exception:
                log.exception("leader_round_failed")

    async def close(self) -> None:
        self._enabled = False
        async with self._lock:
            if self._active:
                self._active = False
                for duty in reversed(self._off):
                    try:
                        await duty()
                    except Exception:
                        log.exception("leader_duty_failed", gaining=False)
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def owned_elsewhere(coord: Coordination, membership: Membership) -> set[str]:
    """Provider ids whose lease a live replica holds right now."""
    now = time.time()
    return {
        lease.name.removeprefix(PROVIDER_LEASE)
        for lease in await coord.leases(PROVIDER_LEASE)
        if lease.expires_at > now and membership.is_live(lease.holder)
    }


async def providers_to_reconcile(
    running: Iterable[str], coord: Coordination | None, membership: Membership | None
) -> list[str]:
    """Of the providers the log says are not cold, those nobody alive runs."""
    ids = list(running)
    if coord is None or membership is None:
        return ids
    owned = await owned_elsewhere(coord, membership)
    return [pid for pid in ids if pid not in owned]


class OrphanSweep:
    """Leader duty: providers the log says run, on a replica that is gone, are recorded stopped.

    A provider must look orphaned on two consecutive rounds: a start on another replica takes
    its lease before it records anything, so a lease cannot be missing under a start in flight,
    but a just-expired lease may be renewed by a replica that was only slow.
    """

    REASON = "owner_lost"

    def __init__(
        self, coord: Coordination, membership: Membership, running: Callable[[], Iterable[str]],
        record_stopped: Callable[[str, str], Awaitable[Any]],
    ) -> None:
        self._coord = coord
        self._membership = membership
        self._running = running
        self._record_stopped = record_stopped
        self._suspects: set[str] = set()

    async def __call__(self) -> None:
        running = set(self._running())
        if not running:
            self._suspects.clear()
            return
        orphans = running - await owned_elsewhere(self._coord, self._membership)
        for pid in orphans & self._suspects:
            log.warning("provider_owner_lost", provider_id=pid)
            await self._record_stopped(pid, self.REASON)
        self._suspects = orphans - self._suspects
