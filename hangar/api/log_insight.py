"""Diff and blame, provider history, policy what-if and "what did P see" (all read-only)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter

from hangar.api import as_of as as_of_views
from hangar.api.deps import command_context
from hangar.api.permissions import stream_visibility
from hangar.app.auth.service import AuthService
from hangar.app.log.wiring import LogFeatures
from hangar.domain.auth import EVERYONE, check_principal_id
from hangar.domain.errors import ProviderNotFoundError, ValidationError
from hangar.domain.provider_spec import check_provider_id

Point = Annotated[str, Parameter(max_length=64, description="a position or RFC 3339 time")]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class ProposedPolicy(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    provider_id: Id
    tool_name: Id
    principal_id: Id
    effect: Literal["allow", "deny"]


class SimulateRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    policies: list[ProposedPolicy]
    replace: bool = False
    """True: the proposed entries are the whole policy set; False: they override the current one."""
    from_: str | None = msgspec.field(default=None, name="from")
    to: str | None = None


class LogInsightController(Controller):
    path = "/api"
    tags = ["events"]

    @get("/auth/policies", summary="Every tool policy entry (optionally as of a past point)")
    async def list_policies(
        self, log: LogFeatures,
        as_of: Annotated[str | None, Parameter(max_length=64)] = None,
    ) -> Response[dict[str, Any]]:
        if as_of is None:
            return Response(as_of_views.policies_body(log.live))
        m = await as_of_views.models_at(log, as_of)
        return Response(as_of_views.policies_body(m), headers={as_of_views.AS_OF_HEADER: str(m.position)})

    @post("/auth/policies/simulate", status_code=200,
          summary="Replay recorded tool calls against a proposed policy set (changes nothing)")
    async def simulate(self, log: LogFeatures, data: SimulateRequest) -> dict[str, Any]:
        proposed: dict[tuple[str, str], dict[str, str]] = {}
        for p in data.policies:
            check_provider_id(p.provider_id)
            if p.principal_id != EVERYONE:
                check_principal_id(p.principal_id)
            proposed.setdefault((p.provider_id, p.tool_name), {})[p.principal_id] = p.effect
        tt = log.time_travel
        start = await tt.resolve(data.from_) if data.from_ is not None else 0
        end = await tt.resolve(data.to) if data.to is not None else await log.events.last_position()
        if start > end:
            raise ValidationError("from must not be later than to")
        return await log.insight.simulate(start, end, proposed, data.replace)

    @get("/auth/principals/{principal_id:str}/tools", summary="The tools the MCP front door offers a principal")
    async def principal_tools(
        self, log: LogFeatures, principal_id: str,
        as_of: Annotated[str | None, Parameter(max_length=64)] = None,
    ) -> dict[str, Any]:
        tt = log.time_travel
        position = await tt.resolve(as_of) if as_of is not None else await log.events.last_position()
        return await log.insight.principal_tools(principal_id, position)

    @get("/diff", summary="What changed between two points, with the events responsible")
    async def diff(
        self, request: Request, log: LogFeatures, auth: AuthService,
        from_: Annotated[str, Parameter(query="from", max_length=64)],
        to: Annotated[str, Parameter(query="to", max_length=64)],
    ) -> dict[str, Any]:
        tt = log.time_travel
        start, end = await tt.resolve(from_), await tt.resolve(to)
        if start > end:
            raise ValidationError("from must not be later than to")
        return await log.insight.diff(start, end, stream_visibility(auth, command_context(request).principal))

    @get("/providers/{provider_id:str}/history", summary="Each definition and state change: who, when, why")
    async def provider_history(
        self, log: LogFeatures, provider_id: str,
        from_version: Annotated[int, Parameter(ge=0)] = 0,
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        entries = await log.insight.provider_history(provider_id, from_version, limit)
        if not entries and from_version == 0:
            raise ProviderNotFoundError(provider_id)
        return {"provider_id": provider_id, "history": entries, "count": len(entries)}
