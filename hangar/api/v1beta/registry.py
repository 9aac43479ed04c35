"""``/api/v1beta/registry``: the default registry is Hangar's catalog; others are registered
sources, their servers shown in ToolHive's ``ImageMetadata``/``RemoteServerMetadata`` shapes."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put

from hangar.api.deps import command_context
from hangar.app.bus import CommandBus
from hangar.app.projections.catalog import CatalogProjection
from hangar.app.toolhive.module import ToolhiveModule
from hangar.app.toolhive.registries import (
    DEFAULT_REGISTRY,
    RefreshRegistrySource,
    RemoveRegistrySource,
    SaveRegistrySource,
)
from hangar.app.toolhive.upgrade import entry_image
from hangar.domain.catalog_events import CatalogEntryData
from hangar.domain.errors import NotFoundError, PermissionDeniedError

IMAGE_META = ("metadata", "tier", "status", "target_port", "proxy_port", "title", "docker_tags", "permissions",
              "custom_metadata", "overview", "provenance")
REMOTE_META = ("metadata", "tier", "status", "proxy_port", "title", "headers", "custom_metadata", "overview")


class RegistryRequest(msgspec.Struct, kw_only=True):
    name: str = ""
    url: str = ""
    local_path: str = ""
    api_url: str = ""
    allow_private_ip: bool = False


def server_body(e: CatalogEntryData, image: str) -> tuple[bool, dict[str, Any]]:
    remote = e.mode == "remote" or (not image and bool(e.endpoint))
    out: dict[str, Any] = {
        "name": e.name, "description": e.description, "tools": list(e.tools), "tags": list(e.tags),
        "transport": e.transport or ("streamable-http" if remote else "stdio"),
        "env_vars": [{"name": v.name, "description": v.description, "required": v.required, "secret": v.secret,
                      **({"default": v.default} if v.default is not None and not v.secret else {})}
                     for v in e.env_vars],
    }
    if e.repository_url:
        out["repository_url"] = e.repository_url
    for k in REMOTE_META if remote else IMAGE_META:
        if k in e.metadata:
            out[k] = e.metadata[k]
    if remote:
        out["url"] = e.endpoint or ""
    else:
        out["image"] = image
        out["args"] = list(e.args)
    return remote, out


def entries(
    catalog_view: CatalogProjection, toolhive: ToolhiveModule, name: str
) -> tuple[list[tuple[CatalogEntryData, str]], dict[str, Any]]:
    """(entries with their image or package, registry info) of one registry."""
    if name == DEFAULT_REGISTRY:
        views = catalog_view.search()
        info = {"name": name, "type": "default", "source": "", "version": "", "last_updated":
                max((v.updated_at for v in views), default="")}
        return [(v.entry, entry_image(v)) for v in views], info
    src = toolhive.view.sources.get(name)
    if src is None:
        raise NotFoundError(f"registry '{name}' not found")
    info = {"name": name, "type": src.kind, "source": src.source, "version": src.version,
            "last_updated": src.last_updated}
    return [(e, e.image or "") for e in src.servers], info


def registry_info(catalog_view: CatalogProjection, toolhive: ToolhiveModule, name: str) -> dict[str, Any]:
    items, info = entries(catalog_view, toolhive, name)
    return info | {"server_count": len(items), "auth_status": "none", "auth_type": ""}


class RegistryController(Controller):
    path = "/api/v1beta/registry"
    tags = ["toolhive"]

    @get("/", summary="Registries: the catalog (default) and registered sources")
    async def list_registries(self, catalog_view: CatalogProjection, toolhive: ToolhiveModule) -> dict[str, Any]:
        names = [DEFAULT_REGISTRY, *sorted(toolhive.view.sources)]
        return {"registries": [registry_info(catalog_view, toolhive, n) for n in names]}

    @post("/", status_code=201, summary="Register a source (URL or local path of a registry document)")
    async def add_registry(
        self, request: Request, bus: CommandBus, catalog_view: CatalogProjection, toolhive: ToolhiveModule,
        data: RegistryRequest,
    ) -> dict[str, Any]:
        cmd = SaveRegistrySource(name=data.name, url=data.url, local_path=data.local_path, create=True)
        await bus.execute(cmd, command_context(request))
        return registry_info(catalog_view, toolhive, data.name)

    @get("/{name:str}", summary="One registry with its servers")
    async def get_registry(
        self, catalog_view: CatalogProjection, toolhive: ToolhiveModule, name: str
    ) -> dict[str, Any]:
        items, _ = entries(catalog_view, toolhive, name)
        servers: dict[str, Any] = {}
        remotes: dict[str, Any] = {}
        for e, image in items:
            remote, body = server_body(e, image)
            (remotes if remote else servers)[e.name] = body
        info = registry_info(catalog_view, toolhive, name)
        return info | {"registry": {"version": info["version"], "last_updated": info["last_updated"],
                                    "servers": servers, "remote_servers": remotes}}

    @put("/{name:str}", summary="Create or change a registered source")
    async def update_registry(
        self, request: Request, bus: CommandBus, name: str, data: RegistryRequest
    ) -> dict[str, str]:
        if name == DEFAULT_REGISTRY:
            raise PermissionDeniedError("the default registry is Hangar's catalog")
        cmd = SaveRegistrySource(name=name, url=data.url, local_path=data.local_path)
        return {"type": await bus.execute(cmd, command_context(request))}

    @delete("/{name:str}", status_code=204, summary="Remove a registered source")
    async def delete_registry(self, request: Request, bus: CommandBus, name: str) -> Response[None]:
        if name == DEFAULT_REGISTRY:
            raise PermissionDeniedError("the default registry cannot be removed")
        await bus.execute(RemoveRegistrySource(name=name), command_context(request))
        return Response(None, status_code=204)

    @post("/{name:str}/refresh", status_code=200, summary="Re-read a registered source now")
    async def refresh(
        self, request: Request, bus: CommandBus, catalog_view: CatalogProjection, name: str
    ) -> dict[str, str]:
        """ToolHive answers a map of strings."""
        if name == DEFAULT_REGISTRY:
            return {"message": "the catalog is always current", "server_count": str(len(catalog_view.entries))}
        count = await bus.execute(RefreshRegistrySource(name=name), command_context(request))
        return {"message": "registry refreshed", "server_count": str(count)}

    @get("/{name:str}/servers", summary="A registry's servers")
    async def servers(self, catalog_view: CatalogProjection, toolhive: ToolhiveModule, name: str) -> dict[str, Any]:
        out: dict[str, list[Any]] = {"servers": [], "remote_servers": []}
        for e, image in entries(catalog_view, toolhive, name)[0]:
            remote, body = server_body(e, image)
            out["remote_servers" if remote else "servers"].append(body)
        return out

    @get("/{name:str}/servers/{server_name:path}", summary="One server of a registry (names may hold a slash)")
    async def server(
        self, catalog_view: CatalogProjection, toolhive: ToolhiveModule, name: str, server_name: str
    ) -> dict[str, Any]:
        for e, image in entries(catalog_view, toolhive, name)[0]:
            if e.name == server_name.lstrip("/"):
                remote, body = server_body(e, image)
                return {"is_remote": remote, ("remote_server" if remote else "server"): body}
        raise NotFoundError(f"server '{server_name}' not found in registry '{name}'")
