"""The tools Hangar offers over MCP: every provider's and every group's tools under one roof.

Tools and prompts are named ``{provider_or_group}__{tool}``, sanitised to what every LLM API
accepts (``hangar.app.mcp_names``; the separator is configurable). A provider's tools are those
it reported when it last started, or its predefined ones while it has never started (a provider
is started once in the background when registered to learn them, ``hangar.app.mcp_discovery``;
an unknown tool of a provider can still be called by name, which starts it). A group offers the union of its members'
tools, best priority first. When an id is both a provider and a group (possible only if a
provider was created after the group), the provider wins.

Resources and resource templates keep the provider's URI behind a prefix naming the provider,
``hangar://{provider}/{original uri}``: the original is everything after the provider id's slash,
so the mapping back is exact. Groups offer tools only.

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
from hangar.app.mcp_names import DEFAULT_SEPARATOR, NameTable, split_unknown
from hangar.app.ports import RecordedEvent
from hangar.app.projections.groups import GroupsProjection
from hangar.app.projections.offerings import OfferingsProjection
from hangar.app.projections.providers import ProvidersProjection, ProviderView
from hangar.domain import events as ev
from hangar.domain import group_events as ge
from hangar.domain.errors import NotFoundError
from hangar.domain.event_base import Event
from hangar.domain.mcp_events import ProviderOfferingsDiscovered
from hangar.domain.provider_spec import ToolSpec

log = structlog.get_logger("hangar.mcp")

_TRIGGERS = (
    ev.ProviderRegistered, ev.ProviderUpdated, ev.ProviderDeregistered, ev.ProviderStarted,
    ev.ProviderToolsChanged, ge.GroupCreated, ge.GroupDeleted, ge.GroupMemberAdded,
    ge.GroupMemberUpdated, ge.GroupMemberRemoved, ProviderOfferingsDiscovered,
)
# Provider events that can change the lists only if the provider offers (or offered) something.
_PROVIDER_TRIGGERS = (
    ev.ProviderRegistered, ev.ProviderUpdated, ev.ProviderDeregistered, ev.ProviderStarted, ev.ProviderToolsChanged,
)
URI_PREFIX = "hangar://"
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
    spec: ToolSpec | None = None


class PromptEntry(msgspec.Struct, frozen=True):
    name: str
    provider: str
    prompt: str
    body: dict[str, Any]
    """The provider's prompt object, its name replaced by ``name``."""


class ResourceEntry(msgspec.Struct, frozen=True):
    uri: str
    provider: str
    original: str
    body: dict[str, Any]
    """The provider's resource (or template) object, its URI replaced by ``uri``."""


class Listing(msgspec.Struct, frozen=True):
    tools: list[ToolEntry]
    prompts: list[PromptEntry]
    resources: list[ResourceEntry]
    templates: list[ResourceEntry]


def _has_tools(view: ProviderView) -> bool:
    return bool(view.tools) if view.tools_discovered else bool(view.spec.tools)


class UnknownToolError(NotFoundError):
    def __init__(self, name: str, what: str = "tool") -> None:
        super().__init__(f"Unknown {what} '{name}': names are '{{provider_or_group}}{{separator}}{{name}}'"
                         " as listed")


class UnknownResourceError(NotFoundError):
    def __init__(self, uri: str) -> None:
        super().__init__(f"Unknown resource '{uri}': URIs are '{URI_PREFIX}{{provider}}/{{original uri}}' as listed")


def exposed_uri(provider: str, uri: str) -> str:
    return f"{URI_PREFIX}{provider}/{uri}"


def original_uri(uri: str) -> tuple[str, str] | None:
    if not uri.startswith(URI_PREFIX):
        return None
    provider, slash, original = uri[len(URI_PREFIX):].partition("/")
    return (provider, original) if slash and provider else None


ChangeCallback = Callable[[frozenset[str]], Awaitable[None]]
"""Called with the kinds whose list changed: ``tools``, ``prompts``, ``resources``."""


class McpCatalog:
    def __init__(self, bus: CommandBus, providers: ProvidersProjection, groups: GroupsProjection,
                 offerings: OfferingsProjection | None = None, separator: str = DEFAULT_SEPARATOR) -> None:
        self._bus = bus
        self._providers = providers
        self._groups = groups
        self._offerings = offerings or OfferingsProjection()
        self.separator = separator
        self._listing: Listing | None = None
        self._announced: Listing | None = None
        self._tool_names = NameTable(separator)
        self._prompt_names = NameTable(separator)
        self.version = 0
        self._subscribers: list[ChangeCallback] = []
        self._task: asyncio.Task[None] | None = None
        self._dirty = False
        # Providers whose tools are in the list: a change to any other provider (creating a
        # remote provider whose tools are not known yet) cannot change it, so it costs nothing.
        self._listed: set[str] = set()

    # --- the list -----------------------------------------------------------------------------

    def listing(self) -> Listing:
        if self._listing is None:
            self._listing = self._build()
        return self._listing

    def entries(self) -> list[ToolEntry]:
        return self.listing().tools

    def _build(self) -> Listing:
        tools_table, prompts_table = NameTable(self.separator), NameTable(self.separator)
        out: list[ToolEntry] = []
        self._listed = {pid for pid, v in self._providers.views.items()
                        if _has_tools(v) or pid in self._offerings.views}
        for pid in sorted(self._listed):
            for t in sorted(self._providers.views[pid].visible_tools, key=lambda t: t.name):
                out.append(ToolEntry(tools_table.add(pid, t.name), pid, t.name, False, t.description,
                                     t.input_schema or EMPTY_SCHEMA, t))
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
                out.append(ToolEntry(tools_table.add(gid, t.name), gid, t.name, True, t.description,
                                     t.input_schema or EMPTY_SCHEMA, t))
        prompts: list[PromptEntry] = []
        resources: list[ResourceEntry] = []
        templates: list[ResourceEntry] = []
        for pid in sorted(self._offerings.views):
            if pid not in self._providers.views:
                continue
            off = self._offerings.views[pid]
            for p in off.prompts:
                name = str(p.get("name", ""))
                exposed = prompts_table.add(pid, name)
                prompts.append(PromptEntry(exposed, pid, name, {**p, "name": exposed}))
            for r in off.resources:
                uri = str(r.get("uri", ""))
                resources.append(ResourceEntry(exposed_uri(pid, uri), pid, uri, {**r, "uri": exposed_uri(pid, uri)}))
            for rt in off.resource_templates:
                uri = str(rt.get("uriTemplate", ""))
                templates.append(ResourceEntry(exposed_uri(pid, uri), pid, uri,
                                               {**rt, "uriTemplate": exposed_uri(pid, uri)}))
        self._tool_names, self._prompt_names = tools_table, prompts_table
        return Listing(out, prompts, resources, templates)

    def _is_target(self, target: str) -> bool:
        return target in self._providers.views or target in self._groups.views

    def resolve(self, name: str) -> tuple[str, str, bool]:
        """``(target, tool, is_group)`` for a tool name, listed or not (a cold provider's tools
        may be unknown until it starts)."""
        self.listing()
        pair = self._tool_names.get(name) or split_unknown(name, self.separator, self._is_target)
        if pair is None:
            raise UnknownToolError(name)
        target, tool = pair
        if target in self._providers.views:
            return target, tool, False
        if target in self._groups.views:
            return target, tool, True
        raise UnknownToolError(name)

    def resolve_prompt(self, name: str) -> tuple[str, str]:
        """``(provider, prompt)`` for an exposed prompt name."""
        self.listing()
        pair = self._prompt_names.get(name) or split_unknown(name, self.separator, self._providers.views.__contains__)
        if pair is None or pair[0] not in self._providers.views:
            raise UnknownToolError(name, "prompt")
        return pair

    def resolve_uri(self, uri: str) -> tuple[str, str]:
        """``(provider, original uri)`` for an exposed resource URI."""
        pair = original_uri(uri)
        if pair is None or pair[0] not in self._providers.views:
            raise UnknownResourceError(uri)
        return pair

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
        self._listing = None
        self._dirty = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._settle(), name="hangar-mcp-catalog")

    def _affects(self, pid: str) -> bool:
        view = self._providers.views.get(pid)
        has = view is not None and (_has_tools(view) or pid in self._offerings.views)
        had = pid in self._listed
        if has:
            self._listed.add(pid)
        else:
            self._listed.discard(pid)
        return has or had or pid in self._groups.views

    def mark_announced(self) -> None:
        """The current lists are what clients have seen (set once serving starts)."""
        self._announced = self.listing()

    async def _settle(self) -> None:
        while self._dirty:
            self._dirty = False
            await asyncio.sleep(SETTLE_S)
            current, before = self.listing(), self._announced
            kinds = set()
            if before is None or current.tools != before.tools:
                kinds.add("tools")
            if before is None or current.prompts != before.prompts:
                kinds.add("prompts")
            if before is None or (current.resources, current.templates) != (before.resources, before.templates):
                kinds.add("resources")
            if not kinds:
                continue
            self._announced = current
            self.version += 1
            for callback in list(self._subscribers):
                try:
                    await callback(frozenset(kinds))
                except Exception:
                    log.exception("list_changed_callback_failed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
