"""Per-request correlation id and HTTP metrics, as one cheap ASGI wrapper.

It wraps the whole application (routing and error handling included), so unrouted requests
and errors are counted too. The correlation id comes from ``X-Correlation-ID`` (or is made
up), is bound into structlog's context for every log line of the request, is put on the
request headers so commands stamp it into event metadata, and is echoed on the response.
"""

from __future__ import annotations

import re
import time
from typing import Any

from hangar.observability.context import CORRELATION_ID, new_correlation_id
from hangar.observability.metrics import Metrics

HEADER = b"x-correlation-id"
# Only ids that are safe to log and echo are taken over; anything else is replaced.
_VALID = re.compile(rb"^[A-Za-z0-9._:/+=-]{1,128}$")

ASGIApp = Any


class RequestObservability:
    def __init__(self, app: ASGIApp, metrics: Metrics | None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        cid = b""
        headers = scope["headers"]
        for name, value in headers:
            if name == HEADER:
                cid = value
                break
        if not cid:
            cid = new_correlation_id().encode()
            scope["headers"] = [*headers, (HEADER, cid)]
        elif not _VALID.fullmatch(cid):
            cid = new_correlation_id().encode()
            scope["headers"] = [*(h for h in headers if h[0] != HEADER), (HEADER, cid)]
        token = CORRELATION_ID.set(cid.decode())
        if kind == "websocket":
            try:
                await self.app(scope, receive, send)
            finally:
                CORRELATION_ID.reset(token)
            return

        status = 500
        echo = (HEADER, cid)

        async def send_wrapper(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                out = message.get("headers")
                if isinstance(out, list):
                    out.append(echo)
                else:
                    message["headers"] = [*(out or ()), echo]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if self.metrics is not None:
                route = scope.get("path_template") or "unmatched"
                self.metrics.observe_http(scope["method"], route, status, time.perf_counter() - started)
            CORRELATION_ID.reset(token)
