"""``GET /api/tools``: every tool Hangar offers at ``/mcp``, across providers and groups.

Names are exactly those of the MCP front door (``{provider_or_group}__{tool}``, docs/mcp.md); each tool's
``etag`` is a digest of what a client sees of it (description and input schema), so a client
can tell a changed tool from an unchanged one without comparing schemas.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.params import Parameter

from hangar.api.paging import Cursor, PageLimit, Pager, page_rows, paged, wants_page
from hangar.app.bus import CommandBus
from hangar.app.mcp_catalog import McpCatalog, ToolEntry
from hangar.app.projections.groups import GroupsProjection
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.settings import LiveConfig

Text = Annotated[str | None, Parameter(max_length=256)]


def tool_etag(t: ToolEntry) -> str:
    digest = hashlib.sha256(msgspec.json.encode([t.name, t.description, t.input_schema], order="sorted"))
    return f'"{digest.hexdigest()[:20]}"'


def tool_body(t: ToolEntry) -> dict[str, Any]:
    return {"name": t.name, "provider": t.target, "group": t.is_group, "tool": t.tool,
            "description": t.description, "input_schema": t.input_schema, "etag": tool_etag(t)}


class ToolsController(Controller):
    path = "/api/tools"
    tags = ["tools"]

    @get("/", summary="Every tool across providers and groups, as named at /mcp")
    async def list_tools(
        self, bus: CommandBus, providers: ProvidersProjection, groups: GroupsProjection, live: LiveConfig, pager: Pager,
        q: Text = None, provider: Text = None, limit: PageLimit = None, cursor: Cursor = None,
    ) -> dict[str, Any]:
        # Built from the read models on each call: no cache to go stale, O(tools).
        catalog = McpCatalog(bus, providers, groups,
                             separator=live.current.mcp.name_separator)
        rows = [t for t in catalog.entries()
                if (not q or t.name.startswith(q)) and (provider is None or t.target == provider)]
        rows.sort(key=lambda t: t.name)
        if wants_page(limit, cursor):
            page = page_rows(pager, f"tools:{q or ''}:{provider or ''}", rows, lambda t: t.name,
                             limit, cursor)
            return paged({"tools": [tool_body(t) for t in page.items], "total": len(rows)}, page)
        return {"tools": [tool_body(t) for t in rows], "total": len(rows)}
