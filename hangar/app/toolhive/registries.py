"""Registries: the default one is Hangar's catalog; others are registered sources (a URL or local
path of a ToolHive ``registry.json`` or an MCP Registry document), refreshed on demand and on a
schedule. A refresh records the servers it read (as catalog entries) or why it failed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import structlog

from hangar.app.bus import SYSTEM, CommandBus, CommandContext
from hangar.app.catalog import read_document
from hangar.app.codec import EventMetadata
from hangar.app.repository import Repository
from hangar.app.toolhive.projection import ToolhiveProjection
from hangar.domain.errors import HangarError, ValidationError
from hangar.domain.toolhive import RegistrySource
from hangar.formats.catalog import parse_document

log = structlog.get_logger("hangar.registries")

DEFAULT_REGISTRY = "default"
FETCH_TIMEOUT_S = 20.0


class RegistryUnavailableError(HangarError):
    status_code = 503


class SaveRegistrySource(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    url: str = ""
    local_path: str = ""
    create: bool = False


class RemoveRegistrySource(msgspec.Struct, frozen=True, kw_only=True):
    name: str


class RefreshRegistrySource(msgspec.Struct, frozen=True, kw_only=True):
    name: str


class RegistrySources:
    def __init__(
        self, repo: Repository[RegistrySource], bus: CommandBus, view: ToolhiveProjection, interval_s: float,
    ) -> None:
        self.repo = repo
        self.bus = bus
        self.view = view
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self.context: Callable[[], CommandContext] = lambda: SYSTEM
        """The context of scheduled refreshes (in a cluster: the leader's, fenced)."""

    def register_with(self, bus: CommandBus) -> None:
        bus.register(SaveRegistrySource, self.save)
        bus.register(RemoveRegistrySource, self.remove)
        bus.register(RefreshRegistrySource, self.refresh, multi_step=True)  # records a failure, then raises

    async def save(self, cmd: SaveRegistrySource, ctx: CommandContext, meta: EventMetadata) -> str:
        if cmd.name == DEFAULT_REGISTRY:
            raise ValidationError("the default registry is Hangar's catalog; it cannot be redefined")
        if bool(cmd.url) == bool(cmd.local_path):
            raise ValidationError("give exactly one of 'url' or 'local_path'")
        if cmd.url and not cmd.url.startswith(("http://", "https://")):
            raise ValidationError("'url' must be http(s)")
        kind, source = ("url", cmd.url) if cmd.url else ("file", cmd.local_path)
        if kind == "file" and not source.startswith("/"):
            raise ValidationError("'local_path' must be absolute")
        await self.repo.execute(cmd.name, lambda r: r.save(kind, source, create=cmd.create), meta)
        # A new source is read at once; a failure is recorded and reported, the source kept.
        await self.refresh(RefreshRegistrySource(name=cmd.name), ctx, meta, quiet=True)
        return kind

    async def remove(self, cmd: RemoveRegistrySource, ctx: CommandContext, meta: EventMetadata) -> None:
        if cmd.name == DEFAULT_REGISTRY:
            raise ValidationError("the default registry cannot be removed")
        await self.repo.execute(cmd.name, lambda r: r.remove(), meta)

    async def refresh(
        self, cmd: RefreshRegistrySource, ctx: CommandContext, meta: EventMetadata, quiet: bool = False
    ) -> int:
        agg = await self.repo.check(cmd.name, None)
        try:
            doc = await self._fetch(agg.s.kind, agg.s.source)
            fmt, entries = parse_document(doc)
        except HangarError as exc:
            error = exc.message
            await self.repo.execute(cmd.name, lambda r: r.refresh_failed(error), meta)
            if quiet:
                return 0
            raise RegistryUnavailableError(f"registry '{cmd.name}' could not be refreshed: {error}") from None
        version = str(doc.get("version", "")) if isinstance(doc, dict) else ""
        await self.repo.execute(cmd.name, lambda r: r.refreshed(fmt, version, entries), meta)
        return len(entries)

    async def _fetch(self, kind: str, source: str) -> Any:
        if kind == "file":
            try:
                text = await asyncio.to_thread(Path(source).read_text)
            except OSError as exc:
                raise ValidationError(f"cannot read {source}: {exc.strerror}") from None
            return read_document(text, source)
        try:
            async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_S, follow_redirects=True) as client:
                r = await client.get(source)
                r.raise_for_status()
        except httpx.HTTPError as exc:
            raise ValidationError(f"cannot fetch {source}: {exc}") from None
        return read_document(r.text, source)

    # --- schedule --------------------------------------------------------------------------------

    def start(self) -> None:
        if self.interval_s > 0:
            self._task = asyncio.create_task(self._every(), name="hangar-registry-refresh")

    async def _every(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            for name in list(self.view.sources):
                with contextlib.suppress(HangarError):
                    await self.bus.execute(RefreshRegistrySource(name=name), self.context())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
