"""The command being executed, as its unit of work, and the one append path of command handlers.

While a handler runs, the bus keeps its command in ``RUNNING``. Every append a handler makes goes
through ``append`` below, which hands the store the command's audit record as a *rider* on its
first append: the store writes both in one transaction (one fsync), the record only if the
events are accepted. The bus learns from the answer whether the record was written; if not (the
command appended nothing, or was registered as multi-step) the record is written once the
command is over. Either way a command has exactly one audit record.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from typing import Any

from hangar.app.ports import EventStore, NewEvent

Rider = tuple[str, tuple[NewEvent, ...]]
"""Events for another stream (no version check) written in the same transaction as an append."""

RiderFactory = Callable[["Running", str, tuple[NewEvent, ...]], Rider | None]
"""Given the running command and what it is about to append: its audit record, or None."""


class Running:
    """The command a coroutine is executing (see ``RUNNING``)."""

    __slots__ = ("audited", "command", "command_id", "ctx", "open", "rider")

    def __init__(self, command: Any, ctx: Any, command_id: str, rider: RiderFactory | None) -> None:
        self.command = command
        self.ctx = ctx
        self.command_id = command_id
        self.open = True
        self.rider = rider
        """None: this command's record is written when it is over, never with an append."""
        self.audited: list[str] | None = None
        """Event types of the append that carried this command's audit record (``[]`` while that
        append is in flight, so a concurrent second append of the same command rides nothing)."""


RUNNING: contextvars.ContextVar[Running | None] = contextvars.ContextVar("hangar_running_command", default=None)
"""Set while a handler runs. A task spawned meanwhile inherits it; once the command is over it is
closed."""


async def append(
    store: EventStore, stream_id: str, expected_version: int | None, events: Sequence[NewEvent]
) -> tuple[int, int]:
    """``store.append`` on behalf of the running command, if any: see the module docstring."""
    batch = tuple(events)
    run = RUNNING.get()
    rider = None
    if run is not None and run.open and run.rider is not None and run.audited is None and batch:
        rider = run.rider(run, stream_id, batch)
    if rider is None or run is None:
        return await store.append(stream_id, expected_version, batch)
    run.audited = []
    try:
        answer = await store.append(stream_id, expected_version, batch, rider=rider)
    except BaseException:
        run.audited = None  # nothing was written: a later append (or the bus) records it
        raise
    run.audited = list(dict.fromkeys(e.event_type for e in batch))
    return answer
