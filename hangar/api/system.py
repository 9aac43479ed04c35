"""``/api/system``."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get
from litestar.params import Parameter

from hangar.api import as_of as as_of_views
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.services import Services


def package_version() -> str:
    try:
        return version("hangar")
    except PackageNotFoundError:
        return "0.0.0"


class SystemInfo(msgspec.Struct):
    total_providers: int
    providers_by_state: dict[str, int]
    total_tools: int
    total_tool_calls: int
    uptime_seconds: float
    version: str


class SystemBody(msgspec.Struct):
    system: SystemInfo


class SystemController(Controller):
    path = "/api/system"
    tags = ["system"]

    @get("/", summary="System totals")
    async def system_info(
        self, services: Services,
        as_of: Annotated[str | None, Parameter(max_length=64, description="a position or RFC 3339 time")] = None,
    ) -> SystemBody | Response[Any]:
        if as_of is not None:
            return await as_of_views.system(services, as_of)
        return system_body(services, services.providers)


def system_body(services: Services, p: ProvidersProjection) -> SystemBody:
    """Totals from a providers read model (the live one, or one of the past)."""
    return SystemBody(
        SystemInfo(
            total_providers=len(p.views),
            providers_by_state=p.by_state(),
            total_tools=sum(len(v.visible_tools) for v in p.views.values()),
            total_tool_calls=p.total_tool_calls,
            uptime_seconds=round(services.uptime_seconds, 3),
            version=package_version(),
        )
    )
