"""``/api/catalog``: provider templates, searched, added, imported from registries, deployed.

Secret values never leave: entries show which variables are secret, never a secret's default,
and a deploy answers the provider's id, not the environment it was given.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import Parameter

from hangar.api import as_of as as_of_views
from hangar.api.deps import command_context, etag
from hangar.api.paging import Cursor, PageLimit, Pager, page_rows, paged, wants_page
from hangar.api.views import redact_env
from hangar.app.bus import CommandBus
from hangar.app.catalog import (
    AddCatalogEntry,
    DeployCatalogEntry,
    ImportCatalog,
    RemoveCatalogEntry,
    read_document,
)
from hangar.app.config_sync import ConfigSync
from hangar.app.log.wiring import LogFeatures
from hangar.app.paths import allowed_roots, confine
from hangar.app.projections.catalog import CatalogProjection, EntryView
from hangar.app.settings import LiveConfig
from hangar.domain import limits as lim
from hangar.domain.catalog import entry_mode
from hangar.domain.catalog_events import CatalogEntryData, EnvVar
from hangar.domain.errors import CatalogEntryNotFoundError, ValidationError
from hangar.domain.provider_spec import IdleSeconds, PositiveSeconds, ProviderId
from hangar.formats.catalog import parse_document

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Format = Literal["auto", "hangar", "toolhive", "mcp-registry"]


class EnvVarRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: lim.EnvName
    description: lim.Description = ""
    required: bool = False
    secret: bool = False
    default: lim.EnvValue | None = None


class AddEntryRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: NonEmpty
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=lim.MAX_DESCRIPTION)]
    mode: Literal["subprocess", "docker", "remote"] | None = None
    command: lim.Args | None = None
    image: lim.Url | None = None
    endpoint: lim.Url | None = None
    tags: lim.Names = []
    args: lim.Args = []
    env: lim.Env = {}
    env_vars: Annotated[list[EnvVarRequest], msgspec.Meta(max_length=lim.MAX_ENV)] = []
    tools: lim.Names = []
    transport: lim.Name | None = None
    repository_url: lim.Url | None = None
    version: lim.Name | None = None
    metadata: lim.JsonObject = {}

    def entry(self) -> CatalogEntryData:
        fields = msgspec.structs.asdict(self)
        fields["env_vars"] = [EnvVar(**msgspec.structs.asdict(v)) for v in self.env_vars]
        return CatalogEntryData(**fields, source="custom")


class DeployRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    provider_id: ProviderId | None = None
    env: lim.Env = {}
    description: lim.Description | None = None
    idle_ttl_s: IdleSeconds | None = None
    health_check_interval_s: PositiveSeconds | None = None


class ImportRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    path: Annotated[str, msgspec.Meta(max_length=4096)] | None = None
    url: lim.Url | None = None
    document: Any = None
    format: Format = "auto"
    overwrite: bool = True


def _env_var(v: EnvVar) -> dict[str, Any]:
    return {"name": v.name, "description": v.description, "required": v.required, "secret": v.secret,
            "default": None if v.secret else v.default}


def entry_body(v: EntryView) -> dict[str, Any]:
    e = v.entry
    secret = {x.name for x in e.env_vars if x.secret}
    return {
        "entry_id": v.entry_id, "name": e.name, "description": e.description, "mode": entry_mode(e),
        "command": e.command, "args": e.args, "image": e.image, "endpoint": e.endpoint,
        "env": {k: ("***" if k in secret else val) for k, val in redact_env(e.env).items()},
        "env_vars": [_env_var(x) for x in e.env_vars],
        "required_env": [x.name for x in e.env_vars if x.required],
        "tags": e.tags, "tools": e.tools, "transport": e.transport, "repository_url": e.repository_url,
        "version": e.version, "source": e.source, "verified": e.verified, "builtin": e.source == "hangar",
        "metadata": e.metadata, "created_at": v.created_at, "updated_at": v.updated_at,
        "deploy_count": v.deploy_count, "last_deployed_at": v.last_deployed_at,
    }


def _entry(catalog_view: CatalogProjection, entry_id: str) -> EntryView:
    view = catalog_view.get(entry_id)
    if view is None:
        raise CatalogEntryNotFoundError(entry_id)
    return view


def read_small(p: Path) -> str:
    if p.stat().st_size > MAX_DOCUMENT_BYTES:
        raise ValidationError(f"path: {p} is larger than {MAX_DOCUMENT_BYTES} bytes")
    return p.read_text()


async def fetch_document(req: ImportRequest, roots: list[Path] | None = None) -> Any:
    given = [k for k in ("path", "url") if getattr(req, k)] + (["document"] if req.document is not None else [])
    if len(given) != 1:
        raise ValidationError("give exactly one of 'path', 'url' or 'document'")
    if req.document is not None:
        return req.document
    if req.path:
        where = confine(req.path, roots or [], "path") if roots is not None else Path(req.path)
        try:
            text = await asyncio.to_thread(read_small, where)
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationError(f"path: cannot read {req.path}: {getattr(exc, 'strerror', None) or exc}") from None
        return read_document(text, req.path)
    url = req.url or ""
    if not url.startswith(("http://", "https://")):
        raise ValidationError("url: must be an http(s) URL")
    try:
        async with httpx.AsyncClient(timeout=15, follow_redirects=True) as client:
            resp = await client.get(url)
    except httpx.HTTPError as exc:
        raise ValidationError(f"url: cannot fetch {url}: {type(exc).__name__}") from None
    if resp.status_code != 200:
        raise ValidationError(f"url: fetching {url} answered {resp.status_code}")
    if len(resp.content) > MAX_DOCUMENT_BYTES:
        raise ValidationError(f"url: the document is larger than {MAX_DOCUMENT_BYTES} bytes")
    return read_document(resp.text, url)


class CatalogController(Controller):
    path = "/api/catalog"
    tags = ["catalog"]

    @get("/", summary="List catalog entries (search on name/description, tags AND)")
    async def list_entries(
        self, catalog_view: CatalogProjection, log: LogFeatures, pager: Pager,
        search: Annotated[str | None, Parameter(query="search", max_length=256)] = None,
        tags: Annotated[str | None, Parameter(query="tags", max_length=1024)] = None,
        limit: PageLimit = None,
        cursor: Cursor = None,
        as_of: Annotated[str | None, Parameter(max_length=64, description="a position or RFC 3339 time")] = None,
    ) -> dict[str, Any] | Response[dict[str, Any]]:
        wanted = [t for t in (tags or "").split(",") if t.strip()]
        if as_of is not None:
            return await as_of_views.catalog(log, as_of, search, wanted, entry_body)
        rows = catalog_view.search(search, wanted)
        if wants_page(limit, cursor):
            page = page_rows(pager, f"catalog:{search or ''}:{tags or ''}", rows,
                             lambda v: (v.entry.name.lower(), v.entry_id), limit, cursor)
            return paged({"entries": [entry_body(v) for v in page.items], "total": len(rows)}, page)
        entries = [entry_body(v) for v in rows]
        return {"entries": entries, "total": len(entries)}

    @post("/", status_code=201, summary="Add a catalog entry")
    async def add_entry(
        self, request: Request, bus: CommandBus, catalog_view: CatalogProjection, data: AddEntryRequest
    ) -> Response[dict[str, Any]]:
        entry_id = await bus.execute(AddCatalogEntry(entry=data.entry()), command_context(request))
        view = _entry(catalog_view, entry_id)
        headers = {"Location": f"/api/catalog/{entry_id}", "ETag": etag(view.version)}
        return Response(entry_body(view), status_code=201, headers=headers)

    @post("/import", status_code=200, summary="Import a Hangar, ToolHive or MCP Registry document")
    async def import_entries(
        self, request: Request, bus: CommandBus, config_sync: ConfigSync, live: LiveConfig, data: ImportRequest
    ) -> dict[str, Any]:
        roots = allowed_roots(config_sync.startup_path, live.current.catalog.import_dirs)
        fmt, entries = parse_document(await fetch_document(data, roots), data.format)
        res = await bus.execute(
            ImportCatalog(entries=entries, format=fmt, overwrite=data.overwrite), command_context(request)
        )
        return msgspec.to_builtins(res)

    @get("/{entry_id:str}", summary="One catalog entry")
    async def get_entry(self, catalog_view: CatalogProjection, entry_id: str) -> Response[dict[str, Any]]:
        view = _entry(catalog_view, entry_id)
        return Response(entry_body(view), headers={"ETag": etag(view.version)})

    @delete("/{entry_id:str}", status_code=200, summary="Delete a catalog entry")
    async def delete_entry(
        self, request: Request, bus: CommandBus, catalog_view: CatalogProjection, entry_id: str
    ) -> dict[str, Any]:
        _entry(catalog_view, entry_id)
        await bus.execute(RemoveCatalogEntry(entry_id=entry_id), command_context(request))
        return {"entry_id": entry_id, "deleted": True}

    @post("/{entry_id:str}/deploy", status_code=201, summary="Register the entry as a provider")
    async def deploy_entry(
        self, request: Request, bus: CommandBus, catalog_view: CatalogProjection, entry_id: str,
        data: DeployRequest | None = None,
    ) -> Response[dict[str, Any]]:
        _entry(catalog_view, entry_id)
        body = data or DeployRequest()
        overrides = {k: getattr(body, k) for k in ("description", "idle_ttl_s", "health_check_interval_s")
                     if getattr(body, k) is not None}
        res = await bus.execute(
            DeployCatalogEntry(entry_id=entry_id, provider_id=body.provider_id, env=body.env, overrides=overrides),
            command_context(request),
        )
        return Response(msgspec.to_builtins(res), status_code=201,
                        headers={"Location": f"/api/providers/{res.provider_id}"})
