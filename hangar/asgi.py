"""The Litestar application factory (the HTTP edge of the composition root), and an importable
factory for ASGI servers that take a target string (granian, uvicorn --factory):

    granian --interface asgi --factory hangar.asgi:make_app
    HANGAR_CONFIG=config/hangar.yaml HANGAR_DB_URL=sqlite+aiosqlite:///./data/hangar.db
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.routes import HTTPRoute, WebSocketRoute
from litestar.types import Receive, Scope, Send

from hangar.api.bodies import StructBodyRequest
from hangar.api.cluster_proxy import McpSessionRouter, Relay
from hangar.api.errors import EXCEPTION_HANDLERS
from hangar.api.fast_reads import FastReads, ReadSources
from hangar.api.guard import AuthGuard, McpPolicyAccess
from hangar.api.hardening import RequestHardening
from hangar.api.mcp_front import McpFrontDoor
from hangar.api.mcp_provider import ProviderEndpoints
from hangar.api.newline import JsonNewline
from hangar.api.openapi import install as install_openapi
from hangar.api.routes import ROUTE_HANDLERS
from hangar.api.system import package_version
from hangar.app.cluster_node import ClusterNode, advertise_address
from hangar.bootstrap import Services, new_instance_id
from hangar.config.loader import load_config
from hangar.config.schema import HangarConfig
from hangar.observability.disk import DiskWatch
from hangar.observability.logging import configure_logging
from hangar.observability.metrics import Metrics
from hangar.observability.middleware import RequestObservability
from hangar.observability.tracing import RequestTracing, Tracing, otlp_endpoint
from hangar.runtime.connector import RuntimeConnector
from hangar.store import create_event_store, migrate
from hangar.store.cluster import ClusterStore
from hangar.store.engine import backend_for, data_directory, parse_url
from hangar.ui import schema_render_plugins

DEFAULT_DB_URL = "sqlite+aiosqlite:///./data/hangar.db"


def resolve_db_url(cli_value: str | None, config: HangarConfig) -> str:
    return cli_value or os.environ.get("HANGAR_DB_URL") or config.event_store.url or DEFAULT_DB_URL


# The components a controller may declare, each by the parameter name that receives it (the
# composition root's attribute of that name). Nothing else of the root reaches the API.
COMPONENTS = (
    "bus", "store", "projector", "streams", "providers", "groups", "discovery_view", "catalog_view",
    "alerts_view", "skills_view", "auth", "hub", "log", "config_sync", "live", "group_module", "connector",
    "toolhive", "async_invocations", "pager", "metrics", "metrics_history", "instance_id", "uptime",
)


def component_dependencies(root: Callable[[], Services]) -> dict[str, Provide]:
    """One app-wide dependency per component. The components exist once the lifespan has built
    the root, before the first request; they never change after, so each is read once and
    cached (``use_cache``), and a handler pays only for the few it declares."""

    def provider(name: str) -> Provide:
        def provide() -> Any:
            return getattr(root(), name)

        return Provide(provide, use_cache=True, sync_to_thread=False)

    return {name: provider(name) for name in COMPONENTS}


def resolve_in_sequence(app: Litestar) -> None:
    """Litestar resolves a handler's independent dependencies concurrently, in an anyio task
    group per request (litestar#4563): about 15 us of CPU per dependency, paid on every request
    for values that are cached singletons. Resolved one after the other (each batch is already
    in dependency order, and none of ours waits on anything) they cost next to nothing."""
    models: list[Any] = []
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            models += [model for _, model in route.route_handler_map.values()]
        elif isinstance(route, WebSocketRoute) and route.handler_parameter_model is not None:
            models.append(route.handler_parameter_model)
    for model in models:
        model.dependency_batches = [{dep} for batch in model.dependency_batches for dep in batch]


def create_app(
    config_path: str | None = None, db_url: str | None = None, *, config: HangarConfig | None = None,
    reload_on_sighup: bool = False, port: int | None = None,
) -> Litestar:
    cfg = config if config is not None else load_config(config_path)
    url = resolve_db_url(db_url, cfg)
    configure_logging(cfg.logging.level, cfg.logging.json)
    # One registry per app, never prometheus-client's global default.
    metrics = Metrics(package_version())
    tracing = Tracing(otlp_endpoint(cfg.observability.otlp_endpoint), package_version())

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await migrate(url)
        store = create_event_store(
            url,
            batch_max=cfg.event_store.batch_max,
            sqlite_synchronous=cfg.event_store.sqlite_synchronous,
        )
        app.state.cluster = cluster = _cluster_node(url, cfg, port)
        services = Services(store, RuntimeConnector(), cfg, config_path, metrics=metrics, cluster=cluster)
        services.config_sync.settings_hooks.append(_logging_hook(cfg))
        await services.start()
        # The root stays with the entry point (its tests read it); the API gets components only:
        # the auth middleware its service, the fast reads theirs, the controllers their dependencies.
        app.state.services = services
        app.state.auth = services.auth
        app.state.fast_reads = ReadSources(services.auth, services.providers, services.uptime)
        # The MCP front door at /mcp; its session manager lives exactly as long as the app.
        app.state.mcp_front = front = McpFrontDoor(
            services.bus, services.providers, services.groups, services.projector, McpPolicyAccess(services.auth),
            offerings=services.offerings, separator=cfg.mcp.name_separator, runtime=services.runtime,
            settled=services.mcp_discovery.settled, task_key=services.secrets.derived_key("mcp-tasks"))
        if hasattr(services.connector, "on_task_status"):
            services.connector.on_task_status = front.task_status
        # Each provider alone at /mcp/providers/{id}, with the front door's auth and policies.
        app.state.mcp_providers = providers_mcp = ProviderEndpoints(front)
        relay = None
        if cluster is not None:
            # A session lives on the replica that opened it; requests landing elsewhere go there.
            relay = Relay(cluster.token, cluster.instance_id)
            front.route = McpSessionRouter(_served_by(front), cluster.sessions, relay)
        sighup = reload_on_sighup and _install_sighup(services)
        disk = _disk_watch(services, metrics, data_directory(url))
        try:
            async with front.run(), providers_mcp.run():
                yield
        finally:
            if disk is not None:
                await disk.close()
            if sighup:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            await services.close()
            if relay is not None:
                await relay.close()
            tracing.shutdown()

    app = Litestar(
        route_handlers=ROUTE_HANDLERS,
        dependencies=component_dependencies(lambda: app.state.services),
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        middleware=[AuthGuard],
        # Bodies of struct-typed ``data`` decode straight into the struct (hangar/api/bodies.py).
        request_class=StructBodyRequest,
        openapi_config=OpenAPIConfig(title="Hangar", version=package_version(), path="/schema",
                                     render_plugins=schema_render_plugins()),
        debug=False,
    )
    install_openapi(app)
    resolve_in_sequence(app)
    app.state.data_dir = data_directory(url)
    # Wrapping the app's whole handler (not route middleware) sees unrouted requests and errors
    # too: every request is counted and carries a correlation id in its logs.
    # RequestHardening sits outside JsonNewline: a HEAD is served as a GET (newline included in
    # its content-length) and only then loses its body.
    app.asgi_handler = RequestObservability(
        RequestHardening(RequestTracing(FastReads(JsonNewline(app.asgi_handler), lambda: _read_sources(app))),
                         trusted_proxies=cfg.server.trusted_proxies,
                         body_timeout_s=cfg.server.body_timeout_s, routes=lambda: _http_routes(app)),
        metrics,
    )
    return app


def _read_sources(app: Litestar) -> ReadSources | None:
    sources: ReadSources | None = app.state.get("fast_reads")
    return sources


def _http_routes(app: Litestar) -> list[tuple[str, set[str]]]:
    from litestar.routes import HTTPRoute

    return [(r.path_format, set(r.methods)) for r in app.routes if isinstance(r, HTTPRoute)]


def _disk_watch(services: Services, metrics: Metrics, directory: str | None) -> DiskWatch | None:
    if directory is None:
        return None
    a = services.live.current.observability.alerts
    rules = services.alert_rules
    watch = DiskWatch(directory, metrics.registry, rules.raise_, rules.resolve, a.min_free_bytes,
                      a.disk_check_interval_s)
    watch.start()
    return watch
# --- cluster: several replicas on one PostgreSQL database ------------------------------------


def _cluster_node(url: str, cfg: HangarConfig, port: int | None) -> ClusterNode | None:
    """A PostgreSQL event store means cluster mode: membership, leadership, shared limits."""
    if backend_for(parse_url(url)[0]).is_sqlite:
        return None
    return ClusterNode(ClusterStore(url), cfg.cluster, new_instance_id(), advertise_address(cfg.cluster, port))


def _served_by(front: McpFrontDoor) -> Callable[[Scope, Receive, Send, str], Awaitable[None]]:
    async def serve(scope: Scope, receive: Receive, send: Send, principal: str) -> None:
        if front.server is None:
            raise RuntimeError("the MCP front door stopped")
        await front.server.handle(scope, receive, send, principal)

    return serve


def _logging_hook(cfg: HangarConfig) -> Callable[[HangarConfig], None]:
    """A reload that changes ``logging`` takes effect at once."""
    current = [cfg.logging]

    def hook(new: HangarConfig) -> None:
        if new.logging != current[0]:
            current[0] = new.logging
            configure_logging(new.logging.level, new.logging.json)

    return hook


def _install_sighup(services: Services) -> bool:
    """``kill -HUP`` reloads the config file, as daemons conventionally do."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[object]] = set()

    def on_hup() -> None:
        task = loop.create_task(services.config_sync.reload_quietly("sighup"))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGHUP, on_hup)
        return True
    return False


def make_app() -> Litestar:
    return create_app(os.environ.get("HANGAR_CONFIG"), os.environ.get("HANGAR_DB_URL"))
