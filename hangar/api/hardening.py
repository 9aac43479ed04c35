"""What every HTTP request goes through before routing: the real client address, a bounded and
timely body, and a bounded JSON nesting depth.

- **Client address.** The ASGI server never rewrites the peer from ``X-Forwarded-For`` (it is
  started with proxy headers off). Only a peer listed in ``server.trusted_proxies`` may name
  the client, and then the right-most address not itself a trusted proxy is taken, so lockouts
  and rate limits key on an address a caller cannot choose.
- **Body.** Read completely here, each chunk within ``server.body_timeout_s`` and the whole
  within a few times that (a slow-loris body is answered 408 and the connection closed), at most
  ``max_body`` bytes (413).
- **Depth.** A JSON body nested deeper than ``MAX_JSON_DEPTH`` is refused with 400 before any
  decoder recurses into it (deep nesting used to end in ``RecursionError`` and a 500).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

MAX_JSON_DEPTH = 64
DEFAULT_MAX_BODY = 10 * 1024 * 1024

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip()]


def _trusted(addr: str, networks: list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in n for n in networks)


def real_client(peer: str, forwarded_for: list[str], networks: list[Network]) -> str:
    """The client a request is attributed to: the peer, unless the peer is a trusted proxy."""
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage from the proxy chain: attribute it to the proxy
    return peer


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``body`` (JSON) nests arrays/objects deeper than ``limit``. Linear, no recursion."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # the common case, decided in C
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def _envelope(error: str, message: str, status: int) -> bytes:
    return msgspec.json.encode({"error": error, "message": message, "status_code": status})


async def _reply(send: Any, error: str, message: str, status: int, close: bool) -> None:
    body = _envelope(error, message, status)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class _Refused(Exception):
    def __init__(self, error: str, message: str, status: int) -> None:
        super().__init__(message)
        self.error, self.message, self.status = error, message, status


_PARAM = re.compile(r"\{[^}]*\}")


def _shape(path_template: str) -> str:
    return _PARAM.sub("{}", path_template)


class RequestHardening:
    """Also answers ``HEAD`` for every ``GET`` route (the GET response without its body) and
    gives ``OPTIONS`` the complete ``Allow`` header: two controllers serving one path shape
    (``/api/auth/keys/{principal_id}`` GET, ``/api/auth/keys/{key_id}`` DELETE) each listed only
    their own methods."""

    def __init__(
        self, app: Any, *, trusted_proxies: Iterable[str] = (), body_timeout_s: float = 30.0,
        max_body: int = DEFAULT_MAX_BODY, max_depth: int = MAX_JSON_DEPTH,
        routes: Callable[[], Iterable[tuple[str, Iterable[str]]]] | None = None,
    ) -> None:
        self.app = app
        self.networks = parse_networks(trusted_proxies)
        self.body_timeout_s = body_timeout_s
        self.max_body = max_body
        self.max_depth = max_depth
        self._routes = routes
        self._allow: dict[str, bytes] | None = None

    def allow_for(self, path_template: str) -> bytes | None:
        if self._routes is None:
            return None
        if self._allow is None:
            methods: dict[str, set[str]] = {}
            for template, ms in self._routes():
                methods.setdefault(_shape(template), set()).update(ms)
            for ms in methods.values():
                ms.add("OPTIONS")
                if "GET" in ms:
                    ms.add("HEAD")
            self._allow = {k: ", ".join(sorted(v)).encode() for k, v in methods.items()}
        return self._allow.get(_shape(path_template))

    def _fix_allow(self, scope: Any, send: Any) -> Any:
        async def wrapped(message: Any) -> None:
            if message["type"] == "http.response.start":
                allow = self.allow_for(str(scope.get("path_template") or ""))
                if allow is not None:
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                    message = {**message, "headers": [*headers, (b"allow", allow)]}
            await send(message)

        return wrapped

    @staticmethod
    def _without_body(send: Any) -> Any:
        async def wrapped(message: Any) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        return wrapped

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self.networks and scope.get("client"):
            xff = [v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"]
            peer = str(scope["client"][0])
            client = real_client(peer, xff, self.networks)
            if client != peer:
                scope["client"] = (client, 0)
        if kind == "http" and scope["method"] == "OPTIONS":
            send = self._fix_allow(scope, send)
        elif kind == "http" and scope["method"] == "HEAD":
            scope["method"] = "GET"
            send = self._without_body(send)
        if kind != "http" or not _has_body(scope["headers"]):
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read_body(receive)
            if self._is_json(scope["headers"]) and json_depth_exceeds(body, self.max_depth):
                raise _Refused("BadRequest", f"JSON nested deeper than {self.max_depth} levels", 400)
        except _Refused as exc:
            await _reply(send, exc.error, exc.message, exc.status, close=exc.status in (408, 413))
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, receive: Any) -> bytes:
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + self.body_timeout_s * 4
        while True:
            wait = min(self.body_timeout_s, deadline - time.monotonic())
            try:
                # ``asyncio.timeout`` rather than ``wait_for``: no task wrapped around each receive.
                async with asyncio.timeout(max(wait, 0.001)):
                    message = await receive()
            except TimeoutError:
                raise _Refused("RequestTimeout", "the request body was not received in time", 408) from None
            if message["type"] == "http.disconnect":
                raise _Refused("BadRequest", "the client disconnected", 400)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _Refused("PayloadTooLarge", f"request body larger than {self.max_body} bytes", 413)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
        for k, v in headers:
            if k == b"content-type":
                return b"json" in v.lower()
        return True  # Litestar reads an untyped body as JSON too


def _has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    for k, v in headers:
        if k == b"transfer-encoding":
            return True
        if k == b"content-length":
            return v.strip() not in (b"0", b"")
    return False


def _replay(body: bytes, receive: Any) -> Any:
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # http.disconnect, when it comes

    return replay
