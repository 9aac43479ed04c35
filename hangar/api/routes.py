"""Every route handler the app serves, in one list (the app factory registers exactly these)."""

from __future__ import annotations

from typing import Any

from hangar.api.async_invoke import AsyncInvokeController
from hangar.api.audit import AuditController
from hangar.api.auth import AuthController
from hangar.api.catalog import CatalogController
from hangar.api.cluster import ClusterController, InternalClusterController
from hangar.api.config import ConfigController
from hangar.api.definitions import DefinitionsController
from hangar.api.discovery import DiscoveryController
from hangar.api.events import EventsController
from hangar.api.groups import GroupController
from hangar.api.health import live, ready
from hangar.api.log_insight import LogInsightController
from hangar.api.maintenance import MaintenanceController
from hangar.api.mcp_front import mcp_endpoint
from hangar.api.observability import ObservabilityController, prometheus_metrics
from hangar.api.provider_runtime import ProviderRuntimeController, provider_logs_stream
from hangar.api.providers import ProviderController
from hangar.api.registry import RegistryAdminController, ServersController, SkillsController
from hangar.api.system import SystemController
from hangar.api.tools import ToolsController
from hangar.api.v1beta.router import toolhive_router
from hangar.api.ws import events_stream, state_stream
from hangar.ui import ui_route_handlers

ROUTE_HANDLERS: list[Any] = [
    ProviderController,
    ProviderRuntimeController,
    provider_logs_stream,
    SystemController,
    MaintenanceController,
    GroupController,
    mcp_endpoint,
    AsyncInvokeController,
    ConfigController,
    DiscoveryController,
    CatalogController,
    ObservabilityController,
    AuditController,
    AuthController,
    prometheus_metrics,
    events_stream,
    state_stream,
    # registries Hangar serves (/registry/{name}/v0.1)
    SkillsController,
    RegistryAdminController,
    ToolsController,
    DefinitionsController,
    ServersController,
    # --- operator-facing: probes, dashboard, offline schema assets
    live,
    ready,
    *ui_route_handlers(),
    # ToolHive's API at /api/v1beta (docs/toolhive.md)
    toolhive_router(),
    # the log as a product
    EventsController,
    LogInsightController,
    # cluster (several replicas on one PostgreSQL)
    ClusterController,
    InternalClusterController,
]
