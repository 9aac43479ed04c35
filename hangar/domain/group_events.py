"""Groups: the values a group is defined by, and its domain events.

Registered in ``hangar.domain.events.EVENT_TYPES`` through ``GROUP_EVENTS``. Every event lives in
stream ``group:{group_id}``.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

import msgspec

from hangar.domain.event_base import Event

Strategy = Literal["round_robin", "weighted_round_robin", "least_connections", "random", "priority"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)

Weight = Annotated[int, msgspec.Meta(ge=1, le=1000)]
Priority = Annotated[int, msgspec.Meta(ge=0, le=1000)]
MinHealthy = Annotated[int, msgspec.Meta(ge=1, le=1000)]
FailureThreshold = Annotated[int, msgspec.Meta(ge=1, le=10_000)]
ResetTimeout = Annotated[float, msgspec.Meta(gt=0, le=86_400)]


class GroupSpec(msgspec.Struct, frozen=True, kw_only=True):
    strategy: Strategy = "round_robin"
    min_healthy: MinHealthy = 1
    description: str | None = None
    failure_threshold: FailureThreshold | None = None
    """Consecutive failed group calls that open the group's breaker (None: the runtime default)."""
    reset_timeout_s: ResetTimeout | None = None
    """Seconds an open group breaker waits before admitting a probe (None: the runtime default)."""


class GroupMember(msgspec.Struct, frozen=True, kw_only=True):
    provider_id: str
    weight: Weight = 1
    priority: Priority = 1


# --- definition ----------------------------------------------------------------------------


class GroupCreated(Event, frozen=True):
    group_id: str
    spec: GroupSpec


class GroupUpdated(Event, frozen=True):
    group_id: str
    spec: GroupSpec
    changed: list[str]


class GroupDeleted(Event, frozen=True):
    group_id: str


class GroupMemberAdded(Event, frozen=True):
    group_id: str
    provider_id: str
    weight: int
    priority: int


class GroupMemberUpdated(Event, frozen=True):
    group_id: str
    provider_id: str
    weight: int
    priority: int


class GroupMemberRemoved(Event, frozen=True):
    group_id: str
    provider_id: str
    reason: str = ""


# --- runtime facts -------------------------------------------------------------------------


class GroupStateChanged(Event, frozen=True):
    group_id: str
    old_state: str
    new_state: str
    healthy_count: int
    total_members: int


class GroupCircuitOpened(Event, frozen=True):
    group_id: str
    failures: int
    reason: str = ""


class GroupCircuitHalfOpened(Event, frozen=True):
    group_id: str


class GroupCircuitClosed(Event, frozen=True):
    group_id: str
    reason: str = ""


class GroupRebalanced(Event, frozen=True):
    group_id: str
    in_rotation: list[str]


GROUP_EVENTS: tuple[type[Event], ...] = (
    GroupCreated,
    GroupUpdated,
    GroupDeleted,
    GroupMemberAdded,
    GroupMemberUpdated,
    GroupMemberRemoved,
    GroupStateChanged,
    GroupCircuitOpened,
    GroupCircuitHalfOpened,
    GroupCircuitClosed,
    GroupRebalanced,
)
