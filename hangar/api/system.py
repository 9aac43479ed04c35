"""``/api/system``."""

from __future__ import annotations

import weakref
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

import msgspec
from litestar import Controller, MediaType, Response, get
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


class _Totals(msgspec.Struct):
    """The leading fields of ``SystemInfo``, in its order."""

    total_providers: int
    providers_by_state: dict[str, int]
    total_tools: int
    total_tool_calls: int


class SystemAnswer:
    """``GET /api/system`` (the present) as bytes: everything but the uptime is encoded again
    only when the providers read model's totals change; the uptime is spliced in per request.
    The bytes are exactly what encoding ``SystemBody`` would give."""

    def __init__(self, providers: ProvidersProjection) -> None:
        self._p = providers
        self._key: tuple[int, int] | None = None
        self._head = b""
        self._tail = b',"version":' + msgspec.json.encode(package_version()) + b"}}"

    def body(self, uptime_seconds: float) -> bytes:
        p = self._p
        key = (p.generation, p.total_tool_calls)
        if key != self._key:
            totals = msgspec.json.encode(_Totals(len(p.views), p.by_state(), p.total_tools, p.total_tool_calls))
            self._head = b'{"system":' + totals[:-1] + b',"uptime_seconds":'
            self._key = key
        return self._head + msgspec.json.encode(round(uptime_seconds, 3)) + self._tail


_answers: weakref.WeakKeyDictionary[ProvidersProjection, SystemAnswer] = weakref.WeakKeyDictionary()


def system_answer(providers: ProvidersProjection) -> SystemAnswer:
    answer = _answers.get(providers)
    if answer is None:
        answer = _answers[providers] = SystemAnswer(providers)
    return answer


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
        return Response(system_answer(providers).body(uptime.seconds()), media_type=MediaType.JSON)


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
