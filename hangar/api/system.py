"""``/api/system``."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

import msgspec
from litestar import Controller, get

from hangar.app.services import Services


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
    async def system_info(self, services: Services) -> SystemBody:
        p = services.providers
        return SystemBody(
            SystemInfo(
                total_providers=len(p.views),
                providers_by_state=p.by_state(),
                total_tools=p.total_tools,
                total_tool_calls=p.total_tool_calls,
                uptime_seconds=round(services.uptime_seconds, 3),
                version=package_version(),
            )
        )
