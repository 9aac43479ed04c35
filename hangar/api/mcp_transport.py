"""Handshake-era (2025) ``/mcp`` POSTs answered as plain JSON unless something needs streaming.

The SDK's session transport answers every request POST on an SSE stream, which costs about a
millisecond of CPU per call here (a task group, a memory stream and a disconnect listener per
POST, and one trip through the ASGI middleware per SSE chunk). Streamable HTTP lets the server
choose, per POST, between one ``application/json`` body and an SSE stream, so Hangar decides as
late as possible, as the SDK itself does for 2026-07-28 requests:

* the request is handed to the session as before, its stream able to carry server-to-client
  messages (``can_send_request`` stays true);
* if the first message the session routes to this request is its response, that response is
  the whole answer, as ``application/json``: the common tool call, resource read or listing;
* if the first message is anything else (a progress or log notification, a sampling,
  elicitation or roots request of the provider, relayed while the call runs), the answer
  becomes an SSE stream that carries it, everything after it, and finally the response;
* a request still silent after ``COMMIT_SSE_AFTER_S`` becomes an SSE stream too, with comment
  pings, so proxies with an idle-read timeout keep it open (what the SDK's SSE answers do).

So progress, logging, cancellation and relayed client requests behave exactly as on the SDK's
SSE path; only the framing of answers that never streamed anything changes. Sessions with an
event store (resumability), ``initialize`` and anything malformed are left to the SDK.
"""

from __future__ import annotations

import contextlib
from typing import Any, Final

import anyio
import pydantic_core
from anyio.streams.memory import MemoryObjectReceiveStream
from mcp.server.streamable_http import (
    CONTENT_TYPE_JSON,
    REQUEST_STREAM_BUFFER_SIZE,
    EventMessage,
    StreamableHTTPServerTransport,
)
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types import DEFAULT_NEGOTIATED_VERSION, JSONRPCError, JSONRPCRequest, JSONRPCResponse, jsonrpc_message_adapter
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

COMMIT_SSE_AFTER_S: Final = 15.0
"""A request silent this long is answered as an SSE stream, pinged at this interval."""

_PING: Final = b": ping\r\n\r\n"
_JSON: Final = CONTENT_TYPE_JSON.encode()
_TERMINATED: Final = (b'{"jsonrpc":"2.0","id":null,"error":{"code":-32600,'
                      b'"message":"Not Found: Session has been terminated"}}')


class DeferredStreamTransport(StreamableHTTPServerTransport):
    """The SDK's session transport, with request POSTs framed as described in the module doc."""

    async def _handle_post_request(self, scope: Scope, request: Request, receive: Receive, send: Send) -> None:
        writer = self._read_stream_writer
        message = None
        if writer is not None and self._event_store is None:
            try:
                message = jsonrpc_message_adapter.validate_python(
                    pydantic_core.from_json(await request.body()), by_name=False)
            except (ValueError, ValidationError):
                message = None  # the SDK answers it with its own error
        if writer is None or not isinstance(message, JSONRPCRequest) or message.method == "initialize":
            await super()._handle_post_request(scope, request, receive, send)
            return
        # The SDK's checks, in its order (the body has parsed, so that check has passed).
        if not await self._validate_accept_header(request, scope, send):
            return
        if not self._check_content_type(request):
            await super()._handle_post_request(scope, request, receive, send)  # the SDK's 415
            return
        if not await self._validate_request_headers(request, send):
            return
        request_id = str(message.id)
        version = request.headers.get(MCP_PROTOCOL_VERSION_HEADER, DEFAULT_NEGOTIATED_VERSION)
        streams = anyio.create_memory_object_stream[EventMessage](REQUEST_STREAM_BUFFER_SIZE)
        self._request_streams[request_id] = streams
        try:
            try:
                await writer.send(self._create_session_message(message, request, request_id, version))
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                await self._send_whole(send, 404, _TERMINATED)  # the session ended just now
                return
            await self._answer(scope, receive, send, streams[1])
        finally:
            await self._clean_up_memory_streams(request_id)

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, stream: MemoryObjectReceiveStream[EventMessage]
    ) -> None:
        first: EventMessage | None = None
        try:
            with anyio.move_on_after(COMMIT_SSE_AFTER_S):
                first = await stream.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            # The session was terminated (DELETE, idle timeout, shutdown) with this request in
            # flight: answered as the session's later requests will be.
            await self._send_whole(send, 404, _TERMINATED)
            return
        if first is not None and isinstance(first.message, JSONRPCResponse | JSONRPCError):
            await self._send_whole(send, 200, _dump(first.message))
            return
        await self._stream(receive, send, stream, first)

    def _headers(self, content_type: bytes) -> list[tuple[bytes, bytes]]:
        headers = [(b"content-type", content_type)]
        if self.mcp_session_id:
            headers.append((b"mcp-session-id", self.mcp_session_id.encode()))
        return headers

    async def _send_whole(self, send: Send, status: int, body: bytes) -> None:
        headers = self._headers(_JSON)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _stream(
        self, receive: Receive, send: Send, stream: MemoryObjectReceiveStream[EventMessage],
        first: EventMessage | None,
    ) -> None:
        """SSE from ``first`` on until the response; a client that goes away ends it (the call
        itself goes on: on this era a client cancels with ``notifications/cancelled``)."""
        headers = self._headers(b"text/event-stream")
        headers += [(b"cache-control", b"no-cache, no-transform"), (b"connection", b"keep-alive"),
                    (b"x-accel-buffering", b"no")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})

        async def watch_disconnect(scope: anyio.CancelScope) -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            scope.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch_disconnect, tg.cancel_scope)
            event = first
            with contextlib.suppress(anyio.EndOfStream, anyio.ClosedResourceError, OSError):
                while True:
                    chunk = _PING if event is None else b"event: message\r\ndata: " + _dump(event.message) + b"\r\n\r\n"
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    if event is not None and isinstance(event.message, JSONRPCResponse | JSONRPCError):
                        break
                    event = None
                    with anyio.move_on_after(COMMIT_SSE_AFTER_S):
                        event = await stream.receive()
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            tg.cancel_scope.cancel()


def _dump(message: Any) -> bytes:
    data: bytes = message.model_dump_json(by_alias=True, exclude_unset=True).encode()
    return data


class DeferredStreamSessionManager(StreamableHTTPSessionManager):
    """The SDK's session manager, its sessions served by ``DeferredStreamTransport``."""

    def _admit_session(self, requestor: Any) -> StreamableHTTPServerTransport | None:
        transport = super()._admit_session(requestor)
        if transport is not None:
            # The subclass only overrides methods and adds no state, so the transport the SDK
            # built (with whatever it passed to the constructor) is retyped rather than rebuilt.
            transport.__class__ = DeferredStreamTransport
        return transport
