"""The HTTP protocol Hangar serves with: uvicorn's httptools protocol plus a deadline for the
request line and headers. uvicorn has no such deadline, so a client that sends its headers a
byte at a time (slow-loris) held its connection, and a slot of the server, forever. Requests
the parser rejects are answered in the error envelope rather than plain text."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: 96\r\n\r\n"
)
_TIMEOUT_BODY = b'{"error":"RequestTimeout","message":"request headers not received in time","status_code":408}'
_TIMEOUT_RESPONSE = _TIMEOUT_RESPONSE.replace(b"96", str(len(_TIMEOUT_BODY)).encode()) + _TIMEOUT_BODY


def protocol_with_header_timeout(header_timeout_s: float) -> type[HttpToolsProtocol]:
    class HeaderDeadlineProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            # Requests the HTTP parser rejects get the contract's envelope too, not plain text.
            body = msgspec.json.encode({"error": "BadRequest", "message": msg, "status_code": 400})
            self.transport.write(
                b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            self.transport.close()

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(header_timeout_s, self._expired)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _expired(self) -> None:
            self._header_timer = None
            if self.cycle is not None and not self.cycle.response_complete:
                return  # a request is being served (its headers arrived in time)
            if not self.transport.is_closing():
                self.transport.write(_TIMEOUT_RESPONSE)
                self.transport.close()

    return HeaderDeadlineProtocol
