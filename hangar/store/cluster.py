"""Cluster coordination rows: replica heartbeats, leases with fencing generations, shared counters.

These rows are coordination state, not facts: nothing here is replayed, so they live beside the
event log rather than in it. Every operation is one atomic statement, so replicas racing for the
same lease or counter need no lock beyond the row itself.

Times are seconds since the epoch from the caller's clock. Replicas of one deployment are
expected to run NTP-synchronised clocks; a TTL of several seconds absorbs the usual skew.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from .engine import create_engine
from .schema import instances, leases, rate_counters


@dataclass(frozen=True, slots=True)
class Lease:
    name: str
    holder: str
    generation: int
    expires_at: float

    def live(self, now: float) -> bool:
        return self.expires_at > now


@dataclass(frozen=True, slots=True)
class Instance:
    instance_id: str
    address: str
    started_at: float
    heartbeat_at: float
    stopped: bool


class ClusterStore:
    """The coordination tables over their own small connection pool."""

    def __init__(self, url: str, *, pool_size: int = 2) -> None:
        self._url = url
        self._pool_size = pool_size
        self._engine: AsyncEngine | None = None
        self._insert: Any = sqlite.insert

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("cluster store not started")
        return self._engine

    async def start(self) -> None:
        if self._engine is None:
            self._engine, backend = create_engine(self._url, pool_size=self._pool_size)
            self._insert = sqlite.insert if backend.is_sqlite else postgresql.insert

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    # -- instances -----------------------------------------------------------------------------

    async def heartbeat(self, instance_id: str, address: str, started_at: float, now: float | None = None) -> None:
        now = time.time() if now is None else now
        stmt = self._insert(instances).values(
            instance_id=instance_id, address=address, started_at=started_at, heartbeat_at=now, stopped=False
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[instances.c.instance_id],
            set_={"address": address, "heartbeat_at": now, "stopped": False},
        )
        async with self.engine.begin() as conn:
            await conn.execute(stmt)

    async def mark_stopped(self, instance_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(instances)
                .where(instances.c.instance_id == instance_id)
                .values(stopped=True, heartbeat_at=0.0)
            )
            # A clean stop hands every lease back at once instead of making others wait a TTL.
            await conn.execute(sa.update(leases).where(leases.c.holder == instance_id).values(expires_at=0.0))

    async def instances(self) -> list[Instance]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(instances).order_by(instances.c.started_at))).all()
        return [Instance(r.instance_id, r.address, r.started_at, r.heartbeat_at, bool(r.stopped)) for r in rows]

    async def live_instances(self, ttl_s: float, now: float | None = None) -> dict[str, str]:
        """Instance id → internal address of every replica whose heartbeat is fresh."""
        now = time.time() if now is None else now
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(instances.c.instance_id, instances.c.address).where(
                        instances.c.heartbeat_at > now - ttl_s, instances.c.stopped.is_(False)
                    )
                )
            ).all()
        return {r.instance_id: r.address for r in rows}

    # -- leases --------------------------------------------------------------------------------

    async def acquire(self, name: str, holder: str, ttl_s: float, now: float | None = None) -> Lease | None:
        """Take or renew ``name`` for ``holder``; None while someone else holds it.

        The generation grows each time the lease changes hands, never on a renewal, so it serves
        as a fencing token: a write stamped with an older generation came from a deposed holder.
        """
        now = time.time() if now is None else now
        expires = now + ttl_s
        stmt = self._insert(leases).values(name=name, holder=holder, generation=1, expires_at=expires)
        stmt = stmt.on_conflict_do_update(
            index_elements=[leases.c.name],
            set_={
                "holder": holder,
                "expires_at": expires,
                "generation": sa.case(
                    (leases.c.holder == holder, leases.c.generation), else_=leases.c.generation + 1
                ),
            },
            where=sa.or_(leases.c.holder == holder, leases.c.expires_at <= now),
        ).returning(leases.c.generation)
        async with self.engine.begin() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else Lease(name, holder, int(row[0]), expires)

    async def renew_held(self, holder: str, prefix: str, ttl_s: float, now: float | None = None) -> int:
        """Extend every unexpired lease ``holder`` has under ``prefix``; returns how many."""
        now = time.time() if now is None else now
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sa.update(leases)
                .where(leases.c.holder == holder, leases.c.name.startswith(prefix), leases.c.expires_at > now)
                .values(expires_at=now + ttl_s)
            )
        return int(result.rowcount)

    async def release(self, name: str, holder: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(leases).where(leases.c.name == name, leases.c.holder == holder).values(expires_at=0.0)
            )

    async def lease(self, name: str) -> Lease | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(leases).where(leases.c.name == name))).first()
        return None if row is None else Lease(row.name, row.holder, int(row.generation), float(row.expires_at))

    async def leases(self, prefix: str) -> list[Lease]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(leases).where(leases.c.name.startswith(prefix)))).all()
        return [Lease(r.name, r.holder, int(r.generation), float(r.expires_at)) for r in rows]

    # -- shared counters -----------------------------------------------------------------------

    async def hit(self, bucket: str, window: int, n: int = 1) -> int:
        """Count ``n`` hits on ``bucket`` in fixed window ``window``; returns the window's count.

        The row never goes back to an older window: hits stamped with one (a request that waited,
        a replica whose clock is behind) count in the row's newer window instead of restarting
        the count, which would admit a second limit's worth in that window."""
        newer = rate_counters.c.win >= window
        stmt = self._insert(rate_counters).values(bucket=bucket, win=window, count=n)
        stmt = stmt.on_conflict_do_update(
            index_elements=[rate_counters.c.bucket],
            set_={
                "count": sa.case((newer, rate_counters.c.count + n), else_=n),
                "win": sa.case((newer, rate_counters.c.win), else_=window),
            },
        ).returning(rate_counters.c.count)
        async with self.engine.begin() as conn:
            row = (await conn.execute(stmt)).first()
        return int(row[0]) if row else 1

    async def count(self, bucket: str, window: int) -> int:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(rate_counters.c.count).where(
                        rate_counters.c.bucket == bucket, rate_counters.c.win == window
                    )
                )
            ).first()
        return int(row[0]) if row else 0
