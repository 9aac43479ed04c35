"""Response shapes built from the read models."""

from __future__ import annotations

from typing import Any

import msgspec

from hangar.api.deps import Services
from hangar.app import secrets
from hangar.app.codec import iso
from hangar.app.ports import RecordedEvent
from hangar.app.projections.providers import HealthCheck, ProviderSummary, ProviderView
from hangar.app.secrets import is_sealed
from hangar.domain.secrets_policy import REDACTED, is_secret_value


class ProviderListBody(msgspec.Struct):
    providers: list[ProviderSummary]


class ToolBody(msgspec.Struct):
    name: str
    description: str
    parameters: dict[str, Any]
    inputSchema: dict[str, Any]


class HealthBody(msgspec.Struct):
    status: str
    state: str
    consecutive_failures: int
    total_checks: int
    failed_checks: int
    last_check: str | None
    last_error: str | None
    circuit_breaker_state: str
    total_invocations: int
    total_failures: int
    success_rate: float | None
    history: list[HealthCheck]


class ProviderConfigBody(msgspec.Struct):
    mode: str
    command: list[str] | None
    image: str | None
    endpoint: str | None
    env: dict[str, str]
    idle_ttl_s: int
    health_check_interval_s: int
    volumes: list[str]
    network: str
    read_only: bool
    call_timeout_s: float


class ProviderDetail(ProviderSummary):
    """``GET /api/providers/{id}``: the list row, then the detail."""

    tools: list[ToolBody]
    health: HealthBody
    config: ProviderConfigBody
    circuit_breaker_state: str
    version: int
    created_at: str
    updated_at: str
    last_started_at: str | None
    startup_duration_ms: float | None
    tool_calls_total: int
    tool_calls_failed: int


def redact_env(env: dict[str, str]) -> dict[str, str]:
    """Values whose names look secret, and sealed values, are never shown."""
    return {k: (REDACTED if is_sealed(v) or is_secret_value(k, v) else v) for k, v in env.items()}


def tools_body(view: ProviderView) -> list[ToolBody]:
    return [ToolBody(t.name, t.description, t.input_schema, t.input_schema) for t in view.visible_tools]


def health_body(view: ProviderView) -> HealthBody:
    return HealthBody(
        status=view.health_status,
        state=view.state,
        consecutive_failures=view.consecutive_failures,
        total_checks=view.total_checks,
        failed_checks=view.failed_checks,
        last_check=view.last_health_check_at,
        last_error=view.last_error,
        circuit_breaker_state=view.breaker_state,
        total_invocations=view.calls_total,
        total_failures=view.calls_failed,
        success_rate=(
            round((view.calls_total - view.calls_failed) / view.calls_total, 4) if view.calls_total else None
        ),
        history=list(view.health_history),
    )


def provider_detail(services: Services, view: ProviderView) -> ProviderDetail:
    s = view.spec
    return ProviderDetail(
        **msgspec.structs.asdict(services.providers.summary(view)),
        tools=tools_body(view),
        health=health_body(view),
        config=ProviderConfigBody(
            mode=s.mode,
            command=s.command,
            image=s.image,
            endpoint=s.endpoint,
            env=secrets.redact_env(s),
            idle_ttl_s=s.idle_ttl_s,
            health_check_interval_s=s.health_check_interval_s,
            volumes=s.volumes,
            network=s.network,
            read_only=s.read_only,
            call_timeout_s=s.call_timeout_s,
        ),
        circuit_breaker_state=view.breaker_state,
        version=view.version,
        created_at=view.created_at,
        updated_at=view.updated_at,
        last_started_at=view.last_started_at,
        startup_duration_ms=view.startup_duration_ms,
        tool_calls_total=view.calls_total,
        tool_calls_failed=view.calls_failed,
    )


def history_record(rec: RecordedEvent) -> dict[str, Any]:
    record: dict[str, Any] = msgspec.json.decode(rec.data)
    record["position"] = rec.stream_version
    record["global_position"] = rec.position
    record["event_id"] = rec.event_id
    record["timestamp"] = iso(rec.recorded_at)
    return record
