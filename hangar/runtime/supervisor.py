"""The supervisor: the one owner of live providers.

It holds every handle (connection, single-flight start, breaker, in-flight count, restart
backoff) and runs the health and idle loops. It reports each fact by sending a command through
the bus (``hangar.app.runtime_facts``), so runtime facts are audited, measured and correlated
like any other command, and it publishes a read-only ``ProviderStatus`` per provider that
routing and queries read. Nothing else touches a handle.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import structlog

from hangar.app.bus import SYSTEM, CommandBus, CommandContext
from hangar.app.ports import CallOutcome, ProviderConnection, ProviderConnector
from hangar.app.repository import ProviderRepository, SaveResult
from hangar.app.runtime_facts import (
    BeginProviderStart,
    ProviderStatus,
    RecordBreakerState,
    RecordHealthCheck,
    RecordProviderCrashed,
    RecordProviderStarted,
    RecordProviderStartFailed,
    RecordProviderStopped,
    RecordProviderTools,
)
from hangar.app.secrets import SecretBox
from hangar.config.schema import RuntimeConfig
from hangar.domain.breaker import HALF_OPEN, OPEN, CircuitBreaker
from hangar.domain.errors import (
    CircuitOpenError,
    HangarError,
    ProviderUnavailableError,
    ValidationError,
)
from hangar.domain.provider import Provider, ProviderState
from hangar.domain.provider_spec import ProviderSpec

log = structlog.get_logger("hangar.supervisor")

TICK_S = 0.25
TASK_DEFAULT_TTL_S = 3600.0
"""How long an MCP task without a ``ttl`` keeps its provider up, if no end of it is seen."""
TASK_MAX_TTL_S = 86400.0
"""A cap on a provider's own ``ttl``: a lost end of a task keeps a process up a day at most."""


class ProviderHandle:
    """What Hangar knows about one provider's live process; never persisted."""

    def __init__(self, provider_id: str, cfg: RuntimeConfig) -> None:
        self.provider_id = provider_id
        self.connection: ProviderConnection | None = None
        self.starting: asyncio.Task[ProviderConnection] | None = None
        self.breaker = CircuitBreaker(cfg.breaker_failure_threshold, cfg.breaker_reset_timeout_s)
        self.inflight = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self.last_used = time.monotonic()
        self.last_health = time.monotonic()
        self.restart_attempt = 0
        self.restart_task: asyncio.Task[None] | None = None
        self.wanted = False
        """True while the provider should be running (started, not stopped by anyone)."""
        self.tasks: dict[str, float] = {}
        """Open MCP tasks created through Hangar: provider task id -> monotonic expiry. While one
        is open the idle shutdown leaves the process alone (stopping it would lose the task)."""

    def open_tasks(self, now: float) -> int:
        return sum(1 for expiry in self.tasks.values() if expiry > now)

    def status(self, now: float) -> ProviderStatus:
        breaker = self.breaker.state
        if breaker == OPEN and self.breaker.retry_after(now) <= 0:
            breaker = HALF_OPEN
        conn = self.connection
        return ProviderStatus(
            running=conn is not None and conn.alive, starting=self.starting is not None,
            inflight=self.inflight, breaker=breaker, restart_attempt=self.restart_attempt,
            open_tasks=self.open_tasks(now),
        )


class Ticket:
    """One admitted call: counts in flight, enforces the deadline, feeds the breaker."""

    def __init__(self, supervisor: Supervisor, h: ProviderHandle, conn: ProviderConnection,
                 ctx: CommandContext, breaker_before: str) -> None:
        self._sup = supervisor
        self._h = h
        self._conn = conn
        self._ctx = ctx
        self._before = breaker_before

    async def call(self, tool: str, arguments: dict[str, Any], timeout_s: float) -> CallOutcome:
        h = self._h
        h.inflight += 1
        h.idle.clear()
        try:
            outcome = await self._conn.call_tool(tool, arguments, timeout_s)
        except HangarError as exc:
            if not isinstance(exc, ValidationError):
                h.breaker.failure(time.monotonic())
            raise
        finally:
            h.inflight -= 1
            h.last_used = time.monotonic()
            if h.inflight == 0:
                h.idle.set()
        if outcome.is_error:
            # A tool that answers isError failed all the same: it counts towards the breaker.
            h.breaker.failure(time.monotonic())
        else:
            h.breaker.success()
        return outcome

    async def settle(self) -> None:
        await self._sup._record_breaker(self._h, self._before, self._ctx)


class Supervisor:
    def __init__(
        self,
        bus: CommandBus,
        repo: ProviderRepository,
        connector: ProviderConnector,
        cfg: RuntimeConfig,
        secrets: SecretBox | None = None,
    ) -> None:
        self._bus = bus
        self._repo = repo
        self._connector = connector
        self._cfg = cfg
        self._secrets = secrets
        self._handles: dict[str, ProviderHandle] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._closing = False
        self.resolve_refs: Callable[[ProviderSpec], ProviderSpec] | None = None
        """Swaps ``${secret:NAME}`` references for values, only for the process being started."""

    # --- the read-only view ---------------------------------------------------------------------

    def status(self, provider_id: str) -> ProviderStatus | None:
        h = self._handles.get(provider_id)
        return h.status(time.monotonic()) if h is not None else None

    def statuses(self) -> Mapping[str, ProviderStatus]:
        now = time.monotonic()
        return {pid: h.status(now) for pid, h in list(self._handles.items())}

    def _handle(self, provider_id: str) -> ProviderHandle:
        h = self._handles.get(provider_id)
        if h is None:
            h = self._handles[provider_id] = ProviderHandle(provider_id, self._cfg)
        return h

    async def _fact(self, cmd: Any, ctx: CommandContext) -> SaveResult[Provider]:
        result: SaveResult[Provider] = await self._bus.execute(cmd, ctx)
        return result

    # --- starting -------------------------------------------------------------------------------

    async def ensure_started(self, provider_id: str, ctx: CommandContext = SYSTEM) -> None:
        await self._connection(self._handle(provider_id), ctx)

    async def _connection(self, h: ProviderHandle, ctx: CommandContext) -> ProviderConnection:
        """Single flight: concurrent callers share one start; none holds a lock across its I/O."""
        conn = h.connection
        if conn is not None and conn.alive:
            return conn
        if self._closing:
            raise ProviderUnavailableError("Hangar is shutting down")
        if h.starting is None:
            h.starting = asyncio.create_task(self._start(h, ctx), name=f"hangar-start-{h.provider_id}")
        return await asyncio.shield(h.starting)

    async def _start(self, h: ProviderHandle, ctx: CommandContext) -> ProviderConnection:
        pid = h.provider_id
        try:
            agg = await self._repo.load(pid)
            # Secrets are opened here, for the process only; the log keeps ciphertext.
            spec = self._secrets.open_spec(agg.spec) if self._secrets is not None else agg.spec
            await self._fact(BeginProviderStart(provider_id=pid), ctx)
            h.wanted = True
            if self.resolve_refs is not None:
                try:
                    spec = self.resolve_refs(spec)
                except HangarError as exc:
                    # The reason names the missing secret, never a value; no retry can help.
                    h.wanted = False
                    await self._fact(RecordProviderStartFailed(provider_id=pid, error=exc.message, attempt=1), ctx)
                    raise ProviderUnavailableError(f"Provider '{pid}' failed to start: {exc.message}") from None
            started = time.perf_counter()
            conn = self._connector.connect(
                pid, spec,
                on_exit=lambda reason: self._on_exit(pid, conn, reason),
                on_tools_changed=lambda: self._spawn(self._refresh_tools(pid, conn)),
            )
            timeout = self._cfg.start_timeout_s
            try:
                identity = await asyncio.wait_for(conn.start(), timeout)
                tools = await asyncio.wait_for(conn.list_tools(), timeout)
            except BaseException as exc:
                await conn.close()
                message = exc.message if isinstance(exc, HangarError) else (str(exc) or type(exc).__name__)
                if isinstance(exc, TimeoutError):
                    message = f"start timed out after {timeout:g}s"
                await self._fact(RecordProviderStartFailed(
                    provider_id=pid, error=message, attempt=h.restart_attempt + 1), ctx)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                raise ProviderUnavailableError(f"Provider '{pid}' failed to start: {message}") from None
            duration_ms = (time.perf_counter() - started) * 1000
            await self._fact(RecordProviderStarted(
                provider_id=pid, duration_ms=duration_ms, tools=tools,
                server_name=identity.name, server_version=identity.version), ctx)
            h.connection = conn
            h.last_used = h.last_health = time.monotonic()
            h.breaker.reset()
            return conn
        finally:
            h.starting = None

    # --- calls ------------------------------------------------------------------------------------

    async def open_call(self, provider_id: str, ctx: CommandContext) -> Ticket:
        """Admit a call through the provider's breaker and start the provider if it is cold."""
        h = self._handle(provider_id)
        now = time.monotonic()
        before = h.breaker.state
        if not h.breaker.allow(now):
            raise CircuitOpenError(provider_id, h.breaker.retry_after(now))
        try:
            conn = await self._connection(h, ctx)
        except HangarError:
            h.breaker.failure(time.monotonic())
            await self._record_breaker(h, before, ctx)
            raise
        return Ticket(self, h, conn, ctx, before)

    async def wait_idle(self, provider_id: str, timeout_s: float) -> None:
        """Until the provider has no call in flight, or ``timeout_s`` has passed."""
        h = self._handles.get(provider_id)
        if h is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(h.idle.wait(), timeout_s)

    async def _record_breaker(self, h: ProviderHandle, before: str, ctx: CommandContext) -> None:
        if h.breaker.state != before:
            with contextlib.suppress(HangarError):
                await self._fact(RecordBreakerState(provider_id=h.provider_id, state=h.breaker.state), ctx)

    async def reset_breaker(self, provider_id: str, ctx: CommandContext = SYSTEM) -> None:
        h = self._handles.get(provider_id)
        if h is None:
            return
        before = h.breaker.state
        h.breaker.reset()
        await self._record_breaker(h, before, ctx)

    # --- MCP tasks the provider runs (told by the task relays) ------------------------------------

    def task_opened(self, provider_id: str, task_id: str, ttl_ms: object = None) -> None:
        """A provider answered a task-augmented call with a task: it runs on after the call."""
        h = self._handles.get(provider_id)
        if h is None or h.connection is None:
            return  # not running here: nothing this replica's idle shutdown could stop
        ttl_s = TASK_DEFAULT_TTL_S
        if isinstance(ttl_ms, (int, float)) and not isinstance(ttl_ms, bool) and ttl_ms > 0:
            ttl_s = min(ttl_ms / 1000, TASK_MAX_TTL_S)
        now = time.monotonic()
        h.tasks = {tid: exp for tid, exp in h.tasks.items() if exp > now}
        h.tasks[task_id] = now + ttl_s

    def task_closed(self, provider_id: str, task_id: str) -> None:
        """Hangar saw the task end (a terminal status, or its result fetched)."""
        h = self._handles.get(provider_id)
        if h is not None and h.tasks.pop(task_id, None) is not None:
            # The idle clock restarts when a task ends: the client gets the full idle_ttl_s to
            # fetch the result before the process (and the result with it) goes away.
            h.last_used = time.monotonic()

    # --- stopping ---------------------------------------------------------------------------------

    async def stop(self, provider_id: str, reason: str, ctx: CommandContext = SYSTEM) -> bool:
        """Stop the process (if any) and record it; returns whether anything was running."""
        h = self._handle(provider_id)
        h.wanted = False
        if h.restart_task is not None:
            h.restart_task.cancel()
            h.restart_task = None
        if h.starting is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(h.starting)
        conn, h.connection = h.connection, None
        h.tasks.clear()  # they end with the process
        if conn is not None:
            await conn.close()
        res = await self._fact(RecordProviderStopped(provider_id=provider_id, reason=reason), ctx)
        return conn is not None or bool(res.events)

    async def before_deregister(self, provider_id: str, ctx: CommandContext) -> None:
        await self.stop(provider_id, "deleted", ctx)
        self._handles.pop(provider_id, None)

    async def after_update(self, provider_id: str, ctx: CommandContext) -> None:
        """A running provider picks up its new definition by restarting."""
        h = self._handles.get(provider_id)
        if h is None or (h.connection is None and h.starting is None):
            return
        was_running = h.connection is not None
        await self.stop(provider_id, "definition_changed", ctx)
        if was_running:
            await self.ensure_started(provider_id, ctx)
        else:
            # Only starting (e.g. started in the background to learn its tools): the update does
            # not depend on that start; a failure is recorded as ProviderStartFailed.
            self._spawn(self._start_quietly(provider_id, ctx))

    async def _start_quietly(self, provider_id: str, ctx: CommandContext) -> None:
        with contextlib.suppress(HangarError):
            await self.ensure_started(provider_id, ctx)

    # --- live connections (what the MCP front door relays to) -------------------------------------

    async def connection(self, provider_id: str, ctx: CommandContext = SYSTEM, *,
                         start: bool = True) -> ProviderConnection | None:
        """The provider's live connection, for requests besides tool calls (resources, prompts,
        completions, listing what it offers). ``start=False`` only waits for a start in flight."""
        h = self._handles.get(provider_id)
        if not start:
            if h is None:
                return None
            if h.starting is not None:
                with contextlib.suppress(HangarError):
                    return await asyncio.shield(h.starting)
                return None
            conn = h.connection
            return conn if conn is not None and conn.alive else None
        h = self._handle(provider_id)
        conn = await self._connection(h, ctx)
        h.last_used = time.monotonic()
        return conn

    # --- crashes and restarts ---------------------------------------------------------------------

    def _on_exit(self, provider_id: str, conn: ProviderConnection, reason: str) -> None:
        h = self._handles.get(provider_id)
        if h is None or h.connection is not conn or self._closing:
            return  # an exit we caused, or a connection already replaced
        h.connection = None
        h.tasks.clear()
        self._spawn(self._crashed(h, reason))

    async def _crashed(self, h: ProviderHandle, reason: str) -> None:
        log.warning("provider_exited", provider_id=h.provider_id, reason=reason)
        try:
            await self._fact(RecordProviderCrashed(provider_id=h.provider_id, reason=reason), SYSTEM)
        except HangarError:
            return
        self._schedule_restart(h)

    def _schedule_restart(self, h: ProviderHandle) -> None:
        if not h.wanted or self._closing or h.restart_task is not None:
            return
        if h.restart_attempt >= self._cfg.max_restarts:
            log.error("provider_restart_gave_up", provider_id=h.provider_id, attempts=h.restart_attempt)
            return
        h.restart_task = asyncio.create_task(self._restart_later(h))

    async def _restart_later(self, h: ProviderHandle) -> None:
        attempt = h.restart_attempt
        base = min(self._cfg.restart_backoff_max_s, self._cfg.restart_backoff_initial_s * 2**attempt)
        # Jitter spreads restarts of many providers that failed together (a shared dependency).
        await asyncio.sleep(base * random.uniform(0.5, 1.0))
        h.restart_task = None
        h.restart_attempt = attempt + 1
        try:
            await self._connection(h, SYSTEM)
            h.restart_attempt = 0
        except HangarError:
            self._schedule_restart(h)

    async def _refresh_tools(self, provider_id: str, conn: ProviderConnection) -> None:
        with contextlib.suppress(HangarError, asyncio.TimeoutError):
            tools = await conn.list_tools()
            await self._fact(RecordProviderTools(provider_id=provider_id, tools=tools), SYSTEM)

    # --- health and idle loops --------------------------------------------------------------------

    async def start(self) -> None:
        await self._connector.start()
        self._loop_task = asyncio.create_task(self._supervise(), name="hangar-supervisor")

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            for h in list(self._handles.values()):
                if h.connection is None or h.starting is not None:
                    continue
                try:
                    spec = (await self._repo.load(h.provider_id)).spec
                except HangarError:
                    continue
                if (spec.idle_ttl_s and h.inflight == 0 and not h.open_tasks(now)
                        and now - h.last_used >= spec.idle_ttl_s):
                    self._spawn(self._idle_stop(h))
                elif now - h.last_health >= spec.health_check_interval_s:
                    h.last_health = now
                    self._spawn(self._check_health(h))

    async def _idle_stop(self, h: ProviderHandle) -> None:
        with contextlib.suppress(HangarError):
            await self.stop(h.provider_id, "idle")

    async def check_health(self, provider_id: str) -> bool:
        h = self._handles.get(provider_id)
        if h is None or h.connection is None:
            return False
        return await self._check_health(h)

    async def _check_health(self, h: ProviderHandle) -> bool:
        conn = h.connection
        if conn is None:
            return False
        hc = self._cfg.health
        try:
            rtt = await conn.ping(hc.timeout_s)
            ok, error, duration = True, "", rtt * 1000
        except HangarError as exc:
            ok, error, duration = False, exc.message, 0.0
        res = await self._fact(RecordHealthCheck(
            provider_id=h.provider_id, ok=ok, duration_ms=duration, error=error,
            degraded_after=hc.degraded_after, dead_after=hc.dead_after), SYSTEM)
        if res.aggregate.state == ProviderState.DEAD and h.connection is conn:
            # Declared dead by its health checks: replace the process.
            h.connection = None
            h.tasks.clear()
            await conn.close()
            self._schedule_restart(h)
        return ok

    # --- shutdown ---------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def spawn_start(self, provider_id: str, on_error: Callable[[HangarError], None]) -> None:
        """Start a provider in the background (``auto_start`` groups)."""

        async def start() -> None:
            try:
                await self.ensure_started(provider_id)
            except HangarError as exc:
                on_error(exc)

        self._spawn(start())

    async def close(self) -> None:
        """Hangar is shutting down: stop every provider, record it, leave nothing running."""
        self._closing = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        running = [pid for pid, h in self._handles.items()
                   if h.connection is not None or h.starting is not None or h.restart_task is not None]
        await asyncio.gather(*(self._shutdown_one(pid) for pid in running), return_exceptions=True)
        await self._connector.close()

    async def _shutdown_one(self, provider_id: str) -> None:
        try:
            await self.stop(provider_id, "shutdown")
        except Exception:
            log.exception("shutdown_stop_failed", provider_id=provider_id)
