"""Catalog: commands that add, import, remove and deploy provider templates.

Deploying goes through the same ``RegisterProvider`` command as ``POST /api/providers``, so a
deployed entry is an ordinary provider. Names are unique in the catalog: imports match existing
entries by name, which makes importing the same document twice a no-op.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import msgspec
import structlog

from hangar.app.bus import CommandBus, CommandContext
from hangar.app.codec import EventMetadata
from hangar.app.preflight import require_command_on_path
from hangar.app.progress import Progress
from hangar.app.projections.catalog import CatalogProjection
from hangar.app.providers import RegisterProvider
from hangar.app.repository import Repository, RepositoryFactory
from hangar.app.secrets import SecretBox, is_sealed, is_secret_value
from hangar.domain.catalog import CatalogEntry, check_entry, deploy_spec
from hangar.domain.catalog_events import CatalogEntryData
from hangar.domain.errors import AlreadyExistsError, HangarError, ValidationError
from hangar.domain.provider_spec import check_provider_id
from hangar.formats.catalog import default_provider_id, parse_document

log = structlog.get_logger("hangar.catalog")


class AddCatalogEntry(msgspec.Struct, frozen=True, kw_only=True):
    entry: CatalogEntryData


class RemoveCatalogEntry(msgspec.Struct, frozen=True, kw_only=True):
    entry_id: str


class DeployCatalogEntry(msgspec.Struct, frozen=True, kw_only=True):
    entry_id: str
    provider_id: str | None = None
    env: dict[str, str] = {}
    overrides: dict[str, Any] = {}
    """Further provider fields (description, idle_ttl_s, ...) over the entry's."""


class ImportCatalog(msgspec.Struct, frozen=True, kw_only=True):
    entries: list[CatalogEntryData]
    format: str = "hangar"
    overwrite: bool = True
    """Replace entries of the same name (else they are skipped)."""
    seed_only: bool = False
    """Only add names the catalog has never held (a seed must not bring back a deleted entry)."""


class ImportItem(msgspec.Struct):
    entry_id: str | None
    name: str
    status: str


class ImportResult(msgspec.Struct, kw_only=True):
    format: str
    imported: int
    updated: int
    unchanged: int
    skipped: int
    entries: list[ImportItem]


class Deployed(msgspec.Struct, kw_only=True):
    provider_id: str
    entry_id: str
    mode: str
    deployed: bool = True
    created: bool = True


CatalogRepository = Repository[CatalogEntry]


class Catalog:
    def __init__(
        self, repo: CatalogRepository, bus: CommandBus, view: CatalogProjection, secrets: SecretBox | None = None,
    ) -> None:
        self.repo, self.bus, self.view = repo, bus, view
        self.secrets = secrets
        # Names are unique: additions are serialised so two concurrent adds cannot both win.
        self._names = asyncio.Lock()

    def register_with(self, bus: CommandBus) -> None:
        bus.register(AddCatalogEntry, self.add)
        bus.register(RemoveCatalogEntry, self.remove)
        bus.register(DeployCatalogEntry, self.deploy)
        bus.register(ImportCatalog, self.import_entries, multi_step=True)

    def _seal(self, entry: CatalogEntryData, previous: CatalogEntryData | None = None) -> CatalogEntryData:
        """The same sealing policy as providers: secret env values (and secret defaults) are
        ciphertext before any event records them."""
        if self.secrets is None:
            return entry
        declared = {v.name for v in entry.env_vars if v.secret}
        env = self.secrets.seal_env(entry.env, declared, previous.env if previous else None)
        old_defaults = {v.name: v.default for v in previous.env_vars} if previous else {}
        env_vars = [
            v if v.default is None or is_sealed(v.default) or not is_secret_value(v.name, v.default, declared)
            else msgspec.structs.replace(v, default=self._keep(old_defaults.get(v.name), v.default))
            for v in entry.env_vars
        ]
        if env == entry.env and env_vars == entry.env_vars:
            return entry
        return msgspec.structs.replace(entry, env=env, env_vars=env_vars)

    def _keep(self, old: str | None, value: str) -> str:
        assert self.secrets is not None
        sealed = self.secrets.seal_env({"v": value}, {"v"}, {"v": old} if old else None)
        return sealed["v"]

    async def add(self, cmd: AddCatalogEntry, ctx: CommandContext, meta: EventMetadata) -> str:
        check_entry(cmd.entry)
        entry = self._seal(cmd.entry)
        async with self._names:
            if cmd.entry.name in self.view.by_name:
                raise AlreadyExistsError(f"Catalog entry named '{cmd.entry.name}' already exists")
            entry_id = str(uuid.uuid4())
            await self.repo.execute(entry_id, lambda e: e.add(entry), meta)
        return entry_id

    async def remove(self, cmd: RemoveCatalogEntry, ctx: CommandContext, meta: EventMetadata) -> None:
        await self.repo.execute(cmd.entry_id, lambda e: e.remove(), meta, if_match=ctx.if_match)

    async def deploy(self, cmd: DeployCatalogEntry, ctx: CommandContext, meta: EventMetadata) -> Deployed:
        agg = await self.repo.check(cmd.entry_id, None)
        entry = agg.entry
        provider_id = cmd.provider_id or default_provider_id(entry.name)
        check_provider_id(provider_id)
        spec = deploy_spec(entry, cmd.env, cmd.overrides)
        require_command_on_path(spec, f"Catalog entry '{entry.name}'")
        if_free = msgspec.structs.replace(ctx, if_match=None)
        await self.bus.execute(RegisterProvider(provider_id=provider_id, spec=spec), if_free)
        await self.repo.execute(cmd.entry_id, lambda e: e.record_deploy(provider_id), meta)
        # Names of the variables only: values (secrets among them) never reach a log.
        log.info("catalog_entry_deployed", entry_id=cmd.entry_id, provider_id=provider_id,
                 env_names=sorted(spec.env))
        return Deployed(provider_id=provider_id, entry_id=cmd.entry_id, mode=spec.mode)

    async def import_entries(self, cmd: ImportCatalog, ctx: CommandContext, meta: EventMetadata) -> ImportResult:
        for e in cmd.entries:  # all valid, or nothing imported
            check_entry(e)
        items: list[ImportItem] = []
        progress = Progress("catalog_import", len(cmd.entries), format=cmd.format)
        async with self._names:
            for e in cmd.entries:
                items.append(await self._import_one(e, cmd, meta))
                progress.advance(outcome=items[-1].status)
        progress.finish()
        count = {s: sum(1 for i in items if i.status == s) for s in ("added", "updated", "unchanged", "skipped")}
        return ImportResult(
            format=cmd.format, imported=count["added"], updated=count["updated"], unchanged=count["unchanged"],
            skipped=count["skipped"], entries=items,
        )

    async def _import_one(self, e: CatalogEntryData, cmd: ImportCatalog, meta: EventMetadata) -> ImportItem:
        existing = self.view.by_name.get(e.name)
        if existing is not None:
            if cmd.seed_only or not cmd.overwrite:
                return ImportItem(existing, e.name, "skipped")
            res = await self.repo.execute(
                existing, lambda a: a.replace(self._seal(e, a.entry)), meta
            )
            return ImportItem(existing, e.name, "updated" if res.events else "unchanged")
        if cmd.seed_only and e.name in self.view.ever_named:
            return ImportItem(None, e.name, "skipped")
        entry_id = str(uuid.uuid4())
        await self.repo.execute(entry_id, lambda a: a.add(self._seal(e)), meta)
        return ImportItem(entry_id, e.name, "added")


catalog_repository = RepositoryFactory("CatalogEntry", "catalog:", CatalogEntry, CatalogEntry.from_snapshot)


def read_document(text: str, where: str) -> Any:
    """A catalog document from JSON or YAML text."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise ValidationError(f"{where}: not valid JSON or YAML: {first}") from None


async def seed_catalog(bus: CommandBus, paths: list[str], base: Path | None) -> None:
    """Import the configured seed documents: only names the catalog never held are added, so
    an operator's deletion sticks across restarts. A bad seed is logged, never fatal."""
    for p in paths:
        path = Path(p) if Path(p).is_absolute() or base is None else base / p
        try:
            fmt, entries = parse_document(read_document(path.read_text(), str(path)))
            res = await bus.execute(ImportCatalog(entries=entries, format=fmt, seed_only=True))
            log.info("catalog_seeded", path=str(path), added=res.imported, skipped=res.skipped)
        except OSError as exc:
            log.error("catalog_seed_unreadable", path=str(path), error=exc.strerror)
        except HangarError as exc:
            log.error("catalog_seed_invalid", path=str(path), error=exc.message)
