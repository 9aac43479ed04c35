"""``/api/groups``: definitions, membership, rebalancing and tool calls through a group."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import Parameter

from hangar.api import as_of as as_of_views
from hangar.api.deps import command_context, etag
from hangar.api.preconditions import create_guarded, create_only, refuse_existing
from hangar.api.provider_runtime import InvokeRequest
from hangar.app.bus import CommandBus
from hangar.app.group_invoke import GroupInvokeResult, InvokeGroupTool, RebalanceGroup
from hangar.app.groups import AddGroupMember, CreateGroup, DeleteGroup, GroupStartup, RemoveGroupMember, UpdateGroup
from hangar.app.log.wiring import LogFeatures
from hangar.app.projections.groups import GroupsProjection, GroupView
from hangar.app.projections.providers import ProvidersProjection
from hangar.domain.errors import GroupNotFoundError
from hangar.domain.group import evaluate, in_rotation, is_healthy
from hangar.domain.group_events import (
    FailureThreshold,
    GroupMember,
    GroupSpec,
    MinHealthy,
    Priority,
    ResetTimeout,
    Strategy,
    Weight,
)
from hangar.domain.provider_spec import ToolSpec

# --- requests ---------------------------------------------------------------------------------


class BreakerSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    failure_threshold: FailureThreshold | None = None
    reset_timeout_s: ResetTimeout | None = None


class CreateGroupRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    group_id: str
    strategy: Strategy = "round_robin"
    min_healthy: MinHealthy = 1
    description: str | None = None
    circuit_breaker: BreakerSettings | None = None

    def spec(self) -> GroupSpec:
        cb = self.circuit_breaker or BreakerSettings()
        return GroupSpec(strategy=self.strategy, min_healthy=self.min_healthy, description=self.description,
                         failure_threshold=cb.failure_threshold, reset_timeout_s=cb.reset_timeout_s)


class UpdateGroupRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    strategy: Strategy | msgspec.UnsetType = msgspec.UNSET
    min_healthy: MinHealthy | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType | None = msgspec.UNSET
    circuit_breaker: BreakerSettings | msgspec.UnsetType = msgspec.UNSET

    def changes(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            f: getattr(self, f) for f in ("strategy", "min_healthy", "description")
            if getattr(self, f) is not msgspec.UNSET
        }
        if isinstance(self.circuit_breaker, BreakerSettings):
            out["failure_threshold"] = self.circuit_breaker.failure_threshold
            out["reset_timeout_s"] = self.circuit_breaker.reset_timeout_s
        return out


class AddMemberRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    member_id: str
    weight: Weight = 1
    priority: Priority = 1


# --- responses --------------------------------------------------------------------------------


class MemberBody(msgspec.Struct):
    id: str
    provider_id: str
    state: str
    in_rotation: bool
    healthy: bool
    weight: int
    priority: int
    consecutive_failures: int
    circuit_breaker_state: str
    inflight: int


class BreakerBody(msgspec.Struct):
    state: str
    failure_threshold: int
    reset_timeout_s: float
    failures: int


class GroupBody(msgspec.Struct):
    group_id: str
    description: str | None
    state: str
    strategy: str
    min_healthy: int
    healthy_count: int
    total_members: int
    is_available: bool
    circuit_open: bool
    circuit_breaker_state: str
    circuit_breaker: BreakerBody
    members: list[MemberBody]
    version: int
    created_at: str
    updated_at: str
    last_rebalanced_at: str | None


class GroupList(msgspec.Struct):
    groups: list[GroupBody]


class GroupCreated(msgspec.Struct):
    group_id: str
    created: bool


class GroupUpdated(msgspec.Struct):
    group_id: str
    updated: bool


class GroupDeleted(msgspec.Struct):
    group_id: str
    deleted: bool


class MemberAdded(msgspec.Struct):
    group_id: str
    provider_id: str
    added: bool


class MemberRemoved(msgspec.Struct):
    group_id: str
    provider_id: str
    removed: bool


class Rebalanced(msgspec.Struct):
    status: str
    group_id: str
    in_rotation: list[str]


class GroupToolBody(msgspec.Struct):
    name: str
    description: str
    parameters: dict[str, Any]
    inputSchema: dict[str, Any]
    members: list[str]


class GroupToolsBody(msgspec.Struct):
    group_id: str
    tools: list[GroupToolBody]


def group_body(providers: ProvidersProjection, group_module: GroupStartup, v: GroupView) -> GroupBody:
    router = group_module.router
    statuses = router.statuses(m.provider_id for m in v.members)
    members = []
    for m in v.members:
        st = statuses.get(m.provider_id)
        pv = providers.get(m.provider_id)
        members.append(MemberBody(
            id=m.provider_id, provider_id=m.provider_id, state=st.state if st else "missing",
            in_rotation=bool(st and in_rotation(st)), healthy=bool(st and is_healthy(st)),
            weight=m.weight, priority=m.priority,
            consecutive_failures=pv.consecutive_failures if pv else 0,
            circuit_breaker_state=st.breaker_state if st else "closed",
            inflight=router.inflight(m.provider_id),
        ))
    health = evaluate(v.members, v.spec.min_healthy, statuses)
    breaker = router.breaker_status(v)
    return GroupBody(
        group_id=v.group_id, description=v.spec.description, state=health.state.value,
        strategy=v.spec.strategy, min_healthy=v.spec.min_healthy, healthy_count=health.healthy_count,
        total_members=health.total, is_available=health.routable_count > 0,
        circuit_open=v.breaker_state == "open", circuit_breaker_state=v.breaker_state,
        circuit_breaker=BreakerBody(
            state=v.breaker_state, failure_threshold=breaker.failure_threshold,
            reset_timeout_s=breaker.reset_timeout_s, failures=breaker.failures,
        ),
        members=members, version=v.version, created_at=v.created_at, updated_at=v.updated_at,
        last_rebalanced_at=v.last_rebalanced_at,
    )


def group_tools(providers: ProvidersProjection, v: GroupView) -> list[tuple[ToolSpec, list[str]]]:
    """The union of the members' tools, best priority first; the first description wins."""
    found: dict[str, tuple[ToolSpec, list[str]]] = {}
    for m in sorted(v.members, key=lambda m: m.priority):
        pv = providers.get(m.provider_id)
        for t in pv.visible_tools if pv else []:
            entry = found.setdefault(t.name, (t, []))
            entry[1].append(m.provider_id)
    return [found[k] for k in sorted(found)]


def _view(groups: GroupsProjection, group_id: str) -> GroupView:
    v = groups.get(group_id)
    if v is None:
        raise GroupNotFoundError(group_id)
    return v


class GroupController(Controller):
    path = "/api/groups"
    tags = ["groups"]

    @get("/", summary="List groups with their members and circuit breaker state")
    async def list_groups(
        self, providers: ProvidersProjection, groups: GroupsProjection, log: LogFeatures, group_module: GroupStartup,
        as_of: Annotated[str | None, Parameter(max_length=64, description="a position or RFC 3339 time")] = None,
    ) -> GroupList | Response[dict[str, Any]]:
        if as_of is not None:
            return await as_of_views.groups(log, as_of)
        return GroupList([group_body(providers, group_module, v) for _, v in sorted(groups.views.items())])

    @post("/", status_code=201, summary="Create a group")
    async def create_group(
        self, request: Request, bus: CommandBus, groups: GroupsProjection, data: CreateGroupRequest
    ) -> Response[GroupCreated]:
        await bus.execute(CreateGroup(group_id=data.group_id, spec=data.spec()), command_context(request))
        headers = {"Location": f"/api/groups/{data.group_id}"}
        v = groups.get(data.group_id)
        if v is not None:
            headers["ETag"] = etag(v.version)
        return Response(GroupCreated(data.group_id, True), status_code=201, headers=headers)

    @get("/{group_id:str}", summary="Group detail with members and circuit breaker state")
    async def get_group(
        self, providers: ProvidersProjection, groups: GroupsProjection, log: LogFeatures, group_module: GroupStartup,
        group_id: str,
        as_of: Annotated[str | None, Parameter(max_length=64, description="a position or RFC 3339 time")] = None,
    ) -> Response[GroupBody] | Response[dict[str, Any]]:
        if as_of is not None:
            return await as_of_views.group(log, as_of, group_id)
        v = _view(groups, group_id)
        return Response(group_body(providers, group_module, v), headers={"ETag": etag(v.version)})

    @put("/{group_id:str}", summary="Update a group (honours If-Match)")
    async def update_group(
        self, request: Request, bus: CommandBus, groups: GroupsProjection, group_id: str, data: UpdateGroupRequest
    ) -> Response[GroupUpdated | GroupCreated]:
        exists = groups.get(group_id) is not None
        refuse_existing(request, exists, f"Group '{group_id}'")
        if not exists and create_only(request):  # every field is optional, so a PUT can create
            spec = msgspec.convert(data.changes(), GroupSpec)
            await create_guarded(request, f"Group '{group_id}'", lambda: bus.execute(
                CreateGroup(group_id=group_id, spec=spec), command_context(request)))
            v = _view(groups, group_id)
            return Response(GroupCreated(group_id, True), status_code=201,
                            headers={"ETag": etag(v.version), "Location": f"/api/groups/{group_id}"})
        version = await bus.execute(
            UpdateGroup(group_id=group_id, changes=data.changes()), command_context(request)
        )
        return Response(GroupUpdated(group_id, True), headers={"ETag": etag(version)})

    @delete("/{group_id:str}", status_code=200, summary="Delete a group (its providers are kept)")
    async def delete_group(self, request: Request, bus: CommandBus, group_id: str) -> GroupDeleted:
        await bus.execute(DeleteGroup(group_id=group_id), command_context(request))
        return GroupDeleted(group_id, True)

    @post("/{group_id:str}/rebalance", status_code=200,
          summary="Re-check member health, put ready members back in rotation, reset the breaker")
    async def rebalance(self, request: Request, bus: CommandBus, group_id: str) -> Rebalanced:
        rotation = await bus.execute(RebalanceGroup(group_id=group_id), command_context(request))
        return Rebalanced("rebalanced", group_id, rotation)

    @post("/{group_id:str}/members", status_code=201, summary="Add a provider to the group")
    async def add_member(
        self, request: Request, bus: CommandBus, group_id: str, data: AddMemberRequest
    ) -> MemberAdded:
        member = GroupMember(provider_id=data.member_id, weight=data.weight, priority=data.priority)
        await bus.execute(AddGroupMember(group_id=group_id, member=member), command_context(request))
        return MemberAdded(group_id, data.member_id, True)

    @delete("/{group_id:str}/members/{member_id:str}", status_code=200, summary="Remove a provider from the group")
    async def remove_member(self, request: Request, bus: CommandBus, group_id: str, member_id: str) -> MemberRemoved:
        await bus.execute(
            RemoveGroupMember(group_id=group_id, provider_id=member_id), command_context(request)
        )
        return MemberRemoved(group_id, member_id, True)

    @get("/{group_id:str}/tools", summary="Tools offered through the group (the union of its members')")
    async def tools(self, providers: ProvidersProjection, groups: GroupsProjection, group_id: str) -> GroupToolsBody:
        v = _view(groups, group_id)
        out = [GroupToolBody(t.name, t.description, t.input_schema, t.input_schema, members)
               for t, members in group_tools(providers, v)]
        return GroupToolsBody(group_id, out)

    @post("/{group_id:str}/tools/{tool_name:str}/invoke", status_code=200,
          summary="Call a tool through the group's balancer (failover within the deadline)")
    async def invoke(
        self, request: Request, bus: CommandBus, group_id: str, tool_name: str, data: InvokeRequest
    ) -> GroupInvokeResult:
        result: GroupInvokeResult = await bus.execute(
            InvokeGroupTool(group_id=group_id, tool=tool_name, arguments=data.arguments, timeout_s=data.timeout_s),
            command_context(request),
        )
        return result

