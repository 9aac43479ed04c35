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
from hangar.domain.errors import HangarError

log = structlog.get_logger("hangar.bus")


class CommandContext(msgspec.Struct, frozen=True, kw_only=True):
    principal: str = "system"
    correlation_id: str = ""
    if_match: int | None = None
    """Expected aggregate version from an ``If-Match`` header (412 on mismatch)."""

    def metadata(self, causation_id: str, instance: str) -> EventMetadata:
        return EventMetadata(
            correlation_id=self.correlation_id or causation_id,
            causation_id=causation_id,
            principal=self.principal,
            instance=instance,
        )


SYSTEM = CommandContext(principal="system")

Handler = Callable[[Any, CommandContext, EventMetadata], Awaitable[Any]]
CommandObserver = Callable[[Any, CommandContext, str, Exception | None], None]
SpanFactory = Callable[[str], AbstractContextManager[str | None]]
"""Opens a trace span named after the command; yields the trace id (None when not traced)."""


class CommandBus:
    def __init__(self, instance: str, span: SpanFactory | None = None) -> None:
        self._handlers: dict[type, Handler] = {}
        self._observers: list[CommandObserver] = []
        self.instance = instance
        self._span = span

    def register(self, command_type: type, handler: Handler) -> None:
        if command_type in self._handlers:
            raise ValueError(f"handler for {command_type.__name__} registered twice")
        self._handlers[command_type] = handler

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

    def _notify(self, command: Any, ctx: CommandContext, cid: str, exc: Exception | None) -> None:
        for observer in self._observers:
            try:
                observer(command, ctx, cid, exc)
            except Exception:  # an observer must never turn a success into a failure
                log.exception("command_observer_failed")
