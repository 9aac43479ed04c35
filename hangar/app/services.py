"""The application's object graph, built once by the app factory (no module-level singletons)."""

from __future__ import annotations

import os
import socket
import time
import uuid

import structlog

from hangar.app.bus import SYSTEM, CommandBus
from hangar.app.codec import new_id
from hangar.app.hub import EventHub
from hangar.app.invoke import Invoker
from hangar.app.lifecycle import Lifecycle, register_lifecycle_commands
from hangar.app.maintenance import Maintenance
from hangar.app.ports import EventStore, ProviderConnector
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.projector import Projector
from hangar.app.providers import ProviderDefinitions, RegisterProvider
from hangar.app.repository import provider_repository
from hangar.config.loader import to_spec
from hangar.config.schema import HangarConfig

log = structlog.get_logger("hangar")


class Services:
    def __init__(
        self, store: EventStore, connector: ProviderConnector, config: HangarConfig,
        config_path: str | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.config_path = config_path
        self.instance_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.providers = ProvidersProjection()
        self.projector = Projector(store, [self.providers])
        self.hub = EventHub(config.websocket.queue_size)
        self.projector.add_listener(self.hub)
        self.bus = CommandBus(self.instance_id)
        self.repo = provider_repository(store, self.projector.wait_for, config.event_store.snapshot_every)
        self.connector = connector
        self.lifecycle = Lifecycle(
            self.repo, connector, config.runtime,
            lambda ctx: ctx.metadata(new_id(), self.instance_id),
        )
        register_lifecycle_commands(self.bus, self.lifecycle)
        self.definitions = ProviderDefinitions(self.repo, self.lifecycle)
        self.definitions.register_with(self.bus)
        Invoker(store, self.lifecycle, self.providers, self.projector).register_with(self.bus)
        Maintenance(store).register_with(self.bus)
        self.started_monotonic = time.monotonic()

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_monotonic

    async def start(self) -> None:
        await self.store.start()
        await self.projector.start()
        await self.lifecycle.start()
        await self.reconcile_after_restart()
        await self.apply_config_providers()
        self.started_monotonic = time.monotonic()

    async def apply_config_providers(self) -> None:
        """Register the providers the config declares; an unchanged one appends nothing."""
        for name, pc in self.config.providers.items():
            changed = await self.bus.execute(
                RegisterProvider(provider_id=name, spec=to_spec(pc), upsert=True), SYSTEM
            )
            if changed:
                log.info("config_provider_applied", provider_id=name)

    async def reconcile_after_restart(self) -> None:
        """After a crash the log may say a provider is running while no process exists: record
        that it is cold, so state and reality agree before anything is served."""
        for view in list(self.providers.views.values()):
            if view.state != "cold":
                await self.lifecycle.stop(view.provider_id, "hangar_restart")

    async def close(self) -> None:
        await self.lifecycle.close()
        await self.projector.stop()
        await self.store.close()
