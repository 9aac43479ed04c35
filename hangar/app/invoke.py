"""Calling a tool on a provider: validated, guarded by its breaker, recorded as events."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

import jsonschema
import msgspec
import structlog

from hangar.app import codec
from hangar.app.bus import CommandBus, CommandContext
from hangar.app.codec import EventMetadata, new_id
from hangar.app.lifecycle import Lifecycle
from hangar.app.ports import EventStore
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.projector import Projector
from hangar.domain import events as ev
from hangar.domain.errors import (
    CircuitOpenError,
    HangarError,
    ProviderError,
    ProviderNotFoundError,
    ProviderTimeoutError,
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

    def check(self, tool: ToolSpec, arguments: dict[str, Any]) -> None:
        schema = tool.input_schema
        if not schema:
            return
        key = _size_encoder.encode(schema)
        validator = self._cache.get(key)
        if validator is None:
            cls = jsonschema.validators.validator_for(schema)
            try:
                cls.check_schema(schema)
            except jsonschema.SchemaError:
                return  # the provider published an unusable schema: let the provider judge
            validator = self._cache[key] = cls(schema)
        errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
        if errors:
            parts = []
            for err in errors[:5]:
                where = ".".join(str(p) for p in err.absolute_path) or "arguments"
                parts.append(f"{where}: {err.message}")
            raise ValidationError(f"Invalid arguments for tool '{tool.name}': " + "; ".join(parts))


class ToolGate(Protocol):
    """Tool access policies (hangar.app.auth): raises ``ToolAccessDeniedError`` to refuse a call."""

    async def check(self, principal: str, provider_id: str, tool: str, group_id: str | None = None) -> None: ...


class Invoker:
    def __init__(
        self, store: EventStore, lifecycle: Lifecycle, providers: ProvidersProjection, projector: Projector
    ) -> None:
        self._store = store
        self._lifecycle = lifecycle
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
        h = self._lifecycle.handle(pid)
        now = time.monotonic()
        breaker_before = h.breaker.state
        if not h.breaker.allow(now):
            raise CircuitOpenError(pid, h.breaker.retry_after(now))
        try:
            conn = await self._lifecycle.ensure_started(pid, ctx)
        except HangarError:
            h.breaker.failure(time.monotonic())
            await self._lifecycle.record_breaker(h, breaker_before)
            raise
        if spec_tool is None:
            found = self._find_tool(pid, cmd.tool)
            if found is not None:
                self._validators.check(found, cmd.arguments)
        view = self._providers.get(pid)
        timeout = cmd.timeout_s or (view.spec.call_timeout_s if view else 30.0)
        call_id = cmd.call_id or new_id()
        stream = calls_stream_id(pid)
        # The request is queued for the group-commit writer without waiting: its fsync overlaps
        # the call itself. Both events are awaited before answering, so a 2xx means durable.
        requested = asyncio.ensure_future(self._store.append(stream, None, [codec.encode(
            ev.ToolInvocationRequested(
                provider_id=pid, tool_name=cmd.tool, call_id=call_id,
                arguments_size=len(_size_encoder.encode(cmd.arguments)),
                group_id=cmd.group_id, principal=ctx.principal,
            ), meta)]))
        started = time.perf_counter()
        h.inflight += 1
        try:
            outcome = await conn.call_tool(cmd.tool, cmd.arguments, timeout)
        except (ProviderError, ProviderTimeoutError, HangarError) as exc:
            duration_ms = (time.perf_counter() - started) * 1000
            if not isinstance(exc, ValidationError):
                h.breaker.failure(time.monotonic())
            failed = ev.ToolInvocationFailed(
                provider_id=pid, tool_name=cmd.tool, call_id=call_id,
                duration_ms=round(duration_ms, 3), error=exc.message, error_type=exc.error_type,
                group_id=cmd.group_id,
            )
            await self._finish(requested, stream, failed, meta)
            await self._lifecycle.record_breaker(h, breaker_before)
            raise
        except asyncio.CancelledError:
            # The caller gave up (an MCP client's notifications/cancelled): the provider has been
            # told; history says so. Not the provider's fault, so the breaker is left alone.
            cancelled = ev.ToolInvocationFailed(
                provider_id=pid, tool_name=cmd.tool, call_id=call_id,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                error="cancelled by the caller", error_type="Cancelled", group_id=cmd.group_id,
            )
            await asyncio.shield(self._finish(requested, stream, cancelled, meta))
            raise
        finally:
            h.inflight -= 1
            h.last_used = time.monotonic()
        duration_ms = (time.perf_counter() - started) * 1000
        if outcome.is_error:
            # A tool that answers isError failed all the same: it counts towards the breaker.
            h.breaker.failure(time.monotonic())
        else:
            h.breaker.success()
        completed = ev.ToolInvocationCompleted(
            provider_id=pid, tool_name=cmd.tool, call_id=call_id, duration_ms=round(duration_ms, 3),
            result_size=len(_size_encoder.encode(outcome.content)), is_error=outcome.is_error,
            group_id=cmd.group_id,
        )
        await self._finish(requested, stream, completed, meta)
        if h.breaker.state != breaker_before:
            await self._lifecycle.record_breaker(h, breaker_before)
        return InvokeResult(
            provider_id=pid, tool=cmd.tool, result=outcome.content, is_error=outcome.is_error,
            duration_ms=round(duration_ms, 3), structured_content=outcome.structured_content,
        )

    async def _finish(
        self, requested: asyncio.Future[tuple[int, int]], stream: str, event: ev.Event, meta: EventMetadata
    ) -> None:
        _, position = await self._store.append(stream, None, [codec.encode(event, meta)])
        await requested
        await self._projector.wait_for(position)
