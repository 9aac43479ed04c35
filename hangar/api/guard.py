"""Authentication and authorization for every route, plus durable audit before each response.

Registered as Litestar middleware, so it runs after routing and knows which route (and hence
which permission from ``hangar/api/permissions.py``) a request is for. With ``auth.enabled``:

1. a client address that failed authentication too often is refused with **429** and
   ``Retry-After`` whatever it presents (a lockout must not let a guess be confirmed);
2. no key → **401**; an unknown, expired or revoked key → **401** (recorded as a security event;
   ``auth.lockout.max_failures`` of those within the window lock the address out, for twice
   as long each time);
3. the principal's token bucket is empty → **429** with ``Retry-After``;
4. the principal lacks the route's permission → **403** (recorded).

A WebSocket is refused before its handshake completes, with the same status and envelope when
the server supports the ASGI denial-response extension. The principal is put in
``request.state.principal``, where ``hangar.api.deps.command_context`` reads it.

With auth off everything is open; the guard then only makes the request's audit records
durable before its response starts.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import msgspec
from litestar.handlers import ASGIRouteHandler
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from hangar.api.cluster_proxy import forwarded_principal
from hangar.api.errors import ErrorBody
from hangar.api.permissions import UNLISTED, compiled, route_keys, stream_permission
from hangar.app.auth.audit import PENDING, Pending
from hangar.app.auth.service import AuthService
from hangar.domain.auth import Grant
from hangar.domain.errors import HangarError

_TABLE = compiled()
_DIGEST_FIELD = re.compile(r',"key_hash":"[0-9a-f]*"')
_AUDIT_FRAME = '"event_type":"CommandAudited"'
_EVENT_FRAME = '{"event_id":'  # how every event frame of hangar.app.codec.frame begins
_STREAM_FIELD = '"stream_id":"'  # the frame's second field
_KEY_HEADER = b"x-api-key"
_AUTHORIZATION = b"authorization"
_SUBPROTOCOLS = b"sec-websocket-protocol"
SUBPROTOCOL = "hangar"
KEY_SUBPROTOCOL_PREFIX = "hangar.key."


def presented_key(scope: Scope) -> str | None:
    bearer = None
    for name, value in scope["headers"]:
        if name == _KEY_HEADER:
            return value.decode("latin-1").strip() or None
        if name == _AUTHORIZATION:
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                bearer = token.strip()
        if name == _SUBPROTOCOLS and scope["type"] == "websocket" and bearer is None:
            bearer = subprotocol_key(value.decode("latin-1"))
    return bearer


def subprotocol_key(offered: str) -> str | None:
    """Browsers cannot set headers on a WebSocket: the dashboard offers the subprotocols
    ``hangar`` and ``hangar.key.<key>``; the server accepts ``hangar`` (never echoing the key)."""
    for token in offered.split(","):
        token = token.strip()
        if token.startswith(KEY_SUBPROTOCOL_PREFIX) and len(token) > len(KEY_SUBPROTOCOL_PREFIX):
            return token[len(KEY_SUBPROTOCOL_PREFIX):]
    return None


def accepted_subprotocol(scope: Scope) -> str | None:
    """``hangar`` when the client offered it (a browser fails the handshake otherwise)."""
    for name, value in scope["headers"]:
        if name == _SUBPROTOCOLS and SUBPROTOCOL in (t.strip() for t in value.decode("latin-1").split(",")):
            return SUBPROTOCOL
    return None


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class AuthGuard:
    """One instance per route (Litestar builds the middleware stack per route)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._needed: dict[str, Grant | None] = {}

    def _permission(self, scope: Scope) -> Grant | None:
        handler = scope.get("route_handler")
        kind = "WS" if scope["type"] == "websocket" else str(scope.get("method", "GET"))
        if isinstance(handler, ASGIRouteHandler):
            kind = "ASGI"
        if kind in self._needed:
            return self._needed[kind]
        needed: Grant | None = UNLISTED
        for key, h in route_keys(scope["app"]):
            if h is handler and key.split(" ", 1)[0] == kind:
                needed = _TABLE.get(key, UNLISTED)
                break
        self._needed[kind] = needed
        return needed

    async def _admit(self, scope: Scope, auth: AuthService) -> str | None:
        needed = self._permission(scope)
        if needed is None:
            return None  # a public route
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        client = client_address(scope)
        principal = await auth.authenticate(presented_key(scope), client, path)
        await auth.throttle(principal)
        method = "WS" if scope["type"] == "websocket" else str(scope.get("method", "GET"))
        await auth.authorize(principal, needed, method, path, client)
        return principal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        auth: AuthService = scope["app"].state.auth
        if auth.enabled:
            try:
                # A peer replica relaying a request vouches (with the cluster token) for the
                # principal it already authenticated and authorized.
                principal = _vouched(scope) or await self._admit(scope, auth)
            except HangarError as exc:
                if scope["type"] == "websocket":
                    await _refuse_websocket(scope, send, exc)
                    return
                raise
            state = scope.get("state")
            if state is None:
                state = scope["state"] = {}
            state["principal"] = principal
        if scope["type"] == "websocket":
            principal = (scope.get("state") or {}).get("principal") if auth.enabled else None
            may = (lambda grant: auth.view.may(principal, grant)) if principal is not None else None
            await self.app(scope, receive, _websocket_sender(send, may))
            return
        pending = Pending()
        token = PENDING.set(pending)

        async def send_after_audit(message: Message) -> None:
            if message["type"] == "http.response.start" and pending.futures:
                await auth.audit.drain(pending)
            await send(message)

        try:
            await self.app(scope, receive, send_after_audit)
        finally:
            pending.open = False
            PENDING.reset(token)
            await auth.audit.drain(pending)


def _frame_stream(text: str) -> str:
    start = text.find(_STREAM_FIELD)
    if start < 0:
        return ""
    start += len(_STREAM_FIELD)
    return text[start:text.find('"', start)]


def _vouched(scope: Scope) -> str | None:
    cluster = getattr(scope["app"].state, "cluster", None)
    return forwarded_principal(scope, cluster.token) if cluster is not None else None


def _websocket_sender(send: Send, may: Callable[[Grant], bool] | None = None) -> Send:
    """Key digests are stored in ``ApiKeyCreated`` but never shown, not even on the event stream;
    and the audit trail (one ``CommandAudited`` per command) is served by
    ``/api/observability/audit``, not mixed into the live event stream. With auth on, a frame
    reaches a principal only with the permission its REST counterpart demands (``may``)."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "websocket.send":
            text = message.get("text")
            if text and text.startswith(_EVENT_FRAME):
                if _AUDIT_FRAME in text:
                    return
                if may is not None and not may(stream_permission(_frame_stream(text))):
                    return
                if '"key_hash"' in text:
                    message = {**message, "text": _DIGEST_FIELD.sub("", text)}
        await send(message)

    return wrapped


async def _refuse_websocket(scope: Scope, send: Send, exc: HangarError) -> None:
    if "websocket.http.response" in (scope.get("extensions") or {}):
        body = msgspec.json.encode(ErrorBody(error=exc.error_type, message=exc.message, status_code=exc.status_code))
        headers = [(b"content-type", b"application/json")]
        headers += [(k.lower().encode(), v.encode()) for k, v in (getattr(exc, "headers", None) or {}).items()]
        await send({"type": "websocket.http.response.start", "status": exc.status_code, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body, "more_body": False})
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": exc.message[:120]})


class McpPolicyAccess:
    """The MCP front door's access policy: the guard has already authenticated the request (the
    ``/mcp`` mount is a route like any other), and tool policies decide what a principal sees."""

    def __init__(self, auth: AuthService) -> None:
        self._auth = auth

    async def authenticate(self, scope: Scope) -> str:
        state = scope.get("state") or {}
        principal = state.get("principal") if isinstance(state, dict) else None
        return str(principal) if principal else "anonymous"

    def visible(self, principal: str, target: str, tool: str, is_group: bool) -> bool:
        return self._auth.tool_allowed(principal, target, tool)
