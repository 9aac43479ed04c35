"""The SDK side of ``/mcp/providers/{id}``: a stateless Streamable HTTP server whose handlers
serve the provider named by the request (imported in the background: the SDK loads slowly)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import mcp_types as types
from litestar.types import Receive, Scope, Send
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from hangar.api.mcp_provider import PROVIDER_KEY
from hangar.api.mcp_server import PRINCIPAL_KEY, call_result
from hangar.api.system import package_version
from hangar.app.bus import CommandContext
from hangar.app.invoke import InvokeTool
from hangar.app.lifecycle import StartProvider
from hangar.domain.errors import HangarError

if TYPE_CHECKING:
    from hangar.api.mcp_front import McpFrontDoor


class ProviderMcpServer:
    def __init__(self, front: McpFrontDoor) -> None:
        self.front = front
        self.services = front.services
        self.server: Server[Any] = Server(
            "hangar-provider", version=package_version(),
            on_list_tools=self._list_tools, on_call_tool=self._call_tool,
        )
        self.manager = StreamableHTTPSessionManager(app=self.server, json_response=True, stateless=True)

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        async with self.manager.run():
            yield

    async def handle(self, scope: Scope, receive: Receive, send: Send, principal: str) -> None:
        scope[PRINCIPAL_KEY] = principal  # type: ignore[literal-required]
        await self.manager.handle_request(scope, receive, send)  # type: ignore[arg-type]

    @staticmethod
    def _scope(ctx: ServerRequestContext[Any, Any]) -> tuple[str, str]:
        scope = getattr(ctx.request, "scope", None) or {}
        return str(scope.get(PROVIDER_KEY, "")), str(scope.get(PRINCIPAL_KEY) or "anonymous")

    async def _list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        pid, principal = self._scope(ctx)
        view = self.services.providers.get(pid)
        if view is not None and not view.visible_tools:
            # Tools unknown until the provider first runs: start it so a client can see them.
            with contextlib.suppress(HangarError):
                await self.services.bus.execute(StartProvider(pid), CommandContext(principal=principal))
            view = self.services.providers.get(pid)
        tools = view.visible_tools if view is not None else []
        return types.ListToolsResult(tools=[
            types.Tool(name=t.name, description=t.description or None,
                       input_schema=t.input_schema or {"type": "object"})
            for t in tools if self.front.access.visible(principal, pid, t.name, False)
        ])

    async def _call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        pid, principal = self._scope(ctx)
        if not self.front.access.visible(principal, pid, params.name, False):
            raise MCPError(code=INVALID_PARAMS, message=f"Unknown tool: {params.name}")
        cmd = InvokeTool(provider_id=pid, tool=params.name, arguments=dict(params.arguments or {}))
        return await call_result(ctx, self.services.bus.execute(cmd, CommandContext(principal=principal)))
