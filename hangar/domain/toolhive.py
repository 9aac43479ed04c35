"""Aggregates behind the ToolHive vocabulary: the secrets vault, client registrations, registry
sources and installed skills. Pure: each decides from its state and returns events."""

from __future__ import annotations

import re

import msgspec

from hangar.domain import toolhive_events as te
from hangar.domain.catalog_events import CatalogEntryData
from hangar.domain.errors import AlreadyExistsError, HangarError, NotFoundError, ValidationError
from hangar.domain.event_base import Event

# Secret keys, client names, registry and skill names: no path separators, no dot-dot.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
SECRET_PROVIDERS = ("encrypted", "environment")
WRITABLE_PROVIDERS = frozenset({"encrypted"})


class NotWritableError(HangarError):
    """The secrets provider cannot do this (ToolHive answers 405)."""

    status_code = 405


def check_name(kind: str, name: str) -> None:
    if not NAME_PATTERN.match(name) or ".." in name:
        raise ValidationError(f"invalid {kind} name '{name}': use letters, digits, '.', '_' or '-'")


class _Aggregate:
    """Snapshot plumbing shared by the small aggregates below."""

    State: type[msgspec.Struct]

    def __init__(self, key: str) -> None:
        self.key = key
        self.version = 0
        self.s = self.State()

    def snapshot(self) -> bytes:
        return msgspec.json.encode(self.s)

    @classmethod
    def from_snapshot(cls, key: str, version: int, state: bytes) -> _Aggregate:
        agg = cls(key)
        agg.s = msgspec.json.decode(state, type=cls.State)
        agg.version = version
        return agg


# --- secrets ---------------------------------------------------------------------------------


class VaultState(msgspec.Struct, kw_only=True):
    provider_type: str = ""
    keys: dict[str, str] = {}


class SecretsVault(_Aggregate):
    State = VaultState
    s: VaultState

    def require(self) -> None:
        if not self.s.provider_type:
            raise NotFoundError("secrets provider is not set up")

    def set_up(self, provider_type: str) -> list[Event]:
        if provider_type not in SECRET_PROVIDERS:
            raise ValidationError(f"unsupported secrets provider '{provider_type}' (use encrypted or environment)")
        if provider_type == self.s.provider_type:
            return []
        return [te.SecretsProviderSetUp(provider_type=provider_type)]

    def _writable(self) -> None:
        self.require()
        if self.s.provider_type not in WRITABLE_PROVIDERS:
            raise NotWritableError(f"the '{self.s.provider_type}' secrets provider is read-only")

    def create(self, key: str, sealed: str) -> list[Event]:
        check_name("secret", key)
        self._writable()
        if key in self.s.keys:
            raise AlreadyExistsError(f"secret '{key}' already exists")
        return [te.SecretStored(key=key, sealed=sealed)]

    def update(self, key: str, sealed: str) -> list[Event]:
        self._writable()
        if key not in self.s.keys:
            raise NotFoundError(f"secret '{key}' not found")
        return [te.SecretStored(key=key, sealed=sealed, rotated=True)]

    def delete(self, key: str) -> list[Event]:
        self._writable()
        if key not in self.s.keys:
            raise NotFoundError(f"secret '{key}' not found")
        return [te.SecretDeleted(key=key)]

    def apply(self, e: Event) -> None:
        match e:
            case te.SecretsProviderSetUp(provider_type=t):
                self.s.provider_type = t
            case te.SecretStored(key=k, sealed=v):
                self.s.keys = {**self.s.keys, k: v}
            case te.SecretDeleted(key=k):
                self.s.keys = {n: v for n, v in self.s.keys.items() if n != k}
            case _:
                pass


# --- clients ---------------------------------------------------------------------------------


class ClientState(msgspec.Struct, kw_only=True):
    registered: bool = False
    groups: list[str] = []


class ClientRegistration(_Aggregate):
    State = ClientState
    s: ClientState

    def require(self) -> None:
        if not self.s.registered:
            raise NotFoundError(f"client '{self.key}' is not registered")

    def register(self, groups: list[str], path: str) -> list[Event]:
        merged = sorted(set(self.s.groups) | set(groups))
        if self.s.registered and merged == self.s.groups:
            return []
        return [te.ClientRegistered(client=self.key, groups=merged, config_path=path)]

    def unregister(self, groups: list[str] | None, path: str) -> list[Event]:
        self.require()
        if groups is not None and not set(groups) & set(self.s.groups):
            raise NotFoundError(f"client '{self.key}' is not registered for {', '.join(groups)}")
        removed = sorted(self.s.groups) if groups is None else sorted(set(groups) & set(self.s.groups))
        return [te.ClientUnregistered(client=self.key, groups=removed, config_path=path)]

    def apply(self, e: Event) -> None:
        match e:
            case te.ClientRegistered(groups=g):
                self.s = ClientState(registered=True, groups=list(g))
            case te.ClientUnregistered(groups=g):
                left = [x for x in self.s.groups if x not in g] if g else []
                self.s = ClientState(registered=bool(left), groups=left)
            case _:
                pass


# --- registry sources ------------------------------------------------------------------------


class SourceState(msgspec.Struct, kw_only=True):
    exists: bool = False
    kind: str = ""
    source: str = ""


class RegistrySource(_Aggregate):
    State = SourceState
    s: SourceState

    def require(self) -> None:
        if not self.s.exists:
            raise NotFoundError(f"registry '{self.key}' not found")

    def save(self, kind: str, source: str, *, create: bool) -> list[Event]:
        check_name("registry", self.key)
        if create and self.s.exists:
            raise AlreadyExistsError(f"registry '{self.key}' already exists")
        if (self.s.exists, self.s.kind, self.s.source) == (True, kind, source):
            return []
        return [te.RegistrySourceSaved(name=self.key, kind=kind, source=source)]

    def refreshed(self, fmt: str, version: str, servers: list[CatalogEntryData]) -> list[Event]:
        self.require()
        return [te.RegistrySourceRefreshed(name=self.key, format=fmt, version=version, servers=servers)]

    def refresh_failed(self, error: str) -> list[Event]:
        self.require()
        return [te.RegistrySourceRefreshFailed(name=self.key, error=error)]

    def remove(self) -> list[Event]:
        self.require()
        return [te.RegistrySourceRemoved(name=self.key)]

    def apply(self, e: Event) -> None:
        match e:
            case te.RegistrySourceSaved(kind=k, source=src):
                self.s = SourceState(exists=True, kind=k, source=src)
            case te.RegistrySourceRemoved():
                self.s = SourceState()
            case _:
                pass


# --- installed skills ------------------------------------------------------------------------


class SkillState(msgspec.Struct, kw_only=True):
    installed: bool = False
    clients: list[str] = []


class InstalledSkill(_Aggregate):
    State = SkillState
    s: SkillState

    def require(self) -> None:
        if not self.s.installed:
            raise NotFoundError(f"skill '{self.key}' is not installed")

    def install(self, meta: te.SkillMeta, clients: list[str], source: str, digest: str, force: bool) -> list[Event]:
        check_name("skill", self.key)
        if self.s.installed and not force:
            raise AlreadyExistsError(f"skill '{self.key}' is already installed")
        return [te.SkillInstalled(name=self.key, metadata=meta, clients=clients, source=source, digest=digest)]

    def remove(self) -> list[Event]:
        self.require()
        return [te.SkillRemoved(name=self.key)]

    def apply(self, e: Event) -> None:
        match e:
            case te.SkillInstalled(clients=c):
                self.s = SkillState(installed=True, clients=list(c))
            case te.SkillRemoved():
                self.s = SkillState()
            case _:
                pass
