"""MCP tasks (2025-11-25) through the front door: task-augmented ``tools/call`` and ``tasks/*``
relayed to the provider that runs the task (imported with the SDK, by ``mcp_server``).

- ``tools/call`` with a ``task`` param, for a provider tool whose ``execution.taskSupport`` is
  ``optional`` or ``required``, goes to the provider as is; its ``CreateTaskResult`` comes back
  with the task id replaced by Hangar's (``hangar.app.task_ids``: provider + provider task id,
  bound to the calling principal). The SDK sieves a ``tools/call`` result through
  ``CallToolResult``, which a ``CreateTaskResult`` is not, so the call is taken in a middleware
  before the SDK's own handler.
- ``tasks/get``, ``tasks/result``, ``tasks/cancel`` find the provider from the id and forward;
  ``tasks/list`` asks every provider this principal created tasks on (through this replica) and
  keeps that principal's tasks.
- ``notifications/tasks/status`` from a provider reach the session that created the task.

The SDK keeps tasks types-only (no ``tasks/*`` in its method tables), so the methods are
registered as custom request methods with ``Server.add_request_handler``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.session import ServerSession
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, METHOD_NOT_FOUND
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from hangar.api.mcp_access import McpAccess
from hangar.app.bus import CommandContext
from hangar.app.mcp_catalog import McpCatalog, UnknownToolError
from hangar.app.runtime_facts import ProviderRuntime
from hangar.app.task_ids import TaskIds, UnknownTaskError
from hangar.domain.async_tasks import TERMINAL
from hangar.domain.errors import HangarError, ProviderUnavailableError

RELATED_TASK = "io.modelcontextprotocol/related-task"
CREATE_TIMEOUT_S = 60.0
QUERY_TIMEOUT_S = 30.0
RESULT_TIMEOUT_S = 3600.0
"""``tasks/result`` blocks until the task ends: as long as a long task may reasonably run."""
MAX_OWNED = 10_000
MAX_EARLY = 256

TASKS_CAPABILITY = types.ServerTasksCapability(
    list=types.TasksListCapability(), cancel=types.TasksCancelCapability(),
    requests=types.ServerTasksRequestsCapability(tools=types.TasksToolsCapability(call=types.TasksCallCapability())),
)


class _Owner:
    __slots__ = ("exposed", "principal", "session")

    def __init__(self, principal: str, exposed: str, session: ServerSession | None) -> None:
        self.principal = principal
        self.exposed = exposed
        self.session = session


class McpTasks:
    def __init__(
        self, server: Server[Any], catalog: McpCatalog, access: Callable[[], McpAccess],
        runtime: ProviderRuntime | None, principal: Callable[[ServerRequestContext[Any, Any]], str], ids: TaskIds,
    ) -> None:
        self.server = server
        self.catalog = catalog
        self._access = access
        self._runtime = runtime
        self._principal = principal
        self.ids = ids
        self._owned: OrderedDict[tuple[str, str], _Owner] = OrderedDict()
        """Tasks created through this replica: who may list them, which session hears their status."""
        self._early: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        """Status a provider sent before its ``CreateTaskResult`` came back (server-everything does)."""
        self._sending: set[asyncio.Task[None]] = set()

    def install(self) -> None:
        server = self.server
        server.middleware.append(self._intercept_call)
        server.add_request_handler("tasks/get", types.GetTaskRequestParams, self._get)
        server.add_request_handler("tasks/result", types.GetTaskPayloadRequestParams, self._result)
        server.add_request_handler("tasks/cancel", types.CancelTaskRequestParams, self._cancel)
        server.add_request_handler("tasks/list", types.PaginatedRequestParams, self._list)

    # --- tools/call with a task ---------------------------------------------------------------------

    async def _intercept_call(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        params = ctx.params
        if ctx.method != "tools/call" or not isinstance(params, Mapping) or params.get("task") is None:
            return await call_next(ctx)
        return await self._create(ctx, params)

    async def _create(self, ctx: ServerRequestContext[Any, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        principal = self._principal(ctx)
        name = str(params.get("name"))
        try:
            provider, tool, is_group = self.catalog.resolve(name)
        except UnknownToolError as exc:
            raise MCPError(code=INVALID_PARAMS, message=exc.message) from None
        if not self._access().visible(principal, provider, tool, is_group):
            raise MCPError(code=INVALID_PARAMS, message=UnknownToolError(name).message)
        entry = next((e for e in self.catalog.entries() if e.name == name), None)
        execution = (entry.spec.execution if entry is not None and entry.spec is not None else None) or {}
        if is_group or execution.get("taskSupport") not in ("optional", "required"):
            # The spec's answer to a task request for a tool that does not support tasks.
            raise MCPError(code=METHOD_NOT_FOUND, message=f"Tool '{name}' does not support task-augmented calls")
        body: dict[str, Any] = {"name": tool, "arguments": dict(params.get("arguments") or {}),
                                "task": params.get("task")}
        res = await self._forward(provider, "tools/call", body, CREATE_TIMEOUT_S, principal)
        task = res.get("task") if isinstance(res, dict) else None
        if not isinstance(task, dict) or not isinstance(task.get("taskId"), str):
            return res if isinstance(res, dict) else {}  # the provider answered at once: a plain result
        ptid = task["taskId"]
        early = self._early.get((provider, ptid)) or {}
        if self._runtime is not None and task.get("status") not in TERMINAL and early.get("status") not in TERMINAL:
            # Holds off the idle stop until Hangar sees the task end (unless it already did).
            self._runtime.task_opened(provider, ptid, task.get("ttl"))
        exposed = self.ids.expose(principal, provider, ptid)
        task["taskId"] = exposed
        self._remember(provider, ptid, _Owner(principal, exposed, ctx.session if _has_session(ctx) else None))
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            res["resultType"] = "task"  # the tag the tasks extension reserves
        return res

    def _remember(self, provider: str, ptid: str, owner: _Owner) -> None:
        key = (provider, ptid)
        self._owned[key] = owner
        while len(self._owned) > MAX_OWNED:
            self._owned.popitem(last=False)
        early = self._early.pop(key, None)
        if early is not None:
            self._spawn(self._notify(owner, early))

    # --- tasks/* ------------------------------------------------------------------------------------

    def _resolve(self, ctx: ServerRequestContext[Any, Any], task_id: str) -> tuple[str, str, str]:
        principal = self._principal(ctx)
        try:
            provider, ptid = self.ids.resolve(principal, task_id)
        except UnknownTaskError as exc:
            raise MCPError(code=INVALID_PARAMS, message=exc.message) from None
        return principal, provider, ptid

    async def _get(self, ctx: ServerRequestContext[Any, Any], params: types.GetTaskRequestParams) -> dict[str, Any]:
        return await self._relay_task(ctx, "tasks/get", params.task_id)

    async def _cancel(
        self, ctx: ServerRequestContext[Any, Any], params: types.CancelTaskRequestParams
    ) -> dict[str, Any]:
        return await self._relay_task(ctx, "tasks/cancel", params.task_id)

    async def _relay_task(self, ctx: ServerRequestContext[Any, Any], method: str, task_id: str) -> dict[str, Any]:
        """A task request whose answer is the task itself, its id shown as Hangar's."""
        principal, provider, ptid = self._resolve(ctx, task_id)
        res = await self._forward(provider, method, {"taskId": ptid}, QUERY_TIMEOUT_S, principal)
        if isinstance(res, dict) and res.get("status") in TERMINAL:
            self._ended(provider, ptid)
        return _with_id(res, task_id)

    async def _result(
        self, ctx: ServerRequestContext[Any, Any], params: types.GetTaskPayloadRequestParams
    ) -> dict[str, Any]:
        principal, provider, ptid = self._resolve(ctx, params.task_id)
        res = await self._forward(provider, "tasks/result", {"taskId": ptid}, RESULT_TIMEOUT_S, principal)
        self._ended(provider, ptid)  # the result comes once the task has ended
        res = dict(res) if isinstance(res, dict) else {}
        meta = res.get("_meta")
        if isinstance(meta, dict) and isinstance(meta.get(RELATED_TASK), dict):
            res["_meta"] = {**meta, RELATED_TASK: {**meta[RELATED_TASK], "taskId": params.task_id}}
        return res

    async def _list(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams
    ) -> dict[str, Any]:
        principal = self._principal(ctx)
        mine = {key: o for key, o in self._owned.items() if o.principal == principal}
        out: list[dict[str, Any]] = []
        for provider in sorted({p for p, _ in mine}):
            # Only providers still running: a stopped one has forgotten its tasks anyway.
            runtime = self._runtime
            conn = await runtime.connection(provider, start=False) if runtime is not None else None
            request = getattr(conn, "request", None)
            if request is None:
                continue
            with contextlib.suppress(HangarError):
                res = await request("tasks/list", {}, QUERY_TIMEOUT_S)
                for t in (res.get("tasks") or []) if isinstance(res, dict) else []:
                    owner = mine.get((provider, str(t.get("taskId"))))
                    if isinstance(t, dict) and owner is not None:
                        out.append({**t, "taskId": owner.exposed})
        return {"tasks": out}

    async def _forward(self, provider: str, method: str, params: dict[str, Any], timeout_s: float,
                       principal: str) -> Any:
        try:
            runtime = self._runtime
            if runtime is None:
                raise ProviderUnavailableError(f"Provider '{provider}' cannot be reached from /mcp")
            conn = await runtime.connection(provider, CommandContext(principal=principal))
            request = getattr(conn, "request", None)
            if request is None:
                raise ProviderUnavailableError(f"Provider '{provider}' cannot forward '{method}'")
            return await request(method, params, timeout_s)
        except HangarError as exc:
            raise MCPError(code=-32603, message=f"{exc.error_type}: {exc.message}") from None

    # --- status notifications -----------------------------------------------------------------------

    def status(self, provider: str, params: dict[str, Any]) -> None:
        """A provider's ``notifications/tasks/status`` (called from its connection's reader)."""
        key = (provider, str(params.get("taskId")))
        if params.get("status") in TERMINAL:
            self._ended(provider, key[1])
        owner = self._owned.get(key)
        if owner is None:
            self._early[key] = params
            while len(self._early) > MAX_EARLY:
                self._early.popitem(last=False)
            return
        self._spawn(self._notify(owner, params))

    def _ended(self, provider: str, ptid: str) -> None:
        if self._runtime is not None:
            self._runtime.task_closed(provider, ptid)

    async def _notify(self, owner: _Owner, params: dict[str, Any]) -> None:
        if owner.session is None:
            return  # a 2026-era caller: no session to push to, it polls tasks/get
        body = {k: v for k, v in params.items() if k != "_meta"}
        body["taskId"] = owner.exposed
        with contextlib.suppress(Exception):
            note = types.TaskStatusNotification(params=types.TaskStatusNotificationParams.model_validate(body))
            # Not in the SDK's notification union (tasks are types-only there), sent all the same.
            await owner.session.send_notification(note)  # type: ignore[arg-type]

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)


def _has_session(ctx: ServerRequestContext[Any, Any]) -> bool:
    return ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS


def _with_id(res: Any, task_id: str) -> dict[str, Any]:
    out = dict(res) if isinstance(res, dict) else {}
    out["taskId"] = task_id
    return out
