"""``/mcp/providers/{id}``: one provider alone over MCP Streamable HTTP (a ToolHive workload's
``url``), beside the aggregate ``/mcp``. Same auth and tool policies as the front door; tools keep
their own names. The SDK side (``mcp_provider_server``) loads in the background like ``/mcp``'s."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import structlog
from litestar.types import Receive, Scope, Send

from hangar.api.mcp_front import FrontDoorStartingError, McpFrontDoor, _send_error
from hangar.domain.errors import HangarError, ProviderNotFoundError

if TYPE_CHECKING:
    from hangar.api.mcp_provider_server import ProviderMcpServer

log = structlog.get_logger("hangar.mcp")
PROVIDER_KEY = "hangar.provider"


def provider_of(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    if "providers" in parts:
        parts = parts[parts.index("providers") + 1:]
    return parts[0] if parts else ""


class ProviderEndpoints:
    def __init__(self, front: McpFrontDoor) -> None:
        self.front = front
        self.server: ProviderMcpServer | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        self._task = asyncio.create_task(self._serve(), name="hangar-mcp-providers")
        try:
            yield
        finally:
            self._stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._task), 10)
            if not self._task.done():
                self._task.cancel()
                with contextlib.suppress(BaseException):
                    await self._task

    async def _serve(self) -> None:
        try:
            module = await asyncio.to_thread(importlib.import_module, "hangar.api.mcp_provider_server")
            server: ProviderMcpServer = module.ProviderMcpServer(self.front)
            async with server.run():
                self.server = server
                await self._stop.wait()
        except Exception:
            log.exception("mcp_provider_endpoint_failed")
        finally:
            self.server = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        pid = provider_of(scope.get("path", ""))
        try:
            principal = await self.front.access.authenticate(scope)
            if self.front.services.providers.get(pid) is None:
                raise ProviderNotFoundError(pid)
            if self.server is None:
                raise FrontDoorStartingError()
        except HangarError as exc:
            await _send_error(send, exc)
            return
        scope_any: Any = scope
        scope_any[PROVIDER_KEY] = pid
        await self.server.handle(scope, receive, send, principal)
