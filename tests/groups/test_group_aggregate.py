"""The Group aggregate and the health rule, as pure code."""

from __future__ import annotations

import pytest

from hangar.domain import group_events as ge
from hangar.domain.errors import AlreadyExistsError, GroupMemberNotFoundError, GroupNotFoundError, ValidationError
from hangar.domain.group import Group, GroupState, MemberStatus, check_group_id, evaluate
from hangar.domain.group_events import GroupMember, GroupSpec

READY = MemberStatus("ready")
COLD = MemberStatus("cold")
DEAD = MemberStatus("dead")
DEGRADED = MemberStatus("degraded")
OPEN = MemberStatus("ready", "open")
HALF = MemberStatus("ready", "half_open")


def applied(g: Group, events: list) -> list:
    for e in events:
        g.apply(e)
        g.version += 1
    return events


def members(*ids: str) -> list[GroupMember]:
    return [GroupMember(provider_id=i) for i in ids]


@pytest.mark.parametrize(("statuses", "min_healthy", "state", "healthy"), [
    ({}, 1, GroupState.INACTIVE, 0),
    ({"a": DEAD, "b": OPEN}, 1, GroupState.INACTIVE, 0),
    ({"a": READY, "b": READY}, 1, GroupState.HEALTHY, 2),
    ({"a": COLD, "b": READY}, 2, GroupState.HEALTHY, 2),  # cold members start on demand
    ({"a": READY, "b": DEAD}, 1, GroupState.DEGRADED, 1),
    ({"a": READY, "b": DEGRADED}, 2, GroupState.PARTIAL, 1),
    ({"a": HALF, "b": DEGRADED}, 1, GroupState.PARTIAL, 0),
])
def test_health_rule(statuses: dict, min_healthy: int, state: GroupState, healthy: int) -> None:
    ids = sorted(statuses) or []
    h = evaluate(members(*ids), min_healthy, statuses)
    assert (h.state, h.healthy_count) == (state, healthy)


def test_empty_group_is_inactive_and_membership_records_state_in_the_same_append() -> None:
    g = Group("pool")
    applied(g, g.create(GroupSpec(min_healthy=2)))
    assert g.s.state == "inactive"
    events = applied(g, g.add_member(GroupMember(provider_id="a", weight=3), {"a": READY}))
    assert [type(e) for e in events] == [ge.GroupMemberAdded, ge.GroupStateChanged]
    assert events[1].new_state == "partial" and events[1].healthy_count == 1
    events = applied(g, g.add_member(GroupMember(provider_id="b"), {"a": READY, "b": READY}))
    assert events[-1].new_state == "healthy"
    assert g.add_member(GroupMember(provider_id="b"), {}, upsert=True) == []
    events = g.add_member(GroupMember(provider_id="b", weight=2), {}, upsert=True)
    assert [type(e) for e in events] == [ge.GroupMemberUpdated]
    with pytest.raises(AlreadyExistsError):
        g.add_member(GroupMember(provider_id="b"), {})
    events = applied(g, g.remove_member("a", "user_request", {"b": READY}))
    assert [type(e) for e in events] == [ge.GroupMemberRemoved, ge.GroupStateChanged]
    assert events[1].new_state == "partial"
    with pytest.raises(GroupMemberNotFoundError):
        g.remove_member("a", "x", {})
    assert g.remove_member("a", "x", {}, missing_ok=True) == []


def test_definition_errors_and_updates() -> None:
    g = Group("pool")
    with pytest.raises(GroupNotFoundError):
        g.delete()
    with pytest.raises(GroupNotFoundError):
        g.add_member(GroupMember(provider_id="a"), {})
    applied(g, g.create(GroupSpec()))
    with pytest.raises(AlreadyExistsError):
        g.create(GroupSpec())
    assert g.update(GroupSpec(), {}) == []
    events = g.update(GroupSpec(strategy="priority", description="x"), {})
    assert [type(e) for e in events] == [ge.GroupUpdated]
    updated = events[0]
    assert isinstance(updated, ge.GroupUpdated)
    assert sorted(updated.changed) == ["description", "strategy"]
    applied(g, g.delete())
    assert not g.exists
    for bad in ("", "a.b", "has space", "-x", "x" * 65):
        with pytest.raises(ValidationError):
            check_group_id(bad)


def test_circuit_events_and_snapshot_round_trip() -> None:
    g = Group("pool")
    applied(g, g.create(GroupSpec(failure_threshold=2, reset_timeout_s=1.5)))
    applied(g, g.add_member(GroupMember(provider_id="a", priority=0), {"a": READY}))
    assert g.record_circuit("closed") == []
    assert [type(e) for e in applied(g, g.record_circuit("open", failures=2))] == [ge.GroupCircuitOpened]
    assert [type(e) for e in applied(g, g.record_circuit("half_open"))] == [ge.GroupCircuitHalfOpened]
    events = applied(g, g.rebalanced(["a"], {"a": READY}))
    assert [type(e) for e in events] == [ge.GroupRebalanced, ge.GroupCircuitClosed]
    copy = Group.from_snapshot("pool", g.version, g.snapshot())
    assert copy.s == g.s and copy.version == g.version
