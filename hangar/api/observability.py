"""``/api/observability`` metrics, alerts and metrics history, and Prometheus' ``/metrics``.

(``/api/observability/audit`` and ``/security`` live in ``hangar.api.audit``.)
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Response, get
from litestar.params import Parameter

from hangar.app.codec import iso, now
from hangar.app.projections.alerts import AlertRecord, AlertsProjection
from hangar.observability.history import MetricsHistory
from hangar.observability.metrics import Metrics

Level = Literal["critical", "warning", "info"]
AlertState = Literal["active", "resolved"]
# The classic text format every scraper reads (Litestar appends the charset).
PROMETHEUS_TEXT = "text/plain; version=0.0.4"


class MetricsBody(msgspec.Struct):
    prometheus_text: str
    summary: dict[str, float]


class ProviderMetrics(msgspec.Struct):
    provider_id: str
    tool_calls_total: float
    tool_call_errors: float
    cold_starts_total: float
    health_checks_total: float
    health_check_failures: float


class PerProviderBody(msgspec.Struct):
    providers: list[ProviderMetrics]
    timestamp: str


class AlertsBody(msgspec.Struct):
    alerts: list[AlertRecord]
    total: int
    active: int


class ObservabilityController(Controller):
    path = "/api/observability"
    tags = ["observability"]

    @get("/metrics", summary="Prometheus text and headline numbers")
    async def metrics(self, metrics: Metrics) -> MetricsBody:
        m = metrics
        samples = m.samples()
        return MetricsBody(m.exposition().decode(), m.summary(samples))

    @get("/metrics/per-provider", summary="Headline numbers per provider")
    async def per_provider(self, metrics: Metrics) -> PerProviderBody:
        rows = metrics.per_provider()
        return PerProviderBody(
            [ProviderMetrics(provider_id=pid, **row) for pid, row in sorted(rows.items())], iso(now())
        )

    @get("/metrics/history", summary="Time series of the headline metrics, for charting")
    async def history(
        self, metrics_history: MetricsHistory,
        minutes: Annotated[int, Parameter(ge=1, le=1440)] = 60,
        metric: Annotated[str | None, Parameter(max_length=128)] = None,
        provider: Annotated[str | None, Parameter(max_length=128)] = None,
    ) -> dict[str, Any]:
        return metrics_history.query(minutes, metric, provider)

    @get("/alerts", summary="Alert history, newest first")
    async def alerts(
        self, alerts_view: AlertsProjection,
        level: Level | None = None,
        alert_state: Annotated[AlertState | None, Parameter(query="state")] = None,
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
    ) -> AlertsBody:
        projection = alerts_view
        rows, total = projection.query(level, alert_state, limit)
        active = sum(1 for a in projection.active.values() if level is None or a.level == level)
        return AlertsBody(rows, total, active)


@get("/metrics", summary="Prometheus exposition", tags=["observability"], include_in_schema=True)
async def prometheus_metrics(metrics: Metrics) -> Response[bytes]:
    return Response(metrics.exposition(), media_type=PROMETHEUS_TEXT)
