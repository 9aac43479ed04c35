"""``/api/providers``: definitions, state and tool history."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, MediaType, Request, Response, delete, get, post, put
from litestar.params import Parameter

from hangar.api import as_of as as_of_views
from hangar.api import views
from hangar.api.deps import StorePort, command_context, etag
from hangar.api.paging import Cursor, InvalidCursorError, PageLimit, Pager, page_rows, paged, wants_page
from hangar.api.preconditions import refuse_existing
from hangar.app.bus import CommandBus
from hangar.app.log.wiring import LogFeatures
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.providers import DeregisterProvider, RegisterProvider, UpdateProvider
from hangar.domain import limits as lim
from hangar.domain.errors import ProviderNotFoundError
from hangar.domain.provider import calls_stream_id
from hangar.domain.provider_spec import (
    IdleSeconds,
    PositiveSeconds,
    ProviderId,
    ProviderSpec,
    ToolSpec,
    definition_of,
)

StateFilter = Literal["cold", "initializing", "ready", "degraded", "dead"]
CallTimeout = Annotated[float, msgspec.Meta(gt=0, le=3600)]


class ToolSpecRequest(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A predefined tool as a caller may send it (bounded, unlike tools a server reports)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    description: lim.Description = ""
    input_schema: lim.JsonObject = {}


Tools = Annotated[list[ToolSpecRequest], msgspec.Meta(max_length=lim.MAX_LIST)]


def _tools(tools: list[ToolSpecRequest] | None) -> list[ToolSpec] | None:
    if tools is None:
        return None
    return [ToolSpec(name=t.name, description=t.description, input_schema=t.input_schema) for t in tools]


class CreateProviderRequest(ProviderSpec, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The provider definition plus its id (lengths are bounded by ``check_spec``, one rule for
    the API, the config file and the catalog)."""

    provider_id: ProviderId

    def spec(self) -> ProviderSpec:
        return definition_of(self)


class UpdateProviderRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    description: lim.Description | msgspec.UnsetType | None = msgspec.UNSET
    env: lim.Env | msgspec.UnsetType = msgspec.UNSET
    idle_ttl_s: IdleSeconds | msgspec.UnsetType = msgspec.UNSET
    health_check_interval_s: PositiveSeconds | msgspec.UnsetType = msgspec.UNSET
    command: lim.Args | msgspec.UnsetType = msgspec.UNSET
    image: lim.Url | msgspec.UnsetType = msgspec.UNSET
    endpoint: lim.Url | msgspec.UnsetType = msgspec.UNSET
    volumes: lim.Texts | msgspec.UnsetType = msgspec.UNSET
    network: lim.Name | msgspec.UnsetType = msgspec.UNSET
    read_only: bool | msgspec.UnsetType = msgspec.UNSET
    tools: Tools | msgspec.UnsetType | None = msgspec.UNSET
    call_timeout_s: CallTimeout | msgspec.UnsetType = msgspec.UNSET
    secret_env: lim.Names | msgspec.UnsetType = msgspec.UNSET
    discover_on_register: bool | msgspec.UnsetType = msgspec.UNSET

    def changes(self) -> dict[str, Any]:
        out = {
            f: getattr(self, f)
            for f in self.__struct_fields__
            if getattr(self, f) is not msgspec.UNSET
        }
        if "tools" in out:
            out["tools"] = _tools(out["tools"])
        return out


class ProviderCreated(msgspec.Struct):
    provider_id: str
    created: bool


class ProviderUpdated(msgspec.Struct):
    provider_id: str
    updated: bool


class ProviderDeleted(msgspec.Struct):
    provider_id: str
    deleted: bool


class ToolHistory(msgspec.Struct):
    provider_id: str
    history: list[dict[str, Any]]
    total: int


class ProviderController(Controller):
    path = "/api/providers"
    tags = ["providers"]

    @get("/", media_type=MediaType.JSON, summary="List providers")
    async def list_providers(
        self,
        providers: ProvidersProjection, log: LogFeatures, pager: Pager,
        state_filter: Annotated[StateFilter | None, Parameter(query="state")] = None,
        limit: PageLimit = None,
        cursor: Cursor = None,
        as_of: Annotated[str | None, Parameter(max_length=64, description="a position or RFC 3339 time")] = None,
    ) -> Response[views.ProviderListBody]:
        if as_of is not None:
            return await as_of_views.providers(log, as_of, state_filter)  # type: ignore[return-value]
        if wants_page(limit, cursor):
            proj = providers
            rows = [v for v in sorted(proj.views.values(), key=lambda v: v.provider_id)
                    if state_filter is None or v.state == state_filter]
            page = page_rows(pager, f"providers:{state_filter or ''}", rows, lambda v: v.provider_id,
                             limit, cursor)
            body = paged({"providers": [proj.summary(v) for v in page.items]}, page)
            return Response(body, media_type=MediaType.JSON)  # type: ignore[arg-type]
        return Response(providers.list_json(state_filter), media_type=MediaType.JSON)  # type: ignore[arg-type]

    @post("/", status_code=201, summary="Create a provider")
    async def create_provider(
        self, request: Request, bus: CommandBus, providers: ProvidersProjection, data: CreateProviderRequest
    ) -> Response[ProviderCreated]:
        await bus.execute(
            RegisterProvider(provider_id=data.provider_id, spec=data.spec()), command_context(request)
        )
        view = providers.get(data.provider_id)
        headers = {"Location": f"/api/providers/{data.provider_id}"}
        if view is not None:
            headers["ETag"] = etag(view.version)
        return Response(ProviderCreated(data.provider_id, True), status_code=201, headers=headers)

    @get("/{provider_id:str}", summary="Get one provider")
    async def get_provider(
        self, providers: ProvidersProjection, log: LogFeatures, provider_id: str,
        as_of: Annotated[str | None, Parameter(max_length=64, description="a position or RFC 3339 time")] = None,
    ) -> Response[views.ProviderDetail]:
        if as_of is not None:
            return await as_of_views.provider(providers, log, as_of, provider_id)
        view = providers.get(provider_id)
        if view is None:
            raise ProviderNotFoundError(provider_id)
        # Encoded once per change of the provider (the read model drops the entry on any event of it).
        body = providers.detail_cache.get(provider_id)
        if body is None:
            body = providers.detail_cache[provider_id] = msgspec.json.encode(views.provider_detail(providers, view))
        return Response(body, media_type=MediaType.JSON, headers={"ETag": etag(view.version)})  # type: ignore[arg-type]

    @put("/{provider_id:str}", summary="Update a provider (honours If-Match)")
    async def update_provider(
        self, request: Request, bus: CommandBus, providers: ProvidersProjection, provider_id: str,
        data: UpdateProviderRequest,
    ) -> Response[ProviderUpdated]:
        refuse_existing(request, providers.get(provider_id) is not None, f"Provider '{provider_id}'")
        version = await bus.execute(
            UpdateProvider(provider_id=provider_id, changes=data.changes()), command_context(request)
        )
        return Response(ProviderUpdated(provider_id, True), headers={"ETag": etag(version)})

    @delete("/{provider_id:str}", status_code=200, summary="Stop and delete a provider (honours If-Match)")
    async def delete_provider(self, request: Request, bus: CommandBus, provider_id: str) -> ProviderDeleted:
        await bus.execute(DeregisterProvider(provider_id=provider_id), command_context(request))
        return ProviderDeleted(provider_id, True)

    @get("/{provider_id:str}/tools/history", summary="Tool invocation history from the event store")
    async def tool_history(
        self,
        store: StorePort, providers: ProvidersProjection, pager: Pager,
        provider_id: str,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
        from_position: Annotated[int, Parameter(ge=0)] = 0,
        cursor: Cursor = None,
    ) -> ToolHistory | dict[str, Any]:
        if providers.get(provider_id) is None:
            raise ProviderNotFoundError(provider_id)
        sid = calls_stream_id(provider_id)
        if cursor is not None:
            return await history_page(store, pager, provider_id, sid, limit, from_position, cursor)
        records = await store.read_stream(sid, from_version=from_position, limit=limit)
        total = await store.count_stream(sid, from_version=from_position)
        return ToolHistory(provider_id, [views.history_record(r) for r in records], total)


async def history_page(
    store: StorePort, pager: Pager, provider_id: str, sid: str, limit: int, from_position: int, cursor: str
) -> dict[str, Any]:
    """Cursor paging of the calls stream: the cursor names a stream version, so calls recorded
    while a client walks only ever appear after what it has already seen."""
    scope = f"history:{provider_id}"
    start = from_position
    if cursor:
        direction, key = pager.decode(scope, cursor)
        if direction != "after" or not isinstance(key, int):
            raise InvalidCursorError()
        start = key
    records = await store.read_stream(sid, from_version=start, limit=limit + 1)
    more = len(records) > limit
    records = records[:limit]
    total = await store.count_stream(sid, from_version=from_position)
    nxt = pager.encode(scope, "after", records[-1].stream_version) if more and records else None
    return {"provider_id": provider_id, "history": [views.history_record(r) for r in records], "total": total,
            "next_cursor": nxt}
