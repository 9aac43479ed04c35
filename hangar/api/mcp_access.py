"""The auth hook of the MCP front door (see ``hangar.api.mcp_front``)."""

from __future__ import annotations

from typing import Protocol

from litestar.types import Scope

PROVIDER_KEY = "hangar.provider"
"""Scope key naming the provider of a ``/mcp/providers/{id}`` request."""


class McpAccess(Protocol):
    async def authenticate(self, scope: Scope) -> str:
        """The principal making this HTTP request; raise a ``HangarError`` to refuse it."""
        ...

    def visible(self, principal: str, target: str, tool: str, is_group: bool) -> bool:
        """May ``principal`` see and call ``tool`` of ``target``? Prompts and resources are asked
        about as ``prompt:{name}`` and ``resource:{uri}`` (policies name them the same way)."""
        ...
