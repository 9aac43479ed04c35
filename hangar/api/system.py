"""``/api/system``."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get
from litestar.params import Parameter

from hangar.api import as_of as as_of_views
from hangar.app.log.wiring import LogFeatures
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.uptime import Uptime


@cache
def package_version() -> str:
    # Reading the installed distribution's metadata costs about half a millisecond: once per
    # process is enough, the version cannot change under a running server.
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
        self, providers: ProvidersProjection, log: LogFeatures, uptime: Uptime,
        as_of: Annotated[str | None, Parameter(max_length=64, description="a position or RFC 3339 time")] = None,
    ) -> SystemBody | Response[Any]:
        if as_of is not None:
            return await as_of_views.system(log, uptime, as_of, system_body)
        return system_body(uptime, providers)


def system_body(uptime: Uptime, p: ProvidersProjection) -> SystemBody:
    """Totals from a providers read model (the live one, or one of the past)."""
    return SystemBody(
        SystemInfo(
            total_providers=len(p.views),
            providers_by_state=p.by_state(),
            total_tools=p.total_tools,
            total_tool_calls=p.total_tool_calls,
            uptime_seconds=round(uptime.seconds(), 3),
            version=package_version(),
        )
    )
