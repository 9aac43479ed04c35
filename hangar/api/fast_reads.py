"""The two hottest reads answered from encoded bytes, before the framework's routing.

``GET /api/providers`` and ``GET /api/system`` with no query string are the requests monitoring
and dashboards repeat most. Their answers are kept encoded by the providers read model (the
list) and by ``hangar.api.system.SystemAnswer`` (the totals, the uptime spliced in per request),
so all that is left per request is the framework around them: routing, signature parsing,
dependency injection, response objects, about three quarters of the CPU such a request costs.

This wrapper sits inside the observability, hardening and tracing wrappers (so the request is
counted under its route, carries a correlation id and a span) and sends the same status,
headers and body the controllers would send, newline included. It only answers when no
decision of the framework or the guard can differ from the controllers':

- authentication is off (with auth on, the guard must authenticate, throttle and authorize);
- a plain ``GET`` (``HEAD`` arrives here as a ``GET`` whose body the hardening drops) of exactly
  that path, no query string (filters, paging and ``as_of`` go to the controllers), no root
  path, and a ``Host`` header the framework would accept;
- the app has started (the components it reads exist).

Anything else goes to the framework untouched. ``tests/api/test_fast_reads.py`` compares both
answers byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from litestar._asgi.utils import is_valid_host  # the router's own check, so both refuse alike

from hangar.api.system import system_answer
from hangar.app.auth.service import AuthService
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.uptime import Uptime

_JSON = (b"content-type", b"application/json")
_PROVIDERS = "/api/providers"
_SYSTEM = "/api/system"


class ReadSources(NamedTuple):
    """The components the two answers are read from (the same the controllers declare)."""

    auth: AuthService
    providers: ProvidersProjection
    uptime: Uptime


class FastReads:
    def __init__(self, app: Any, sources: Callable[[], ReadSources | None]) -> None:
        self.app = app
        self._sources = sources
        """Returns the components once the app has started, else None."""
        self._list_raw: bytes | None = None
        self._list_body = b""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http" or scope["method"] != "GET" or scope["query_string"]
            or (path := scope["path"]) not in (_PROVIDERS, _SYSTEM) or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        sources = self._sources()
        if sources is None or sources.auth.enabled or not _host_ok(scope["headers"]):
            await self.app(scope, receive, send)
            return
        scope["path_template"] = path  # the route metrics and spans are labelled with
        if path == _PROVIDERS:
            raw = sources.providers.list_json(None)
            if raw is not self._list_raw:
                self._list_raw, self._list_body = raw, raw + b"\n"
            body = self._list_body
        else:
            body = system_answer(sources.providers).body(sources.uptime.seconds()) + b"\n"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [_JSON, (b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _host_ok(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"host":
            return is_valid_host(value)
    return True
