"""The composition root: every component is built here, with explicit arguments, and every
registration (commands, projections, listeners, observers, config sections) happens here, in
the order that Hangar starts and stops them. No component receives this object: the app
factory (``hangar.asgi``) hands each controller only the components it declares."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import cast

from hangar.api.paging import Pager
from hangar.app.alerts import AlertRules, alert_repository
from hangar.app.async_invoke import AsyncInvocations, async_task_commands
from hangar.app.auth.service import AuthService
from hangar.app.bus import CommandBus
from hangar.app.catalog import Catalog, catalog_repository, seed_catalog
from hangar.app.cluster_duties import OrphanSweep, leader_context, providers_to_reconcile
from hangar.app.cluster_node import ClusterNode
from hangar.app.cluster_runtime import ClusterRuntime
from hangar.app.codec import new_id
from hangar.app.config_sync import ConfigSync, ProvidersSection
from hangar.app.discovery import DiscoverySection, DiscoveryService, discovery_repository
from hangar.app.group_invoke import GroupRouter
from hangar.app.groups import GroupCommands, GroupReactions, GroupsSection, GroupStartup, group_repository
from hangar.app.hub import EventHub
from hangar.app.invoke import Invoker
from hangar.app.lifecycle import register_lifecycle_commands
from hangar.app.log.ports import LogStore
from hangar.app.log.wiring import LogFeatures
from hangar.app.maintenance import Maintenance
from hangar.app.mcp_discovery import McpDiscovery
from hangar.app.ports import EventStore, ProviderConnector
from hangar.app.projections.alerts import AlertsProjection
from hangar.app.projections.async_tasks import AsyncTasksProjection
from hangar.app.projections.catalog import CatalogProjection
from hangar.app.projections.config import ConfigProjection
from hangar.app.projections.discovery import DiscoveryProjection
from hangar.app.projections.groups import GroupsProjection
from hangar.app.projections.offerings import OfferingsProjection
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.projections.streams import StreamIndex
from hangar.app.projector import Projector
from hangar.app.providers import ProviderDefinitions
from hangar.app.repository import provider_repository
from hangar.app.runtime_facts import ProviderRuntime, register_runtime_facts
from hangar.app.secrets import SecretBox
from hangar.app.settings import LiveConfig
from hangar.app.skills import SkillsProjection, skills_registry
from hangar.app.toolhive.module import ToolhiveModule
from hangar.app.uptime import Uptime
from hangar.config.schema import HangarConfig
from hangar.discovery import EnvironmentChecker, backends
from hangar.observability.history import MetricsHistory
from hangar.observability.metrics import InstrumentedStore, LiveCollector, Metrics
from hangar.observability.tracing import command_span
from hangar.runtime.peers import PeerClient
from hangar.runtime.supervisor import Supervisor


def new_instance_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def _nothing() -> None:
    """A leader duty with nothing to undo when leadership is lost."""


class Services:
    """The object graph of one Hangar instance, and its start and stop order."""

    def __init__(
        self, store: EventStore, connector: ProviderConnector, config: HangarConfig,
        config_path: str | None = None, metrics: Metrics | None = None,
        secrets: SecretBox | None = None, cluster: ClusterNode | None = None,
    ) -> None:
        instance_id = cluster.instance_id if cluster is not None else new_instance_id()
        self.cluster = cluster
        snap = config.event_store.snapshot_every
        self.instance_id = instance_id
        self.live = live = LiveConfig(config, config_path)
        self.secrets = secrets = secrets if secrets is not None else SecretBox.from_environment()
        self.metrics = metrics = metrics or Metrics()
        # Every append is measured (latency, events appended) by wrapping the store port.
        self.store = store = InstrumentedStore(store, metrics)
        self.connector = connector
        self.uptime = Uptime()

        # --- read models, in the order the projector feeds them --------------------------------
        self.streams = StreamIndex()
        self.providers = providers = ProvidersProjection()
        self.groups = groups = GroupsProjection()
        self.projector = projector = Projector(store, [self.streams, providers, groups])
        config_view = ConfigProjection()
        self.discovery_view = DiscoveryProjection()
        self.catalog_view = CatalogProjection()
        self.alerts_view = AlertsProjection(config.observability.alerts.history_size)
        projector.projections += [config_view, self.discovery_view, self.catalog_view, self.alerts_view]
        self.hub = EventHub(config.websocket.queue_size)
        projector.add_listener(self.hub)
        self.bus = bus = CommandBus(instance_id, span=command_span)

        # --- providers: definitions, the supervisor of live processes, invocation --------------
        provider_repo = provider_repository(store, projector.wait_for, snap, self.streams.version)
        self.supervisor = supervisor = Supervisor(bus, provider_repo, connector, config.runtime, secrets)
        # In a cluster every provider runs on one replica: the others forward to it.
        runtime: ProviderRuntime = supervisor
        if cluster is not None:
            runtime = cluster.runtime = ClusterRuntime(
                supervisor, cluster.coord, cluster.membership, PeerClient(cluster.token, instance_id),
                lease_ttl_s=config.cluster.provider_lease_ttl_s)
        self.runtime = runtime
        """Where calls and forwarded MCP requests go: the supervisor, or in a cluster the owner."""
        register_runtime_facts(bus, provider_repo)
        register_lifecycle_commands(bus, provider_repo, runtime)
        ProviderDefinitions(provider_repo, runtime, secrets).register_with(bus)
        self.invoker = invoker = Invoker(store, runtime, providers, projector)
        invoker.register_with(bus)

        # --- auth and audit (the audit observes every command on the bus) ----------------------
        self.auth = AuthService(store, projector, bus, config.auth, instance_id, snap)
        if self.auth.enabled:
            invoker.gate = self.auth
        if cluster is not None:
            self.auth.shared = cluster.limits(config.auth)
        Maintenance(store).register_with(bus)

        # --- groups --------------------------------------------------------------------------------
        group_repo = group_repository(store, projector.wait_for, snap, self.streams.version)
        router = GroupRouter(invoker.invoke, group_repo, groups, providers, runtime, config.runtime, bus)
        router.register_with(bus)
        GroupCommands(group_repo, providers, router.statuses, router.forget).register_with(bus)
        self.group_module = GroupStartup(group_repo, groups, providers, router, GroupReactions(bus, groups),
                                         instance_id)

        # --- discovery and catalog ----------------------------------------------------------------
        self.discovery = DiscoveryService(
            discovery_repository(store, projector.wait_for, snap), bus, providers, self.discovery_view,
            backends(), EnvironmentChecker(),
        )
        self.discovery.register_with(bus)
        Catalog(catalog_repository(store, projector.wait_for, snap), bus, self.catalog_view, secrets).register_with(bus)

        # --- the MCP front door's read model; providers' offerings learnt before first use ---------
        self.offerings = OfferingsProjection()
        projector.projections.append(self.offerings)
        self.mcp_discovery = McpDiscovery(
            bus, store, supervisor, providers, self.offerings, instance_id, config.mcp.discover_on_register)
        projector.add_listener(self.mcp_discovery)
        if hasattr(connector, "on_offerings_changed"):
            connector.on_offerings_changed = self.mcp_discovery.offerings_changed
        # REST's asynchronous calls: a stream each in the log, visible from every replica.
        self.async_tasks_view = AsyncTasksProjection()
        projector.projections.append(self.async_tasks_view)
        async_task_commands(store, projector.wait_for, snap).register_with(bus)
        self.async_invocations = AsyncInvocations(bus, self.async_tasks_view, providers, runtime)
        projector.add_listener(self.async_invocations)

        # --- registries (skills), cursor signing, the ToolHive vocabulary --------------------------
        # Cursors signed with a key every replica shares: a page fetched from one replica
        # continues on another, and after a restart.
        self.pager = Pager(secrets.derived_key("cursors"))
        self.skills_view = SkillsProjection()
        projector.projections.append(self.skills_view)
        self.skills = skills_registry(store, projector.wait_for, self.skills_view, snap)
        self.skills.register_with(bus)
        self.toolhive = ToolhiveModule(
            store, projector.wait_for, bus, snap, providers, groups, self.catalog_view, self.skills_view,
            runtime, secrets, config.clients, config.registries,
            lambda ctx: ctx.metadata(new_id(), instance_id),
        )
        projector.projections.append(self.toolhive.view)
        supervisor.resolve_refs = self.toolhive.secrets.resolve

        # --- configuration: sections apply in order, and are removed in reverse --------------------
        self.config_sync = sync = ConfigSync(live, bus, store, projector, providers, secrets, config_view, instance_id)
        sync.register_with(bus)
        sync.add_section(ProvidersSection(bus, providers, secrets, runtime))
        sync.add_section(GroupsSection(bus, groups))
        sync.add_section(DiscoverySection(bus, self.discovery_view, lambda: live.path))

        # --- alerts, metrics -----------------------------------------------------------------------
        alert_repo = alert_repository(store, projector.wait_for, snap)
        self.alert_rules = AlertRules(bus, alert_repo, providers, live, self.alerts_view)
        self.alert_rules.register_with(bus)
        projector.add_listener(self.alert_rules)
        projector.add_listener(metrics)
        bus.observe(metrics.observe_command)
        metrics.add_collector(LiveCollector(
            metrics, self.hub, projector, supervisor, self.alerts_view, self.uptime.seconds))
        obs = config.observability
        self.metrics_history = MetricsHistory(metrics, obs.history_interval_s, obs.history_max_points)
        # --- the log as a product: events API, resumable streams, time travel ----------------------
        self.log = LogFeatures(
            cast(LogStore, store), projector, providers, groups, self.catalog_view, self.auth.view,
            config.websocket.queue_size, config.event_store.checkpoint_every,
        )
        sync.settings_hooks.append(lambda c: self.auth.reconfigure(c.auth))
        sync.settings_hooks.append(lambda c: self.metrics_history.reconfigure(
            c.observability.history_interval_s, c.observability.history_max_points))

    async def start(self) -> None:
        await self.store.start()
        if self.cluster is not None:
            await self.cluster.start()
        await self.log.start()
        await self.projector.start()
        await self.log.caught_up()
        self.metrics.live = True
        await self.alert_rules.start()
        await self.auth.start()
        await self.supervisor.start()
        await self.reconcile_after_restart()
        await self.async_invocations.interrupted_on_start(self._gone_instances if self.cluster else None)
        await self.mcp_discovery.start(scan=self.cluster is None)
        await self.group_module.reconcile_after_restart()
        self.projector.add_listener(self.group_module.reactions)
        await self.group_module.sweep()
        # The configuration is applied once: it also removes what an earlier file declared.
        await self.config_sync.apply_startup()
        self.group_module.warm(self.live.current)
        await seed_catalog(self.bus, self.live.current.catalog.seed, self._config_dir())
        if self.cluster is None:
            await self.discovery.start()
            self.toolhive.start()
            self.config_sync.start_watching()
        else:
            self._lead_in_cluster(self.cluster)
        self.metrics_history.start()
        self.uptime.restart()

    async def reconcile_after_restart(self) -> None:
        """After a crash the log may say a provider is running while no process exists: record
        that it is cold, so state and reality agree before anything is served."""
        running = self._not_cold()
        node = self.cluster
        coord, members = (node.coord, node.membership) if node is not None else (None, None)
        # In a cluster, a provider a live replica owns is running there: it is left alone.
        for pid in await providers_to_reconcile(running, coord, members):
            await self.supervisor.stop(pid, "hangar_restart")

    async def _gone_instances(self, instances: Iterable[str]) -> list[str]:
        """Of these replicas, those not alive in the cluster (their tasks cannot finish)."""
        node = self.cluster
        assert node is not None
        return [i for i in instances if i != self.instance_id and not node.membership.is_live(i)]

    def _not_cold(self) -> list[str]:
        """Providers the log says are running (or starting, or failing)."""
        return [v.provider_id for v in list(self.providers.views.values()) if v.state != "cold"]

    # --- cluster: singleton work runs on the leader only ------------------------------------------

    def _lead_in_cluster(self, node: ClusterNode) -> None:
        rules = self.alert_rules
        rules.live = False
        registries = self.toolhive.registries

        async def alerts_on() -> None:
            rules.wanted = set(self.alerts_view.active)
            rules.live = True
            rules.reconcile()

        async def alerts_off() -> None:
            rules.live = False

        async def refresh_on() -> None:
            registries.start()

        async def watch_on() -> None:
            self.config_sync.start_watching()

        async def sync_sources() -> None:
            self.discovery.sync_loops()

        async def record_stopped(pid: str, reason: str) -> None:
            await self.supervisor.stop(pid, reason, leader_context(node.leadership))

        # Leader-only writes carry the leader lease's generation (``fencing`` in their metadata).
        self.discovery.context = rules.context = registries.context = lambda: leader_context(node.leadership)
        node.duties.add(alerts_on, alerts_off)
        node.duties.add(self.discovery.start, self.discovery.close)
        node.duties.add(refresh_on, registries.close)
        node.duties.add(watch_on, self.config_sync.stop_watching)
        node.duties.add(self.mcp_discovery.scan, _nothing)
        node.duties.every_round(sync_sources)
        node.duties.every_round(OrphanSweep(
            node.coord, node.membership,
            self._not_cold, record_stopped,
        ))
        node.duties.enable()

    def _config_dir(self) -> Path | None:
        path = self.live.path
        return Path(path).resolve().parent if path else None

    async def close(self) -> None:
        await self.async_invocations.close()
        await self.mcp_discovery.close()
        await self.toolhive.close()
        await self.discovery.close()
        await self.config_sync.stop_watching()
        await self.metrics_history.stop()
        await self.group_module.close()
        await self.supervisor.close()
        if self.cluster is not None:
            # After the providers stopped: their leases go back at once, not after a TTL.
            if self.cluster.runtime is not None:
                await self.cluster.runtime.close()
            await self.cluster.close()
        await self.alert_rules.close()
        await self.auth.close()
        await self.projector.stop()
        await self.log.close()
        await self.store.close()
