"""One replica's place in the cluster: its coordination objects, built from ``cluster:`` config.

Cluster mode is on when the event store is PostgreSQL. The composition root builds a
``ClusterNode`` then, starts it right after the store (so the heartbeat is fresh before the
start-up reconciliation asks who is alive), and closes it last but one (its leases go back at
once instead of after a TTL).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from typing import Protocol

import msgspec
import structlog

from hangar.app.cluster import (
    LEADER_LEASE,
    ClusterLimits,
    Coordination,
    Leadership,
    Membership,
    SessionLeases,
    SharedLockouts,
    SharedRateLimit,
    _Loop,
)
from hangar.app.cluster_duties import LeaderDuties
from hangar.app.cluster_runtime import PROVIDER_LEASE, ClusterRuntime, lease_name
from hangar.config.schema import AuthConfig, ClusterConfig

log = structlog.get_logger("hangar.cluster")


class InstanceRow(Protocol):
    @property
    def instance_id(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def started_at(self) -> float: ...
    @property
    def heartbeat_at(self) -> float: ...
    @property
    def stopped(self) -> bool: ...


class ClusterCoordination(Coordination, Protocol):
    """The coordination port plus what start and stop need (``hangar.store.cluster``)."""

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def instances(self) -> Sequence[InstanceRow]: ...


class InstanceView(msgspec.Struct):
    instance_id: str
    address: str
    started_at: float
    heartbeat_age_s: float
    leader: bool
    providers: list[str]


class ClusterView(msgspec.Struct, kw_only=True):
    instance_id: str
    leader: str | None
    generation: int
    is_leader: bool
    instances: list[InstanceView]
    mode: str = "cluster"
    """``cluster`` (PostgreSQL, several replicas possible) or ``single`` (SQLite)."""


def advertise_address(cfg: ClusterConfig, port: int | None) -> str:
    explicit = os.environ.get("HANGAR_ADVERTISE_URL") or cfg.advertise_url
    if explicit:
        return explicit.rstrip("/")
    return f"http://{socket.gethostname()}:{port or 8000}"


class ClusterNode:
    def __init__(self, coord: ClusterCoordination, cfg: ClusterConfig, instance_id: str, address: str) -> None:
        self.cfg = cfg
        self.instance_id = instance_id
        self.address = address
        token = os.environ.get(cfg.token_env, "")
        if not token:
            raise RuntimeError(
                f"cluster mode (a PostgreSQL event store) needs a shared secret in ${cfg.token_env}: "
                "replicas present it to each other when they forward calls and sessions")
        self.token = token
        self.coord = coord
        self.membership = Membership(
            self.coord, instance_id, address, heartbeat_s=cfg.heartbeat_s, ttl_s=cfg.instance_ttl_s,
            lease_prefixes=(PROVIDER_LEASE, SessionLeases.PREFIX), lease_ttl_s=cfg.provider_lease_ttl_s,
        )
        self.leadership = Leadership(self.coord, instance_id, ttl_s=cfg.leader_ttl_s,
                                     renew_s=min(cfg.heartbeat_s, cfg.leader_ttl_s / 3))
        self.sessions = SessionLeases(self.coord, self.membership, ttl_s=cfg.provider_lease_ttl_s)
        self.duties = LeaderDuties(self.leadership)
        # Leader rounds follow the heartbeat: an orphan is recorded within a beat of being seen.
        self._duty_loop = _Loop("hangar-cluster-duties", cfg.heartbeat_s, self._round)
        self.runtime: ClusterRuntime | None = None
        """Set by the composition root once the supervisor exists."""

    async def _round(self) -> None:
        if self.runtime is not None:
            await self.runtime.verify_held()
        await self.duties.round()

    async def start(self) -> None:
        await self.coord.start()
        await self.membership.start()
        await self.leadership.start()
        self._duty_loop.start()

    async def close(self) -> None:
        await self._duty_loop.stop()
        await self.duties.close()
        await self.leadership.close()
        await self.membership.close()
        await self.coord.close()

    def limits(self, auth: AuthConfig) -> ClusterLimits:
        """Rate limits and lockouts counted in the database, shared by every replica."""
        lo = auth.lockout
        return ClusterLimits(
            SharedRateLimit(self.coord, auth.rate_limit.requests_per_second),
            SharedLockouts(self.coord, max_failures=lo.max_failures, window_s=lo.window_s, lockout_s=lo.lockout_s),
        )

    async def owner_is_live(self, provider_id: str) -> bool:
        """Whether a live replica (other than a dead one) holds the provider's lease."""
        lease = await self.coord.lease(lease_name(provider_id))
        return lease is not None and lease.expires_at > time.time() and self.membership.is_live(lease.holder)

    async def describe(self) -> ClusterView:
        now = time.time()
        leader = await self.coord.lease(LEADER_LEASE)
        leader_id = leader.holder if leader is not None and leader.expires_at > now else None
        owned: dict[str, list[str]] = {}
        for lease in await self.coord.leases(PROVIDER_LEASE):
            if lease.expires_at > now:
                owned.setdefault(lease.holder, []).append(lease.name.removeprefix(PROVIDER_LEASE))
        instances = [
            InstanceView(
                instance_id=i.instance_id, address=i.address, started_at=i.started_at,
                heartbeat_age_s=round(now - i.heartbeat_at, 3), leader=i.instance_id == leader_id,
                providers=sorted(owned.get(i.instance_id, [])),
            )
            for i in await self.coord.instances()
            if not i.stopped and now - i.heartbeat_at < self.cfg.instance_ttl_s
        ]
        return ClusterView(
            instance_id=self.instance_id, leader=leader_id,
            generation=leader.generation if leader is not None else 0,
            is_leader=self.leadership.is_leader, instances=instances,
        )
