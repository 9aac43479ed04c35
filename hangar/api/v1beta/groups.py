"""``/api/v1beta/groups`` over Hangar groups; ``default`` holds every workload in no group."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import Parameter

from hangar.api.deps import command_context
from hangar.app.bus import CommandBus
from hangar.app.groups import CreateGroup, DeleteGroup
from hangar.app.projections.groups import GroupsProjection
from hangar.app.providers import DeregisterProvider
from hangar.app.toolhive.module import ToolhiveModule
from hangar.app.toolhive.workloads import DEFAULT_GROUP
from hangar.domain.errors import AlreadyExistsError, GroupNotFoundError, ValidationError
from hangar.domain.group_events import GroupSpec


class CreateGroupRequest(msgspec.Struct, kw_only=True):
    name: str = ""


def group_body(toolhive: ToolhiveModule, name: str) -> dict[str, Any]:
    clients = sorted(c for c, groups in toolhive.view.clients.items() if name in groups)
    return {"name": name, "registered_clients": clients, "skills": [], "plugins": []}


def names(groups: GroupsProjection) -> list[str]:
    return [DEFAULT_GROUP, *sorted(g for g in groups.views if g != DEFAULT_GROUP)]


class GroupsController(Controller):
    path = "/api/v1beta/groups"
    tags = ["toolhive"]

    @get("/", summary="List groups (default first)")
    async def list_groups(self, groups: GroupsProjection, toolhive: ToolhiveModule) -> dict[str, Any]:
        return {"groups": [group_body(toolhive, n) for n in names(groups)]}

    @post("/", status_code=201, summary="Create a group (a Hangar group with default balancing)")
    async def create_group(
        self, request: Request, bus: CommandBus, groups: GroupsProjection, data: CreateGroupRequest
    ) -> dict[str, str]:
        if not data.name:
            raise ValidationError("'name' is required")
        if data.name == DEFAULT_GROUP or groups.get(data.name) is not None:
            raise AlreadyExistsError(f"group '{data.name}' already exists")
        await bus.execute(CreateGroup(group_id=data.name, spec=GroupSpec()), command_context(request))
        return {"name": data.name}

    @get("/{name:str}", summary="One group")
    async def get_group(self, groups: GroupsProjection, toolhive: ToolhiveModule, name: str) -> dict[str, Any]:
        if name not in names(groups):
            raise GroupNotFoundError(name)
        return group_body(toolhive, name)

    @delete("/{name:str}", status_code=204, summary="Delete a group (its workloads move to default)")
    async def delete_group(
        self, request: Request, bus: CommandBus, groups: GroupsProjection, toolhive: ToolhiveModule, name: str,
        with_workloads: Annotated[bool, Parameter(query="with-workloads")] = False,
    ) -> Response[None]:
        if name == DEFAULT_GROUP:
            raise ValidationError("the default group cannot be deleted")
        if groups.get(name) is None:
            raise GroupNotFoundError(name)
        ctx = command_context(request)
        members = toolhive.workloads.members(name) if with_workloads else []
        await bus.execute(DeleteGroup(group_id=name), ctx)
        for pid in members:
            await bus.execute(DeregisterProvider(provider_id=pid), ctx)
        return Response(None, status_code=204)
