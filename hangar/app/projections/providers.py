"""The providers read model: what ``/api/providers`` and ``/api/system`` answer from."""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec

from hangar.app.codec import iso
from hangar.app.ports import RecordedEvent
from hangar.domain import events as ev
from hangar.domain.provider import STREAM_PREFIX
from hangar.domain.provider_spec import ProviderSpec, ToolSpec

HEALTH_BY_STATE = {
    "ready": "healthy",
    "degraded": "degraded",
    "dead": "unhealthy",
    "cold": "unknown",
    "initializing": "unknown",
}

HEALTH_HISTORY = 20


class HealthCheck(msgspec.Struct):
    timestamp: str
    healthy: bool
    duration_ms: float | None = None
    error: str | None = None


class ProviderView(msgspec.Struct, kw_only=True):
    provider_id: str
    spec: ProviderSpec
    version: int = 0
    state: str = "cold"
    tools: list[ToolSpec] = []
    tools_discovered: bool = False
    consecutive_failures: int = 0
    last_error: str | None = None
    breaker_state: str = "closed"
    created_at: str = ""
    updated_at: str = ""
    last_started_at: str | None = None
    startup_duration_ms: float | None = None
    last_health_check_at: str | None = None
    total_checks: int = 0
    failed_checks: int = 0
    health_history: deque[HealthCheck] = msgspec.field(
        default_factory=lambda: deque(maxlen=HEALTH_HISTORY)
    )
    calls_total: int = 0
    calls_failed: int = 0

    @property
    def alive(self) -> bool:
        return self.state in ("ready", "degraded")

    @property
    def health_status(self) -> str:
        return HEALTH_BY_STATE.get(self.state, "unknown")

    @property
    def tools_predefined(self) -> bool:
        return not self.tools_discovered and self.spec.tools is not None

    @property
    def visible_tools(self) -> list[ToolSpec]:
        if self.tools_discovered:
            return self.tools
        return list(self.spec.tools or [])


class ProviderSummary(msgspec.Struct):
    """One row of ``GET /api/providers``, exactly the contract's fields."""

    provider: str
    provider_id: str
    """The same id under the key peer-era clients read."""
    state: str
    mode: str
    alive: bool
    tools_count: int
    health_status: str
    tools_predefined: bool
    description: str | None


class ProviderList(msgspec.Struct):
    providers: list[ProviderSummary]


class ProvidersProjection:
    def __init__(self) -> None:
        self.views: dict[str, ProviderView] = {}
        self.total_tool_calls = 0
        # Encoded list responses keyed by state filter; any change clears them, so the hot
        # ``GET /api/providers`` is one dict lookup between writes.
        self._list_cache: dict[str | None, bytes] = {}

    def get(self, provider_id: str) -> ProviderView | None:
        return self.views.get(provider_id)

    def summary(self, v: ProviderView) -> ProviderSummary:
        return ProviderSummary(
            provider=v.provider_id,
            provider_id=v.provider_id,
            state=v.state,
            mode=v.spec.mode,
            alive=v.alive,
            tools_count=len(v.visible_tools),
            health_status=v.health_status,
            tools_predefined=v.tools_predefined,
            description=v.spec.description,
        )

    def list_json(self, state: str | None) -> bytes:
        cached = self._list_cache.get(state)
        if cached is None:
            rows = [
                self.summary(v)
                for v in sorted(self.views.values(), key=lambda v: v.provider_id)
                if state is None or v.state == state
            ]
            cached = msgspec.json.encode(ProviderList(providers=rows))
            self._list_cache[state] = cached
        return cached

    def apply(self, rec: RecordedEvent, event: ev.Event) -> None:
        pid: str | None = getattr(event, "provider_id", None)
        if pid is None:
            return
        if isinstance(event, ev.ProviderRegistered):
            when = iso(rec.recorded_at)
            self.views[pid] = ProviderView(
                provider_id=pid, spec=event.spec, created_at=when, updated_at=when
            )
            self._touched(rec, pid)
            return
        v = self.views.get(pid)
        if v is None:
            return
        when = iso(rec.recorded_at)
        match event:
            case ev.ProviderUpdated(spec=spec):
                v.spec = spec
                v.updated_at = when
            case ev.ProviderDeregistered():
                del self.views[pid]
            case ev.ProviderStateChanged(new_state=new):
                v.state = new
                if new in ("initializing", "cold"):
                    v.consecutive_failures = 0
            case ev.ProviderStarted():
                v.tools = list(event.tools)
                v.tools_discovered = True
                v.last_started_at = when
                v.startup_duration_ms = event.startup_duration_ms
                v.last_error = None
            case ev.ProviderToolsChanged(tools=tools):
                v.tools = list(tools)
                v.tools_discovered = True
            case ev.ProviderStartFailed(error=error):
                v.last_error = error
            case ev.HealthCheckPassed(duration_ms=d):
                v.consecutive_failures = 0
                v.total_checks += 1
                v.last_health_check_at = when
                v.health_history.append(HealthCheck(timestamp=when, healthy=True, duration_ms=d))
            case ev.HealthCheckFailed(error=error, consecutive_failures=n):
                v.consecutive_failures = n
                v.total_checks += 1
                v.failed_checks += 1
                v.last_error = error
                v.last_health_check_at = when
                v.health_history.append(HealthCheck(timestamp=when, healthy=False, error=error))
            case ev.CircuitBreakerStateChanged(new_state=new):
                v.breaker_state = new
            case ev.ToolInvocationRequested():
                v.calls_total += 1
                self.total_tool_calls += 1
                return  # list rows do not show call counts: keep the list cache
            case ev.ToolInvocationFailed():
                v.calls_failed += 1
                return
            case ev.ToolInvocationCompleted():
                return
            case _:
                return
        self._touched(rec, pid)

    def _touched(self, rec: RecordedEvent, pid: str) -> None:
        v = self.views.get(pid)
        if v is not None and rec.stream_id.startswith(STREAM_PREFIX):
            v.version = rec.stream_version
        self._list_cache.clear()

    def by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for v in self.views.values():
            counts[v.state] = counts.get(v.state, 0) + 1
        return counts

    def dump(self) -> Any:
        return {
            "views": {k: msgspec.to_builtins(v, enc_hook=list) for k, v in sorted(self.views.items())},
            "total_tool_calls": self.total_tool_calls,
        }
