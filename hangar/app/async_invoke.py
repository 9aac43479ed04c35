"""Asynchronous tool calls for REST: accept now (202 with a task id), answer later.

Each task is a stream in the log (``hangar.domain.async_tasks``), written through the bus like
every other fact, and read from ``AsyncTasksProjection``: a task id is known on every replica
and after a restart. The replica that accepted the call runs it:

- an ordinary tool runs as the ``InvokeTool`` command (history, breakers, metrics and audit the
  same as a synchronous call) under the task id as its ``call_id``, so the ``ToolInvocation*``
  frames on ``/api/ws/events`` carry the task id and a client can watch instead of polling;
- a tool whose ``execution.taskSupport`` is ``required`` (it refuses plain calls) runs as an MCP
  task of its provider: ``tools/call`` with ``task``, then ``tasks/result``.

A cancel is recorded first, then the replica running the call (this one or another, which hears
the event) cancels it. A task left ``working`` by a replica that is gone (stopped, crashed) is
recorded as failed with ``TaskInterrupted`` at start-up (``interrupted``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from typing import Any

import msgspec
import structlog

from hangar.app.bus import CommandBus, CommandContext
from hangar.app.codec import EventMetadata, iso, new_id
from hangar.app.invoke import InvokeTool
from hangar.app.ports import EventStore, RecordedEvent
from hangar.app.projections.async_tasks import AsyncTasksProjection, TaskView
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.repository import Repository, RepositoryFactory, WaitFor
from hangar.app.runtime_facts import ProviderRuntime
from hangar.domain import async_tasks as at
from hangar.domain.errors import HangarError, ProviderError, ProviderUnavailableError
from hangar.domain.event_base import Event

log = structlog.get_logger("hangar.tasks")

CREATE_TIMEOUT_S = 60.0
PROVIDER_TASK_TIMEOUT_S = 3600.0
"""How long a provider's MCP task may run when the caller set no ``timeout_s``."""

async_task_repository = RepositoryFactory("AsyncTask", at.TASK_STREAM, at.AsyncTask, at.AsyncTask.from_snapshot)


# --- commands -----------------------------------------------------------------------------------


class SubmitAsyncTask(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    provider_id: str
    tool: str
    instance: str
    provider_task: bool = False


class FinishAsyncTask(msgspec.Struct, frozen=True, kw_only=True):
    """Record how a task ended (a no-op once it has ended)."""

    task_id: str
    outcome: at.AsyncTaskCompleted | at.AsyncTaskFailed | at.AsyncTaskCancelled


class AsyncTaskCommands:
    def __init__(self, repo: Repository[at.AsyncTask]) -> None:
        self.repo = repo

    def register_with(self, bus: CommandBus) -> None:
        bus.register(SubmitAsyncTask, self.submit)
        bus.register(FinishAsyncTask, self.finish)

    async def submit(self, cmd: SubmitAsyncTask, ctx: CommandContext, meta: EventMetadata) -> None:
        event = at.AsyncTaskSubmitted(
            task_id=cmd.task_id, provider_id=cmd.provider_id, tool=cmd.tool, principal=ctx.principal,
            instance=cmd.instance, created_at=iso(time.time()), provider_task=cmd.provider_task,
        )
        await self.repo.execute(cmd.task_id, lambda t: t.submit(event), meta)

    async def finish(self, cmd: FinishAsyncTask, ctx: CommandContext, meta: EventMetadata) -> None:
        await self.repo.execute(cmd.task_id, lambda t: t.finish(cmd.outcome), meta)


def async_task_commands(store: EventStore, wait_for: WaitFor, snapshot_every: int = 100) -> AsyncTaskCommands:
    return AsyncTaskCommands(async_task_repository(store, wait_for, snapshot_every))


# --- the runner -----------------------------------------------------------------------------------


def _now() -> str:
    return iso(time.time())


def interrupted(task_id: str, why: str) -> FinishAsyncTask:
    return FinishAsyncTask(task_id=task_id, outcome=at.AsyncTaskFailed(
        task_id=task_id, finished_at=_now(), error=at.INTERRUPTED, message=why, status_code=503))


class AsyncInvocations:
    def __init__(self, bus: CommandBus, view: AsyncTasksProjection, providers: ProvidersProjection,
                 runtime: ProviderRuntime | None = None) -> None:
        self._bus = bus
        self.view = view
        self._providers = providers
        self._runtime = runtime
        self._running: dict[str, asyncio.Task[None]] = {}
        self._closing = False

    @property
    def instance(self) -> str:
        return self._bus.instance

    def _requires_task(self, provider_id: str, tool: str) -> bool:
        view = self._providers.get(provider_id)
        for t in (view.tools if view is not None else []):
            if t.name == tool:
                return bool(self._runtime is not None and (t.execution or {}).get("taskSupport") == "required")
        return False

    async def submit(self, provider_id: str, tool: str, arguments: dict[str, Any], timeout_s: float | None,
                     ctx: CommandContext) -> TaskView:
        task_id = new_id()
        provider_task = self._requires_task(provider_id, tool)
        await self._bus.execute(SubmitAsyncTask(task_id=task_id, provider_id=provider_id, tool=tool,
                                                instance=self.instance, provider_task=provider_task), ctx)
        view = self.get(task_id, ctx.principal)
        copy = msgspec.structs.replace(view)  # the answer shows the task as accepted
        self._running[task_id] = asyncio.create_task(
            self._run(view, arguments, timeout_s, ctx), name=f"hangar-task-{task_id}")
        return copy

    async def _run(self, view: TaskView, arguments: dict[str, Any], timeout_s: float | None,
                   ctx: CommandContext) -> None:
        tid = view.task_id
        outcome: at.AsyncTaskCompleted | at.AsyncTaskFailed | at.AsyncTaskCancelled
        try:
            if view.provider_task:
                outcome = await self._provider_task(view, arguments, timeout_s, ctx)
            else:
                cmd = InvokeTool(provider_id=view.provider_id, tool=view.tool, arguments=arguments,
                                 timeout_s=timeout_s, call_id=tid)
                res = await self._bus.execute(cmd, ctx)
                outcome = at.AsyncTaskCompleted(
                    task_id=tid, finished_at=_now(), content=res.result, is_error=res.is_error,
                    structured_content=res.structured_content, duration_ms=res.duration_ms)
        except HangarError as exc:
            outcome = at.AsyncTaskFailed(task_id=tid, finished_at=_now(), error=exc.error_type,
                                         message=exc.message, status_code=exc.status_code)
        except asyncio.CancelledError:
            if self._closing:
                outcome = interrupted(tid, "Hangar stopped while the task ran").outcome
            else:
                outcome = at.AsyncTaskCancelled(task_id=tid, finished_at=_now())
        finally:
            self._running.pop(tid, None)
        with contextlib.suppress(HangarError):
            await self._bus.execute(FinishAsyncTask(task_id=tid, outcome=outcome), ctx)

    async def _provider_task(self, view: TaskView, arguments: dict[str, Any], timeout_s: float | None,
                             ctx: CommandContext) -> at.AsyncTaskCompleted:
        assert self._runtime is not None
        started = time.perf_counter()
        conn = await self._runtime.connection(view.provider_id, ctx)
        request = getattr(conn, "request", None)
        if request is None:
            raise ProviderUnavailableError(f"Provider '{view.provider_id}' cannot run MCP tasks")
        body = {"name": view.tool, "arguments": arguments, "task": {}}
        res = await request("tools/call", body, CREATE_TIMEOUT_S)
        task = res.get("task") if isinstance(res, dict) else None
        if isinstance(task, dict) and isinstance(task.get("taskId"), str):
            ptid = task["taskId"]
            # The provider runs the task on after the call: its idle shutdown waits for it.
            self._runtime.task_opened(view.provider_id, ptid, task.get("ttl"))
            try:
                res = await request("tasks/result", {"taskId": ptid}, timeout_s or PROVIDER_TASK_TIMEOUT_S)
            except asyncio.CancelledError:
                # The provider keeps running a task nobody waits for unless told.
                with contextlib.suppress(Exception):
                    await asyncio.shield(request("tasks/cancel", {"taskId": ptid}, 5.0))
                raise
            finally:
                self._runtime.task_closed(view.provider_id, ptid)
        if not isinstance(res, dict):
            raise ProviderError(f"Provider '{view.provider_id}' broke the MCP protocol: task result is no object")
        structured = res.get("structuredContent")
        return at.AsyncTaskCompleted(
            task_id=view.task_id, finished_at=_now(), content=list(res.get("content") or []),
            is_error=bool(res.get("isError")), structured_content=structured if isinstance(structured, dict) else None,
            duration_ms=(time.perf_counter() - started) * 1000)

    def get(self, task_id: str, principal: str) -> TaskView:
        """The task, for the principal that submitted it (to anyone else it does not exist)."""
        view = self.view.get(task_id)
        if view is None or view.principal != principal:
            raise at.AsyncTaskNotFoundError(task_id)
        return view

    async def cancel(self, task_id: str, ctx: CommandContext) -> TaskView:
        view = self.get(task_id, ctx.principal)
        if view.status == "working":
            outcome = at.AsyncTaskCancelled(task_id=task_id, finished_at=_now())
            await self._bus.execute(FinishAsyncTask(task_id=task_id, outcome=outcome), ctx)
            await self._stop_local(task_id)
        return self.get(task_id, ctx.principal)

    async def _stop_local(self, task_id: str) -> None:
        task = self._running.get(task_id)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def __call__(self, rec: RecordedEvent, event: Event) -> None:
        """Projector listener: a cancel recorded by another replica stops the call running here."""
        if isinstance(event, at.AsyncTaskCancelled):
            task = self._running.get(event.task_id)
            if task is not None:
                task.cancel()

    async def interrupted_on_start(self, gone: Callable[[Iterable[str]], Any] | None = None) -> int:
        """Record as failed the tasks a replica left ``working`` and can no longer finish.

        ``gone(instances)`` answers the instances among those that are not running (in a
        cluster: not live members); alone, every instance but this one is gone."""
        stale = [v for v in self.view.working() if v.task_id not in self._running]
        instances = {v.instance for v in stale}
        dead = set(await gone(instances)) if gone is not None else {i for i in instances if i != self.instance}
        n = 0
        for v in stale:
            if v.instance in dead:
                with contextlib.suppress(HangarError):
                    await self._bus.execute(interrupted(v.task_id, "the replica running the task stopped"),
                                            CommandContext(principal="system"))
                    n += 1
        if n:
            log.info("async_tasks_interrupted", count=n)
        return n

    async def close(self) -> None:
        self._closing = True
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
