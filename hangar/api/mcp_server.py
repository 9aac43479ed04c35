"""The SDK side of the MCP front door (imported in the background: the SDK takes a while to load).

The official SDK's low-level ``Server`` and ``StreamableHTTPSessionManager`` serve both protocol
eras: the 2025 ``initialize`` handshake with sessions, and 2026-07-28 per-request envelopes.
``notifications/tools/list_changed`` reaches handshake-era clients on their session's GET stream
and 2026-era clients on their ``subscriptions/listen`` stream.

A call relays what its provider sends while it runs: progress with the caller's token, log
messages, and the provider's own requests (sampling, elicitation, roots), whose answers go back
to the provider (``hangar.app.call_relay``). A handshake-era request POST is answered as plain
JSON when nothing was streamed before its response, as SSE otherwise (``hangar.api.mcp_transport``).
Resources, resource templates, prompts and completions are forwarded to their provider, names
and URIs mapped by the catalog.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import mcp_types as types
import msgspec
from litestar.types import Receive, Scope, Send
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.server.session import ServerSession
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    PromptsListChanged,
    ResourcesListChanged,
    ToolsListChanged,
)
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, METHOD_NOT_FOUND
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from hangar.api.errors import ErrorBody
from hangar.api.mcp_access import McpAccess
from hangar.api.mcp_tasks import TASKS_CAPABILITY, McpTasks
from hangar.api.mcp_transport import DeferredStreamSessionManager
from hangar.api.system import package_version
from hangar.app.bus import CommandContext
from hangar.app.call_relay import CURRENT_RELAY, RelayRefused
from hangar.app.mcp_catalog import McpCatalog, ToolEntry, UnknownResourceError, UnknownToolError, exposed_uri
from hangar.app.runtime_facts import ProviderRuntime
from hangar.app.task_ids import TaskIds
from hangar.domain.errors import HangarError, ProviderUnavailableError

SESSION_HEADER = b"mcp-session-id"
SESSION_IDLE_TIMEOUT_S = 30 * 60.0
PRINCIPAL_KEY = "hangar.principal"
# A client's first tools/list on a fresh server waits this long for providers being discovered.
DISCOVERY_WAIT_S = 20.0
FORWARD_TIMEOUT_S = 30.0
_CAPABILITY_OF = {"sampling/createMessage": "sampling", "elicitation/create": "elicitation", "roots/list": "roots"}

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
        opts = super().create_initialization_options(
            notification_options or NotificationOptions(tools_changed=True, resources_changed=True,
                                                        prompts_changed=True),
            experimental_capabilities, extensions,
        )
        opts.capabilities.tasks = TASKS_CAPABILITY  # relayed to providers (hangar.api.mcp_tasks)
        return opts


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

    def __init__(
        self, catalog: McpCatalog, access: Callable[[], McpAccess], runtime: ProviderRuntime | None = None,
        settled: Callable[[float], Awaitable[None]] | None = None, task_ids: TaskIds | None = None,
    ) -> None:
        self._access = access
        """The front door's policy at the moment of each request (it may be reassigned)."""
        self.catalog = catalog
        self._runtime = runtime
        """Live connections for what is forwarded as is (resources, prompts, completions)."""
        self._settled = settled
        """Waits for discoveries in flight, so a first ``tools/list`` sees every tool."""
        self.subscriptions = InMemorySubscriptionBus()
        self.listen = ListenHandler(self.subscriptions)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # logging/setLevel is deprecated in 2026-07-28, not in 2025
            self.server = _HangarMcpServer(
                "hangar", version=package_version(),
                instructions="Tools and prompts of every provider and group managed by Hangar, named "
                             f"'{{provider_or_group}}{self.catalog.separator}{{name}}'; resources as "
                             "'hangar://{provider}/{original uri}'.",
                on_list_tools=self._list_tools, on_call_tool=self._call_tool, on_subscriptions_listen=self.listen,
                on_list_resources=self._list_resources, on_list_resource_templates=self._list_templates,
                on_read_resource=self._read_resource, on_list_prompts=self._list_prompts,
                on_get_prompt=self._get_prompt, on_completion=self._complete,
                on_set_logging_level=self._set_level,
            )
        # Calls are already traced by Hangar's own events; the SDK's span-per-message middleware
        # is replaced by the session tracker.
        self.server.middleware = [self._track_session]
        self.tasks = McpTasks(self.server, catalog, access, runtime, self._principal,
                              task_ids or TaskIds(os.urandom(32)))
        self.tasks.install()
        self.manager = DeferredStreamSessionManager(
            app=self.server, session_idle_timeout=SESSION_IDLE_TIMEOUT_S,
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

    async def lists_changed(self, kinds: frozenset[str]) -> None:
        self.sessions.prune()
        for session in list(self.sessions.sessions.values()):
            with contextlib.suppress(Exception):
                if "tools" in kinds:
                    await session.send_tool_list_changed()
                if "resources" in kinds:
                    await session.send_resource_list_changed()
                if "prompts" in kinds:
                    await session.send_prompt_list_changed()
        if "tools" in kinds:
            await self.subscriptions.publish(ToolsListChanged())
        if "resources" in kinds:
            await self.subscriptions.publish(ResourcesListChanged())
        if "prompts" in kinds:
            await self.subscriptions.publish(PromptsListChanged())

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
        if self._settled is not None:
            await self._settled(DISCOVERY_WAIT_S)
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
        token = CURRENT_RELAY.set(_FrontRelay(ctx))
        try:
            return await call_result(ctx, self.catalog.call(params.name, dict(params.arguments or {}), cctx))
        finally:
            CURRENT_RELAY.reset(token)


    # --- resources, prompts, completions: forwarded to their provider -------------------------------

    def _allowed(self, ctx: ServerRequestContext[Any, Any], provider: str, subject: str) -> bool:
        return self._access().visible(self._principal(ctx), provider, subject, False)

    async def _forward(self, provider: str, method: str, params: dict[str, Any]) -> Any:
        try:
            if self._runtime is None:
                raise ProviderUnavailableError(f"Provider '{provider}' cannot be reached from /mcp")
            # Connections that can forward any request (all of Hangar's runtime ones) have ``request``.
            request = getattr(await self._runtime.connection(provider), "request", None)
            if request is None:
                raise ProviderUnavailableError(f"Provider '{provider}' cannot forward '{method}'")
            return await request(method, params, FORWARD_TIMEOUT_S)
        except HangarError as exc:
            raise MCPError(code=-32603, message=f"{exc.error_type}: {exc.message}") from None

    async def _list_resources(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        items = [e.body for e in self.catalog.listing().resources
                 if self._allowed(ctx, e.provider, f"resource:{e.original}")]
        return types.ListResourcesResult.model_validate({"resources": items})

    async def _list_templates(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        items = [e.body for e in self.catalog.listing().templates
                 if self._allowed(ctx, e.provider, f"resource:{e.original}")]
        return types.ListResourceTemplatesResult.model_validate({"resourceTemplates": items})

    async def _read_resource(
        self, ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        try:
            provider, original = self.catalog.resolve_uri(str(params.uri))
        except UnknownResourceError as exc:
            raise MCPError(code=INVALID_PARAMS, message=exc.message) from None
        if not self._allowed(ctx, provider, f"resource:{original}"):
            raise MCPError(code=INVALID_PARAMS, message=UnknownResourceError(str(params.uri)).message)
        res = await self._forward(provider, "resources/read", {"uri": original})
        for c in res.get("contents") or []:
            if isinstance(c, dict) and isinstance(c.get("uri"), str):
                c["uri"] = exposed_uri(provider, c["uri"])
        return types.ReadResourceResult.model_validate(res)

    async def _list_prompts(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        items = [e.body for e in self.catalog.listing().prompts if self._allowed(ctx, e.provider, f"prompt:{e.prompt}")]
        return types.ListPromptsResult.model_validate({"prompts": items})

    async def _get_prompt(
        self, ctx: ServerRequestContext[Any, Any], params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        try:
            provider, prompt = self.catalog.resolve_prompt(params.name)
        except UnknownToolError as exc:
            raise MCPError(code=INVALID_PARAMS, message=exc.message) from None
        if not self._allowed(ctx, provider, f"prompt:{prompt}"):
            raise MCPError(code=INVALID_PARAMS, message=UnknownToolError(params.name, "prompt").message)
        body: dict[str, Any] = {"name": prompt}
        if params.arguments is not None:
            body["arguments"] = params.arguments
        return types.GetPromptResult.model_validate(await self._forward(provider, "prompts/get", body))

    async def _complete(
        self, ctx: ServerRequestContext[Any, Any], params: types.CompleteRequestParams
    ) -> types.CompleteResult:
        body = params.model_dump(by_alias=True, mode="json", exclude_none=True)
        body.pop("_meta", None)
        ref = body.get("ref") or {}
        try:
            if ref.get("type") == "ref/prompt":
                provider, ref["name"] = self.catalog.resolve_prompt(str(ref.get("name")))
                subject = f"prompt:{ref['name']}"
            else:
                provider, ref["uri"] = self.catalog.resolve_uri(str(ref.get("uri")))
                subject = f"resource:{ref['uri']}"
        except (UnknownToolError, UnknownResourceError) as exc:
            raise MCPError(code=INVALID_PARAMS, message=exc.message) from None
        if not self._allowed(ctx, provider, subject):
            raise MCPError(code=INVALID_PARAMS, message="Unknown completion reference")
        return types.CompleteResult.model_validate(await self._forward(provider, "completion/complete", body))

    async def _set_level(
        self, ctx: ServerRequestContext[Any, Any], params: types.SetLevelRequestParams
    ) -> types.EmptyResult:
        # Providers' log messages reach a caller during its calls; the SDK applies the level.
        return types.EmptyResult()


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


class _FrontRelay:
    """The calling client of one ``tools/call``, for the provider call made on its behalf."""

    def __init__(self, ctx: ServerRequestContext[Any, Any]) -> None:
        self.ctx = ctx
        meta: Any = ctx.meta or {}
        self.token = meta.get("progress_token", meta.get("progressToken"))

    async def progress(self, params: dict[str, Any]) -> None:
        if self.token is None:
            return
        note = types.ProgressNotification.model_validate(
            {"method": "notifications/progress", "params": {**params, "progressToken": self.token}})
        with contextlib.suppress(Exception):
            await self.ctx.session.send_notification(note, related_request_id=self.ctx.request_id)

    async def log(self, params: dict[str, Any]) -> None:
        with warnings.catch_warnings(), contextlib.suppress(Exception):
            warnings.simplefilter("ignore")
            await self.ctx.session.send_log_message(
                params.get("level", "info"), params.get("data"), params.get("logger"),
                related_request_id=self.ctx.request_id,
            )

    async def server_request(self, method: str, params: Any) -> Any:
        session = self.ctx.session
        capability = _CAPABILITY_OF.get(method)
        caps = session.client_capabilities
        if capability is None or caps is None or getattr(caps, capability, None) is None:
            raise RelayRefused(METHOD_NOT_FOUND, f"the calling client does not support {method}")
        if not session.can_send_request:
            raise RelayRefused(METHOD_NOT_FOUND, f"the calling client's session cannot receive {method}")
        outbound = session._request_outbound  # the call's own stream: its answer comes back here
        try:
            return await outbound.send_raw_request(method, params, None)
        except MCPError as exc:
            raise RelayRefused(exc.error.code, exc.error.message) from None


def _tool(e: ToolEntry) -> types.Tool:
    spec = e.spec
    if spec is None or (spec.title is None and spec.output_schema is None and spec.annotations is None
                        and spec.execution is None):
        return types.Tool(name=e.name, description=e.description or None, input_schema=e.input_schema)
    body: dict[str, Any] = {"name": e.name, "description": e.description or None, "inputSchema": e.input_schema,
                            "title": spec.title, "outputSchema": spec.output_schema,
                            "annotations": spec.annotations, "execution": spec.execution}
    return types.Tool.model_validate({k: v for k, v in body.items() if v is not None})


def _list_result(entries: list[ToolEntry]) -> types.ListToolsResult:
    return types.ListToolsResult(tools=[_tool(e) for e in entries])
