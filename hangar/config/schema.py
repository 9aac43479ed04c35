"""Schema of ``config/hangar.yaml``.

Every struct forbids unknown fields: a typo such as ``idle_tt1_s`` is an error naming the key,
never a silently ignored setting that falls back to a default.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from hangar.domain.group_events import FailureThreshold, MinHealthy, Priority, ResetTimeout, Strategy, Weight
from hangar.domain.provider_spec import ProviderSpec


class Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class ProviderConfig(ProviderSpec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The provider definition, as a config file may also spell it: ``command`` may be one
    string, and ``args`` are appended to it (``loader.to_spec`` makes the definition)."""

    command: list[str] | str | None = None  # type: ignore[assignment]
    args: list[str] = []


class ServerConfig(Strict):
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8000
    trusted_proxies: list[str] = []
    """Addresses or CIDR networks of reverse proxies whose ``X-Forwarded-For`` names the client.
    Empty (the default): the TCP peer is the client, whatever headers it sends."""
    header_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 10.0
    """A connection whose request line and headers are not complete by then is closed (408)."""
    body_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 30.0
    """Longest wait for each chunk of a request body (the whole body: four times that)."""


class EventStoreConfig(Strict):
    url: str | None = None
    snapshot_every: Annotated[int, msgspec.Meta(ge=0)] = 100
    batch_max: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 500
    sqlite_synchronous: Literal["FULL", "NORMAL", "EXTRA"] = "FULL"
    # Events between two read-model checkpoints: the most an as-of read folds.
    checkpoint_every: Annotated[int, msgspec.Meta(ge=100)] = 10_000


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
    group_breaker_failure_threshold: Annotated[int, msgspec.Meta(ge=1)] = 5
    """Consecutive failed group calls that open a group's breaker (per group: circuit_breaker)."""
    group_breaker_reset_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 30.0


class GroupMemberConfig(Strict):
    id: str
    weight: Weight = 1
    priority: Priority = 1


class GroupBreakerConfig(Strict):
    failure_threshold: FailureThreshold | None = None
    """None: ``runtime.group_breaker_failure_threshold``."""
    reset_timeout_s: ResetTimeout | None = None
    """None: ``runtime.group_breaker_reset_timeout_s``."""


class GroupConfig(Strict):
    strategy: Strategy = "round_robin"
    min_healthy: MinHealthy = 1
    description: str | None = None
    auto_start: bool = False
    """Start every member when Hangar starts (otherwise members start on their first call)."""
    circuit_breaker: GroupBreakerConfig = msgspec.field(default_factory=GroupBreakerConfig)
    members: list[GroupMemberConfig] = []


class WebSocketConfig(Strict):
    queue_size: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1000


class LoggingConfig(Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    json: bool | None = None
    """None: JSON when stderr is not a terminal."""


class ConfigFileConfig(Strict):
    """Backups and watching of the configuration file itself."""

    backup_keep: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 5
    backup_dir: str | None = None
    """None: a ``backups`` directory next to the config file."""
    watch: bool = False
    """Reload when the file changes (polled every ``watch_interval_s``)."""
    watch_interval_s: Annotated[float, msgspec.Meta(ge=0.1, le=3600)] = 2.0
    allowed_dirs: list[str] = []
    """Directories a ``config_path`` given over the API (diff, reload) may name, besides the
    directory of the file Hangar started with."""


class AlertsConfig(Strict):
    start_failures_threshold: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 3
    """Consecutive failed starts that raise ``repeated_start_failures``."""
    history_size: Annotated[int, msgspec.Meta(ge=10, le=100_000)] = 1000
    min_free_bytes: Annotated[int, msgspec.Meta(ge=0)] = 256 * 1024 * 1024
    """Free space in the data directory below which ``data_dir_low_space`` is raised."""
    disk_check_interval_s: Annotated[float, msgspec.Meta(ge=0.1, le=3600)] = 30.0


class ObservabilityConfig(Strict):
    history_interval_s: Annotated[float, msgspec.Meta(ge=0.1, le=3600)] = 10.0
    """How often a metrics snapshot is added to the history ring."""
    history_max_points: Annotated[int, msgspec.Meta(ge=10, le=100_000)] = 1440
    alerts: AlertsConfig = msgspec.field(default_factory=AlertsConfig)
    otlp_endpoint: str | None = None
    """OTLP/HTTP traces URL (e.g. ``http://collector:4318/v1/traces``); None: the standard
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT``, else no export."""


class AuthRateLimitConfig(Strict):
    """Token bucket per principal (only while auth is enabled)."""

    enabled: bool = True
    requests_per_second: Annotated[float, msgspec.Meta(gt=0, le=1_000_000)] = 50.0
    burst: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 100


class AuthLockoutConfig(Strict):
    """Failed authentications from one client address lock it out, for longer each time."""

    enabled: bool = True
    max_failures: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 5
    window_s: Annotated[float, msgspec.Meta(gt=0, le=86_400)] = 60.0
    lockout_s: Annotated[float, msgspec.Meta(gt=0, le=86_400)] = 30.0
    """The first lockout; each further one doubles, up to ``max_lockout_s``."""
    max_lockout_s: Annotated[float, msgspec.Meta(gt=0, le=604_800)] = 3600.0


class AuthConfig(Strict):
    enabled: bool = False
    """Off: every route is open (``hangar serve`` then refuses a non-loopback host without --insecure)."""
    admin_key_env: str = "HANGAR_ADMIN_KEY"
    """Environment variable whose value, when set, is seeded at start as a key of ``admin_principal``."""
    admin_principal: str = "admin"
    rate_limit: AuthRateLimitConfig = msgspec.field(default_factory=AuthRateLimitConfig)
    lockout: AuthLockoutConfig = msgspec.field(default_factory=AuthLockoutConfig)
    audit_retention: Annotated[int, msgspec.Meta(ge=100, le=10_000_000)] = 10_000
    """Audit records and security events kept in memory for the observability queries."""


SourceType = Literal["filesystem", "entrypoint", "docker", "kubernetes"]


class DiscoverySourceConfig(Strict):
    source_type: SourceType | None = None
    """The documented name, as in ``POST /api/discovery/sources``."""
    type: SourceType | None = None
    """Accepted as a synonym of ``source_type`` (older files)."""
    mode: Literal["additive", "authoritative"] = "additive"
    enabled: bool = True
    config: dict[str, Any] = {}
    """Per type: see ``hangar.config.discovery_sources`` (filesystem ``path``, ``pattern``, ...)."""

    def __post_init__(self) -> None:
        if self.source_type and self.type and self.source_type != self.type:
            raise ValueError(f"source_type '{self.source_type}' and type '{self.type}' disagree")
        chosen = self.source_type or self.type
        if chosen is None:
            raise ValueError("Object missing required field `source_type`")
        self.source_type = self.type = chosen


class DiscoveryConfig(Strict):
    sources: dict[str, DiscoverySourceConfig] = {}
    """Keyed by source id; applied at start (registered, or updated when they changed)."""


class CatalogConfig(Strict):
    seed: list[str] = []
    """Catalog documents imported at start; only names the catalog never held are added.
    Relative paths are taken from the config file's directory."""
    import_dirs: list[str] = []
    """Directories ``POST /api/catalog/import {"path"}`` may read from, besides the config
    file's own directory."""


class McpConfig(Strict):
    """The ``/mcp`` front door (docs/mcp.md)."""

    name_separator: Literal["__", "_", "-", "--", "."] = "__"
    """Between provider (or group) and tool or prompt name; '.' gives names some LLM APIs refuse."""
    discover_on_register: bool = True
    """Off: no provider is started to learn its tools (each provider's own flag is then moot)."""


class ClientsConfig(Strict):
    """Where MCP client configuration files and skills are written (ToolHive's clients API)."""

    home: str = "~"
    """The home directory the clients' files live under; tests and containers point it elsewhere."""
    public_url: str | None = None
    """Hangar's URL as clients reach it; by default the URL of the registering request."""


class RegistriesConfig(Strict):
    refresh_interval_s: Annotated[float, msgspec.Meta(ge=0, le=604_800)] = 3600.0
    """How often registered registry sources are refreshed (0: only on demand)."""
class ClusterConfig(Strict):
    """Several replicas on one PostgreSQL database (cluster mode is on whenever the event store
    is PostgreSQL; on SQLite these settings are unused)."""

    heartbeat_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 1.0
    """How often a replica writes its heartbeat and renews the leases it holds."""
    instance_ttl_s: Annotated[float, msgspec.Meta(gt=0, le=600)] = 5.0
    """A replica whose heartbeat is older than this is gone."""
    leader_ttl_s: Annotated[float, msgspec.Meta(gt=0, le=600)] = 6.0
    """The leader lease: a new leader takes over at most this long after the old one died."""
    provider_lease_ttl_s: Annotated[float, msgspec.Meta(gt=0, le=600)] = 6.0
    """A provider's ownership lease; a dead owner's providers move after at most this long."""
    advertise_url: str | None = None
    """The URL other replicas reach this one at (``HANGAR_ADVERTISE_URL`` overrides it; default:
    ``http://<hostname>:<port>``)."""
    token_env: str = "HANGAR_CLUSTER_TOKEN"
    """Environment variable holding the secret replicas present to each other."""


class HangarConfig(Strict):
    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    event_store: EventStoreConfig = msgspec.field(default_factory=EventStoreConfig)
    runtime: RuntimeConfig = msgspec.field(default_factory=RuntimeConfig)
    websocket: WebSocketConfig = msgspec.field(default_factory=WebSocketConfig)
    logging: LoggingConfig = msgspec.field(default_factory=LoggingConfig)
    config: ConfigFileConfig = msgspec.field(default_factory=ConfigFileConfig)
    observability: ObservabilityConfig = msgspec.field(default_factory=ObservabilityConfig)
    auth: AuthConfig = msgspec.field(default_factory=AuthConfig)
    providers: dict[str, ProviderConfig] = {}
    groups: dict[str, GroupConfig] = {}
    discovery: DiscoveryConfig = msgspec.field(default_factory=DiscoveryConfig)
    catalog: CatalogConfig = msgspec.field(default_factory=CatalogConfig)
    mcp: McpConfig = msgspec.field(default_factory=McpConfig)
    clients: ClientsConfig = msgspec.field(default_factory=ClientsConfig)
    registries: RegistriesConfig = msgspec.field(default_factory=RegistriesConfig)
    cluster: ClusterConfig = msgspec.field(default_factory=ClusterConfig)
