"""Replicas on one database: membership, one leader for singleton work, shared limits.

Each replica heartbeats a row; a replica whose heartbeat is older than the instance TTL is gone.
One replica at a time holds the ``leader`` lease and runs the singleton work (discovery scans,
alert evaluation, the config-file watch, scheduled registry refreshes); its lease generation is
the fencing token stamped on what that work writes. Rate limits and failed-auth lockouts count
in shared rows so that three replicas enforce one limit, not three.

All of it speaks to a ``Coordination`` port (``hangar.store.cluster.ClusterStore`` in
production); nothing here knows SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import structlog

log = structlog.get_logger("hangar.cluster")

LEADER_LEASE = "leader"


class LeaseView(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def holder(self) -> str: ...
    @property
    def generation(self) -> int: ...
    @property
    def expires_at(self) -> float: ...


class Coordination(Protocol):
    async def heartbeat(self, instance_id: str, address: str, started_at: float, now: float | None = None) -> None: ...
    async def mark_stopped(self, instance_id: str) -> None: ...
    async def live_instances(self, ttl_s: float, now: float | None = None) -> dict[str, str]: ...
    async def acquire(self, name: str, holder: str, ttl_s: float, now: float | None = None) -> LeaseView | None: ...
    async def renew_held(self, holder: str, prefix: str, ttl_s: float, now: float | None = None) -> int: ...
    async def release(self, name: str, holder: str) -> None: ...
    async def lease(self, name: str) -> LeaseView | None: ...
    async def leases(self, prefix: str) -> Sequence[LeaseView]: ...
    async def hit(self, bucket: str, window: int, n: int = 1) -> int: ...


class _Loop:
    """A background loop that survives failures of one round (the database may blink)."""

    def __init__(self, name: str, interval_s: float, body: Callable[[], Awaitable[None]]) -> None:
        self._name = name
        self._interval_s = interval_s
        self._body = body
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await self._body()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("cluster_loop_failed", loop=self._name, exc_info=True)
            await asyncio.sleep(self._interval_s)


class Membership:
    """This replica's heartbeat, and the set of replicas alive as of the last round."""

    def __init__(
        self, coord: Coordination, instance_id: str, address: str, *, heartbeat_s: float, ttl_s: float,
        lease_prefixes: tuple[str, ...] = ("provider:",), lease_ttl_s: float | None = None,
    ) -> None:
        self.coord = coord
        self.instance_id = instance_id
        self.address = address
        self.ttl_s = ttl_s
        self._lease_prefixes = lease_prefixes
        self._lease_ttl_s = lease_ttl_s if lease_ttl_s is not None else ttl_s
        self.started_at = time.time()
        self.live: dict[str, str] = {}
        self._loop = _Loop("hangar-heartbeat", heartbeat_s, self.beat)

    async def beat(self) -> None:
        now = time.time()
        await self.coord.heartbeat(self.instance_id, self.address, self.started_at, now=now)
        # Leases this replica holds live exactly as long as its heartbeat does.
        for prefix in self._lease_prefixes:
            await self.coord.renew_held(self.instance_id, prefix, self._lease_ttl_s, now=now)
        self.live = await self.coord.live_instances(self.ttl_s, now=now)

    async def start(self) -> None:
        await self.beat()
        self._loop.start()

    async def close(self) -> None:
        await self._loop.stop()
        with contextlib.suppress(Exception):
            await self.coord.mark_stopped(self.instance_id)

    def is_live(self, instance_id: str) -> bool:
        return instance_id in self.live


class Leadership:
    """Holds (or waits for) the leader lease. ``is_leader`` turns false a safety margin before the
    lease could expire, so a replica that stops renewing (a stalled loop, a lost database) stops
    acting as leader before anyone else may start."""

    def __init__(self, coord: Coordination, instance_id: str, *, ttl_s: float, renew_s: float | None = None) -> None:
        self.coord = coord
        self.instance_id = instance_id
        self.ttl_s = ttl_s
        self.generation = 0
        self._valid_until = 0.0
        self._loop = _Loop("hangar-leadership", renew_s if renew_s is not None else ttl_s / 3, self.round)
        self.on_change: list[Callable[[bool], None]] = []

    @property
    def is_leader(self) -> bool:
        return time.monotonic() < self._valid_until

    def fencing_token(self) -> int | None:
        """The generation to stamp on leader-only writes, or None when not the leader."""
        return self.generation if self.is_leader else None

    async def round(self) -> None:
        was = self.is_leader
        started = time.monotonic()
        lease = await self.coord.acquire(LEADER_LEASE, self.instance_id, self.ttl_s)
        if lease is None:
            self._valid_until = 0.0
        else:
            self.generation = lease.generation
            # Counted from before the round trip: the lease may have been written at its start.
            self._valid_until = started + self.ttl_s * 2 / 3
        if was != self.is_leader:
            log.info("leadership_changed", leader=self.is_leader, generation=self.generation)
            for callback in self.on_change:
                callback(self.is_leader)

    async def start(self) -> None:
        await self.round()
        self._loop.start()

    async def close(self) -> None:
        await self._loop.stop()
        if self.is_leader:
            self._valid_until = 0.0
            with contextlib.suppress(Exception):
                await self.coord.release(LEADER_LEASE, self.instance_id)


_Waiter = tuple[float, "asyncio.Future[float]"]
"""A request waiting for its principal's next upsert: when it came, and its answer."""


class SharedRateLimit:
    """``rate`` requests per principal per second across every replica.

    Requests add to the principal's row for the current one-second window with one atomic upsert
    that returns the new count. Requests of one principal that arrive while its upsert is in
    flight wait for it and then share the next one (``n`` added at once, each admitted by its
    place in the count): a replica writes the row at most once per round trip per principal
    instead of once per request, which would queue on the row's lock anyway. Every request is
    still counted, so the limit holds across replicas exactly as before. Once a window is spent
    the replica remembers it and refuses locally until the window ends, so the writes per
    principal and window are bounded by the limit plus the replicas.
    """

    def __init__(self, coord: Coordination, rate: float) -> None:
        self.coord = coord
        self.limit = max(1, math.floor(rate))
        self._spent: dict[str, int] = {}  # principal → window known to be used up
        self._waiting: dict[str, list[_Waiter]] = {}
        """Principals with an upsert in flight → the requests that will share the next one."""
        self._flushers: set[asyncio.Task[None]] = set()

    async def take(self, principal: str, now: float | None = None) -> float:
        """0.0 when admitted, else seconds until the next window."""
        now = time.time() if now is None else now
        window = int(now)
        if self._spent.get(principal) == window:
            return window + 1 - now
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        waiting = self._waiting.get(principal)
        if waiting is not None:
            waiting.append((now, fut))
        else:
            self._waiting[principal] = [(now, fut)]
            # A task, not the first caller: its request may be cancelled, the others' may not.
            task = asyncio.create_task(self._flush(principal))
            self._flushers.add(task)
            task.add_done_callback(self._flushers.discard)
        return await asyncio.shield(fut)

    async def _flush(self, principal: str) -> None:
        try:
            while batch := self._waiting.get(principal):
                self._waiting[principal] = []  # later arrivals wait for the next round trip
                # Counted now, so in the newest window among them (a request that waited across
                # a window boundary does not count in a window that is over).
                window = max(int(now) for now, _ in batch)
                try:
                    count = await self.coord.hit(f"rate:{principal}", window, len(batch))
                except Exception as exc:
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                self._answer(principal, window, count, batch)
        finally:
            for _, fut in self._waiting.pop(principal, []):
                if not fut.done():
                    fut.cancel()

    def _answer(self, principal: str, window: int, count: int, items: list[_Waiter]) -> None:
        before = count - len(items)  # the window's count before this batch
        for place, (now, fut) in enumerate(items, 1):
            if not fut.done():
                fut.set_result(0.0 if before + place <= self.limit else window + 1 - now)
        if count > self.limit:
            if len(self._spent) > 10_000:
                self._spent.clear()
            self._spent[principal] = window


class SharedLockouts:
    """Failed authentications per client counted across replicas; a lockout is a lease that
    every replica sees (refreshed into a local cache at most every ``refresh_s``)."""

    def __init__(
        self, coord: Coordination, *, max_failures: int, window_s: float, lockout_s: float, refresh_s: float = 0.5
    ) -> None:
        self.coord = coord
        self.max_failures = max_failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self._refresh_s = refresh_s
        self._locked: dict[str, float] = {}  # client → locked until (wall clock)
        self._refreshed = 0.0

    async def retry_after(self, client: str, now: float | None = None) -> float:
        now = time.time() if now is None else now
        if now - self._refreshed >= self._refresh_s:
            self._refreshed = now
            self._locked = {
                lease.holder: lease.expires_at
                for lease in await self.coord.leases("lockout:") if lease.expires_at > now
            }
        until = self._locked.get(client, 0.0)
        return max(0.0, until - now)

    async def failure(self, client: str, now: float | None = None) -> float | None:
        """Count a failure; returns the lockout period when this failure locks the client out."""
        now = time.time() if now is None else now
        window = int(now // self.window_s)
        count = await self.coord.hit(f"authfail:{client}", window)
        if count < self.max_failures:
            return None
        # The lease's holder names the client: the cache refresh reads lockouts in one query.
        await self.coord.acquire(f"lockout:{client}", client, self.lockout_s, now=now)
        self._locked[client] = now + self.lockout_s
        return self.lockout_s


class SessionLeases:
    """Which replica holds each MCP session: a lease per session, renewed with the heartbeat
    (``Membership`` renews the ``mcpsession:`` prefix) and gone with its replica."""

    PREFIX = "mcpsession:"

    def __init__(self, coord: Coordination, membership: Membership, *, ttl_s: float) -> None:
        self.coord = coord
        self.membership = membership
        self.ttl_s = ttl_s

    async def claim(self, session_id: str) -> None:
        await self.coord.acquire(self.PREFIX + session_id, self.membership.instance_id, self.ttl_s)

    async def release(self, session_id: str) -> None:
        await self.coord.release(self.PREFIX + session_id, self.membership.instance_id)

    async def owner_address(self, session_id: str) -> str | None:
        """The address of the live replica holding the session, unless that is this one."""
        lease = await self.coord.lease(self.PREFIX + session_id)
        if lease is None or lease.expires_at <= time.time() or lease.holder == self.membership.instance_id:
            return None
        return self.membership.live.get(lease.holder)


class ClusterLimits:
    """The shared rate limit and lockouts, as the auth service takes them."""

    def __init__(self, rate: SharedRateLimit, lockouts: SharedLockouts) -> None:
        self.rate = rate
        self.lockouts = lockouts
