"""Passing a request on to the replica that holds what it needs.

An MCP session (its GET stream, its in-flight calls) lives in one replica's memory; a request for
it that a load balancer sends elsewhere is relayed there, streamed both ways, so a client never
sees "session not found" because of where its request happened to land. The relayed request
carries the principal the first replica authenticated, vouched for by the cluster token, so the
key is checked once.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import httpx
from litestar.types import Message, Receive, Scope, Send

from hangar.app.cluster_runtime import CLUSTER_TOKEN_HEADER
from hangar.app.tls import shared_tls_context

FORWARDED_PRINCIPAL_HEADER = "x-hangar-principal"
FORWARDED_BY_HEADER = "x-hangar-forwarded-by"

# Hop-by-hop headers are the connection's, not the request's (RFC 9110 §7.6.1).
_HOP_BY_HOP = {
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te", b"trailer",
    b"transfer-encoding", b"upgrade", b"host", b"content-length",
    CLUSTER_TOKEN_HEADER.encode(), FORWARDED_PRINCIPAL_HEADER.encode(), FORWARDED_BY_HEADER.encode(),
}


def token_matches(expected: str | None, given: str | None) -> bool:
    if not expected or given is None:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def forwarded_principal(scope: Scope, cluster_token: str | None) -> str | None:
    """The principal a peer replica vouches for, when the request carries a valid cluster token."""
    headers = dict(scope.get("headers") or [])
    token = headers.get(CLUSTER_TOKEN_HEADER.encode())
    principal = headers.get(FORWARDED_PRINCIPAL_HEADER.encode())
    if principal is None or not token_matches(cluster_token, token.decode("latin-1") if token else None):
        return None
    return principal.decode("latin-1")


class Relay:
    """Streams one ASGI HTTP request to a peer replica and its response back."""

    def __init__(self, cluster_token: str, instance_id: str, *, connect_timeout_s: float = 2.0) -> None:
        self._token = cluster_token
        self._instance_id = instance_id
        # No read timeout: a GET stream stays open as long as the client keeps it.
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=connect_timeout_s),
                                         verify=shared_tls_context())

    async def close(self) -> None:
        await self._client.aclose()

    async def relay(self, address: str, scope: Scope, receive: Receive, send: Send, principal: str) -> None:
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP_BY_HOP]
        headers += [
            (CLUSTER_TOKEN_HEADER.encode(), self._token.encode()),
            (FORWARDED_PRINCIPAL_HEADER.encode(), principal.encode()),
            (FORWARDED_BY_HEADER.encode(), self._instance_id.encode()),
        ]
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string") or b""
        url = address.rstrip("/") + path.decode("latin-1") + (("?" + query.decode("latin-1")) if query else "")
        method = str(scope.get("method", "GET"))
        body = _request_body(receive) if method in ("POST", "PUT", "PATCH") else None
        request = self._client.build_request(method, url, headers=headers, content=body)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError:
            await _plain(send, 502, b'{"error":"BadGateway","message":"the replica holding this session '
                                    b'did not answer","status_code":502}')
            return
        try:
            out = [(k.lower(), v) for k, v in response.headers.raw if k.lower() not in _HOP_BY_HOP]
            await send({"type": "http.response.start", "status": response.status_code, "headers": out})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()


async def _request_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        if isinstance(chunk, bytes) and chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body, "more_body": False})


class SessionDirectory(Protocol):
    async def claim(self, session_id: str) -> None: ...
    async def release(self, session_id: str) -> None: ...
    async def owner_address(self, session_id: str) -> str | None: ...


McpHandler = Callable[[Scope, Receive, Send, str], Awaitable[None]]

SESSION_HEADER = b"mcp-session-id"


class McpSessionRouter:
    """Serves a session where it lives: locally when this replica opened it, else relayed to the
    replica the directory names. A session opened here is recorded before its ``initialize``
    answer leaves, so the client's next request finds it from any replica."""

    def __init__(self, inner: McpHandler, directory: SessionDirectory, relay: Relay) -> None:
        self._inner = inner
        self._directory = directory
        self._relay = relay
        self._local: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send, principal: str) -> None:
        headers = dict(scope.get("headers") or [])
        raw_sid = headers.get(SESSION_HEADER)
        sid = raw_sid.decode("latin-1") if raw_sid else None
        relayed = FORWARDED_BY_HEADER.encode() in headers
        if sid is not None and sid not in self._local and not relayed:
            address = await self._directory.owner_address(sid)
            if address is not None:
                await self._relay.relay(address, scope, receive, send, principal)
                return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                opened = next((v for k, v in message.get("headers", []) if k.lower() == SESSION_HEADER), None)
                if opened is not None and opened.decode("latin-1") not in self._local:
                    new = opened.decode("latin-1")
                    self._local.add(new)
                    await self._directory.claim(new)
            await send(message)

        await self._inner(scope, receive, watch, principal)
        if sid is not None and (scope.get("method") == "DELETE" or status == 404):
            if sid in self._local:
                self._local.discard(sid)
                await self._directory.release(sid)
