"""Server-Sent Events parsing and the legacy HTTP+SSE MCP transport (protocol 2024-11-05).

Legacy servers keep one long ``GET`` stream open: the first ``endpoint`` event names the URL to
POST messages to, and every response arrives later as a ``message`` event on that stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import NamedTuple
from urllib.parse import urljoin

import httpx
import msgspec

from . import jsonrpc
from .errors import ProtocolError, ProviderCrashed, ProviderUnavailable

log = logging.getLogger("hangar.runtime.sse")


class SseEvent(NamedTuple):
    event: str
    data: str


async def iter_sse(lines: AsyncIterator[str]) -> AsyncIterator[SseEvent]:
    """Events of an ``text/event-stream`` body, given its lines (``\\r\\n`` already stripped)."""
    event = "message"
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield SseEvent(event, "\n".join(data))
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue  # comment / keep-alive
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            event = value or "message"
        elif field == "data":
            data.append(value)
    if data:
        yield SseEvent(event, "\n".join(data))


class LegacySseSession:
    """One ``GET`` event stream plus the POST endpoint it announced."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        sse_url: str,
        headers: Mapping[str, str],
        on_envelope: Callable[[jsonrpc.Envelope], None],
        on_lost: Callable[[str], None],
    ) -> None:
        self._http = http
        self._sse_url = sse_url
        self._headers = dict(headers)
        self._on_envelope = on_envelope
        self._on_lost = on_lost
        self._endpoint: asyncio.Future[str] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._response: httpx.Response | None = None
        self.broken = False

    async def connect(self, timeout_s: float) -> str:
        loop = asyncio.get_running_loop()
        self._endpoint = loop.create_future()
        request = self._http.build_request(
            "GET", self._sse_url, headers={**self._headers, "Accept": "text/event-stream"}
        )
        try:
            async with asyncio.timeout(timeout_s):
                response = await self._http.send(request, stream=True)
                if response.status_code != 200:
                    await response.aclose()
                    status = response.status_code
                    raise ProviderUnavailable(f"SSE stream {self._sse_url} answered HTTP {status}")
                self._response = response
                self._reader = loop.create_task(self._read(response), name="hangar-sse-reader")
                return await asyncio.shield(self._endpoint)
        except TimeoutError as exc:
            await self.close()
            msg = f"no endpoint event from {self._sse_url} within {timeout_s:g}s"
            raise ProviderUnavailable(msg) from exc
        except httpx.HTTPError as exc:
            await self.close()
            raise ProviderUnavailable(f"cannot open SSE stream {self._sse_url}: {exc}") from exc

    async def _read(self, response: httpx.Response) -> None:
        reason = "SSE stream ended"
        try:
            async for ev in iter_sse(response.aiter_lines()):
                if ev.event == "endpoint":
                    if self._endpoint is not None and not self._endpoint.done():
                        self._endpoint.set_result(urljoin(self._sse_url, ev.data.strip()))
                elif ev.event == "message":
                    try:
                        env = jsonrpc.decode_envelope(ev.data)
                    except msgspec.DecodeError:
                        log.warning("ignoring non JSON-RPC SSE message from %s", self._sse_url)
                        continue
                    self._on_envelope(env)
        except httpx.HTTPError as exc:
            reason = f"SSE stream failed: {exc}"
        finally:
            self.broken = True
            if self._endpoint is not None and not self._endpoint.done():
                self._endpoint.set_exception(ProviderUnavailable(f"{reason} before the endpoint event"))
            self._on_lost(reason)

    async def post(self, body: bytes) -> None:
        if self.broken or self._endpoint is None or not self._endpoint.done():
            raise ProviderCrashed("SSE session is not connected")
        url = self._endpoint.result()
        try:
            response = await self._http.post(
                url, content=body, headers={**self._headers, "Content-Type": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise ProviderCrashed(f"POST to {url} failed: {exc}") from exc
        if response.status_code == 404:
            # The server forgot this session (restart): the stream is dead even if not yet closed.
            self.broken = True
            raise ProviderCrashed(f"SSE session unknown to server (HTTP 404 from {url})")
        if response.status_code >= 400:
            raise ProtocolError(f"POST to {url} answered HTTP {response.status_code}: {response.text[:200]}")

    async def close(self) -> None:
        self.broken = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._response is not None:
            with contextlib.suppress(Exception):
                await self._response.aclose()
        if self._endpoint is not None and not self._endpoint.done():
            self._endpoint.cancel()
