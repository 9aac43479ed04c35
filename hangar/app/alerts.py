"""Alerts: rules evaluated on committed events, raised and resolved as events.

The rules listen to the projector like any read model. They never write from the projector's
task: each decision becomes a ``RaiseAlert``/``ResolveAlert`` command queued to one worker, so
decisions are applied in event order, and the ``AlertBook`` aggregate ignores duplicates.
History is only observed, not re-judged: while the log is replayed at start the rules stay
silent, and ``reconcile`` then resolves what the replayed state no longer supports.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import msgspec
import structlog

from hangar.app.bus import SYSTEM, CommandBus, CommandContext
from hangar.app.codec import EventMetadata, new_id
from hangar.app.ports import RecordedEvent
from hangar.app.projections.alerts import AlertsProjection
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.repository import Repository, RepositoryFactory
from hangar.app.settings import LiveConfig
from hangar.domain import events as ev
from hangar.domain import group_events as ge
from hangar.domain.alerts import ALERTS_ID, AlertBook, AlertLevel
from hangar.domain.auth_events import ClientLockedOut
from hangar.domain.ops_events import ConfigurationReloaded, ConfigurationReloadFailed

log = structlog.get_logger("hangar.alerts")

LEVELS = tuple(level.value for level in AlertLevel)


class RaiseAlert(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    level: AlertLevel
    target: str
    message: str
    provider_id: str | None = None
    group_id: str | None = None


class ResolveAlert(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    target: str
    message: str


alert_repository = RepositoryFactory("Alerts", "system:", AlertBook, AlertBook.from_snapshot)


class AlertRules:
    """Decides from events which alert conditions hold; feeds the commands to one worker."""

    def __init__(
        self, bus: CommandBus, repo: Repository[AlertBook], providers: ProvidersProjection,
        live: LiveConfig, projection: AlertsProjection,
    ) -> None:
        self._bus = bus
        self._providers = providers
        self._live = live
        self.projection = projection
        self.repo = repo
        self.live = False
        self.start_failures: dict[str, int] = {}
        self.wanted: set[str] = set()
        """Keys the rules consider active (ahead of the log while commands are queued)."""
        self._queue: asyncio.Queue[RaiseAlert | ResolveAlert] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self.context: Callable[[], CommandContext] = lambda: SYSTEM
        """The context alert commands are sent in (in a cluster: the leader's, fenced)."""

    def register_with(self, bus: CommandBus) -> None:
        bus.register(RaiseAlert, self._raise)
        bus.register(ResolveAlert, self._resolve)

    async def _raise(self, cmd: RaiseAlert, ctx: CommandContext, meta: EventMetadata) -> None:
        await self.repo.execute(ALERTS_ID, lambda b: b.raise_alert(
            alert_id=new_id(), rule=cmd.rule, level=cmd.level, target=cmd.target, message=cmd.message,
            provider_id=cmd.provider_id, group_id=cmd.group_id,
        ), meta)

    async def _resolve(self, cmd: ResolveAlert, ctx: CommandContext, meta: EventMetadata) -> None:
        await self.repo.execute(ALERTS_ID, lambda b: b.resolve(cmd.rule, cmd.target, cmd.message), meta)

    # --- deciding -------------------------------------------------------------------------------

    def raise_(self, rule: str, level: AlertLevel, target: str, message: str, *,
               provider_id: str | None = None, group_id: str | None = None) -> None:
        key = f"{rule}:{target}"
        if key in self.wanted:
            return
        self.wanted.add(key)
        self._queue.put_nowait(RaiseAlert(rule=rule, level=level, target=target, message=message,
                                          provider_id=provider_id, group_id=group_id))

    def resolve(self, rule: str, target: str, message: str) -> None:
        key = f"{rule}:{target}"
        if key not in self.wanted:
            return
        self.wanted.discard(key)
        self._queue.put_nowait(ResolveAlert(rule=rule, target=target, message=message))

    def resolve_target(self, target: str, message: str) -> None:
        for key in [k for k in self.wanted if k.split(":", 1)[1] == target]:
            self.resolve(key.split(":", 1)[0], target, message)

    def resolve_later(self, delay_s: float, rule: str, target: str, message: str) -> None:
        """Conditions that end by time alone (a lockout expires); a newer call replaces the timer."""
        key = f"{rule}:{target}"
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            self.resolve(rule, target, message)

        self._timers[key] = asyncio.get_running_loop().call_later(delay_s, fire)

    def __call__(self, rec: RecordedEvent, event: Any) -> None:
        match event:
            case ev.ProviderStartFailed():
                self.start_failures[event.provider_id] = self.start_failures.get(event.provider_id, 0) + 1
            case ev.ProviderStarted() | ev.ProviderDeregistered():
                self.start_failures.pop(event.provider_id, None)
        if not self.live:
            return
        match event:
            case ev.ProviderStateChanged():
                self._provider_state(event)
            case ev.CircuitBreakerStateChanged():
                pid = event.provider_id
                if event.new_state == "open":
                    self.raise_("breaker_open", AlertLevel.WARNING, pid,
                                f"Circuit breaker of provider '{pid}' is open", provider_id=pid)
                elif event.new_state == "closed":
                    self.resolve("breaker_open", pid, "breaker closed")
            case ev.ProviderStartFailed():
                pid, n = event.provider_id, self.start_failures.get(event.provider_id, 0)
                if n >= self._live.current.observability.alerts.start_failures_threshold:
                    self.raise_("repeated_start_failures", AlertLevel.CRITICAL, pid,
                                f"Provider '{pid}' failed to start {n} times in a row: {event.error}",
                                provider_id=pid)
            case ev.ProviderStarted():
                self.resolve("repeated_start_failures", event.provider_id, "provider started")
            case ev.ProviderDeregistered():
                self.resolve_target(event.provider_id, "provider deleted")
            case ConfigurationReloadFailed():
                self.raise_("config_reload_failed", AlertLevel.INFO, "config",
                            f"Configuration reload rejected: {event.error}")
            case ConfigurationReloaded():
                self.resolve("config_reload_failed", "config", "configuration applied")
            case ge.GroupStateChanged():
                self._group_state(event)
            case ge.GroupCircuitOpened():
                gid = event.group_id
                self.raise_("group_breaker_open", AlertLevel.WARNING, gid,
                            f"Circuit breaker of group '{gid}' is open after {event.failures} failures",
                            group_id=gid)
            case ge.GroupCircuitClosed():
                self.resolve("group_breaker_open", event.group_id, "breaker closed")
            case ge.GroupDeleted():
                self.resolve_target(event.group_id, "group deleted")
            case ClientLockedOut():
                self.raise_("auth_lockout", AlertLevel.WARNING, event.client,
                            f"Client {event.client} locked out for {event.lockout_s:g}s after "
                            f"{event.failures} failed authentications")
                self.resolve_later(event.lockout_s, "auth_lockout", event.client, "lockout expired")

    def _group_state(self, e: ge.GroupStateChanged) -> None:
        gid = e.group_id
        # ``partial``/``inactive`` mean fewer healthy members than min_healthy; an empty group
        # is inactive by definition and not an incident.
        if e.new_state in ("partial", "inactive") and e.total_members > 0:
            self.raise_("group_below_min_healthy", AlertLevel.CRITICAL, gid,
                        f"Group '{gid}' has {e.healthy_count} healthy of {e.total_members} members, "
                        "below min_healthy", group_id=gid)
        else:
            self.resolve("group_below_min_healthy", gid, f"group is {e.new_state}")

    def _provider_state(self, e: ev.ProviderStateChanged) -> None:
        pid, new = e.provider_id, e.new_state
        if new == "dead":
            self.raise_("provider_dead", AlertLevel.CRITICAL, pid,
                        f"Provider '{pid}' is dead: {e.reason}", provider_id=pid)
        else:
            self.resolve("provider_dead", pid, f"provider is {new}")
        if new == "degraded":
            self.raise_("provider_degraded", AlertLevel.WARNING, pid,
                        f"Provider '{pid}' is degraded: {e.reason}", provider_id=pid)
        else:
            self.resolve("provider_degraded", pid, f"provider is {new}")

    # --- running --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Called once the log has been replayed: from now on, events are judged."""
        self.wanted = set(self.projection.active)
        self.live = True
        self._worker = asyncio.create_task(self._work(), name="hangar-alerts")
        self.reconcile()

    def reconcile(self) -> None:
        """Resolve active alerts whose condition the current state no longer shows (it ended
        while Hangar was down, or its resolving event was never judged)."""
        for key, a in list(self.projection.active.items()):
            rule = key.split(":", 1)[0]
            if rule == "auth_lockout":
                # Lockouts are held in memory: a restart ended them.
                self.resolve(rule, a.target, "hangar restarted")
                continue
            if a.provider_id is None:
                continue
            view = self._providers.get(a.provider_id)
            if view is None:
                self.resolve(rule, a.target, "provider no longer exists")
            elif rule == "provider_dead" and view.state != "dead":
                self.resolve(rule, a.target, f"provider is {view.state}")
            elif rule == "provider_degraded" and view.state != "degraded":
                self.resolve(rule, a.target, f"provider is {view.state}")
            elif rule == "breaker_open" and view.breaker_state == "closed":
                self.resolve(rule, a.target, "breaker closed")

    async def _work(self) -> None:
        while True:
            cmd = await self._queue.get()
            try:
                await self._bus.execute(cmd, self.context())
            except Exception:
                log.exception("alert_command_failed", command=type(cmd).__name__)
            finally:
                self._queue.task_done()

    async def idle(self) -> None:
        """Wait until every queued decision is recorded (tests, shutdown)."""
        await self._queue.join()

    async def close(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        if self._worker is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._queue.join(), 2.0)
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
