"""The MCP front door: Hangar itself served as one MCP server over Streamable HTTP at ``/mcp``.

``tools/list`` shows every provider's and group's tools named ``{provider_or_group}__{tool}`` and
``tools/call`` routes them (``hangar.app.mcp_catalog``); every call is an ordinary command on the
bus (``InvokeTool`` / ``InvokeGroupTool``), so history, breakers, metrics and audit are the same
as for REST calls. Failures of a call come back as ``isError`` results (text plus the REST error
envelope as ``structuredContent``); an unknown tool name is a JSON-RPC ``INVALID_PARAMS`` error.

The SDK (``hangar.api.mcp_server``) takes seconds of CPU to import, so it is loaded in the
background once the app has started: the REST API never waits for it, and ``/mcp`` answers 503
with ``Retry-After: 1`` until it is ready (``McpFrontDoor.ready``).

**Auth hook.** Every HTTP request to ``/mcp`` first goes through ``McpFrontDoor.access``
(``McpAccess``): ``authenticate(scope)`` returns the principal or raises a ``HangarError``
(answered with the REST error envelope and its status and headers, e.g. 401), and
``visible(principal, target, tool, is_group)`` filters ``tools/list`` and guards
``tools/call``. The default, ``GuardedAccess``, takes ``scope["state"]["principal"]`` put there
by the auth guard middleware (which covers this mount as ``ASGI /mcp``) and asks the auth
service's tool policies. Pass another policy to ``McpFrontDoor`` (or assign
``front.access``) in the app factory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import msgspec
import structlog
from litestar.handlers import asgi
from litestar.types import Receive, Scope, Send

from hangar.api.errors import ErrorBody
from hangar.api.mcp_access import McpAccess
from hangar.api.mcp_background import served_in_background
from hangar.app.bus import CommandBus
from hangar.app.mcp_catalog import McpCatalog
from hangar.app.mcp_names import DEFAULT_SEPARATOR
from hangar.app.projections.groups import GroupsProjection
from hangar.app.projections.offerings import OfferingsProjection
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.projector import Projector
from hangar.app.runtime_facts import ProviderRuntime
from hangar.app.task_ids import TaskIds
from hangar.domain.errors import HangarError, ProviderUnavailableError

if TYPE_CHECKING:
    from hangar.api.mcp_server import McpServer

log = structlog.get_logger("hangar.mcp")


class GuardedAccess:
    """The default policy: the auth guard has admitted the request already (or auth is off)."""

    def __init__(self, auth: Any = None) -> None:
        self._auth = auth

    async def authenticate(self, scope: Scope) -> str:
        state = scope.get("state") or {}
        principal = state.get("principal") if isinstance(state, Mapping) else None
        return str(principal) if principal else "anonymous"

    def visible(self, principal: str, target: str, tool: str, is_group: bool) -> bool:
        return self._auth is None or bool(self._auth.tool_allowed(principal, target, tool))


class FrontDoorStartingError(ProviderUnavailableError):
    def __init__(self) -> None:
        super().__init__("The MCP front door is starting; retry in a moment")
        self.headers = {"Retry-After": "1"}


class McpFrontDoor:
    def __init__(
        self, bus: CommandBus, providers: ProvidersProjection, groups: GroupsProjection, projector: Projector,
        access: McpAccess | None = None, *, offerings: OfferingsProjection | None = None,
        separator: str = DEFAULT_SEPARATOR, runtime: ProviderRuntime | None = None,
        settled: Callable[[float], Awaitable[None]] | None = None, task_key: bytes | None = None,
    ) -> None:
        self._projector = projector
        self.task_ids = TaskIds(task_key or os.urandom(32))
        self.bus = bus
        self.providers = providers
        self.access: McpAccess = access or GuardedAccess()
        self.catalog = McpCatalog(bus, providers, groups, offerings, separator)
        self._runtime = runtime
        self._settled = settled
        self.route: Callable[[Scope, Receive, Send, str], Awaitable[None]] | None = None
        """In a cluster: serves each session on the replica holding it (``McpSessionRouter``)."""
        self.server: McpServer | None = None
        self.ready = asyncio.Event()

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Serve within the app's lifespan (after the services have started)."""
        self.catalog.mark_announced()
        self.catalog.subscribe(self._tools_changed)
        self._projector.add_listener(self.catalog)

        def build(module: Any) -> McpServer:
            server: McpServer = module.McpServer(self.catalog, lambda: self.access, self._runtime, self._settled,
                                                 self.task_ids)
            return server

        try:
            async with served_in_background("hangar.api.mcp_server", build, self._serving, "hangar-mcp-front-door"):
                yield
        finally:
            self._projector.remove_listener(self.catalog)
            await self.catalog.close()

    def _serving(self, server: McpServer | None) -> None:
        self.server = server
        if server is not None:
            self.ready.set()

    def task_status(self, provider_id: str, params: dict[str, Any]) -> None:
        """A provider's ``notifications/tasks/status``, for the session that created the task."""
        if self.server is not None:
            self.server.tasks.status(provider_id, params)

    async def _tools_changed(self, kinds: frozenset[str]) -> None:
        if self.server is not None:
            await self.server.lists_changed(kinds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            principal = await self.access.authenticate(scope)
            if self.server is None:
                raise FrontDoorStartingError()
        except HangarError as exc:
            await _send_error(send, exc)
            return
        if self.route is not None:
            await self.route(scope, receive, send, principal)
            return
        await self.server.handle(scope, receive, send, principal)


async def _send_error(send: Send, exc: HangarError) -> None:
    body = msgspec.json.encode(ErrorBody(error=exc.error_type, message=exc.message, status_code=exc.status_code))
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    for k, v in (getattr(exc, "headers", None) or {}).items():
        headers.append((k.lower().encode(), v.encode()))
    start: Any = {"type": "http.response.start", "status": exc.status_code, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


@asgi("/mcp", is_mount=True, copy_scope=False)
async def mcp_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    """``/mcp``: the MCP Streamable HTTP endpoint (POST, the GET stream, DELETE)."""
    if scope.get("path", "").startswith("/providers/"):
        # ``/mcp/providers/{id}``: one provider alone (hangar.api.mcp_provider); Litestar cannot
        # nest a mount inside this one, so the front door's mount hands it over.
        await scope["app"].state.mcp_providers(scope, receive, send)
        return
    front: McpFrontDoor = scope["app"].state.mcp_front
    await front(scope, receive, send)
