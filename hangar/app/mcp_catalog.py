"""The tools Hangar offers over MCP: every provider's and every group's tools under one roof.

Tools are named ``{provider_or_group}.{tool}`` (ids cannot contain dots, tool names may). A
provider's tools are those it reported when it last started, or its predefined ones while it
has never started (a cold provider without predefined tools lists nothing until its first start;
it can still be called by name, which starts it). A group offers the union of its members'
tools, best priority first. When an id is both a provider and a group (possible only if a
provider was created after the group), the provider wins.

The catalog is a projector listener: it notices definition and tool changes, recomputes the list
off the projector's task and tells its subscribers only when the list really changed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import structlog

from hangar.app.bus import CommandBus, CommandContext
from hangar.app.group_invoke import InvokeGroupTool
from hangar.app.invoke import InvokeTool
from hangar.app.ports import RecordedEvent
from hangar.app.projections.groups import GroupsProjection
from hangar.app.projections.providers import ProvidersProjection, ProviderView
from hangar.domain import events as ev
from hangar.domain import group_events as ge
from hangar.domain.errors import NotFoundError
from hangar.domain.event_base import Event

log = structlog.get_logger("hangar.mcp")

_TRIGGERS = (
    ev.ProviderRegistered, ev.ProviderUpdated, ev.ProviderDeregistered, ev.ProviderStarted,
    ev.ProviderToolsChanged, ge.GroupCreated, ge.GroupDeleted, ge.GroupMemberAdded,
    ge.GroupMemberUpdated, ge.GroupMemberRemoved,
)
# Provider events that can change the list only if the provider offers (or offered) tools.
_PROVIDER_TRIGGERS = (
    ev.ProviderRegistered, ev.ProviderUpdated, ev.ProviderDeregistered, ev.ProviderStarted, ev.ProviderToolsChanged,
)
# Coalesces a burst (config applied at start, a group built member by member) into one notice.
SETTLE_S = 0.02
EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


class ToolEntry(msgspec.Struct, frozen=True):
    name: str
    target: str
    tool: str
    is_group: bool
    description: str
    input_schema: dict[str, Any]


def _has_tools(view: ProviderView) -> bool:
    return bool(view.tools) if view.tools_discovered else bool(view.spec.tools)


class UnknownToolError(NotFoundError):
    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown tool '{name}': tools are named '{{provider_or_group}}.{{tool}}'")


ChangeCallback = Callable[[], Awaitable[None]]


class McpCatalog:
    def __init__(self, bus: CommandBus, providers: ProvidersProjection, groups: GroupsProjection) -> None:
        self._bus = bus
        self._providers = providers
        self._groups = groups
        self._entries: list[ToolEntry] | None = None
        self._announced: list[ToolEntry] | None = None
        self.version = 0
        self._subscribers: list[ChangeCallback] = []
        self._task: asyncio.Task[None] | None = None
        self._dirty = False
        # Providers whose tools are in the list: a change to any other provider (creating a
        # remote provider whose tools are not known yet) cannot change it, so it costs nothing.
        self._listed: set[str] = set()

    # --- the list -----------------------------------------------------------------------------

    def entries(self) -> list[ToolEntry]:
        if self._entries is None:
            self._entries = self._build()
        return self._entries

    def _build(self) -> list[ToolEntry]:
        out: list[ToolEntry] = []
        self._listed = {pid for pid, v in self._providers.views.items() if _has_tools(v)}
        for pid in sorted(self._listed):
            for t in self._providers.views[pid].visible_tools:
                out.append(ToolEntry(f"{pid}.{t.name}", pid, t.name, False, t.description,
                                     t.input_schema or EMPTY_SCHEMA))
        for gid in sorted(self._groups.views):
            if gid in self._providers.views:
                continue
            seen: set[str] = set()
            members = sorted(self._groups.views[gid].members, key=lambda m: m.priority)
            tools = []
            for m in members:
                pv = self._providers.get(m.provider_id)
                for t in pv.visible_tools if pv else []:
                    if t.name not in seen:
                        seen.add(t.name)
                        tools.append(t)
            for t in sorted(tools, key=lambda t: t.name):
                out.append(ToolEntry(f"{gid}.{t.name}", gid, t.name, True, t.description,
                                     t.input_schema or EMPTY_SCHEMA))
        return out

    def resolve(self, name: str) -> tuple[str, str, bool]:
        """``(target, tool, is_group)`` for a tool name, listed or not (a cold provider's tools
        may be unknown until it starts)."""
        target, dot, tool = name.partition(".")
        if not dot or not tool:
            raise UnknownToolError(name)
        if target in self._providers.views:
            return target, tool, False
        if target in self._groups.views:
            return target, tool, True
        raise UnknownToolError(name)

    async def call(self, name: str, arguments: dict[str, Any], ctx: CommandContext,
                   timeout_s: float | None = None) -> Any:
        """Route a call; returns an ``InvokeResult`` or ``GroupInvokeResult``."""
        target, tool, is_group = self.resolve(name)
        if is_group:
            cmd: Any = InvokeGroupTool(group_id=target, tool=tool, arguments=arguments, timeout_s=timeout_s)
        else:
            cmd = InvokeTool(provider_id=target, tool=tool, arguments=arguments, timeout_s=timeout_s)
        return await self._bus.execute(cmd, ctx)

    # --- change notices -----------------------------------------------------------------------

    def subscribe(self, callback: ChangeCallback) -> None:
        self._subscribers.append(callback)

    def __call__(self, rec: RecordedEvent, event: Event) -> None:
        if not isinstance(event, _TRIGGERS):
            return
        if isinstance(event, _PROVIDER_TRIGGERS) and not self._affects(event.provider_id):
            return
        self._entries = None
        self._dirty = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._settle(), name="hangar-mcp-catalog")

    def _affects(self, pid: str) -> bool:
        view = self._providers.views.get(pid)
        has = view is not None and _has_tools(view)
        had = pid in self._listed
        if has:
            self._listed.add(pid)
        else:
            self._listed.discard(pid)
        return has or had or pid in self._groups.views

    def mark_announced(self) -> None:
        """The current list is what clients have seen (set once serving starts)."""
        self._announced = self.entries()

    async def _settle(self) -> None:
        while self._dirty:
            self._dirty = False
            await asyncio.sleep(SETTLE_S)
            current = self.entries()
            if current == self._announced:
                continue
            self._announced = current
            self.version += 1
            for callback in list(self._subscribers):
                try:
                    await callback()
                except Exception:
                    log.exception("tools_changed_callback_failed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
