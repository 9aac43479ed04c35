"""The application's object graph, built once by the app factory (no module-level singletons)."""

from __future__ import annotations

import os
import socket
import time
import uuid

import structlog

from hangar.app.bus import SYSTEM, CommandBus
from hangar.app.hub import EventHub
from hangar.app.maintenance import Maintenance
from hangar.app.ports import EventStore
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.projector import Projector
from hangar.app.providers import ProviderDefinitions, RegisterProvider
from hangar.app.repository import ProviderRepository
from hangar.config.loader import to_spec
from hangar.config.schema import HangarConfig

log = structlog.get_logger("hangar")


class Services:
    def __init__(self, store: EventStore, config: HangarConfig, config_path: str | None = None) -> None:
        self.store = store
        self.config = config
        self.config_path = config_path
        self.instance_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.providers = ProvidersProjection()
        self.projector = Projector(store, [self.providers])
        self.hub = EventHub(config.websocket.queue_size)
        self.projector.add_listener(self.hub)
        self.bus = CommandBus(self.instance_id)
        self.repo = ProviderRepository(
            store, self.projector.wait_for, snapshot_every=config.event_store.snapshot_every
        )
        self.definitions = ProviderDefinitions(self.repo)
        self.definitions.register_with(self.bus)
        Maintenance(store).register_with(self.bus)
        self.started_monotonic = time.monotonic()

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_monotonic

    async def start(self) -> None:
        await self.store.start()
        await self.projector.start()
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

    async def close(self) -> None:
        await self.projector.stop()
        await self.store.close()
