"""Calling a tool on a provider: validated, guarded by its breaker, recorded as events."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

import jsonschema
import msgspec
import structlog

from hangar.app import codec, units
from hangar.app.bus import CommandBus, CommandContext, follow
from hangar.app.codec import EventMetadata, new_id
from hangar.app.ports import EventStore, NewEvent
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.projector import Projector
from hangar.app.runtime_facts import ProviderRuntime
from hangar.domain import events as ev
from hangar.domain.errors import (
    HangarError,
    ProviderNotFoundError,
    ToolNotFoundError,
    ValidationError,
)
from hangar.domain.provider import calls_stream_id
from hangar.domain.provider_spec import ToolSpec

log = structlog.get_logger("hangar.invoke")

_size_encoder = msgspec.json.Encoder()


class InvokeTool(msgspec.Struct, frozen=True, kw_only=True):
    provider_id: str
    tool: str
    arguments: dict[str, Any] = {}
    timeout_s: float | None = None
    group_id: str | None = None
    call_id: str | None = None
    """Set by asynchronous invocations: the task id doubles as the call id in the events."""


class InvokeResult(msgspec.Struct, kw_only=True):
    provider_id: str
    tool: str
    result: list[dict[str, Any]]
    is_error: bool
    duration_ms: float
    structured_content: dict[str, Any] | None = None


class _Validators:
    """Compiled JSON Schema validators, one per distinct tool schema."""

    def __init__(self) -> None:
        self._cache: dict[bytes, Any] = {}
        # The same schema object is checked call after call: find its validator by identity
        # first, without encoding the schema (the encoded key is only for distinct objects).
        self._by_object: dict[int, tuple[dict[str, Any], Any]] = {}
        self._quick: dict[int, Any] = {}

    def check(self, tool: ToolSpec, arguments: dict[str, Any]) -> None:
        schema = tool.input_schema
        if not schema:
            return
        known = self._by_object.get(id(schema))
        if known is not None and known[0] is schema:
            validator = known[1]
        else:
            validator = self._compile(schema)
            if len(self._by_object) > 4096:
                self._by_object.clear()
            self._by_object[id(schema)] = (schema, validator)
        if validator is None:
            return  # the provider published an unusable schema: let the provider judge
        quick = self._quick.get(id(validator))
        if quick is not None and quick(arguments):
            return
        if validator.is_valid(arguments):
            return
        errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
        if errors:
            parts = []
            for err in errors[:5]:
                where = ".".join(str(p) for p in err.absolute_path) or "arguments"
                parts.append(f"{where}: {err.message}")
            raise ValidationError(f"Invalid arguments for tool '{tool.name}': " + "; ".join(parts))

    def _compile(self, schema: dict[str, Any]) -> Any:
        key = _size_encoder.encode(schema)
        if key not in self._cache:
            cls = jsonschema.validators.validator_for(schema)
            try:
                cls.check_schema(schema)
            except jsonschema.SchemaError:
                self._cache[key] = None
            else:
                validator = self._cache[key] = cls(schema)
                quick = _quick_check(schema)
                if quick is not None:
                    self._quick[id(validator)] = quick
        return self._cache[key]


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "array": (list,), "object": (dict,), "null": (type(None),),
}
_PLAIN_KEYS = frozenset({"type", "title", "description", "default", "examples"})
_TOP_KEYS = frozenset({"type", "properties", "required", "title", "description", "additionalProperties", "$schema"})


def _quick_check(schema: dict[str, Any]) -> Any:
    """A plain-Python check for the common tool schema (an object of typed scalar properties),
    about ten times cheaper than jsonschema. It may only ever say "valid": anything it does not
    accept is judged again by jsonschema, which also words the errors."""
    if set(schema) - _TOP_KEYS or schema.get("type") != "object":
        return None
    props = schema.get("properties", {})
    required = schema.get("required", [])
    extra = schema.get("additionalProperties", True)
    if not isinstance(props, dict) or not isinstance(required, list) or not isinstance(extra, bool):
        return None
    types: dict[str, tuple[type, ...]] = {}
    for name, prop in props.items():
        if not isinstance(prop, dict) or set(prop) - _PLAIN_KEYS or prop.get("type") not in _JSON_TYPES:
            return None
        types[name] = _JSON_TYPES[prop["type"]]

    def quick(arguments: dict[str, Any]) -> bool:
        for name in required:
            if name not in arguments:
                return False
        for name, value in arguments.items():
            allowed = types.get(name)
            if allowed is None:
                if not extra:
                    return False
            elif not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
                return False
        return True

    return quick


class ToolGate(Protocol):
    """Tool access policies (hangar.app.auth): raises ``ToolAccessDeniedError`` to refuse a call."""

    async def check(self, principal: str, provider_id: str, tool: str, group_id: str | None = None) -> None: ...


class Invoker:
    def __init__(
        self, store: EventStore, runtime: ProviderRuntime, providers: ProvidersProjection, projector: Projector
    ) -> None:
        self._store = store
        self._runtime = runtime
        self._providers = providers
        self._projector = projector
        self._validators = _Validators()
        self.gate: ToolGate | None = None
        """Set when auth is enabled; every invocation path (REST, groups, /mcp) passes through here."""

    def register_with(self, bus: CommandBus) -> None:
        bus.register(InvokeTool, self.invoke)

    def _find_tool(self, provider_id: str, tool: str) -> ToolSpec | None:
        view = self._providers.get(provider_id)
        if view is None:
            raise ProviderNotFoundError(provider_id)
        tools = view.visible_tools
        for t in tools:
            if t.name == tool:
                return t
        if view.tools_discovered or view.spec.tools is not None:
            raise ToolNotFoundError(provider_id, tool)
        return None  # never started and nothing predefined: the provider must tell us

    async def invoke(self, cmd: InvokeTool, ctx: CommandContext, meta: EventMetadata) -> InvokeResult:
        pid = cmd.provider_id
        if self.gate is not None:
            await self.gate.check(ctx.principal, pid, cmd.tool, cmd.group_id)
        spec_tool = self._find_tool(pid, cmd.tool)
        if spec_tool is not None:
            self._validators.check(spec_tool, cmd.arguments)
        ticket = await self._runtime.open_call(pid, follow(ctx, meta))
        if spec_tool is None:
            found = self._find_tool(pid, cmd.tool)
            if found is not None:
                self._validators.check(found, cmd.arguments)
        view = self._providers.get(pid)
        timeout = cmd.timeout_s or (view.spec.call_timeout_s if view else 30.0)
        call_id = cmd.call_id or new_id()
        stream = calls_stream_id(pid)
        record = _CallRecord(self._store, stream, codec.encode(ev.ToolInvocationRequested(
            provider_id=pid, tool_name=cmd.tool, call_id=call_id,
            arguments_size=len(_size_encoder.encode(cmd.arguments)),
            group_id=cmd.group_id, principal=ctx.principal,
        ), meta))
        started = time.perf_counter()
        try:
            outcome = await ticket.call(cmd.tool, cmd.arguments, timeout)
        except HangarError as exc:
            duration_ms = (time.perf_counter() - started) * 1000
            failed = ev.ToolInvocationFailed(
                provider_id=pid, tool_name=cmd.tool, call_id=call_id,
                duration_ms=round(duration_ms, 3), error=exc.message, error_type=exc.error_type,
                group_id=cmd.group_id,
            )
            await self._finish(record, failed, meta)
            await ticket.settle()
            raise
        except asyncio.CancelledError:
            # The caller gave up (an MCP client's notifications/cancelled): the provider has been
            # told; history says so. Not the provider's fault, so the breaker is left alone.
            cancelled = ev.ToolInvocationFailed(
                provider_id=pid, tool_name=cmd.tool, call_id=call_id,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                error="cancelled by the caller", error_type="Cancelled", group_id=cmd.group_id,
            )
            await asyncio.shield(self._finish(record, cancelled, meta))
            raise
        except BaseException:
            record.abandon()
            raise
        duration_ms = (time.perf_counter() - started) * 1000
        completed = ev.ToolInvocationCompleted(
            provider_id=pid, tool_name=cmd.tool, call_id=call_id, duration_ms=round(duration_ms, 3),
            result_size=len(_size_encoder.encode(outcome.content)), is_error=outcome.is_error,
            group_id=cmd.group_id,
        )
        await self._finish(record, completed, meta)
        await ticket.settle()
        return InvokeResult(
            provider_id=pid, tool=cmd.tool, result=outcome.content, is_error=outcome.is_error,
            duration_ms=round(duration_ms, 3), structured_content=outcome.structured_content,
        )

    async def _finish(self, record: _CallRecord, event: ev.Event, meta: EventMetadata) -> None:
        position = await record.finish(codec.encode(event, meta))
        await self._projector.wait_for(position)


REQUEST_RECORD_DELAY_S = 0.05
"""How long a call runs before its ``ToolInvocationRequested`` is written on its own."""


class _CallRecord:
    """The durable record of one call: its request event, then its outcome.

    Most calls answer within a millisecond or two, so the request event waits for the outcome
    and both are appended together: one batch, one fsync, on the path of the answer. A call
    still running after ``REQUEST_RECORD_DELAY_S`` has its request written on its own then, so
    long calls show in the log (and on the WebSocket) while they run. Either way the request
    event precedes the outcome in the stream, and the answer waits for both to be durable. Both
    go through ``units.append``, so the command's audit record rides on the first of them.

    What a crash shows is unchanged in kind: the request event was never awaited before the
    provider was called (its fsync overlapped the call), so a crash during a call could always
    lose it; now the window is ``REQUEST_RECORD_DELAY_S`` rather than one fsync. A call that
    was answered always has both events in the log.
    """

    __slots__ = ("_request", "_store", "_stream", "_timer", "_written")

    def __init__(self, store: EventStore, stream: str, request: NewEvent) -> None:
        self._store = store
        self._stream = stream
        self._request = request
        self._written: asyncio.Future[tuple[int, int]] | None = None
        self._timer = asyncio.get_running_loop().call_later(REQUEST_RECORD_DELAY_S, self._write_request)

    def _write_request(self) -> None:
        self._written = asyncio.ensure_future(units.append(self._store, self._stream, None, [self._request]))
        self._written.add_done_callback(_log_failed_request_record)

    def abandon(self) -> None:
        """The call ended without an outcome to record: still record that it was requested."""
        self._timer.cancel()
        if self._written is None:
            self._write_request()

    async def finish(self, outcome: NewEvent) -> int:
        """Append the outcome (with the request if it is still waiting); the position written."""
        self._timer.cancel()
        if self._written is None:
            _, position = await units.append(self._store, self._stream, None, [self._request, outcome])
            return position
        await self._written  # the request is in the stream before its outcome is appended
        _, position = await units.append(self._store, self._stream, None, [outcome])
        return position


def _log_failed_request_record(written: asyncio.Future[tuple[int, int]]) -> None:
    # An abandoned call's request record is never awaited: its failure is logged, not lost.
    if not written.cancelled() and written.exception() is not None:
        log.error("call_request_record_failed", error=str(written.exception()))
