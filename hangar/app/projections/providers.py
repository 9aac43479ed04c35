"""The providers read model: what ``/api/providers`` and ``/api/system`` answer from."""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec

from hangar.app.codec import iso
from hangar.app.ports import RecordedEvent, Snapshot
from hangar.domain import events as ev
from hangar.domain.provider import STREAM_PREFIX, ProviderSnapshot
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


class _Check(msgspec.Struct, array_like=True):
    at: float
    healthy: bool
    duration_ms: float | None = None
    error: str | None = None


def _ts(at: float | None) -> str | None:
    return iso(at) if at is not None else None


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
    # Times are kept as Unix floats and formatted only when a response needs them: replaying
    # a long log must not pay for a datetime per event.
    created: float = 0.0
    updated: float = 0.0
    last_started: float | None = None
    startup_duration_ms: float | None = None
    last_check: float | None = None
    total_checks: int = 0
    failed_checks: int = 0
    checks: deque[_Check] = msgspec.field(default_factory=lambda: deque(maxlen=HEALTH_HISTORY))
    calls_total: int = 0
    calls_failed: int = 0

    @property
    def created_at(self) -> str:
        return iso(self.created)

    @property
    def updated_at(self) -> str:
        return iso(self.updated)

    @property
    def last_started_at(self) -> str | None:
        return _ts(self.last_started)

    @property
    def last_health_check_at(self) -> str | None:
        return _ts(self.last_check)

    @property
    def health_history(self) -> list[HealthCheck]:
        return [HealthCheck(iso(c.at), c.healthy, c.duration_ms, c.error) for c in self.checks]

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


def _tool_count(v: ProviderView) -> int:
    return len(v.tools) if v.tools_discovered else len(v.spec.tools or ())


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
        # ``/api/system`` totals, kept up to date row by row instead of summed per request.
        self.total_tools = 0
        self._by_state: dict[str, int] = {}
        # Encoded list responses keyed by state filter; any change clears them, so the hot
        # ``GET /api/providers`` is one dict lookup between writes.
        self._list_cache: dict[str | None, bytes] = {}
        self.detail_cache: dict[str, Any] = {}
        """What the API encoded for one provider's detail answer, dropped whenever anything of
        that provider changes (call counters included): O(1) per event."""
        self.generation = 0
        """Bumped whenever a list row, a count by state or the tool total changes: with
        ``total_tool_calls`` it tells when an encoded ``/api/system`` answer is stale."""

    def __getstate__(self) -> dict[str, Any]:
        # Checkpoints (hangar/app/log/timetravel.py) pickle the read model: not its caches.
        state = self.__dict__.copy()
        state["_list_cache"] = {}
        state["detail_cache"] = {}
        return state

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
        handler = self._handlers.get(type(event))
        if handler is None:
            return
        pid: str = event.provider_id  # type: ignore[attr-defined]
        if handler is ProvidersProjection._registered:
            self._registered(rec, event)
            return
        v = self.views.get(pid)
        if v is None:
            return
        state, tools = v.state, _tool_count(v)
        if self.detail_cache:
            self.detail_cache.pop(pid, None)
        # Handlers return False when the change cannot affect a list row (call counters),
        # which keeps the encoded list cached under traffic.
        if handler(self, v, rec, event) is not False:
            if rec.stream_id.startswith(STREAM_PREFIX):
                v.version = rec.stream_version
            if self._list_cache:
                self._list_cache.clear()
            self.generation += 1
            self._count(state, tools, -1)
            if pid in self.views:
                self._count(v.state, _tool_count(v), 1)

    def _count(self, state: str, tools: int, sign: int) -> None:
        self._by_state[state] = self._by_state.get(state, 0) + sign
        self.total_tools += sign * tools

    def _put(self, v: ProviderView) -> None:
        old = self.views.get(v.provider_id)
        if old is not None:
            self._count(old.state, _tool_count(old), -1)
        self.views[v.provider_id] = v
        self._count(v.state, _tool_count(v), 1)
        self._list_cache.clear()
        self.detail_cache.pop(v.provider_id, None)
        self.generation += 1

    def _registered(self, rec: RecordedEvent, e: ev.Event) -> None:
        assert isinstance(e, ev.ProviderRegistered)
        at = rec.recorded_at
        self._put(ProviderView(
            provider_id=e.provider_id, spec=e.spec, created=at, updated=at, version=rec.stream_version
        ))

    def _updated(self, v: ProviderView, rec: RecordedEvent, e: ev.ProviderUpdated) -> None:
        v.spec = e.spec
        v.updated = rec.recorded_at

    def _deregistered(self, v: ProviderView, rec: RecordedEvent, e: ev.ProviderDeregistered) -> None:
        del self.views[v.provider_id]

    def _state(self, v: ProviderView, rec: RecordedEvent, e: ev.ProviderStateChanged) -> None:
        v.state = e.new_state
        if e.new_state in ("initializing", "cold"):
            v.consecutive_failures = 0

    def _started(self, v: ProviderView, rec: RecordedEvent, e: ev.ProviderStarted) -> None:
        v.tools = list(e.tools)
        v.tools_discovered = True
        v.last_started = rec.recorded_at
        v.startup_duration_ms = e.startup_duration_ms
        v.last_error = None

    def _tools(self, v: ProviderView, rec: RecordedEvent, e: ev.ProviderToolsChanged) -> None:
        v.tools = list(e.tools)
        v.tools_discovered = True

    def _start_failed(self, v: ProviderView, rec: RecordedEvent, e: ev.ProviderStartFailed) -> None:
        v.last_error = e.error

    def _passed(self, v: ProviderView, rec: RecordedEvent, e: ev.HealthCheckPassed) -> bool:
        v.consecutive_failures = 0
        v.total_checks += 1
        v.last_check = rec.recorded_at
        v.checks.append(_Check(rec.recorded_at, True, e.duration_ms))
        return False

    def _failed(self, v: ProviderView, rec: RecordedEvent, e: ev.HealthCheckFailed) -> bool:
        v.consecutive_failures = e.consecutive_failures
        v.total_checks += 1
        v.failed_checks += 1
        v.last_error = e.error
        v.last_check = rec.recorded_at
        v.checks.append(_Check(rec.recorded_at, False, None, e.error))
        return False

    def _breaker(self, v: ProviderView, rec: RecordedEvent, e: ev.CircuitBreakerStateChanged) -> None:
        v.breaker_state = e.new_state

    def _call_requested(self, v: ProviderView, rec: RecordedEvent, e: ev.Event) -> bool:
        v.calls_total += 1
        self.total_tool_calls += 1
        return False

    def _call_failed(self, v: ProviderView, rec: RecordedEvent, e: ev.Event) -> bool:
        v.calls_failed += 1
        return False

    _handlers: dict[type, Any] = {
        ev.ProviderRegistered: _registered,
        ev.ProviderUpdated: _updated,
        ev.ProviderDeregistered: _deregistered,
        ev.ProviderStateChanged: _state,
        ev.ProviderStarted: _started,
        ev.ProviderToolsChanged: _tools,
        ev.ProviderStartFailed: _start_failed,
        ev.HealthCheckPassed: _passed,
        ev.HealthCheckFailed: _failed,
        ev.CircuitBreakerStateChanged: _breaker,
        ev.ToolInvocationRequested: _call_requested,
        ev.ToolInvocationFailed: _call_failed,
    }

    event_types = frozenset(t.__name__ for t in _handlers)
    """What a rebuild must decode for this read model."""

    def seed(self, snap: Snapshot) -> None:
        """Start a compacted provider stream from its snapshot (see ``Projector``)."""
        if not snap.stream_id.startswith(STREAM_PREFIX):
            return
        state = msgspec.json.decode(snap.state, type=ProviderSnapshot)
        if not state.registered or state.spec is None:
            old = self.views.pop(state.provider_id, None)
            if old is not None:
                self._count(old.state, _tool_count(old), -1)
                self._list_cache.clear()
                self.detail_cache.pop(state.provider_id, None)
                self.generation += 1
            return
        self._put(ProviderView(
            provider_id=state.provider_id, spec=state.spec, version=snap.version, state=state.state.value,
            tools=list(state.tools), tools_discovered=bool(state.tools), breaker_state=state.breaker_state,
            consecutive_failures=state.consecutive_failures, last_error=state.last_error or None,
        ))

    def by_state(self) -> dict[str, int]:
        return {state: n for state, n in self._by_state.items() if n}

    def dump(self) -> Any:
        return {
            "views": {k: msgspec.to_builtins(v, enc_hook=list) for k, v in sorted(self.views.items())},
            "total_tool_calls": self.total_tool_calls,
        }
