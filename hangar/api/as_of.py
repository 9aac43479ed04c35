"""``?as_of=<position|RFC 3339>``: the read endpoints answered from the read models of a past
point (``hangar/app/log/timetravel.py``), shaped by the same functions as the live answers.

Controllers call these only when ``as_of`` is given, so the live path is untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from litestar import MediaType, Response

from hangar.api import views
from hangar.api.deps import etag
from hangar.app.log.timetravel import ReadModels
from hangar.app.log.wiring import LogFeatures
from hangar.app.projections.groups import GroupView
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.uptime import Uptime
from hangar.domain.errors import GroupNotFoundError, ProviderNotFoundError

AS_OF_HEADER = "X-As-Of-Position"


async def models_at(log: LogFeatures, as_of: str) -> ReadModels:
    tt = log.time_travel
    return await tt.at(await tt.resolve(as_of))


def _headers(models: ReadModels, **extra: str) -> dict[str, str]:
    return {AS_OF_HEADER: str(models.position), **extra}


async def providers(log: LogFeatures, as_of: str, state: str | None) -> Response[bytes]:
    m = await models_at(log, as_of)
    return Response(m.providers.list_json(state), media_type=MediaType.JSON, headers=_headers(m))


async def provider(
    providers: ProvidersProjection, log: LogFeatures, as_of: str, provider_id: str
) -> Response[views.ProviderDetail]:
    m = await models_at(log, as_of)
    view = m.providers.get(provider_id)
    if view is None:
        raise ProviderNotFoundError(provider_id)
    return Response(views.provider_detail(providers, view), headers=_headers(m, ETag=etag(view.version)))


def group_at(m: ReadModels, v: GroupView) -> dict[str, Any]:
    """A group as recorded: its definition, members (state from the providers then) and the
    breaker state its events recorded. Live routing figures (in-flight calls, rotation) are
    runtime facts that were never logged, so they are not part of a past answer."""
    members = []
    for mem in v.members:
        pv = m.providers.get(mem.provider_id)
        members.append({"id": mem.provider_id, "provider_id": mem.provider_id,
                        "state": pv.state if pv else "missing", "weight": mem.weight, "priority": mem.priority})
    return {
        "group_id": v.group_id, "description": v.spec.description, "state": v.recorded_state,
        "strategy": v.spec.strategy, "min_healthy": v.spec.min_healthy, "total_members": len(v.members),
        "circuit_breaker_state": v.breaker_state, "members": members, "version": v.version,
        "created_at": v.created_at, "updated_at": v.updated_at, "last_rebalanced_at": v.last_rebalanced_at,
    }


async def groups(log: LogFeatures, as_of: str) -> Response[dict[str, Any]]:
    m = await models_at(log, as_of)
    body = [group_at(m, v) for _, v in sorted(m.groups.views.items())]
    return Response({"groups": body}, headers=_headers(m))


async def group(log: LogFeatures, as_of: str, group_id: str) -> Response[dict[str, Any]]:
    m = await models_at(log, as_of)
    v = m.groups.get(group_id)
    if v is None:
        raise GroupNotFoundError(group_id)
    return Response(group_at(m, v), headers=_headers(m, ETag=etag(v.version)))


async def catalog(
    log: LogFeatures, as_of: str, search: str | None, tags: list[str], entry_body: Callable[[Any], Any],
) -> Response[dict[str, Any]]:
    m = await models_at(log, as_of)
    entries = [entry_body(v) for v in m.catalog.search(search, tags)]
    return Response({"entries": entries, "total": len(entries)}, headers=_headers(m))


async def roles(
    log: LogFeatures, as_of: str, roles_body: Callable[[list[Any]], dict[str, Any]],
) -> Response[dict[str, Any]]:
    """``roles_body`` is the auth routes' shaping, passed in so this module need not import them."""
    m = await models_at(log, as_of)
    return Response(roles_body(m.auth.all_roles()), headers=_headers(m))


def policies_body(m: ReadModels) -> dict[str, Any]:
    items = [
        {"provider_id": p, "tool_name": t, "principal_id": who, "effect": eff}
        for (p, t), entries in sorted(m.auth.policies.items()) for who, eff in sorted(entries.items())
    ]
    return {"policies": items, "total": len(items)}


async def system(
    log: LogFeatures, uptime: Uptime, as_of: str, system_body: Callable[[Uptime, Any], Any],
) -> Response[Any]:
    m = await models_at(log, as_of)
    return Response(msgspec.to_builtins(system_body(uptime, m.providers)), headers=_headers(m))
