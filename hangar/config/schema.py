"""Schema of ``config/hangar.yaml``.

Every struct forbids unknown fields: a typo such as ``idle_tt1_s`` is an error naming the key,
never a silently ignored setting that falls back to a default.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from hangar.domain.provider_spec import IdleSeconds, PositiveSeconds, ProviderMode, ToolSpec


class Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class ProviderConfig(Strict):
    mode: ProviderMode
    command: list[str] | str | None = None
    args: list[str] = []
    image: str | None = None
    endpoint: str | None = None
    env: dict[str, str] = {}
    idle_ttl_s: IdleSeconds = 300
    health_check_interval_s: PositiveSeconds = 60
    description: str | None = None
    volumes: list[str] = []
    network: str = "none"
    read_only: bool = True
    tools: list[ToolSpec] | None = None
    call_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 30.0


class ServerConfig(Strict):
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8000


class EventStoreConfig(Strict):
    url: str | None = None
    snapshot_every: Annotated[int, msgspec.Meta(ge=0)] = 100
    batch_max: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 500
    sqlite_synchronous: Literal["FULL", "NORMAL", "EXTRA"] = "FULL"


class HealthConfig(Strict):
    degraded_after: Annotated[int, msgspec.Meta(ge=1)] = 1
    dead_after: Annotated[int, msgspec.Meta(ge=1)] = 3
    timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 10.0


class RuntimeConfig(Strict):
    health: HealthConfig = msgspec.field(default_factory=HealthConfig)
    start_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    restart_backoff_initial_s: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    restart_backoff_max_s: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    max_restarts: Annotated[int, msgspec.Meta(ge=0)] = 5
    breaker_failure_threshold: Annotated[int, msgspec.Meta(ge=1)] = 5
    breaker_reset_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 30.0


class WebSocketConfig(Strict):
    queue_size: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1000


class LoggingConfig(Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    json: bool | None = None
    """None: JSON when stderr is not a terminal."""


class HangarConfig(Strict):
    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    event_store: EventStoreConfig = msgspec.field(default_factory=EventStoreConfig)
    runtime: RuntimeConfig = msgspec.field(default_factory=RuntimeConfig)
    websocket: WebSocketConfig = msgspec.field(default_factory=WebSocketConfig)
    logging: LoggingConfig = msgspec.field(default_factory=LoggingConfig)
    providers: dict[str, ProviderConfig] = {}
