"""The application's object graph, built once by the app factory (no module-level singletons)."""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path
from typing import cast

import structlog

from hangar.app.alerts import Alerts
from hangar.app.auth.service import AuthService
from hangar.app.bus import SYSTEM, CommandBus
from hangar.app.catalog import Catalog, catalog_repository, seed_catalog
from hangar.app.codec import new_id
from hangar.app.config_sync import ConfigSync
from hangar.app.discovery import DiscoverySection, DiscoveryService, discovery_repository
from hangar.app.groups import GroupModule
from hangar.app.hub import EventHub
from hangar.app.invoke import Invoker
from hangar.app.lifecycle import Lifecycle, register_lifecycle_commands
from hangar.app.log.ports import LogStore
from hangar.app.log.wiring import LogFeatures
from hangar.app.maintenance import Maintenance
from hangar.app.ports import EventStore, ProviderConnector
from hangar.app.projections.catalog import CatalogProjection
from hangar.app.projections.discovery import DiscoveryProjection
from hangar.app.projections.groups import GroupsProjection
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.projections.streams import StreamIndex
from hangar.app.projector import Projector
from hangar.app.providers import ProviderDefinitions, RegisterProvider
from hangar.app.repository import provider_repository
from hangar.app.secrets import SecretBox
from hangar.config.loader import to_spec
from hangar.config.schema import HangarConfig
from hangar.observability.history import MetricsHistory
from hangar.observability.metrics import InstrumentedStore, Metrics
from hangar.observability.tracing import command_span

log = structlog.get_logger("hangar")


class Services:
    def __init__(
        self, store: EventStore, connector: ProviderConnector, config: HangarConfig,
        config_path: str | None = None, metrics: Metrics | None = None,
        secrets: SecretBox | None = None,
    ) -> None:
        self.secrets = secrets if secrets is not None else SecretBox.from_environment()
        # Every append is measured (latency, events appended) by wrapping the store port.
        self.metrics = metrics or Metrics()
        store = InstrumentedStore(store, self.metrics)
        self.store = store
        self.config = config
        self.config_path = config_path
        self.instance_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.providers = ProvidersProjection()
        self.groups = GroupsProjection()
        self.streams = StreamIndex()
        self.projector = Projector(store, [self.streams, self.providers, self.groups])
        self.hub = EventHub(config.websocket.queue_size)
        self.projector.add_listener(self.hub)
        self.bus = CommandBus(self.instance_id, span=command_span)
        self.repo = provider_repository(
            store, self.projector.wait_for, config.event_store.snapshot_every, self.streams.version
        )
        self.connector = connector
        self.lifecycle = Lifecycle(
            self.repo, connector, config.runtime,
            lambda ctx: ctx.metadata(new_id(), self.instance_id),
            self.secrets,
        )
        register_lifecycle_commands(self.bus, self.lifecycle)
        self.definitions = ProviderDefinitions(self.repo, self.lifecycle, self.secrets)
        self.definitions.register_with(self.bus)
        self.invoker = Invoker(store, self.lifecycle, self.providers, self.projector)
        self.invoker.register_with(self.bus)
        self.auth = AuthService(
            store, self.projector, self.bus, config.auth, self.instance_id, config.event_store.snapshot_every
        )
        if self.auth.enabled:
            self.invoker.gate = self.auth
        Maintenance(store).register_with(self.bus)
        self.group_module = GroupModule(self)
        self.config_sync = ConfigSync(self)
        self.config_sync.register_with(self.bus)
        self.config_sync.settings_hooks.append(lambda c: self.auth.reconfigure(c.auth))
        self.config_sync.add_section(self.group_module.section)
        self.projector.projections.append(self.config_sync.projection)
        self._wire_discovery_and_catalog(store, config)
        self._wire_mcp(store)
        self._wire_registries(store, config)
        self._wire_toolhive(store, config)
        self.alerts = Alerts(self)
        self.metrics.bind(self)
        obs = config.observability
        self.metrics_history = MetricsHistory(self.metrics, obs.history_interval_s, obs.history_max_points)
        self.config_sync.settings_hooks.append(lambda c: self.metrics_history.reconfigure(
            c.observability.history_interval_s, c.observability.history_max_points))
        self.started_monotonic = time.monotonic()
        # --- the log as a product: events API, resumable streams, time travel ------------------
        self.log = LogFeatures(
            cast(LogStore, store), self.projector, self.providers, self.groups, self.catalog_view,
            self.auth.view, config.websocket.queue_size,
            config.event_store.checkpoint_every,
        )

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_monotonic

    async def start(self) -> None:
        await self.store.start()
        await self.log.start()
        await self.projector.start()
        await self.log.caught_up()
        self.metrics.live = True
        await self.alerts.start()
        await self.auth.start()
        await self.lifecycle.start()
        await self.reconcile_after_restart()
        await self.mcp_discovery.start()
        await self.apply_config_providers()
        await self.group_module.start()
        # Records which ids the file manages and removes those an earlier file declared.
        await self.config_sync.apply_startup()
        await seed_catalog(self.bus, self.config.catalog.seed, self._config_dir())
        await self.discovery.start()
        self.toolhive.start()
        self.metrics_history.start()
        self.config_sync.start_watching()
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

    def _wire_discovery_and_catalog(self, store: EventStore, config: HangarConfig) -> None:
        from hangar.discovery import EnvironmentChecker, backends

        self.discovery_view = DiscoveryProjection()
        self.catalog_view = CatalogProjection()
        self.projector.projections += [self.discovery_view, self.catalog_view]
        snap = config.event_store.snapshot_every
        self.discovery = DiscoveryService(
            discovery_repository(store, self.projector.wait_for, snap), self.bus, self.providers,
            self.discovery_view, backends(), EnvironmentChecker(),
        )
        self.discovery.register_with(self.bus)
        self.config_sync.add_section(DiscoverySection(self.bus, self.discovery_view, lambda: self.config_path))
        self.catalog = Catalog(catalog_repository(store, self.projector.wait_for, snap), self.bus, self.catalog_view)
        self.catalog.register_with(self.bus)

    def _wire_mcp(self, store: EventStore) -> None:
        """What the MCP front door needs: offerings read model, discovery on registration."""
        from hangar.app.async_invoke import AsyncInvocations
        from hangar.app.mcp_discovery import McpDiscovery
        from hangar.app.projections.offerings import OfferingsProjection

        self.offerings = OfferingsProjection()
        self.projector.projections.append(self.offerings)
        self.mcp_discovery = McpDiscovery(
            self.bus, store, self.lifecycle, self.providers, self.offerings, self.instance_id,
            self.config.mcp.discover_on_register,
        )
        self.projector.add_listener(self.mcp_discovery)
        self.async_invocations = AsyncInvocations(self.bus)
        if hasattr(self.connector, "on_offerings_changed"):
            self.connector.on_offerings_changed = self.mcp_discovery.offerings_changed

    def _wire_toolhive(self, store: EventStore, config: HangarConfig) -> None:
        from hangar.app.toolhive.module import ToolhiveModule

        self.toolhive = ToolhiveModule(
            store, self.projector.wait_for, self.bus, config.event_store.snapshot_every, self.providers,
            self.groups, self.catalog_view, self.skills_view, self.lifecycle, self.secrets, config.clients,
            config.registries,
            lambda ctx: ctx.metadata(new_id(), self.instance_id),
        )
        self.projector.projections.append(self.toolhive.view)

    def _wire_registries(self, store: EventStore, config: HangarConfig) -> None:
        """Skills registry, cursor signing (registries, tools API, paging)."""
        from hangar.api.paging import Pager
        from hangar.app.skills import SkillsProjection, skills_registry

        self.pager = Pager()
        self.skills_view = SkillsProjection()
        self.projector.projections.append(self.skills_view)
        self.skills = skills_registry(store, self.projector.wait_for, self.skills_view,
                                      config.event_store.snapshot_every)
        self.skills.register_with(self.bus)

    def _config_dir(self) -> Path | None:
        return Path(self.config_path).resolve().parent if self.config_path else None

    async def close(self) -> None:
        await self.async_invocations.close()
        await self.mcp_discovery.close()
        await self.toolhive.close()
        await self.discovery.close()
        await self.config_sync.stop_watching()
        await self.metrics_history.stop()
        await self.group_module.close()
        await self.lifecycle.close()
        await self.alerts.close()
        await self.auth.close()
        await self.projector.stop()
        await self.log.close()
        await self.store.close()
