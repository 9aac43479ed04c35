"""The Litestar application factory: every dependency is wired here, once."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.openapi import OpenAPIConfig

from hangar.api.errors import EXCEPTION_HANDLERS
from hangar.api.routes import ROUTE_HANDLERS
from hangar.api.system import package_version
from hangar.app.services import Services
from hangar.config.loader import load_config
from hangar.config.schema import HangarConfig
from hangar.observability.logging import configure_logging
from hangar.runtime.connector import RuntimeConnector
from hangar.store import create_event_store, migrate

DEFAULT_DB_URL = "sqlite+aiosqlite:///./data/hangar.db"


def resolve_db_url(cli_value: str | None, config: HangarConfig) -> str:
    return cli_value or os.environ.get("HANGAR_DB_URL") or config.event_store.url or DEFAULT_DB_URL


def create_app(
    config_path: str | None = None, db_url: str | None = None, *, config: HangarConfig | None = None
) -> Litestar:
    cfg = config if config is not None else load_config(config_path)
    url = resolve_db_url(db_url, cfg)
    configure_logging(cfg.logging.level, cfg.logging.json)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await migrate(url)
        store = create_event_store(
            url,
            batch_max=cfg.event_store.batch_max,
            sqlite_synchronous=cfg.event_store.sqlite_synchronous,
        )
        services = Services(store, RuntimeConnector(), cfg, config_path)
        await services.start()
        app.state.services = services
        try:
            yield
        finally:
            await services.close()

    return Litestar(
        route_handlers=ROUTE_HANDLERS,
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=OpenAPIConfig(title="Hangar", version=package_version(), path="/schema"),
        debug=False,
    )
