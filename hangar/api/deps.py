"""Dependency wiring and small request helpers shared by the controllers."""

from __future__ import annotations

import time

from litestar import Request
from litestar.datastructures import State

from hangar.api.paging import Pager
from hangar.app.async_invoke import AsyncInvocations
from hangar.app.auth.service import AuthService
from hangar.app.bus import CommandBus, CommandContext
from hangar.app.config_sync import ConfigSync
from hangar.app.discovery import DiscoveryService
from hangar.app.groups import GroupStartup
from hangar.app.hub import EventHub
from hangar.app.log.wiring import LogFeatures
from hangar.app.ports import EventStore, ProviderConnector
from hangar.app.projections.alerts import AlertsProjection
from hangar.app.projections.catalog import CatalogProjection
from hangar.app.projections.discovery import DiscoveryProjection
from hangar.app.projections.groups import GroupsProjection
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.projections.streams import StreamIndex
from hangar.app.projector import Projector
from hangar.app.settings import LiveConfig
from hangar.app.skills import SkillsProjection
from hangar.app.toolhive.module import ToolhiveModule
from hangar.config.schema import HangarConfig
from hangar.domain.errors import PreconditionFailedError
from hangar.observability.history import MetricsHistory
from hangar.observability.metrics import Metrics


class Services:
    """What controllers may read and send commands to: one typed bag, built by
    ``hangar.bootstrap`` (the API never builds or wires anything itself)."""

    bus: CommandBus
    store: EventStore
    projector: Projector
    providers: ProvidersProjection
    instance_id: str
    groups: GroupsProjection
    discovery_view: DiscoveryProjection
    catalog_view: CatalogProjection
    alerts_view: AlertsProjection
    auth: AuthService
    hub: EventHub
    metrics: Metrics
    metrics_history: MetricsHistory
    config_sync: ConfigSync
    group_module: GroupStartup
    discovery: DiscoveryService
    connector: ProviderConnector
    live: LiveConfig
    log: LogFeatures
    streams: StreamIndex
    pager: Pager
    skills_view: SkillsProjection
    toolhive: ToolhiveModule
    async_invocations: AsyncInvocations
    started_monotonic: float

    @property
    def config(self) -> HangarConfig:
        """The configuration in force (a reload replaces it)."""
        return self.live.current

    @property
    def config_path(self) -> str | None:
        return self.live.path

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_monotonic


def provide_services(state: State) -> Services:
    services: Services = state.services
    return services


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(value: str | None) -> int | None:
    """``If-Match`` carries the version from an earlier ``ETag``; ``*`` means any version."""
    if value is None or value.strip() == "*":
        return None
    tag = value.strip()
    if tag.startswith("W/"):
        # A weak tag never matches under If-Match's strong comparison (RFC 9110 13.1.1).
        raise PreconditionFailedError("If-Match requires a strong ETag")
    tag = tag.strip('"')
    if not tag.isdigit():
        raise PreconditionFailedError(f"If-Match value {value!r} matches no version")
    return int(tag)


def command_context(request: Request) -> CommandContext:
    # Read from the ASGI scope directly: building the framework's header and state views for
    # three values cost about 20 us per command. Header names are lower case in ASGI; the
    # first of repeated headers counts, as with ``request.headers.get``.
    scope = request.scope
    state = scope.get("state")
    principal = state.get("principal") if isinstance(state, dict) else None
    correlation = if_match = None
    for name, value in scope["headers"]:
        if name == b"x-correlation-id":
            if correlation is None:
                correlation = value.decode("latin-1")
        elif name == b"if-match" and if_match is None:
            if_match = value.decode("latin-1")
    return CommandContext(
        principal=principal or "anonymous",
        correlation_id=correlation or "",
        if_match=parse_if_match(if_match),
    )
