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
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from hangar.api.deps import provide_services
from hangar.api.errors import EXCEPTION_HANDLERS
from hangar.api.guard import AuthGuard, McpPolicyAccess
from hangar.api.mcp_front import McpFrontDoor
from hangar.api.mcp_provider import ProviderEndpoints
from hangar.api.newline import JsonNewline
from hangar.api.routes import ROUTE_HANDLERS
from hangar.api.system import package_version
from hangar.bootstrap import Services
from hangar.config.loader import load_config
from hangar.config.schema import HangarConfig
from hangar.observability.logging import configure_logging
from hangar.observability.metrics import Metrics
from hangar.observability.middleware import RequestObservability
from hangar.observability.tracing import RequestTracing, Tracing, otlp_endpoint
from hangar.runtime.connector import RuntimeConnector
from hangar.store import create_event_store, migrate
from hangar.ui import schema_render_plugins

DEFAULT_DB_URL = "sqlite+aiosqlite:///./data/hangar.db"


def resolve_db_url(cli_value: str | None, config: HangarConfig) -> str:
    return cli_value or os.environ.get("HANGAR_DB_URL") or config.event_store.url or DEFAULT_DB_URL


def create_app(
    config_path: str | None = None, db_url: str | None = None, *, config: HangarConfig | None = None,
    reload_on_sighup: bool = False,
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
        services = Services(store, RuntimeConnector(), cfg, config_path, metrics=metrics)
        services.config_sync.settings_hooks.append(_logging_hook(cfg))
        await services.start()
        app.state.services = services
        # The MCP front door at /mcp; its session manager lives exactly as long as the app.
        app.state.mcp_front = front = McpFrontDoor(
            services.bus, services.providers, services.groups, services.projector, McpPolicyAccess(services.auth),
            offerings=services.offerings, separator=cfg.mcp.name_separator, runtime=services.supervisor,
            settled=services.mcp_discovery.settled)
        # Each provider alone at /mcp/providers/{id}, with the front door's auth and policies.
        app.state.mcp_providers = providers_mcp = ProviderEndpoints(front)
        sighup = reload_on_sighup and _install_sighup(services)
        try:
            async with front.run(), providers_mcp.run():
                yield
        finally:
            if sighup:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            await services.close()
            tracing.shutdown()

    app = Litestar(
        route_handlers=ROUTE_HANDLERS,
        # One app-wide dependency; the object never changes, so Litestar may cache it.
        dependencies={"services": Provide(provide_services, sync_to_thread=False, use_cache=True)},
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        middleware=[AuthGuard],
        openapi_config=OpenAPIConfig(title="Hangar", version=package_version(), path="/schema",
                                     render_plugins=schema_render_plugins()),
        debug=False,
    )
    # Wrapping the app's whole handler (not route middleware) sees unrouted requests and errors
    # too: every request is counted and carries a correlation id in its logs.
    app.asgi_handler = RequestObservability(RequestTracing(JsonNewline(app.asgi_handler)), metrics)
    return app


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
