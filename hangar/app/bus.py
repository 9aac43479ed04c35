"""The command bus: the one write path.

A command is a msgspec Struct; its handler loads what it needs, lets the aggregate decide and
appends the events. The bus is the single place that stamps metadata and waits until the
projections have seen the new events, so every 2xx is visible to the very next query.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any

import msgspec
import structlog

from hangar.app.codec import EventMetadata, new_id
from hangar.app.units import RUNNING, RiderFactory, Running
from hangar.domain.errors import HangarError

log = structlog.get_logger("hangar.bus")


class CommandContext(msgspec.Struct, frozen=True, kw_only=True):
    principal: str = "system"
    correlation_id: str = ""
    if_match: int | None = None
    """Expected aggregate version from an ``If-Match`` header (412 on mismatch)."""
    fencing: int | None = None
    """The leader lease generation, on commands of the cluster leader's singleton work."""

    def metadata(self, causation_id: str, instance: str) -> EventMetadata:
        return EventMetadata(
            correlation_id=self.correlation_id or causation_id,
            causation_id=causation_id,
            principal=self.principal,
            instance=instance,
            fencing=self.fencing,
        )


SYSTEM = CommandContext(principal="system")


def follow(ctx: CommandContext, meta: EventMetadata) -> CommandContext:
    """The context for commands a handler sends on behalf of its own: same principal and
    correlation id, and no ``If-Match`` (that precondition was the outer command's)."""
    return msgspec.structs.replace(ctx, correlation_id=meta.correlation_id, if_match=None)

Handler = Callable[[Any, CommandContext, EventMetadata], Awaitable[Any]]
CommandObserver = Callable[[Any, CommandContext, str, Exception | None], None]
MultiStep = bool | Callable[[Any], bool]
SpanFactory = Callable[[str], AbstractContextManager[str | None]]
"""Opens a trace span named after the command; yields the trace id (None when not traced)."""


class CommandBus:
    def __init__(self, instance: str, span: SpanFactory | None = None) -> None:
        self._handlers: dict[type, Handler] = {}
        self._observers: list[CommandObserver] = []
        self.instance = instance
        self._span = span
        self._multi_step: dict[type, MultiStep] = {}
        self._rider: RiderFactory | None = None

    def register(self, command_type: type, handler: Handler, *, multi_step: MultiStep = False) -> None:
        """``multi_step``: the handler may append more than once, or fail after appending (a
        follow-up restart, a refresh that records its failure); then its audit record waits for
        the outcome instead of riding on the first append. A predicate decides per command."""
        if command_type in self._handlers:
            raise ValueError(f"handler for {command_type.__name__} registered twice")
        self._handlers[command_type] = handler
        if multi_step:
            self._multi_step[command_type] = multi_step

    def carry(self, rider: RiderFactory) -> None:
        """The audit record a command's first append carries (see ``hangar.app.units``)."""
        self._rider = rider

    def observe(self, observer: CommandObserver) -> None:
        """Observers see every command and its outcome (audit, metrics)."""
        self._observers.append(observer)

    async def execute(self, command: Any, ctx: CommandContext = SYSTEM) -> Any:
        if self._span is None:
            return await self._execute(command, ctx, None)
        with self._span(type(command).__name__) as trace_id:
            return await self._execute(command, ctx, trace_id)

    async def _execute(self, command: Any, ctx: CommandContext, trace_id: str | None) -> Any:
        handler = self._handlers[type(command)]
        command_id = new_id()
        meta = ctx.metadata(command_id, self.instance)
        if trace_id is not None:
            meta = msgspec.structs.replace(meta, trace_id=trace_id)
        steps = self._multi_step.get(type(command), False)
        single = not (steps(command) if callable(steps) else steps)
        running = Running(command, ctx, command_id, self._rider if single else None)
        token = RUNNING.set(running)
        try:
            try:
                result = await handler(command, ctx, meta)
            except HangarError as exc:
                self._notify(command, ctx, command_id, exc)
                raise
            except Exception as exc:
                log.exception("command_failed", command=type(command).__name__)
                self._notify(command, ctx, command_id, exc)
                raise
            self._notify(command, ctx, command_id, None)
            return result
        finally:
            running.open = False
            RUNNING.reset(token)

    def _notify(self, command: Any, ctx: CommandContext, cid: str, exc: Exception | None) -> None:
        for observer in self._observers:
            try:
                observer(command, ctx, cid, exc)
            except Exception:  # an observer must never turn a success into a failure
                log.exception("command_observer_failed")
