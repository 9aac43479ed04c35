"""JSON-RPC 2.0 framing shared by every transport.

Responses are decoded only down to the envelope: ``result`` stays a ``msgspec.Raw`` slice so the
reader never builds Python objects for a payload nobody asked for; the caller decodes it straight
into the type it expects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgspec

from .errors import CallTimeout, ToolCallError

JSONRPC_VERSION = "2.0"
METHOD_NOT_FOUND = -32601
INTERNAL_ERROR = -32603


class RpcErrorBody(msgspec.Struct):
    code: int
    message: str = ""
    data: Any = None


class Envelope(msgspec.Struct):
    """Any incoming message: a response, a request from the server, or a notification."""

    id: int | str | None = None
    method: str | None = None
    params: Any = None
    result: msgspec.Raw = msgspec.Raw()
    error: RpcErrorBody | None = None


class _Request(msgspec.Struct, omit_defaults=True):
    jsonrpc: str
    id: int
    method: str
    params: Any = None


class _Notification(msgspec.Struct, omit_defaults=True):
    jsonrpc: str
    method: str
    params: Any = None


class _Result(msgspec.Struct):
    jsonrpc: str
    id: int | str
    result: Any


class _Error(msgspec.Struct):
    jsonrpc: str
    id: int | str
    error: RpcErrorBody


_encoder = msgspec.json.Encoder()
_envelope_decoder = msgspec.json.Decoder(Envelope)


def encode_request(request_id: int, method: str, params: Any) -> bytes:
    return _encoder.encode(_Request(JSONRPC_VERSION, request_id, method, params))


def encode_notification(method: str, params: Any = None) -> bytes:
    return _encoder.encode(_Notification(JSONRPC_VERSION, method, params))


def encode_cancel(request_id: int, reason: str) -> bytes:
    return encode_notification("notifications/cancelled", {"requestId": request_id, "reason": reason})


def encode_result(request_id: int | str, result: Any) -> bytes:
    return _encoder.encode(_Result(JSONRPC_VERSION, request_id, result))


def encode_error(request_id: int | str, code: int, message: str) -> bytes:
    return _encoder.encode(_Error(JSONRPC_VERSION, request_id, RpcErrorBody(code, message)))


def decode_envelope(data: bytes | str) -> Envelope:
    """Raises ``msgspec.DecodeError`` for anything that is not a JSON-RPC object."""
    return _envelope_decoder.decode(data)


def answer_server_request(method: str) -> tuple[Any, RpcErrorBody | None]:
    """What we answer when the *server* sends us a request.

    Hangar advertises no client capabilities (no sampling, roots or elicitation), so only ``ping``
    has a meaningful answer; anything else is refused rather than left hanging on the server side.
    """
    if method == "ping":
        return {}, None
    return None, RpcErrorBody(METHOD_NOT_FOUND, f"method not supported by client: {method}")


class PendingRequests:
    """In-flight requests of one connection, multiplexed by integer id."""

    __slots__ = ("_futures", "_next_id")

    def __init__(self) -> None:
        self._futures: dict[int, asyncio.Future[msgspec.Raw]] = {}
        self._next_id = 0

    def open(self, loop: asyncio.AbstractEventLoop) -> tuple[int, asyncio.Future[msgspec.Raw]]:
        self._next_id += 1
        return self._next_id, self.register(loop, self._next_id)

    def register(self, loop: asyncio.AbstractEventLoop, request_id: int) -> asyncio.Future[msgspec.Raw]:
        fut: asyncio.Future[msgspec.Raw] = loop.create_future()
        self._futures[request_id] = fut
        return fut

    def discard(self, request_id: int) -> None:
        self._futures.pop(request_id, None)

    def resolve(self, env: Envelope) -> bool:
        """Complete the future waiting for ``env``; False when nobody waits (late or unknown id)."""
        rid = env.id
        if type(rid) is not int:
            # A server may echo our id as a string; tolerate it rather than strand the caller.
            try:
                rid = int(rid)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return False
        fut = self._futures.pop(rid, None)
        if fut is None or fut.done():
            return False
        if env.error is not None:
            fut.set_exception(ToolCallError(env.error.code, env.error.message, env.error.data))
        else:
            fut.set_result(env.result)
        return True

    def fail_all(self, make_error: Callable[[], BaseException]) -> None:
        futures = list(self._futures.values())
        self._futures.clear()
        for fut in futures:
            if not fut.done():
                fut.set_exception(make_error())

    def __len__(self) -> int:
        return len(self._futures)


def _expire(fut: asyncio.Future[msgspec.Raw], method: str, timeout_s: float) -> None:
    if not fut.done():
        fut.set_exception(CallTimeout(method, timeout_s))


async def wait_response(
    loop: asyncio.AbstractEventLoop, fut: asyncio.Future[msgspec.Raw], method: str, timeout_s: float
) -> msgspec.Raw:
    """Await a pending response, failing it with ``CallTimeout`` at the deadline.

    A bare ``call_later`` on the future is cheaper than ``asyncio.wait_for``, which wraps the
    awaitable and adds callbacks on every call of the hot path.
    """
    timer = loop.call_later(timeout_s, _expire, fut, method, timeout_s)
    try:
        return await fut
    finally:
        timer.cancel()
