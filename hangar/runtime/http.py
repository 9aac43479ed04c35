"""MCP over Streamable HTTP, falling back to the legacy HTTP+SSE transport.

A remote server that restarts forgets its sessions and answers 404 to the old
``Mcp-Session-Id``; the client then re-initialises once (shared by all concurrent callers) and
retries the request, rather than wedging on a dead session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any, Literal

import httpx
import msgspec

from hangar.app.call_relay import RelayRefused
from hangar.app.tls import shared_tls_context
from hangar.observability.tracing import trace_headers

from . import jsonrpc
from .client import PROTOCOL_VERSION, BaseMcpClient, NotificationHandler, ServerInfo
from .errors import (
    CallTimeout,
    ProtocolError,
    ProviderCrashed,
    ProviderUnavailable,
    RuntimeClientError,
    ToolCallError,
)
from .sse import LegacySseSession, iter_sse

log = logging.getLogger("hangar.runtime.http")

TransportMode = Literal["auto", "streamable", "sse"]


class _NotStreamable(Exception):
    """``initialize`` was refused with a 4xx: the endpoint predates Streamable HTTP."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class _SessionGone(Exception):
    """404 for a request that carried a session id."""

    def __init__(self, session_id: str) -> None:
        super().__init__(session_id)
        self.session_id = session_id


class HttpClient(BaseMcpClient):
    def __init__(
        self,
        provider_id: str,
        endpoint: str,
        *,
        headers: Mapping[str, str] | None = None,
        transport: TransportMode = "auto",
        sse_url: str | None = None,
        on_notification: NotificationHandler | None = None,
        start_timeout_s: float = 30.0,
        connect_timeout_s: float = 10.0,
        protocol_version: str = PROTOCOL_VERSION,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(provider_id, protocol_version=protocol_version, on_notification=on_notification)
        self.endpoint = endpoint
        self._sse_url = sse_url or endpoint
        self._mode = transport
        self._headers = dict(headers or {})
        self._start_timeout_s = start_timeout_s
        self._owns_http = http_client is None
        # No read timeout: every request has its own deadline, and SSE streams are long-lived.
        self._http = http_client or httpx.AsyncClient(
            timeout=httpx.Timeout(None, connect=connect_timeout_s), verify=shared_tls_context())
        self._session_id: str | None = None
        self._next_id = 0
        self._reinit_lock = asyncio.Lock()
        self._legacy: LegacySseSession | None = None
        self._pending = jsonrpc.PendingRequests()  # legacy SSE only: responses arrive on the stream
        self._background: set[asyncio.Task[Any]] = set()
        self._state = "new"
        self._broken = False
        self.reinitializations = 0

    @property
    def alive(self) -> bool:
        legacy_ok = self._legacy is None or not self._legacy.broken
        return self._state == "running" and not self._broken and legacy_ok

    @property
    def session_id(self) -> str | None:
        return self._session_id

    @property
    def transport_kind(self) -> str | None:
        if self._state == "new":
            return None
        return "sse" if self._legacy is not None else "streamable"

    async def start(self) -> ServerInfo:
        if self._state != "new":
            raise RuntimeError(f"HttpClient for {self.provider_id} cannot be started twice")
        self._state = "running"
        refused: _NotStreamable | None = None
        try:
            if self._mode != "sse":
                try:
                    return await self._handshake(self._start_timeout_s)
                except _NotStreamable as exc:
                    if self._mode == "streamable":
                        raise ProviderUnavailable(f"{self.endpoint} refused initialize ({exc})") from exc
                    log.info("%s refused Streamable HTTP (%s); trying legacy SSE", self.endpoint, exc)
                    refused = exc
            try:
                await self._connect_legacy()
            except ProviderUnavailable as exc:
                if refused is None:
                    raise
                raise ProviderUnavailable(
                    f"{self.endpoint} refused Streamable HTTP initialize ({refused}) and legacy SSE ({exc})"
                ) from exc
            return await self._handshake(self._start_timeout_s)
        except BaseException as exc:
            await self.close()
            if isinstance(exc, ProviderUnavailable | asyncio.CancelledError):
                raise
            raise ProviderUnavailable(f"provider {self.provider_id} failed to initialise: {exc}") from exc

    async def close(self) -> None:
        if self._state == "closed":
            return
        self._state = "closed"
        self._pending.fail_all(lambda: ProviderUnavailable(f"provider {self.provider_id} was stopped"))
        for task in list(self._background):
            task.cancel()
        if self._legacy is not None:
            await self._legacy.close()
        elif self._session_id is not None:
            with contextlib.suppress(httpx.HTTPError, RuntimeError):
                await asyncio.wait_for(self._http.delete(self.endpoint, headers=self._request_headers()), 2.0)
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._owns_http:
            await self._http.aclose()

    # --- transport primitives ------------------------------------------------------------------

    async def _request(self, method: str, params: Any, timeout_s: float) -> msgspec.Raw:
        if self._state != "running":
            raise ProviderUnavailable(f"provider {self.provider_id} is not running")
        self._next_id += 1
        rid = self._next_id
        body = jsonrpc.encode_request(rid, method, params)
        try:
            async with asyncio.timeout(timeout_s):
                if self._legacy is not None:
                    raw = await self._legacy_request(rid, method, body)
                else:
                    raw = await self._post_request(rid, method, body, may_reinit=method != "initialize")
        except TimeoutError:
            self._cancel_remote(rid, f"timed out after {timeout_s:g}s")
            raise CallTimeout(method, timeout_s) from None
        except _NotStreamable as exc:
            if self._server_info is None and self.reinitializations == 0:
                raise  # start() decides whether to fall back
            self._broken = True
            raise ProviderUnavailable(f"{self.endpoint} refused to re-initialise ({exc})") from exc
        except (ProviderCrashed, ProviderUnavailable):
            self._broken = True
            raise
        self._broken = False
        return raw

    async def _notify(self, method: str, params: Any = None) -> None:
        body = jsonrpc.encode_notification(method, params)
        if self._legacy is not None:
            await self._legacy.post(body)
            return
        try:
            response = await self._http.post(self.endpoint, content=body, headers=self._request_headers())
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"POST {self.endpoint} failed: {exc}") from exc
        if response.status_code >= 400:
            raise ProtocolError(f"{method} answered HTTP {response.status_code}")

    def _request_headers(self) -> dict[str, str]:
        headers = {
            **self._headers,
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
        }
        if self._session_id is not None:
            headers["Mcp-Session-Id"] = self._session_id
        if self._server_info is not None:
            headers["MCP-Protocol-Version"] = self._server_info.protocol_version
        headers.update(trace_headers())  # traceparent for remote providers and their proxies
        return headers

    async def _post_request(self, rid: int, method: str, body: bytes, may_reinit: bool) -> msgspec.Raw:
        try:
            return await self._post_once(rid, method, body)
        except _SessionGone as gone:
            if not may_reinit:
                raise ProviderUnavailable(f"{self.endpoint} forgot session {gone.session_id} again") from None
            await self._reinitialize(gone.session_id)
            return await self._post_request(rid, method, body, may_reinit=False)

    async def _reinitialize(self, stale_session: str) -> None:
        """Single flight: concurrent callers that hit the same dead session share one handshake."""
        async with self._reinit_lock:
            if self._session_id != stale_session:
                return
            log.info("provider %s lost session %s; re-initialising", self.provider_id, stale_session)
            self._session_id = None
            self._server_info = None
            self.reinitializations += 1
            await self._handshake(self._start_timeout_s)

    async def _post_once(self, rid: int, method: str, body: bytes) -> msgspec.Raw:
        sent_session = self._session_id
        headers = self._request_headers()
        request = self._http.build_request("POST", self.endpoint, content=body, headers=headers)
        try:
            response = await self._http.send(request, stream=True)
        except httpx.ConnectError as exc:
            raise ProviderUnavailable(f"cannot connect to {self.endpoint}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise ProviderCrashed(f"POST {self.endpoint} failed: {exc}") from exc
        try:
            status = response.status_code
            if status == 404 and sent_session is not None:
                raise _SessionGone(sent_session)
            if method == "initialize" and 400 <= status < 500 and status not in (401, 403):
                raise _NotStreamable(status)
            if status >= 400:
                await response.aread()
                raise _status_error(status, response.text, self.endpoint)
            if method == "initialize":
                self._session_id = response.headers.get("mcp-session-id") or None
            ctype = response.headers.get("content-type", "")
            if ctype.startswith("text/event-stream"):
                return await self._await_in_stream(rid, response)
            data = await response.aread()
            try:
                env = jsonrpc.decode_envelope(data)
            except msgspec.DecodeError as exc:
                raise ProtocolError(f"{method}: unexpected body ({ctype}): {data[:200]!r}") from exc
            return _result_of(env, rid, method)
        except httpx.HTTPError as exc:
            raise ProviderCrashed(f"connection to {self.endpoint} lost during {method}: {exc}") from exc
        finally:
            await response.aclose()

    async def _await_in_stream(self, rid: int, response: httpx.Response) -> msgspec.Raw:
        async for ev in iter_sse(response.aiter_lines()):
            if ev.event != "message" or not ev.data:
                continue
            try:
                env = jsonrpc.decode_envelope(ev.data)
            except msgspec.DecodeError:
                log.warning("ignoring non JSON-RPC event from %s", self.endpoint)
                continue
            if env.method is None:
                if env.id == rid:
                    return _result_of(env, rid, "request")
            else:
                self._handle_server_message(env)
        raise ProviderCrashed(f"{self.endpoint} closed the response stream without answering")

    def _handle_server_message(self, env: jsonrpc.Envelope) -> None:
        assert env.method is not None
        if env.id is None:
            self._dispatch_notification(env.method, env.params)
            return
        if self.server_request_handler is not None and env.method != "ping":
            self._answer_in_background(env)
            return
        result, error = jsonrpc.answer_server_request(env.method)
        if error is None:
            self._post_in_background(jsonrpc.encode_result(env.id, result))
        else:
            self._post_in_background(jsonrpc.encode_error(env.id, error.code, error.message))

    def _answer_in_background(self, env: jsonrpc.Envelope) -> None:
        """Relay the server's request to the calling client; the server always gets an answer."""
        handler, rid, method = self.server_request_handler, env.id, env.method
        assert handler is not None and rid is not None and method is not None

        async def answer() -> None:
            try:
                result = await handler(method, env.params)
            except RelayRefused as exc:
                self._post_in_background(jsonrpc.encode_error(rid, exc.code, exc.message))
            except Exception as exc:
                self._post_in_background(jsonrpc.encode_error(rid, jsonrpc.INTERNAL_ERROR, f"relay failed: {exc}"))
            else:
                self._post_in_background(jsonrpc.encode_result(rid, result))

        task = asyncio.get_running_loop().create_task(answer())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _cancel_remote(self, rid: int, reason: str) -> None:
        if self._state == "running":
            self._post_in_background(jsonrpc.encode_cancel(rid, reason))

    def _post_in_background(self, body: bytes) -> None:
        async def post() -> None:
            with contextlib.suppress(RuntimeClientError, httpx.HTTPError):
                if self._legacy is not None:
                    await self._legacy.post(body)
                else:
                    await self._http.post(self.endpoint, content=body, headers=self._request_headers())

        task = asyncio.get_running_loop().create_task(post())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- legacy HTTP+SSE -----------------------------------------------------------------------

    async def _connect_legacy(self) -> None:
        if self._legacy is not None:
            await self._legacy.close()
        self._legacy = LegacySseSession(
            self._http, self._sse_url, self._headers, self._on_legacy_envelope, self._on_legacy_lost
        )
        await self._legacy.connect(self._start_timeout_s)

    def _on_legacy_envelope(self, env: jsonrpc.Envelope) -> None:
        if env.method is None:
            self._pending.resolve(env)
        else:
            self._handle_server_message(env)

    def _on_legacy_lost(self, reason: str) -> None:
        if self._state == "running":
            self._pending.fail_all(lambda: ProviderCrashed(f"provider {self.provider_id}: {reason}"))

    async def _legacy_request(self, rid: int, method: str, body: bytes) -> msgspec.Raw:
        legacy = self._legacy
        assert legacy is not None
        if legacy.broken and method != "initialize":
            # The stream died (server restart): one fresh stream + handshake, then retry.
            async with self._reinit_lock:
                if self._legacy is legacy:
                    self.reinitializations += 1
                    await self._connect_legacy()
                    await self._handshake(self._start_timeout_s)
        fut = self._pending.register(asyncio.get_running_loop(), rid)
        try:
            assert self._legacy is not None
            await self._legacy.post(body)
            return await fut
        finally:
            self._pending.discard(rid)


def _result_of(env: jsonrpc.Envelope, rid: int, method: str) -> msgspec.Raw:
    if env.error is not None:
        raise ToolCallError(env.error.code, env.error.message, env.error.data)
    if env.id != rid:
        raise ProtocolError(f"{method}: response id {env.id!r} does not match request id {rid}")
    return env.result


def _status_error(status: int, text: str, endpoint: str) -> RuntimeClientError:
    detail = f"{endpoint} answered HTTP {status}: {text[:200]}"
    if status in (401, 403, 404, 502, 503, 504):
        return ProviderUnavailable(detail)
    return ProtocolError(detail)
