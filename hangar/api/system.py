"""``/api/system``."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import msgspec
from litestar import Controller, get

from hangar.api.deps import Services


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
    async def system_info(self, services: Services) -> SystemBody:
        p = services.providers
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
