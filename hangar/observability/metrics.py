"""Prometheus metrics from one prometheus-client registry per app (never the global default).

Three feeds: a projector listener turns committed events into counters and gauges (so metrics
tell the same story as the log and the WebSocket streams), an instrumented wrapper around the
event store port measures appends, and the HTTP middleware counts requests. Values that are
only meaningful at scrape time (WebSocket clients, projection lag) come from a collector.
"""

from __future__ import annotations

import bisect
import importlib.metadata
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from hangar.app.hub import EventHub
from hangar.app.ports import EventStore, NewEvent, RecordedEvent, Snapshot
from hangar.app.projections.alerts import AlertsProjection
from hangar.app.projector import Projector
from hangar.app.runtime_facts import RuntimeStatus
from hangar.domain import events as ev
from hangar.domain import group_events as ge
from hangar.domain import ops_events as ops

PREFIX = "mcp_hangar_"
PROVIDER_STATES = ("cold", "initializing", "ready", "degraded", "dead")
BREAKER_STATES = ("closed", "open", "half_open")
GROUP_STATES = ("inactive", "partial", "healthy", "degraded")
UP_STATES = frozenset({"ready", "degraded"})

# Seconds. Tool calls and HTTP requests span sub-millisecond to the 30 s call timeout.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
START_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
APPEND_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)


class Metrics:
    def __init__(self, version: str | None = None) -> None:
        r = self.registry = CollectorRegistry()
        p = PREFIX
        self.tool_calls = Counter(p + "tool_calls", "Tool calls by outcome (success, error, failure)",
                                  ["provider", "tool", "outcome"], registry=r)
        self.tool_call_failures = Counter(p + "tool_call_failures", "Failed tool calls by error type",
                                          ["provider", "tool", "error_type"], registry=r)
        self.tool_call_duration = Histogram(p + "tool_call_duration_seconds", "Tool call duration",
                                            ["provider", "tool"], buckets=LATENCY_BUCKETS, registry=r)
        self.cold_starts = Counter(p + "cold_starts", "Provider starts that completed", ["provider"], registry=r)
        self.cold_start_duration = Histogram(p + "cold_start_duration_seconds", "Time to start a provider",
                                             ["provider"], buckets=START_BUCKETS, registry=r)
        self.start_failures = Counter(p + "provider_start_failures", "Provider starts that failed",
                                      ["provider"], registry=r)
        self.health_checks = Counter(p + "health_checks", "Health checks by result (passed, failed)",
                                     ["provider", "result"], registry=r)
        self.health_check_duration = Histogram(p + "health_check_duration_seconds", "Passed health check RTT",
                                               ["provider"], buckets=LATENCY_BUCKETS, registry=r)
        self.events = Counter(p + "events", "Events applied to the read models, by type", ["event_type"],
                              registry=r)
        self.events_appended = Counter(p + "events_appended", "Events appended to the store, by stream type",
                                       ["stream_type"], registry=r)
        self.append_failures = Counter(p + "store_append_failures", "Appends that raised", ["error"], registry=r)
        self.append_duration = Histogram(p + "store_append_duration_seconds",
                                         "Append latency as the caller sees it (queue + commit)",
                                         buckets=APPEND_BUCKETS, registry=r)
        self.projection_delay = Histogram(p + "projection_delay_seconds", "Commit to read-model apply delay",
                                          buckets=APPEND_BUCKETS, registry=r)
        self.http = _HttpStats(LATENCY_BUCKETS)
        r.register(self.http)
        self.states = _StateSets()
        r.register(self.states)
        self.config_reloads = Counter(p + "config_reloads", "Configuration reloads by result", ["result"],
                                      registry=r)
        self.commands = Counter(p + "commands", "Commands executed on the bus, by command and outcome",
                                ["command", "outcome"], registry=r)
        self.alerts_raised = Counter(p + "alerts_raised", "Alerts raised", ["rule", "level"], registry=r)
        build = Gauge(p + "build_info", "Hangar build", ["version"], registry=r)
        build.labels(version or _package_version()).set(1)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.last_appended = 0
        self.live = False
        """False while the projector replays history: replay delays are not projection lag."""

    # --- wiring -------------------------------------------------------------------------------

    def observe_command(self, command: Any, ctx: Any, command_id: str, exc: Exception | None) -> None:
        """Bus observer: operator commands and runtime facts are counted alike."""
        self.commands.labels(type(command).__name__, "failure" if exc is not None else "success").inc()

    def add_collector(self, collector: Collector) -> None:
        self.registry.register(collector)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    # --- events -----------------------------------------------------------------------------------

    def __call__(self, rec: RecordedEvent, event: Any) -> None:
        self._child(self.events, rec.event_type).inc()
        if self.live:
            self.projection_delay.observe(max(0.0, time.time() - rec.recorded_at))
        match event:
            case ev.ToolInvocationCompleted():
                outcome = "error" if event.is_error else "success"
                self._child(self.tool_calls, event.provider_id, event.tool_name, outcome).inc()
                self._child(self.tool_call_duration, event.provider_id, event.tool_name).observe(
                    event.duration_ms / 1000)
            case ev.ToolInvocationFailed():
                self._child(self.tool_calls, event.provider_id, event.tool_name, "failure").inc()
                self._child(self.tool_call_failures, event.provider_id, event.tool_name, event.error_type).inc()
                self._child(self.tool_call_duration, event.provider_id, event.tool_name).observe(
                    event.duration_ms / 1000)
            case ev.HealthCheckPassed():
                self._child(self.health_checks, event.provider_id, "passed").inc()
                self._child(self.health_check_duration, event.provider_id).observe(event.duration_ms / 1000)
            case ev.HealthCheckFailed():
                self._child(self.health_checks, event.provider_id, "failed").inc()
            case ev.ProviderStateChanged():
                self.states.provider[event.provider_id] = event.new_state
            case ev.ProviderRegistered():
                self.states.provider[event.provider_id] = "cold"
                self.states.breaker[("provider", event.provider_id)] = "closed"
            case ev.ProviderStarted():
                self._child(self.cold_starts, event.provider_id).inc()
                self._child(self.cold_start_duration, event.provider_id).observe(event.startup_duration_ms / 1000)
            case ev.ProviderStartFailed():
                self._child(self.start_failures, event.provider_id).inc()
            case ev.CircuitBreakerStateChanged():
                self.states.breaker[("provider", event.provider_id)] = event.new_state
            case ev.ProviderDeregistered():
                # Gauges of a deleted provider would claim it still exists; counters keep its history.
                self.states.provider.pop(event.provider_id, None)
                self.states.breaker.pop(("provider", event.provider_id), None)
            case ops.ConfigurationReloaded():
                self._child(self.config_reloads, "success" if not event.errors else "partial").inc()
            case ops.ConfigurationReloadFailed():
                self._child(self.config_reloads, "rejected").inc()
            case ops.AlertRaised():
                self._child(self.alerts_raised, event.rule, event.level).inc()
            case ge.GroupCreated():
                self.states.group[event.group_id] = "inactive"
                self.states.breaker[("group", event.group_id)] = "closed"
            case ge.GroupStateChanged():
                self.states.group[event.group_id] = event.new_state
                self.states.healthy_members[event.group_id] = event.healthy_count
            case ge.GroupCircuitOpened():
                self.states.breaker[("group", event.group_id)] = "open"
            case ge.GroupCircuitHalfOpened():
                self.states.breaker[("group", event.group_id)] = "half_open"
            case ge.GroupCircuitClosed():
                self.states.breaker[("group", event.group_id)] = "closed"
            case ge.GroupDeleted():
                self.states.group.pop(event.group_id, None)
                self.states.healthy_members.pop(event.group_id, None)
                self.states.breaker.pop(("group", event.group_id), None)

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, resolved once per label set: prometheus-client validates
        and locks on every ``labels()`` call, several microseconds each, for every event."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    # --- HTTP ---------------------------------------------------------------------------------

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http.observe(method, route, status, seconds)

    # --- reading back -----------------------------------------------------------------------------

    def samples(self, states: bool = True) -> dict[str, list[tuple[dict[str, str], float]]]:
        """``states=False`` leaves out the one-hot state gauges (five samples per provider):
        the history ring samples every few seconds and reads its provider counts from
        ``self.states`` directly (``summary``), so it need not build them."""
        out: dict[str, list[tuple[dict[str, str], float]]] = {}
        self.states.muted = not states
        try:
            for family in self.registry.collect():
                for s in family.samples:
                    out.setdefault(s.name, []).append((s.labels, s.value))
        finally:
            self.states.muted = False
        return out

    def summary(self, samples: dict[str, list[tuple[dict[str, str], float]]] | None = None) -> dict[str, float]:
        """The headline numbers of ``GET /api/observability/metrics`` (and the history ring)."""
        s = samples if samples is not None else self.samples(states=False)
        p = PREFIX

        def total(name: str, keep: Callable[[dict[str, str]], bool] = lambda _: True) -> float:
            return float(sum(v for labels, v in s.get(p + name, []) if keep(labels)))

        return {
            "tool_calls_total": total("tool_calls_total"),
            "tool_call_errors_total": total("tool_calls_total", lambda lv: lv.get("outcome") != "success"),
            "health_checks_total": total("health_checks_total"),
            "health_check_failures_total": total("health_checks_total", lambda lv: lv.get("result") == "failed"),
            "cold_starts_total": total("cold_starts_total"),
            "provider_start_failures_total": total("provider_start_failures_total"),
            # What the provider_up gauge would sum to, without building it.
            "providers_total": float(len(self.states.provider)),
            "providers_up": float(sum(1 for state in list(self.states.provider.values()) if state in UP_STATES)),
            "events_appended_total": total("events_appended_total"),
            "http_requests_total": total("http_requests_total"),
            "websocket_clients": total("websocket_clients"),
            "websocket_dropped_clients_total": total("websocket_dropped_clients_total"),
            "projection_lag_events": total("projection_lag_events"),
            "alerts_active": total("alerts_active"),
            "config_reloads_total": total("config_reloads_total"),
            "uptime_seconds": total("uptime_seconds"),
        }

    def per_provider(self, samples: dict[str, list[tuple[dict[str, str], float]]] | None = None
                     ) -> dict[str, dict[str, float]]:
        s = samples if samples is not None else self.samples(states=False)
        p = PREFIX
        out: dict[str, dict[str, float]] = {}

        def add(name: str, key: str, keep: Callable[[dict[str, str]], bool] = lambda _: True) -> None:
            for labels, v in s.get(p + name, []):
                pid = labels.get("provider")
                if pid is not None and keep(labels):
                    row = out.setdefault(pid, dict.fromkeys(PER_PROVIDER_KEYS, 0.0))
                    row[key] += v

        add("tool_calls_total", "tool_calls_total")
        add("tool_calls_total", "tool_call_errors", lambda lv: lv.get("outcome") != "success")
        add("cold_starts_total", "cold_starts_total")
        add("health_checks_total", "health_checks_total")
        add("health_checks_total", "health_check_failures", lambda lv: lv.get("result") == "failed")
        return out


def _package_version() -> str:
    try:
        return importlib.metadata.version("hangar")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


PER_PROVIDER_KEYS = ("tool_calls_total", "tool_call_errors", "cold_starts_total", "health_checks_total",
                     "health_check_failures")


class _StateSets(Collector):
    """Provider, group and breaker states as plain dicts, turned into one-hot gauges at scrape
    time. A state change is one dict store; with prometheus-client gauges it was a child lookup
    (or creation) per possible state, and deleting a provider scanned every label set."""

    def __init__(self) -> None:
        self.provider: dict[str, str] = {}
        self.group: dict[str, str] = {}
        self.healthy_members: dict[str, int] = {}
        self.breaker: dict[tuple[str, str], str] = {}
        self.muted = False

    def collect(self) -> Iterable[Metric]:
        if self.muted:
            return
        p = PREFIX
        state = GaugeMetricFamily(p + "provider_state", "1 for the provider's current state",
                                  labels=["provider", "state"])
        up = GaugeMetricFamily(p + "provider_up", "1 while the provider is ready or degraded", labels=["provider"])
        for pid, current in list(self.provider.items()):
            _one_hot(state, (pid,), current, PROVIDER_STATES)
            up.add_metric([pid], 1 if current in UP_STATES else 0)
        yield state
        yield up
        breaker = GaugeMetricFamily(p + "circuit_breaker_state", "1 for the breaker's current state",
                                    labels=["kind", "target", "state"])
        for key, current in list(self.breaker.items()):
            _one_hot(breaker, key, current, BREAKER_STATES)
        yield breaker
        group = GaugeMetricFamily(p + "group_state", "1 for the group's current state", labels=["group", "state"])
        for gid, current in list(self.group.items()):
            _one_hot(group, (gid,), current, GROUP_STATES)
        yield group
        healthy = GaugeMetricFamily(p + "group_healthy_members", "Healthy members of the group", labels=["group"])
        for gid, n in list(self.healthy_members.items()):
            healthy.add_metric([gid], n)
        yield healthy


def _one_hot(family: GaugeMetricFamily, labels: tuple[str, ...], current: str, states: Sequence[str]) -> None:
    for s in states:
        family.add_metric([*labels, s], 1 if s == current else 0)
    if current not in states:
        family.add_metric([*labels, current], 1)


class _HttpStats(Collector):
    """HTTP request counts and durations, kept in plain dicts and turned into metric families at
    scrape time. Every request passes here, so it must cost well under a microsecond or two:
    a labelled prometheus-client counter plus histogram (locks, child lookups) costs several
    times that. Everything runs on the event loop thread, so no lock is needed."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(float(b) for b in bounds)
        self.requests: dict[tuple[str, str, int], int] = {}
        self.durations: dict[tuple[str, str], list[Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        h = self.durations.get((method, route))
        if h is None:
            h = self.durations[(method, route)] = [[0] * (len(self.bounds) + 1), 0.0]
        h[0][bisect.bisect_left(self.bounds, seconds)] += 1
        h[1] += seconds

    def collect(self) -> Iterable[Metric]:
        p = PREFIX
        requests = CounterMetricFamily(p + "http_requests", "HTTP requests by route template and status",
                                       labels=["method", "route", "status"])
        for (method, route, status), n in list(self.requests.items()):
            requests.add_metric([method, route, str(status)], n)
        yield requests
        durations = HistogramMetricFamily(p + "http_request_duration_seconds", "HTTP request duration",
                                          labels=["method", "route"])
        for (method, route), (counts, total) in list(self.durations.items()):
            cumulative, buckets = 0, []
            for bound, n in zip((*map(_bound, self.bounds), "+Inf"), counts, strict=True):
                cumulative += n
                buckets.append((bound, cumulative))
            durations.add_metric([method, route], buckets, total)
        yield durations


def _bound(b: float) -> str:
    return repr(b)


class LiveCollector(Collector):
    """Scrape-time values read from the live objects (no bookkeeping on the hot paths)."""

    def __init__(
        self, metrics: Metrics, hub: EventHub, projector: Projector, runtime: RuntimeStatus,
        alerts: AlertsProjection, uptime: Callable[[], float],
    ) -> None:
        self.m = metrics
        self._hub = hub
        self._projector = projector
        self._runtime = runtime
        self._alerts = alerts
        self._uptime = uptime

    def collect(self) -> Iterable[Metric]:
        p = PREFIX
        hub = self._hub
        yield GaugeMetricFamily(p + "websocket_clients", "Connected WebSocket clients", value=len(hub.subscribers))
        yield CounterMetricFamily(p + "websocket_dropped_clients", "WebSocket clients dropped for being too slow",
                                  value=hub.dropped_clients)
        yield CounterMetricFamily(p + "websocket_frames_sent", "WebSocket frames queued to clients",
                                  value=hub.frames_sent)
        position = self._projector.position
        yield GaugeMetricFamily(p + "projector_position", "Global position applied to the read models",
                                value=position)
        yield GaugeMetricFamily(p + "projection_lag_events", "Appended events not yet in the read models",
                                value=max(0, self.m.last_appended - position))
        yield GaugeMetricFamily(p + "uptime_seconds", "Seconds since Hangar started", value=self._uptime())
        inflight = GaugeMetricFamily(p + "provider_inflight_calls", "Tool calls in flight", labels=["provider"])
        for pid, st in self._runtime.statuses().items():
            inflight.add_metric([pid], st.inflight)
        yield inflight
        active = GaugeMetricFamily(p + "alerts_active", "Active alerts by level", labels=["level"])
        counts = self._alerts.active_by_level()
        for level in ("critical", "warning", "info"):
            active.add_metric([level], counts.get(level, 0))
        yield active


class InstrumentedStore:
    """The ``EventStore`` port, measured: append latency, events appended, failures."""

    def __init__(self, inner: EventStore, metrics: Metrics) -> None:
        self.inner = inner
        self._m = metrics
        self._children: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        # Anything beyond the port (engine, diagnostics) is the wrapped store's.
        return getattr(self.inner, name)

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def append(
        self, stream_id: str, expected_version: int | None, events: Sequence[NewEvent], *,
        rider: tuple[str, tuple[NewEvent, ...]] | None = None,
    ) -> tuple[int, int]:
        started = time.perf_counter()
        try:
            version, position = await self.inner.append(stream_id, expected_version, events, rider=rider)
        except Exception as exc:
            self._m.append_failures.labels(type(exc).__name__).inc()
            raise
        self._m.append_duration.observe(time.perf_counter() - started)
        kind = stream_id.split(":", 1)[0]
        child = self._children.get(kind)
        if child is None:
            child = self._children[kind] = self._m.events_appended.labels(kind)
        child.inc(len(events))
        if position > self._m.last_appended:
            self._m.last_appended = position
        return version, position

    async def read_stream(self, stream_id: str, from_version: int = 0, limit: int | None = None
                          ) -> list[RecordedEvent]:
        return await self.inner.read_stream(stream_id, from_version, limit)

    async def count_stream(self, stream_id: str, from_version: int = 0) -> int:
        return await self.inner.count_stream(stream_id, from_version)

    async def stream_version(self, stream_id: str) -> int:
        return await self.inner.stream_version(stream_id)

    async def read_all(self, from_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        return await self.inner.read_all(from_position, limit)

    async def last_position(self) -> int:
        return await self.inner.last_position()

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        await self.inner.save_snapshot(snapshot)

    async def load_snapshot(self, stream_id: str) -> Snapshot | None:
        return await self.inner.load_snapshot(stream_id)

    async def compact(self, stream_id: str) -> int:
        return await self.inner.compact(stream_id)

    def subscribe(self, from_position: int = 0) -> AsyncIterator[RecordedEvent]:
        return self.inner.subscribe(from_position)
