"""Every runtime fact is a ``ProviderFact``: one handler records them all, each keeps its name
(its audit record's command) and lets the provider aggregate decide what it means."""

from __future__ import annotations

from hangar.app.bus import CommandBus
from hangar.app.runtime_facts import (
    RUNTIME_FACTS,
    BeginProviderStart,
    ProviderFact,
    RecordProviderCrashed,
    RecordProviderStopped,
    register_runtime_facts,
)
from hangar.domain import events as ev
from hangar.domain.provider import Provider, ProviderState
from hangar.domain.provider_spec import ProviderSpec


def _started() -> Provider:
    p = Provider("math")
    for decide in (lambda: p.register(ProviderSpec(mode="subprocess", command=["x"])),
                   lambda: BeginProviderStart(provider_id="math").decide(p)):
        for e in decide():
            p.apply(e)
    return p


def test_every_fact_is_a_provider_fact_with_its_own_handler() -> None:
    assert all(issubclass(f, ProviderFact) for f in RUNTIME_FACTS)
    assert len({f.__name__ for f in RUNTIME_FACTS}) == len(RUNTIME_FACTS) == 8
    bus = CommandBus("test")
    register_runtime_facts(bus, repo=None)  # type: ignore[arg-type]
    assert set(bus._handlers) == set(RUNTIME_FACTS)


def test_a_stop_and_a_crash_share_fields_but_not_meaning() -> None:
    stopped = RecordProviderStopped(provider_id="math", reason="idle").decide(_started())
    assert [type(e) for e in stopped] == [ev.ProviderStopped, ev.ProviderStateChanged]
    assert stopped[-1].new_state == ProviderState.COLD  # type: ignore[attr-defined]
    crashed = RecordProviderCrashed(provider_id="math", reason="exit 1").decide(_started())
    assert [type(e) for e in crashed] == [ev.ProviderStateChanged]
    assert crashed[0].new_state == ProviderState.DEAD and crashed[0].reason == "exit 1"  # type: ignore[attr-defined]
