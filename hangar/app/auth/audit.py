"""The audit trail and the security log.

Every command the bus executes becomes a ``CommandAudited`` event in ``audit:commands`` (who,
what, on which target, outcome, correlation id, the event types it recorded).

A command has exactly one record in the log. Its first append carries it as a rider (see
``hangar.app.units``): one transaction, one fsync, written only if the command's events are
accepted, so the common case (one append, success) costs no second append and no second wait.
A command that appends nothing (refused, or a no-op) gets its record once it is over, and so
does one registered as multi-step (it may append again or fail after appending, so its record
waits for the outcome); that append is queued to the group-commit writer without blocking the
bus, and the HTTP guard awaits it before the response starts, so a 2xx still means "audited and
durable". Logs written before this rule may hold a second, correcting record for a command: the
audit log merges it into the command's row.

A tool call is already recorded by its own ``ToolInvocationCompleted``/``Failed`` event, which
carries the same facts; it is audited from that event instead of being written twice, and only
an invocation refused before it reached the provider gets a ``CommandAudited``.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import OrderedDict, deque
from typing import Any

import msgspec
import structlog

from hangar.app import codec
from hangar.app.bus import CommandContext
from hangar.app.ports import EventStore, NewEvent, RecordedEvent
from hangar.app.projector import Projector
from hangar.app.units import RUNNING, Rider, Running
from hangar.domain import auth_events as ae
from hangar.domain import events as ev
from hangar.domain.auth_aggregates import AUDIT_STREAM
from hangar.domain.errors import HangarError

log = structlog.get_logger("hangar.audit")

class Pending:
    """The audit appends one HTTP request must see durable before it answers."""

    __slots__ = ("futures", "open")

    def __init__(self) -> None:
        self.futures: list[asyncio.Future[tuple[int, int]]] = []
        self.open = True


PENDING: contextvars.ContextVar[Pending | None] = contextvars.ContextVar("hangar_audit_pending", default=None)
"""Set by the HTTP guard per request. A task spawned during a request (an MCP session) inherits
the variable; once the request is over its ``Pending`` is closed and collects nothing more."""

# Command fields that name what a command acts on, most specific owner first.
TARGET_FIELDS: tuple[tuple[str, str], ...] = (
    ("provider_id", "provider"), ("group_id", "group"), ("principal_id", "principal"),
    ("role_id", "role"), ("key_id", "api_key"), ("source_id", "discovery_source"),
    ("entry_id", "catalog_entry"), ("stream_id", "stream"),
)
_INVOCATION_OUTCOMES = frozenset({"ToolInvocationCompleted", "ToolInvocationFailed"})
# Audited by their outcome events (or after the fact), never by a rider on their first append.
_NO_RIDER = frozenset({"InvokeTool", "InvokeGroupTool"})
_TRACKED = 4096


def command_target(command: Any) -> tuple[str | None, str | None]:
    for field, kind in TARGET_FIELDS:
        value = getattr(command, field, None)
        if isinstance(value, str) and value:
            return kind, value
    return None, None


class AuditRecorder:
    """Bus observer + projector listener that writes ``CommandAudited`` events."""

    def __init__(self, store: EventStore, projector: Projector, instance: str) -> None:
        self._store = store
        self._projector = projector
        self._instance = instance
        self._produced: OrderedDict[str, list[str]] = OrderedDict()
        self._inflight: set[asyncio.Future[tuple[int, int]]] = set()

    def listener(self, rec: RecordedEvent, event: Any) -> None:
        """Remembers which event types each command (its causation id) recorded."""
        if rec.stream_id == AUDIT_STREAM:
            return
        try:
            cause = codec.decode_metadata(rec).causation_id
        except msgspec.DecodeError:
            return
        if not cause:
            return
        seen = self._produced.get(cause)
        if seen is None:
            seen = self._produced[cause] = []
            if len(self._produced) > _TRACKED:
                self._produced.popitem(last=False)
        if rec.event_type not in seen:
            seen.append(rec.event_type)

    def rider(self, run: Running, stream_id: str, events: tuple[NewEvent, ...]) -> Rider | None:
        """The bus's rider: the running command's audit record, for its first append."""
        if stream_id == AUDIT_STREAM or type(run.command).__name__ in _NO_RIDER:
            return None
        types = list(dict.fromkeys(e.event_type for e in events))
        return AUDIT_STREAM, (self._record(run.command, run.ctx, run.command_id, None, types),)

    def observe(self, command: Any, ctx: CommandContext, command_id: str, exc: Exception | None) -> None:
        produced = self._produced.pop(command_id, [])
        name = type(command).__name__
        if name == "InvokeTool" and _INVOCATION_OUTCOMES.intersection(produced):
            return  # the invocation's own outcome event is its audit record
        if exc is None and not produced and ctx.principal == "system":
            return  # Hangar re-applying its own config at start and finding nothing to change
        run = RUNNING.get()
        carried = run.audited if run is not None and run.command_id == command_id else None
        if carried is not None:  # [] while that append is still in flight: it carries the record
            # Its one record was written with its first events. Anything it did after that is in
            # the log under its causation id; a handler that does so should be multi-step.
            extra = [t for t in produced if t not in carried]
            if exc is not None or extra:
                log.warning("audit_record_written_early", command=name, later_events=extra,
                            error=type(exc).__name__ if exc else None)
            return
        fut = asyncio.ensure_future(self._store.append(
            AUDIT_STREAM, None, [self._record(command, ctx, command_id, exc, produced)]
        ))
        pending = PENDING.get()
        if pending is not None and pending.open:
            pending.futures.append(fut)
        self._inflight.add(fut)
        fut.add_done_callback(self._done)

    def _record(
        self, command: Any, ctx: CommandContext, command_id: str, exc: Exception | None, produced: list[str]
    ) -> NewEvent:
        name = type(command).__name__
        kind, target = command_target(command)
        provider_id = getattr(command, "provider_id", None)
        error_type = error = None
        if exc is not None:
            error_type = exc.error_type if isinstance(exc, HangarError) else "InternalError"
            error = exc.message[:500] if isinstance(exc, HangarError) else "internal error"
        record = ae.CommandAudited(
            command=name, principal=ctx.principal, outcome="failure" if exc else "success",
            command_id=command_id, correlation_id=ctx.correlation_id or command_id,
            target_type=kind, target_id=target,
            subject_provider_id=provider_id if isinstance(provider_id, str) else None,
            events=[t for t in produced if t != "CommandAudited"], error_type=error_type, error=error,
        )
        meta = codec.EventMetadata(
            correlation_id=ctx.correlation_id or command_id, causation_id=command_id,
            principal=ctx.principal, instance=self._instance,
        )
        return codec.encode(record, meta)

    def _done(self, fut: asyncio.Future[tuple[int, int]]) -> None:
        self._inflight.discard(fut)
        if not fut.cancelled() and fut.exception() is not None:
            log.error("audit_append_failed", error=str(fut.exception()))

    async def drain(self, pending: Pending) -> None:
        """Wait until the request's audit appends are durable and visible to queries."""
        if not pending.futures:
            return
        batch = list(pending.futures)
        pending.futures.clear()
        results = await asyncio.gather(*batch, return_exceptions=True)
        positions = [r[1] for r in results if isinstance(r, tuple)]
        if positions:
            await self._projector.wait_for(max(positions))

    async def close(self) -> None:
        if self._inflight:
            await asyncio.gather(*list(self._inflight), return_exceptions=True)


# --- read models ---------------------------------------------------------------------------------


class AuditRecord(msgspec.Struct, kw_only=True):
    record_id: str
    event_type: str
    command: str
    principal: str
    outcome: str
    correlation_id: str
    command_id: str | None
    target_type: str | None
    target_id: str | None
    provider_id: str | None
    tool_name: str | None
    group_id: str | None
    events: list[str]
    error_type: str | None
    error: str | None
    duration_ms: float | None
    position: int
    occurred_at: float
    recorded_at: str


class AuditLog:
    """The most recent ``retention`` audit records, for ``/api/observability/audit``."""

    def __init__(self, retention: int) -> None:
        self.records: deque[AuditRecord] = deque(maxlen=retention)
        self._by_command: OrderedDict[str, AuditRecord] = OrderedDict()
        self._retention = retention

    def apply(self, rec: RecordedEvent, event: Any) -> None:
        if isinstance(event, ae.CommandAudited):
            earlier = self._by_command.get(event.command_id)
            if earlier is not None:
                # A correcting record, as logs written before one-record-per-command hold them:
                # still one row per command.
                earlier.outcome, earlier.error_type, earlier.error = event.outcome, event.error_type, event.error
                earlier.events = list(dict.fromkeys([*earlier.events, *event.events]))
                earlier.event_type = earlier.events[0] if earlier.events else event.command
                return
            self._remember(event.command_id, AuditRecord(
                record_id=rec.event_id, event_type=event.events[0] if event.events else event.command,
                command=event.command, principal=event.principal, outcome=event.outcome,
                correlation_id=event.correlation_id, command_id=event.command_id,
                target_type=event.target_type, target_id=event.target_id, provider_id=event.subject_provider_id,
                tool_name=None, group_id=None, events=list(event.events), error_type=event.error_type,
                error=event.error, duration_ms=event.duration_ms, position=rec.position,
                occurred_at=rec.recorded_at, recorded_at=codec.iso(rec.recorded_at),
            ))
        elif isinstance(event, ev.ToolInvocationCompleted | ev.ToolInvocationFailed):
            meta = codec.decode_metadata(rec)
            error_type: str | None
            error: str | None
            if isinstance(event, ev.ToolInvocationFailed):
                error_type, error = event.error_type, event.error
            else:
                error_type, error = ("ToolError", None) if event.is_error else (None, None)
            self.records.append(AuditRecord(
                record_id=rec.event_id, event_type=rec.event_type, command="InvokeTool",
                principal=meta.principal or "system", outcome="failure" if error_type else "success",
                correlation_id=meta.correlation_id or "", command_id=meta.causation_id,
                target_type="provider", target_id=event.provider_id, provider_id=event.provider_id,
                tool_name=event.tool_name, group_id=event.group_id, events=[rec.event_type],
                error_type=error_type, error=error, duration_ms=event.duration_ms,
                position=rec.position, occurred_at=rec.recorded_at, recorded_at=codec.iso(rec.recorded_at),
            ))

    def _remember(self, command_id: str, record: AuditRecord) -> None:
        self.records.append(record)
        self._by_command[command_id] = record
        while len(self._by_command) > self._retention:
            self._by_command.popitem(last=False)

    def query(
        self, *, provider_id: str | None = None, event_type: str | None = None, principal: str | None = None,
        outcome: str | None = None, limit: int = 100,
    ) -> tuple[list[AuditRecord], int]:
        """Newest first; ``event_type`` matches the record's type, its command or any event it recorded."""
        out: list[AuditRecord] = []
        total = 0
        for r in reversed(self.records):
            if provider_id is not None and r.provider_id != provider_id:
                continue
            if event_type is not None and event_type != r.event_type and event_type != r.command \
                    and event_type not in r.events:
                continue
            if principal is not None and r.principal != principal:
                continue
            if outcome is not None and r.outcome != outcome:
                continue
            total += 1
            if len(out) < limit:
                out.append(r)
        return out, total

    def dump(self) -> Any:
        return [msgspec.to_builtins(r) for r in self.records]


_SECURITY_TYPES = tuple(ae.SECURITY_EVENTS)


class SecurityLog:
    """The most recent security events, flat like a WebSocket frame, never with a key digest."""

    def __init__(self, retention: int) -> None:
        self.events: deque[dict[str, Any]] = deque(maxlen=retention)

    def apply(self, rec: RecordedEvent, event: Any) -> None:
        if not isinstance(event, _SECURITY_TYPES):
            return
        body: dict[str, Any] = msgspec.to_builtins(event)
        body.pop("key_hash", None)
        meta = codec.decode_metadata(rec)
        self.events.append({
            "event_id": rec.event_id, "stream_id": rec.stream_id, "position": rec.position,
            "recorded_at": codec.iso(rec.recorded_at), "occurred_at": rec.recorded_at,
            "actor": meta.principal, "correlation_id": meta.correlation_id, **body,
        })

    def query(self, *, event_type: str | None = None, limit: int = 100) -> tuple[list[dict[str, Any]], int]:
        out: list[dict[str, Any]] = []
        total = 0
        for e in reversed(self.events):
            if event_type is not None and e["event_type"] != event_type:
                continue
            total += 1
            if len(out) < limit:
                out.append(e)
        return out, total

    def dump(self) -> Any:
        return list(self.events)
