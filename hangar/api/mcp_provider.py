"""``/mcp/providers/{id}``: one provider alone over MCP Streamable HTTP (a ToolHive workload's
``url``), beside the aggregate ``/mcp``. Same auth and tool policies as the front door; tools keep
their own names. The SDK side (``mcp_provider_server``) loads in the background like ``/mcp``'s."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import structlog
from litestar.types import Receive, Scope, Send

from hangar.api.mcp_access import PROVIDER_KEY
from hangar.api.mcp_background import served_in_background
from hangar.api.mcp_front import FrontDoorStartingError, McpFrontDoor, _send_error
from hangar.domain.errors import HangarError, ProviderNotFoundError

if TYPE_CHECKING:
    from hangar.api.mcp_provider_server import ProviderMcpServer

log = structlog.get_logger("hangar.mcp")


def provider_of(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    if "providers" in parts:
        parts = parts[parts.index("providers") + 1:]
    return parts[0] if parts else ""


class ProviderEndpoints:
    def __init__(self, front: McpFrontDoor) -> None:
        self.front = front
        self.server: ProviderMcpServer | None = None

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        def build(module: Any) -> ProviderMcpServer:
            server: ProviderMcpServer = module.ProviderMcpServer(self.front)
            return server

        async with served_in_background("hangar.api.mcp_provider_server", build, self._serving, "hangar-mcp-providers"):
            yield

    def _serving(self, server: ProviderMcpServer | None) -> None:
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        pid = provider_of(scope.get("path", ""))
        try:
            principal = await self.front.access.authenticate(scope)
            if self.front.providers.get(pid) is None:
                raise ProviderNotFoundError(pid)
            if self.server is None:
                raise FrontDoorStartingError()
        except HangarError as exc:
            await _send_error(send, exc)
            return
        scope_any: Any = scope
        scope_any[PROVIDER_KEY] = pid
        await self.server.handle(scope, receive, send, principal)
