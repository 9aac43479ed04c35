"""Wiring of the ToolHive vocabulary: built once by the services, with explicit collaborators."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hangar.app.bus import CommandBus, CommandContext
from hangar.app.codec import EventMetadata
from hangar.app.ports import EventStore
from hangar.app.projections.catalog import CatalogProjection
from hangar.app.projections.groups import GroupsProjection
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.repository import Repository, RepositoryFactory
from hangar.app.runtime_facts import ProviderRuntime
from hangar.app.secrets import SecretBox
from hangar.app.skills import SkillsProjection
from hangar.app.toolhive.clients import ClientFiles
from hangar.app.toolhive.projection import ToolhiveProjection
from hangar.app.toolhive.registries import DEFAULT_REGISTRY, RegistrySources
from hangar.app.toolhive.secrets import SecretVault
from hangar.app.toolhive.skills import GitSource, Skills
from hangar.app.toolhive.workloads import Workloads
from hangar.config.schema import ClientsConfig, RegistriesConfig
from hangar.domain.catalog_events import CatalogEntryData
from hangar.domain.toolhive import ClientRegistration, InstalledSkill, RegistrySource, SecretsVault

A = TypeVar("A", SecretsVault, ClientRegistration, RegistrySource, InstalledSkill)


class ToolhiveModule:
    def __init__(
        self, store: EventStore, wait_for: Callable[[int], Any], bus: CommandBus, snapshot_every: int,
        providers: ProvidersProjection, groups: GroupsProjection, catalog: CatalogProjection,
        published_skills: SkillsProjection, runtime: ProviderRuntime, box: SecretBox,
        clients: ClientsConfig, registries: RegistriesConfig,
        metadata: Callable[[CommandContext], EventMetadata],
    ) -> None:
        self.clients_config = clients
        self.view = ToolhiveProjection()

        def repo(cls: type[A], kind: str, prefix: str) -> Repository[A]:
            factory = RepositoryFactory[A](kind, prefix, cls, cls.from_snapshot)  # type: ignore[arg-type]
            return factory(store, wait_for, snapshot_every)

        self.secrets = SecretVault(repo(SecretsVault, "SecretsVault", "secrets:"), box, self.view, providers, runtime)
        self.secrets.register_with(bus)
        self.clients = ClientFiles(repo(ClientRegistration, "Client", "clients:"), self.home)
        self.clients.register_with(bus)
        self.registries = RegistrySources(repo(RegistrySource, "Registry", "registry:"), bus, self.view,
                                          registries.refresh_interval_s)
        self.registries.register_with(bus)
        self.published_skills = published_skills
        self.skills = Skills(repo(InstalledSkill, "Skill", "skill:"), self.home, self.find_skill)
        self.skills.register_with(bus)
        self.catalog = catalog
        self.workloads = Workloads(bus, store, providers, groups, metadata, self.find_server)

    def find_server(self, registry: str, server: str) -> CatalogEntryData | None:
        if registry == DEFAULT_REGISTRY:
            eid = self.catalog.by_name.get(server)
            return self.catalog.entries[eid].entry if eid in self.catalog.entries else None
        src = self.view.sources.get(registry)
        return next((e for e in src.servers if e.name == server), None) if src is not None else None

    def find_skill(self, name: str, version: str) -> GitSource | None:
        """A skill published in Hangar's default skills registry (``namespace/name``, or a name
        only one namespace holds): the git package of the wanted (else latest) version."""
        view = self.published_skills
        if "/" in name:
            namespace, _, short = name.rpartition("/")
        else:
            spaces = [ns for ns, n in view.keys.get(DEFAULT_REGISTRY, []) if n == name]
            if len(spaces) != 1:
                return None
            namespace, short = spaces[0], name
        found = (view.versions_of(DEFAULT_REGISTRY, namespace, short).get(version) if version
                 else view.latest(DEFAULT_REGISTRY, namespace, short))
        for p in (found.packages or []) if found is not None else []:
            if p.registry_type == "git" and p.url:
                return GitSource(p.url, p.ref or p.commit or "", p.subfolder or "")
        return None

    def home(self) -> Path:
        return Path(self.clients_config.home).expanduser()

    def start(self) -> None:
        self.registries.start()

    async def close(self) -> None:
        await self.registries.close()
        await self.workloads.close()
