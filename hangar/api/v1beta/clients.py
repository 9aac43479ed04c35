"""``/api/v1beta/clients`` and ``/discovery/clients``: registering writes the client's own MCP
configuration file with an entry for Hangar's ``/mcp``."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post

from hangar.api.deps import command_context
from hangar.api.v1beta.groups import names as group_names
from hangar.api.v1beta.workloads import base_url
from hangar.app.auth.service import AuthService
from hangar.app.bus import CommandBus
from hangar.app.projections.groups import GroupsProjection
from hangar.app.settings import LiveConfig
from hangar.app.toolhive.clients import CLIENTS, TOOLHIVE_CLIENTS, RegisterClient, UnregisterClient, client_format
from hangar.app.toolhive.module import ToolhiveModule
from hangar.app.toolhive.workloads import DEFAULT_GROUP
from hangar.domain.errors import GroupNotFoundError, ValidationError


class ClientRequest(msgspec.Struct, kw_only=True):
    name: str = ""
    groups: list[str] = []


class BulkClientRequest(msgspec.Struct, kw_only=True):
    names: list[str] = []
    groups: list[str] = []


def auth_headers(request: Request, auth: AuthService) -> dict[str, str]:
    """With auth on, the entry carries the key the registering caller used."""
    if not auth.enabled:
        return {}
    key = request.headers.get("x-api-key")
    if key:
        return {"X-API-Key": key}
    bearer = request.headers.get("authorization")
    return {"Authorization": bearer} if bearer else {}


def checked(known_groups: GroupsProjection, clients: list[str], groups: list[str]) -> list[str]:
    if not clients:
        raise ValidationError("name the clients to operate on")
    for c in clients:
        client_format(c)
    known = set(group_names(known_groups))
    for g in groups:
        if g not in known:
            raise GroupNotFoundError(g)
    return list(dict.fromkeys(clients))


async def register(
    request: Request, bus: CommandBus, known_groups: GroupsProjection, auth: AuthService, live: LiveConfig,
    toolhive: ToolhiveModule, clients: list[str], groups: list[str],
) -> list[dict[str, Any]]:
    groups = groups or [DEFAULT_GROUP]
    checked(known_groups, clients, groups)
    url, headers, ctx = base_url(request, live) + "/mcp", auth_headers(request, auth), command_context(request)
    for c in clients:
        await bus.execute(RegisterClient(client=c, groups=groups, url=url, headers=headers), ctx)
    return [{"name": c, "groups": toolhive.view.clients.get(c, groups)} for c in clients]


class ClientsController(Controller):
    path = "/api/v1beta/clients"
    tags = ["toolhive"]

    @get("/", summary="Registered clients")
    async def list_clients(self, toolhive: ToolhiveModule) -> list[dict[str, Any]]:
        return [{"name": c, "groups": g} for c, g in sorted(toolhive.view.clients.items())]

    @post("/", status_code=200, summary="Register a client (writes its MCP configuration file)")
    async def register_client(
        self, request: Request, bus: CommandBus, groups: GroupsProjection, auth: AuthService, live: LiveConfig,
        toolhive: ToolhiveModule, data: ClientRequest,
    ) -> dict[str, Any]:
        names = [data.name] if data.name else []
        return (await register(request, bus, groups, auth, live, toolhive, names, data.groups))[0]

    @post("/register", status_code=200, summary="Register several clients")
    async def register_many(
        self, request: Request, bus: CommandBus, groups: GroupsProjection, auth: AuthService, live: LiveConfig,
        toolhive: ToolhiveModule, data: BulkClientRequest,
    ) -> list[dict[str, Any]]:
        return await register(request, bus, groups, auth, live, toolhive, data.names, data.groups)

    @post("/unregister", status_code=204, summary="Unregister several clients (removes only Hangar's entry)")
    async def unregister_many(
        self, request: Request, bus: CommandBus, groups: GroupsProjection, toolhive: ToolhiveModule,
        data: BulkClientRequest,
    ) -> Response[None]:
        clients = checked(groups, data.names, data.groups)
        missing = [c for c in clients if c not in toolhive.view.clients]
        if missing:
            raise ValidationError(f"not registered: {', '.join(missing)}")
        for c in clients:
            cmd = UnregisterClient(client=c, groups=data.groups or None)
            await bus.execute(cmd, command_context(request))
        return Response(None, status_code=204)

    @delete("/{name:str}", status_code=204, summary="Unregister a client")
    async def unregister_client(self, request: Request, bus: CommandBus, name: str) -> Response[None]:
        client_format(name)
        await bus.execute(UnregisterClient(client=name), command_context(request))
        return Response(None, status_code=204)

    @delete("/{name:str}/groups/{group:str}", status_code=204, summary="Unregister a client from one group")
    async def unregister_group(
        self, request: Request, bus: CommandBus, groups: GroupsProjection, name: str, group: str
    ) -> Response[None]:
        checked(groups, [name], [group])
        await bus.execute(UnregisterClient(client=name, groups=[group]), command_context(request))
        return Response(None, status_code=204)


@get("/api/v1beta/discovery/clients", tags=["toolhive"], summary="Known clients: installed, registered, skills")
async def discover_clients(toolhive: ToolhiveModule) -> dict[str, Any]:
    files = toolhive.clients
    return {"clients": [
        {"client_type": c, "installed": files.installed(c), "registered": c in toolhive.view.clients,
         "supports_skills": CLIENTS[c].skills_dir is not None, "supports_plugins": False}
        for c in TOOLHIVE_CLIENTS
    ]}
