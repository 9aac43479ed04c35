"""The provider state machine decides; apply evolves. Pure, no I/O."""

from __future__ import annotations

import pytest

from hangar.domain import events as ev
from hangar.domain.errors import AlreadyExistsError, InvalidTransitionError, ProviderNotFoundError
from hangar.domain.provider import TRANSITIONS, Provider, ProviderState
from hangar.domain.provider_spec import ProviderSpec, ToolSpec

SPEC = ProviderSpec(mode="subprocess", command=["python", "x.py"])


def run(p: Provider, events: list[ev.Event]) -> list[ev.Event]:
    for e in events:
        p.apply(e)
        p.version += 1
    return events


def registered() -> Provider:
    p = Provider("math")
    run(p, p.register(SPEC))
    return p


def test_register_twice_is_refused() -> None:
    p = registered()
    with pytest.raises(AlreadyExistsError):
        p.register(SPEC)


def test_unregistered_provider_cannot_be_used() -> None:
    with pytest.raises(ProviderNotFoundError):
        Provider("ghost").begin_start()


def test_full_lifecycle_emits_a_state_change_for_every_transition() -> None:
    p = registered()
    out = run(p, p.begin_start())
    assert out == [ev.ProviderStateChanged(provider_id="math", old_state="cold",
                                           new_state="initializing", reason="start")]
    out = run(p, p.record_started(12.5, [ToolSpec(name="add")]))
    assert isinstance(out[0], ev.ProviderStarted) and out[0].tools_count == 1
    assert p.state == ProviderState.READY
    run(p, p.record_health(False, error="slow", degraded_after=1, dead_after=3))
    assert p.state == ProviderState.DEGRADED
    run(p, p.record_health(True))
    assert p.state == ProviderState.READY
    for _ in range(3):
        run(p, p.record_health(False, error="x", degraded_after=2, dead_after=3))
    assert p.state == ProviderState.DEAD
    out = run(p, p.record_stopped("user_request"))
    assert [type(e) for e in out] == [ev.ProviderStopped, ev.ProviderStateChanged]
    assert p.state == ProviderState.COLD


def test_one_failed_check_does_not_degrade_when_threshold_is_higher() -> None:
    p = registered()
    run(p, p.begin_start())
    run(p, p.record_started(1.0, []))
    run(p, p.record_health(False, error="slow", degraded_after=2, dead_after=4))
    assert p.state == ProviderState.READY


def test_start_is_idempotent_while_starting_or_ready() -> None:
    p = registered()
    run(p, p.begin_start())
    assert p.begin_start() == []
    run(p, p.record_started(1.0, []))
    assert p.begin_start() == []


def test_started_only_from_initializing() -> None:
    p = registered()
    with pytest.raises(InvalidTransitionError):
        p.record_started(1.0, [])


def test_unchanged_update_records_nothing() -> None:
    p = registered()
    assert p.update(SPEC) == []
    out = p.update(ProviderSpec(mode="subprocess", command=["python", "y.py"], idle_ttl_s=5))
    assert isinstance(out[0], ev.ProviderUpdated)
    assert sorted(out[0].changed) == ["command", "idle_ttl_s"]


def test_deregister_a_running_provider_ends_cold() -> None:
    p = registered()
    run(p, p.begin_start())
    out = run(p, p.deregister())
    assert [type(e) for e in out] == [ev.ProviderStateChanged, ev.ProviderDeregistered]
    assert not p.exists
    run(p, p.register(SPEC))
    assert p.state == ProviderState.COLD


def test_transition_table_is_closed() -> None:
    states = set(ProviderState)
    assert set(TRANSITIONS) == states
    for targets in TRANSITIONS.values():
        assert targets <= states


def test_snapshot_round_trip() -> None:
    p = registered()
    run(p, p.begin_start())
    run(p, p.record_started(3.0, [ToolSpec(name="add", description="Add")]))
    q = Provider.from_snapshot("math", p.version, p.snapshot())
    assert q.s == p.s and q.version == p.version
