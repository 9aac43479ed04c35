"""The Group aggregate: several providers behind one name, and how healthy that name is.

Deciding methods return events and never mutate; ``apply`` is the only place state changes.
Methods that change membership or ``min_healthy`` are given the members' current statuses so that
the resulting ``GroupStateChanged`` is recorded in the same append as its cause.

Member and group health rule (documented in the API and used for routing as well):

* a member is **in rotation** when its provider is ``ready``, ``degraded``, ``cold`` or
  ``initializing`` and its breaker is not ``open``: cold members count because a call starts
  them lazily; ``dead`` members and members with an open breaker are out of rotation.
* a member is **healthy** when it is in rotation and its provider is ``ready``, ``cold`` or
  ``initializing`` with a ``closed`` breaker (a degraded or half-open member serves, but is not
  counted as healthy).
* the group is ``inactive`` when no member is in rotation (or it has none), ``partial`` when
  fewer than ``min_healthy`` members are healthy, ``healthy`` when every member is healthy, and
  ``degraded`` when the minimum is met but some members are not healthy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum

import msgspec

from hangar.domain import group_events as ge
from hangar.domain.errors import (
    AlreadyExistsError,
    GroupMemberNotFoundError,
    GroupNotFoundError,
    ValidationError,
)
from hangar.domain.event_base import Event
from hangar.domain.group_events import GroupMember, GroupSpec

STREAM_PREFIX = "group:"

# The same alphabet as provider ids: no dots, so ``{group}.{tool}`` splits unambiguously.
GROUP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
_GROUP_ID_RE = re.compile(GROUP_ID_PATTERN)


class GroupState(StrEnum):
    INACTIVE = "inactive"
    PARTIAL = "partial"
    HEALTHY = "healthy"
    DEGRADED = "degraded"


ROTATION_STATES = frozenset({"ready", "degraded", "cold", "initializing"})
HEALTHY_STATES = frozenset({"ready", "cold", "initializing"})


class MemberStatus(msgspec.Struct, frozen=True):
    """What the group needs to know about one member's provider."""

    state: str
    breaker_state: str = "closed"


UNKNOWN = MemberStatus(state="dead", breaker_state="closed")


def in_rotation(status: MemberStatus) -> bool:
    return status.state in ROTATION_STATES and status.breaker_state != "open"


def is_healthy(status: MemberStatus) -> bool:
    return status.state in HEALTHY_STATES and status.breaker_state == "closed"


class Health(msgspec.Struct, frozen=True):
    state: GroupState
    healthy_count: int
    routable_count: int
    total: int


def evaluate(members: list[GroupMember], min_healthy: int, statuses: Mapping[str, MemberStatus]) -> Health:
    total = len(members)
    found = [statuses.get(m.provider_id, UNKNOWN) for m in members]
    healthy = sum(1 for s in found if is_healthy(s))
    routable = sum(1 for s in found if in_rotation(s))
    if routable == 0:
        state = GroupState.INACTIVE
    elif healthy < min_healthy:
        state = GroupState.PARTIAL
    elif healthy == total:
        state = GroupState.HEALTHY
    else:
        state = GroupState.DEGRADED
    return Health(state=state, healthy_count=healthy, routable_count=routable, total=total)


def stream_id(group_id: str) -> str:
    return STREAM_PREFIX + group_id


def check_group_id(group_id: str) -> None:
    if not _GROUP_ID_RE.fullmatch(group_id):
        raise ValidationError(
            f"Invalid group_id '{group_id}': use 1-64 letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )


class GroupSnapshot(msgspec.Struct, kw_only=True):
    group_id: str = ""
    exists: bool = False
    spec: GroupSpec = msgspec.field(default_factory=GroupSpec)
    members: list[GroupMember] = []
    state: str = GroupState.INACTIVE.value
    breaker_state: str = "closed"


Statuses = Mapping[str, MemberStatus]


class Group:
    def __init__(self, group_id: str) -> None:
        self.s = GroupSnapshot(group_id=group_id)
        self.version = 0

    # --- reading ---------------------------------------------------------------------------

    @property
    def group_id(self) -> str:
        return self.s.group_id

    @property
    def exists(self) -> bool:
        return self.s.exists

    @property
    def spec(self) -> GroupSpec:
        self.require()
        return self.s.spec

    @property
    def members(self) -> list[GroupMember]:
        return list(self.s.members)

    def member(self, provider_id: str) -> GroupMember | None:
        return next((m for m in self.s.members if m.provider_id == provider_id), None)

    def require(self) -> None:
        if not self.s.exists:
            raise GroupNotFoundError(self.s.group_id)

    # --- deciding --------------------------------------------------------------------------

    def create(self, spec: GroupSpec) -> list[Event]:
        if self.s.exists:
            raise AlreadyExistsError(f"Group '{self.group_id}' already exists")
        return [ge.GroupCreated(group_id=self.group_id, spec=spec)]

    def update(self, spec: GroupSpec, statuses: Statuses) -> list[Event]:
        old = self.spec
        changed = [f for f in spec.__struct_fields__ if getattr(old, f) != getattr(spec, f)]
        if not changed:
            return []
        out: list[Event] = [ge.GroupUpdated(group_id=self.group_id, spec=spec, changed=changed)]
        return out + self._state_after(self.s.members, spec.min_healthy, statuses)

    def delete(self) -> list[Event]:
        self.require()
        return [ge.GroupDeleted(group_id=self.group_id)]

    def add_member(self, member: GroupMember, statuses: Statuses, *, upsert: bool = False) -> list[Event]:
        self.require()
        existing = self.member(member.provider_id)
        if existing is not None:
            if not upsert:
                raise AlreadyExistsError(
                    f"Provider '{member.provider_id}' is already a member of group '{self.group_id}'"
                )
            if existing == member:
                return []
            return [ge.GroupMemberUpdated(group_id=self.group_id, provider_id=member.provider_id,
                                          weight=member.weight, priority=member.priority)]
        added = ge.GroupMemberAdded(group_id=self.group_id, provider_id=member.provider_id,
                                    weight=member.weight, priority=member.priority)
        return [added, *self._state_after([*self.s.members, member], self.s.spec.min_healthy, statuses)]

    def remove_member(
        self, provider_id: str, reason: str, statuses: Statuses, *, missing_ok: bool = False
    ) -> list[Event]:
        self.require()
        if self.member(provider_id) is None:
            if missing_ok:
                return []
            raise GroupMemberNotFoundError(self.group_id, provider_id)
        removed = ge.GroupMemberRemoved(group_id=self.group_id, provider_id=provider_id, reason=reason)
        rest = [m for m in self.s.members if m.provider_id != provider_id]
        return [removed, *self._state_after(rest, self.s.spec.min_healthy, statuses)]

    def record_state(self, statuses: Statuses) -> list[Event]:
        """Re-derive the state from the members' statuses; nothing when it has not changed."""
        if not self.s.exists:
            return []
        return self._state_after(self.s.members, self.s.spec.min_healthy, statuses)

    def record_circuit(self, new_state: str, *, failures: int = 0, reason: str = "") -> list[Event]:
        if not self.s.exists or new_state == self.s.breaker_state:
            return []
        if new_state == "open":
            return [ge.GroupCircuitOpened(group_id=self.group_id, failures=failures, reason=reason)]
        if new_state == "half_open":
            return [ge.GroupCircuitHalfOpened(group_id=self.group_id)]
        return [ge.GroupCircuitClosed(group_id=self.group_id, reason=reason)]

    def rebalanced(self, rotation: list[str], statuses: Statuses) -> list[Event]:
        self.require()
        out: list[Event] = [ge.GroupRebalanced(group_id=self.group_id, in_rotation=rotation)]
        out += self.record_circuit("closed", reason="rebalanced")
        return out + self._state_after(self.s.members, self.s.spec.min_healthy, statuses)

    def _state_after(self, members: list[GroupMember], min_healthy: int, statuses: Statuses) -> list[Event]:
        health = evaluate(members, min_healthy, statuses)
        if health.state == self.s.state:
            return []
        return [ge.GroupStateChanged(
            group_id=self.group_id, old_state=self.s.state, new_state=health.state.value,
            healthy_count=health.healthy_count, total_members=health.total,
        )]

    # --- evolving --------------------------------------------------------------------------

    def apply(self, e: Event) -> None:
        s = self.s
        match e:
            case ge.GroupCreated(spec=spec):
                self.s = GroupSnapshot(group_id=s.group_id, exists=True, spec=spec)
            case ge.GroupUpdated(spec=spec):
                s.spec = spec
            case ge.GroupDeleted():
                self.s = GroupSnapshot(group_id=s.group_id)
            case ge.GroupMemberAdded(provider_id=pid, weight=w, priority=p):
                s.members = [*s.members, GroupMember(provider_id=pid, weight=w, priority=p)]
            case ge.GroupMemberUpdated(provider_id=pid, weight=w, priority=p):
                s.members = [GroupMember(provider_id=pid, weight=w, priority=p) if m.provider_id == pid else m
                             for m in s.members]
            case ge.GroupMemberRemoved(provider_id=pid):
                s.members = [m for m in s.members if m.provider_id != pid]
            case ge.GroupStateChanged(new_state=new):
                s.state = new
            case ge.GroupCircuitOpened():
                s.breaker_state = "open"
            case ge.GroupCircuitHalfOpened():
                s.breaker_state = "half_open"
            case ge.GroupCircuitClosed():
                s.breaker_state = "closed"
            case _:
                pass

    # --- snapshots -------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        return msgspec.json.encode(self.s)

    @classmethod
    def from_snapshot(cls, group_id: str, version: int, state: bytes) -> Group:
        g = cls(group_id)
        g.s = msgspec.json.decode(state, type=GroupSnapshot)
        g.version = version
        return g
