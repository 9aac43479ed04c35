"""Provider lifecycle: start, stop, crash, restart, health and idle, reported as events.

Live connections are runtime state held here; every fact about them (started, stopped, crashed,
health) is recorded through the aggregate, so the log, the read models and the dashboards agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec
import structlog

from hangar.app.bus import SYSTEM, CommandBus, CommandContext
from hangar.app.codec import EventMetadata
from hangar.app.ports import ProviderConnection, ProviderConnector
from hangar.app.repository import ProviderRepository
from hangar.app.secrets import SecretBox
from hangar.config.schema import RuntimeConfig
from hangar.domain.breaker import CircuitBreaker
from hangar.domain.errors import HangarError, ProviderUnavailableError
from hangar.domain.provider import ProviderState

log = structlog.get_logger("hangar.lifecycle")

TICK_S = 0.25


class ProviderHandle:
    """What Hangar knows about one provider's live process; never persisted."""

    def __init__(self, provider_id: str, cfg: RuntimeConfig) -> None:
        self.provider_id = provider_id
        self.connection: ProviderConnection | None = None
        self.starting: asyncio.Task[ProviderConnection] | None = None
        self.breaker = CircuitBreaker(cfg.breaker_failure_threshold, cfg.breaker_reset_timeout_s)
        self.inflight = 0
        self.last_used = time.monotonic()
        self.last_health = time.monotonic()
        self.restart_attempt = 0
        self.restart_task: asyncio.Task[None] | None = None
        self.wanted = False
        """True while the provider should be running (started, not stopped by anyone)."""


class Lifecycle:
    def __init__(
        self,
        repo: ProviderRepository,
        connector: ProviderConnector,
        cfg: RuntimeConfig,
        metadata: Callable[[CommandContext], EventMetadata],
        secrets: SecretBox | None = None,
    ) -> None:
        self.secrets = secrets
        self.repo = repo
        self.connector = connector
        self.cfg = cfg
        self._meta = metadata
        self.handles: dict[str, ProviderHandle] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._closing = False
        self.resolve_refs: Callable[[Any], Any] | None = None
        """Swaps ``${secret:NAME}`` references for values, only for the process being started."""

    def handle(self, provider_id: str) -> ProviderHandle:
        h = self.handles.get(provider_id)
        if h is None:
            h = self.handles[provider_id] = ProviderHandle(provider_id, self.cfg)
        return h

    # --- starting ---------------------------------------------------------------------------

    async def ensure_started(self, provider_id: str, ctx: CommandContext = SYSTEM) -> ProviderConnection:
        """Single flight: concurrent callers share one start; none holds a lock across its I/O."""
        h = self.handle(provider_id)
        conn = h.connection
        if conn is not None and conn.alive:
            return conn
        if self._closing:
            raise ProviderUnavailableError("Hangar is shutting down")
        if h.starting is None:
            h.starting = asyncio.create_task(self._start(h, ctx), name=f"hangar-start-{provider_id}")
        return await asyncio.shield(h.starting)

    async def _start(self, h: ProviderHandle, ctx: CommandContext) -> ProviderConnection:
        pid = h.provider_id
        meta = self._meta(ctx)
        try:
            agg = await self.repo.load(pid)
            # Secrets are opened here, for the process only; the log keeps ciphertext.
            spec = self.secrets.open_spec(agg.spec) if self.secrets is not None else agg.spec
            await self.repo.execute(pid, lambda p: p.begin_start(), meta)
            h.wanted = True
            if self.resolve_refs is not None:
                try:
                    spec = self.resolve_refs(spec)
                except HangarError as exc:
                    # The reason names the missing secret, never a value; no retry can help.
                    h.wanted = False
                    reason = exc.message
                    await self.repo.execute(pid, lambda p: p.record_start_failed(reason, 1), meta)
                    raise ProviderUnavailableError(f"Provider '{pid}' failed to start: {reason}") from None
            started = time.perf_counter()
            conn = self.connector.connect(
                pid, spec,
                on_exit=lambda reason: self._on_exit(pid, conn, reason),
                on_tools_changed=lambda: self._spawn(self._refresh_tools(pid, conn)),
            )
            try:
                identity = await asyncio.wait_for(conn.start(), self.cfg.start_timeout_s)
                tools = await asyncio.wait_for(conn.list_tools(), self.cfg.start_timeout_s)
            except BaseException as exc:
                await conn.close()
                message = exc.message if isinstance(exc, HangarError) else (str(exc) or type(exc).__name__)
                if isinstance(exc, TimeoutError):
                    message = f"start timed out after {self.cfg.start_timeout_s:g}s"
                await self.repo.execute(
                    pid, lambda p: p.record_start_failed(message, h.restart_attempt + 1), meta
                )
                if isinstance(exc, asyncio.CancelledError):
                    raise
                raise ProviderUnavailableError(f"Provider '{pid}' failed to start: {message}") from None
            duration_ms = (time.perf_counter() - started) * 1000
            await self.repo.execute(
                pid, lambda p: p.record_started(duration_ms, tools, identity.name, identity.version), meta
            )
            h.connection = conn
            h.last_used = h.last_health = time.monotonic()
            h.breaker.reset()
            return conn
        finally:
            h.starting = None

    # --- stopping ---------------------------------------------------------------------------

    async def stop(self, provider_id: str, reason: str, ctx: CommandContext = SYSTEM) -> bool:
        """Stop the process (if any) and record it; returns whether anything was running."""
        h = self.handle(provider_id)
        h.wanted = False
        if h.restart_task is not None:
            h.restart_task.cancel()
            h.restart_task = None
        if h.starting is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(h.starting)
        conn, h.connection = h.connection, None
        if conn is not None:
            await conn.close()
        res = await self.repo.execute(provider_id, lambda p: p.record_stopped(reason), self._meta(ctx))
        return conn is not None or bool(res.events)

    async def before_deregister(self, provider_id: str, ctx: CommandContext) -> None:
        await self.stop(provider_id, "deleted", ctx)
        self.handles.pop(provider_id, None)

    async def after_update(self, provider_id: str, ctx: CommandContext) -> None:
        """A running provider picks up its new definition by restarting."""
        h = self.handles.get(provider_id)
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

    # --- crashes and restarts -----------------------------------------------------------------

    def _on_exit(self, provider_id: str, conn: ProviderConnection, reason: str) -> None:
        h = self.handles.get(provider_id)
        if h is None or h.connection is not conn or self._closing:
            return  # an exit we caused, or a connection already replaced
        h.connection = None
        self._spawn(self._crashed(h, reason))

    async def _crashed(self, h: ProviderHandle, reason: str) -> None:
        log.warning("provider_exited", provider_id=h.provider_id, reason=reason)
        try:
            await self.repo.execute(h.provider_id, lambda p: p.record_crashed(reason), self._meta(SYSTEM))
        except HangarError:
            return
        self._schedule_restart(h)

    def _schedule_restart(self, h: ProviderHandle) -> None:
        if not h.wanted or self._closing or h.restart_task is not None:
            return
        if h.restart_attempt >= self.cfg.max_restarts:
            log.error("provider_restart_gave_up", provider_id=h.provider_id, attempts=h.restart_attempt)
            return
        h.restart_task = asyncio.create_task(self._restart_later(h))

    async def _restart_later(self, h: ProviderHandle) -> None:
        attempt = h.restart_attempt
        base = min(self.cfg.restart_backoff_max_s, self.cfg.restart_backoff_initial_s * 2**attempt)
        # Jitter spreads restarts of many providers that failed together (a shared dependency).
        await asyncio.sleep(base * random.uniform(0.5, 1.0))
        h.restart_task = None
        h.restart_attempt = attempt + 1
        try:
            await self.ensure_started(h.provider_id)
            h.restart_attempt = 0
        except HangarError:
            self._schedule_restart(h)

    # --- invocation bookkeeping -------------------------------------------------------------------

    async def record_breaker(self, h: ProviderHandle, before: str) -> None:
        if h.breaker.state != before:
            with contextlib.suppress(HangarError):
                await self.repo.execute(
                    h.provider_id, lambda p: p.record_breaker(h.breaker.state), self._meta(SYSTEM)
                )

    async def _refresh_tools(self, provider_id: str, conn: ProviderConnection) -> None:
        with contextlib.suppress(HangarError, asyncio.TimeoutError):
            tools = await conn.list_tools()
            await self.repo.execute(provider_id, lambda p: p.record_tools(tools), self._meta(SYSTEM))

    # --- supervision: health checks and idle shutdown -----------------------------------------------

    async def start(self) -> None:
        await self.connector.start()
        self._supervisor = asyncio.create_task(self._supervise(), name="hangar-supervisor")

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            for h in list(self.handles.values()):
                if h.connection is None or h.starting is not None:
                    continue
                try:
                    spec = (await self.repo.load(h.provider_id)).spec
                except HangarError:
                    continue
                if spec.idle_ttl_s and h.inflight == 0 and now - h.last_used >= spec.idle_ttl_s:
                    self._spawn(self._idle_stop(h))
                elif now - h.last_health >= spec.health_check_interval_s:
                    h.last_health = now
                    self._spawn(self._check_health(h))

    async def _idle_stop(self, h: ProviderHandle) -> None:
        with contextlib.suppress(HangarError):
            await self.stop(h.provider_id, "idle")

    async def check_health(self, provider_id: str) -> bool:
        h = self.handles.get(provider_id)
        if h is None or h.connection is None:
            return False
        return await self._check_health(h)

    async def _check_health(self, h: ProviderHandle) -> bool:
        conn = h.connection
        if conn is None:
            return False
        hc = self.cfg.health
        try:
            rtt = await conn.ping(hc.timeout_s)
            ok, error, duration = True, "", rtt * 1000
        except HangarError as exc:
            ok, error, duration = False, exc.message, 0.0
        res = await self.repo.execute(
            h.provider_id,
            lambda p: p.record_health(ok, duration_ms=duration, error=error,
                                      degraded_after=hc.degraded_after, dead_after=hc.dead_after),
            self._meta(SYSTEM),
        )
        if res.aggregate.state == ProviderState.DEAD and h.connection is conn:
            # Declared dead by its health checks: replace the process.
            h.connection = None
            await conn.close()
            self._schedule_restart(h)
        return ok

    # --- shutdown -----------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        """Hangar is shutting down: stop every provider, record it, leave nothing running."""
        self._closing = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        running = [pid for pid, h in self.handles.items()
                   if h.connection is not None or h.starting is not None or h.restart_task is not None]
        await asyncio.gather(*(self._shutdown_one(pid) for pid in running), return_exceptions=True)
        await self.connector.close()

    async def _shutdown_one(self, provider_id: str) -> None:
        try:
            await self.stop(provider_id, "shutdown")
        except Exception:
            log.exception("shutdown_stop_failed", provider_id=provider_id)


# --- commands ---------------------------------------------------------------------------------


class StartProvider(msgspec.Struct, frozen=True):
    provider_id: str


class StopProvider(msgspec.Struct, frozen=True):
    provider_id: str
    reason: str = "user_request"


def register_lifecycle_commands(bus: CommandBus, lifecycle: Lifecycle) -> None:
    async def start(cmd: StartProvider, ctx: CommandContext, meta: EventMetadata) -> None:
        (await lifecycle.repo.load(cmd.provider_id)).require()
        await lifecycle.ensure_started(cmd.provider_id, ctx)

    async def stop(cmd: StopProvider, ctx: CommandContext, meta: EventMetadata) -> None:
        (await lifecycle.repo.load(cmd.provider_id)).require()
        await lifecycle.stop(cmd.provider_id, cmd.reason, ctx)

    bus.register(StartProvider, start)
    bus.register(StopProvider, stop)
