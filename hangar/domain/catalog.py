"""The CatalogEntry aggregate: a provider template, and how it turns into a provider."""

from __future__ import annotations

from typing import Any

import msgspec

from hangar.domain import catalog_events as ce
from hangar.domain.catalog_events import CatalogEntryData
from hangar.domain.errors import AlreadyExistsError, CatalogEntryNotFoundError, ValidationError
from hangar.domain.event_base import Event
from hangar.domain.provider_spec import ProviderSpec, check_command, check_env, check_spec

STREAM_PREFIX = "catalog:"

# Image-based servers run with their stdio attached; one that only listens on a port needs a
# network the docker runtime does not give it (network defaults to none).
STDIO_TRANSPORTS = frozenset({"", "stdio"})


def check_entry(entry: CatalogEntryData) -> None:
    if not entry.name.strip():
        raise ValidationError("name must not be empty")
    if not entry.description.strip():
        raise ValidationError("description must not be empty")
    names = [v.name for v in entry.env_vars]
    if len(names) != len(set(names)) or not all(names):
        raise ValidationError("env_vars must have unique, non-empty names")
    if entry.mode == "subprocess" and not entry.command:
        raise ValidationError("mode 'subprocess' requires a non-empty 'command' list")
    if entry.mode == "docker" and not entry.image:
        raise ValidationError("mode 'docker' requires 'image'")
    if entry.mode == "remote" and not (entry.endpoint or "").startswith(("http://", "https://")):
        raise ValidationError("mode 'remote' requires an http(s) 'endpoint'")
    check_command(entry.command)
    check_command(entry.args, "args")
    check_env(entry.env)


def entry_mode(entry: CatalogEntryData) -> str | None:
    if entry.mode:
        return entry.mode
    if entry.command:
        return "subprocess"
    if entry.image:
        return "docker"
    if entry.endpoint:
        return "remote"
    return None


def deploy_spec(
    entry: CatalogEntryData, env: dict[str, str], overrides: dict[str, Any] | None = None
) -> ProviderSpec:
    """The provider definition for this entry, its variables filled from ``env``. Refuses,
    naming them, when required variables have no value (never naming their values)."""
    mode = entry_mode(entry)
    if mode is None:
        raise ValidationError(f"Catalog entry '{entry.name}' has no command, image or endpoint to deploy")
    values: dict[str, str] = {v.name: v.default for v in entry.env_vars if v.default is not None}
    values |= entry.env
    values |= env
    missing = [v.name for v in entry.env_vars if v.required and not values.get(v.name)]
    if missing:
        raise ValidationError(f"Missing required environment variables: {', '.join(missing)}")
    if mode == "docker" and (entry.transport or "") not in STDIO_TRANSPORTS:
        raise ValidationError(
            f"Catalog entry '{entry.name}' serves over '{entry.transport}'; images are run over stdio"
        )
    command: list[str] | None
    if mode == "subprocess":
        command = [*(entry.command or []), *entry.args]
    elif mode == "docker":
        command = [*(entry.command or []), *entry.args] or None
    else:
        command = None
    fields: dict[str, Any] = {
        "mode": mode, "command": command, "image": entry.image if mode == "docker" else None,
        "endpoint": entry.endpoint if mode == "remote" else None, "env": values,
        "description": entry.description, **(overrides or {}),
    }
    try:
        spec = msgspec.convert(fields, ProviderSpec)
    except msgspec.ValidationError as exc:
        raise ValidationError(str(exc)) from None
    check_spec(spec)
    return spec


class EntrySnapshot(msgspec.Struct, kw_only=True):
    entry_id: str = ""
    exists: bool = False
    entry: CatalogEntryData | None = None
    deploy_count: int = 0


class CatalogEntry:
    def __init__(self, entry_id: str) -> None:
        self.s = EntrySnapshot(entry_id=entry_id)
        self.version = 0

    @property
    def entry_id(self) -> str:
        return self.s.entry_id

    @property
    def exists(self) -> bool:
        return self.s.exists

    @property
    def entry(self) -> CatalogEntryData:
        if self.s.entry is None or not self.s.exists:
            raise CatalogEntryNotFoundError(self.entry_id)
        return self.s.entry

    def require(self) -> None:
        if not self.s.exists:
            raise CatalogEntryNotFoundError(self.entry_id)

    def add(self, entry: CatalogEntryData) -> list[Event]:
        if self.s.exists:
            raise AlreadyExistsError(f"Catalog entry '{self.entry_id}' already exists")
        check_entry(entry)
        return [ce.CatalogEntryAdded(entry_id=self.entry_id, entry=entry)]

    def replace(self, entry: CatalogEntryData) -> list[Event]:
        check_entry(entry)
        if entry == self.entry:
            return []
        return [ce.CatalogEntryUpdated(entry_id=self.entry_id, entry=entry)]

    def remove(self) -> list[Event]:
        return [ce.CatalogEntryRemoved(entry_id=self.entry_id, name=self.entry.name)]

    def record_deploy(self, provider_id: str) -> list[Event]:
        self.require()
        return [ce.CatalogEntryDeployed(entry_id=self.entry_id, provider_id=provider_id)]

    def apply(self, e: Event) -> None:
        match e:
            case ce.CatalogEntryAdded(entry=entry):
                self.s = EntrySnapshot(entry_id=self.entry_id, exists=True, entry=entry)
            case ce.CatalogEntryUpdated(entry=entry):
                self.s.entry = entry
            case ce.CatalogEntryRemoved():
                self.s = EntrySnapshot(entry_id=self.entry_id)
            case ce.CatalogEntryDeployed():
                self.s.deploy_count += 1
            case _:
                pass

    def snapshot(self) -> bytes:
        return msgspec.json.encode(self.s)

    @classmethod
    def from_snapshot(cls, entry_id: str, version: int, state: bytes) -> CatalogEntry:
        agg = cls(entry_id)
        agg.s = msgspec.json.decode(state, type=EntrySnapshot)
        agg.version = version
        return agg
