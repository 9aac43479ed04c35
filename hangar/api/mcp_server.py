"""The SDK side of the MCP front door (imported in the background: the SDK takes a while to load).

The official SDK's low-level ``Server`` and ``StreamableHTTPSessionManager`` serve both protocol
eras: the 2025 ``initialize`` handshake with sessions, and 2026-07-28 per-request envelopes.
``notifications/tools/list_changed`` reaches handshake-era clients on their session's GET stream
and 2026-era clients on their ``subscriptions/listen`` stream.

Request POSTs are answered with plain JSON rather than an SSE stream (the SDK's
``json_response``): Hangar sends nothing request-scoped during a call (no server-to-client
requests, no progress), and the SSE machinery cost about three times the CPU of the JSON answer
per call. ``subscriptions/listen`` still streams (the SDK keeps SSE for it).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import mcp_types as types
import msgspec
from litestar.types import Receive, Scope, Send
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.server.session import ServerSession
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from hangar.api.errors import ErrorBody
from hangar.api.mcp_access import McpAccess
from hangar.api.system import package_version
from hangar.app.bus import CommandContext
from hangar.app.mcp_catalog import McpCatalog, ToolEntry, UnknownToolError
from hangar.domain.errors import HangarError

SESSION_HEADER = b"mcp-session-id"
SESSION_IDLE_TIMEOUT_S = 30 * 60.0
PRINCIPAL_KEY = "hangar.principal"

# One INFO line per session opened and closed is noise at Hangar's scale of clients.
for _name in ("mcp.server.streamable_http_manager", "mcp.server.streamable_http"):
    logging.getLogger(_name).setLevel(logging.WARNING)


class _HangarMcpServer(Server[Any]):
    def create_initialization_options(
        self, notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        # Advertise listChanged to handshake-era clients: Hangar does send it.
        return super().create_initialization_options(
            notification_options or NotificationOptions(tools_changed=True), experimental_capabilities, extensions,
        )


class _Sessions:
    """Handshake-era sessions, so that a tools change can be pushed on their GET streams.

    A session is remembered from its first message after ``initialize`` and forgotten when the
    client deletes it, when the SDK answers 404 for it, or when it has been idle as long as the
    SDK's own idle timeout (requests in flight, an open GET stream included, keep it alive)."""

    def __init__(self, idle_timeout_s: float) -> None:
        self.idle_timeout_s = idle_timeout_s
        self.sessions: dict[str, ServerSession] = {}
        self._activity: dict[str, list[float]] = {}

    def remember(self, session_id: str, session: ServerSession) -> None:
        if session_id not in self.sessions:
            self.sessions[session_id] = session

    def forget(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)
        self._activity.pop(session_id, None)

    def began(self, session_id: str) -> None:
        a = self._activity.setdefault(session_id, [0.0, time.monotonic()])
        a[0] += 1

    def ended(self, session_id: str) -> None:
        a = self._activity.get(session_id)
        if a is not None:
            a[0] -= 1
            a[1] = time.monotonic()

    def prune(self) -> None:
        now = time.monotonic()
        for sid, (inflight, last) in list(self._activity.items()):
            if inflight <= 0 and now - last > self.idle_timeout_s:
                self.forget(sid)
        for sid in [s for s in self.sessions if s not in self._activity]:
            self.forget(sid)


class McpServer:
    """Serves ``/mcp`` behind the front door (which authenticates each request first)."""

    def __init__(self, catalog: McpCatalog, access: Callable[[], McpAccess]) -> None:
        self._access = access
        """The front door's policy at the moment of each request (it may be reassigned)."""
        self.catalog = catalog
        self.subscriptions = InMemorySubscriptionBus()
        self.listen = ListenHandler(self.subscriptions)
        self.server = _HangarMcpServer(
            "hangar", version=package_version(),
            instructions="Tools of every provider and group managed by Hangar, named '{provider_or_group}.{tool}'.",
            on_list_tools=self._list_tools, on_call_tool=self._call_tool, on_subscriptions_listen=self.listen,
        )
        # Calls are already traced by Hangar's own events; the SDK's span-per-message middleware
        # is replaced by the session tracker.
        self.server.middleware = [self._track_session]
        self.manager = StreamableHTTPSessionManager(
            app=self.server, session_idle_timeout=SESSION_IDLE_TIMEOUT_S, json_response=True,
        )
        self.sessions = _Sessions(SESSION_IDLE_TIMEOUT_S)
        self._list_cache: tuple[list[Any], types.ListToolsResult] | None = None

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        async with self.manager.run():
            try:
                yield
            finally:
                self.listen.close()

    async def handle(self, scope: Scope, receive: Receive, send: Send, principal: str) -> None:
        scope[PRINCIPAL_KEY] = principal  # type: ignore[literal-required]
        sid = next((v.decode("latin-1") for k, v in scope["headers"] if k == SESSION_HEADER), None)
        if sid is None:
            await self.manager.handle_request(scope, receive, send)  # type: ignore[arg-type]
            return
        status = 0

        async def watch(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.sessions.began(sid)
        try:
            await self.manager.handle_request(scope, receive, watch)  # type: ignore[arg-type]
        finally:
            self.sessions.ended(sid)
        if scope.get("method") == "DELETE" or status == 404:
            self.sessions.forget(sid)

    async def tools_changed(self) -> None:
        self.sessions.prune()
        for session in list(self.sessions.sessions.values()):
            with contextlib.suppress(Exception):
                await session.send_tool_list_changed()
        await self.subscriptions.publish(ToolsListChanged())

    # --- MCP handlers ----------------------------------------------------------------------------

    async def _track_session(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        if ctx.method != "initialize" and ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            headers = getattr(ctx.request, "headers", None)
            sid = headers.get("mcp-session-id") if headers is not None else None
            if sid:
                self.sessions.remember(sid, ctx.session)
        return result

    def _principal(self, ctx: ServerRequestContext[Any, Any]) -> str:
        scope = getattr(ctx.request, "scope", None) or {}
        return str(scope.get(PRINCIPAL_KEY) or "anonymous")

    def _visible(self, principal: str, entry: ToolEntry) -> bool:
        return self._access().visible(principal, entry.target, entry.tool, entry.is_group)

    async def _list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        principal = self._principal(ctx)
        entries = self.catalog.entries()
        visible = [e for e in entries if self._visible(principal, e)]
        if len(visible) < len(entries):
            return _list_result(visible)
        # The full list is built once per catalog change (the entries list is replaced then).
        # Keyed by the list itself, not id(): a freed list's id is reused by its successor, which
        # served a stale tool list.
        cached = self._list_cache
        if cached is None or cached[0] is not entries:
            cached = self._list_cache = (entries, _list_result(entries))
        return cached[1]

    async def _call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        principal = self._principal(ctx)
        try:
            target, tool, is_group = self.catalog.resolve(params.name)
        except UnknownToolError as exc:
            raise MCPError(code=INVALID_PARAMS, message=exc.message) from None
        if not self._access().visible(principal, target, tool, is_group):
            raise MCPError(code=INVALID_PARAMS, message=UnknownToolError(params.name).message)
        cctx = CommandContext(principal=principal)
        return await call_result(ctx, self.catalog.call(params.name, dict(params.arguments or {}), cctx))


async def call_result(ctx: ServerRequestContext[Any, Any], call: Awaitable[Any]) -> Any:
    """Await a tool call and shape its ``CallToolResult``; Hangar's refusals become ``isError``
    results (text plus the REST error envelope as ``structuredContent``)."""
    try:
        res = await call
    except HangarError as exc:
        body = ErrorBody(error=exc.error_type, message=exc.message, status_code=exc.status_code)
        out: dict[str, Any] = {
            "content": [{"type": "text", "text": f"{exc.error_type}: {exc.message}"}],
            "structuredContent": msgspec.to_builtins(body),
            "isError": True,
        }
    else:
        out = {"content": res.result, "isError": res.is_error}
        if res.structured_content is not None:
            out["structuredContent"] = res.structured_content
    # A plain dict skips building a model per call; the runner validates it all the same.
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        out["resultType"] = "complete"
    return out


def _list_result(entries: list[ToolEntry]) -> types.ListToolsResult:
    return types.ListToolsResult(tools=[
        types.Tool(name=e.name, description=e.description or None, input_schema=e.input_schema) for e in entries
    ])
