"""A tool call's durable record: request and outcome in one append when the call is quick; the
request on its own first when the call runs long; the request kept when the call ends oddly."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hangar.app import invoke
from hangar.app.invoke import _CallRecord
from hangar.app.ports import NewEvent


class Store:
    def __init__(self) -> None:
        self.appends: list[list[str]] = []

    async def append(self, stream_id: str, expected: Any, events: list[NewEvent]) -> tuple[int, int]:
        self.appends.append([e.event_type for e in events])
        return len(self.appends), len(self.appends)


def event(kind: str) -> NewEvent:
    return NewEvent(event_id=kind, event_type=kind, data=b"{}", metadata=b"{}")


async def test_a_quick_call_appends_request_and_outcome_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(invoke, "REQUEST_RECORD_DELAY_S", 3600.0)
    store = Store()
    record = _CallRecord(store, "calls:p", event("Requested"))  # type: ignore[arg-type]
    await record.finish(event("Completed"))
    assert store.appends == [["Requested", "Completed"]]


async def test_a_long_call_records_its_request_while_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(invoke, "REQUEST_RECORD_DELAY_S", 0.0)
    store = Store()
    record = _CallRecord(store, "calls:p", event("Requested"))  # type: ignore[arg-type]
    for _ in range(5):  # the timer fires, then the append runs
        await asyncio.sleep(0)
    assert store.appends == [["Requested"]]
    await record.finish(event("Completed"))
    assert store.appends == [["Requested"], ["Completed"]]


async def test_a_call_that_ends_without_outcome_still_records_its_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(invoke, "REQUEST_RECORD_DELAY_S", 3600.0)
    store = Store()
    record = _CallRecord(store, "calls:p", event("Requested"))  # type: ignore[arg-type]
    record.abandon()
    for _ in range(5):
        await asyncio.sleep(0)
    assert store.appends == [["Requested"]]


async def test_an_outcome_never_overtakes_a_request_still_being_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """The request's append started (its timer fired) but has not reached the store yet when the
    call ends: the outcome waits for it, so the stream shows the request first."""
    monkeypatch.setattr(invoke, "REQUEST_RECORD_DELAY_S", 0.0)
    store = Store()
    record = _CallRecord(store, "calls:p", event("Requested"))  # type: ignore[arg-type]
    while record._written is None:  # noqa: ASYNC110 - the timer fires: the append is scheduled, not yet run
        await asyncio.sleep(0)
    assert store.appends == []
    await record.finish(event("Completed"))
    assert store.appends == [["Requested"], ["Completed"]]
