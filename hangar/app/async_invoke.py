"""Asynchronous tool calls for REST: accept now (202 with a task id), answer later.

The call itself is the ordinary ``InvokeTool`` command (history, breakers, metrics and audit
are the same), run in the background under the task's id as its ``call_id``, so the
``ToolInvocationRequested`` / ``Completed`` / ``Failed`` frames on ``/api/ws/events`` carry the
task id and a client can watch instead of polling. Task state is kept in memory for the last
``keep`` finished tasks; what happened is in the log either way.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Any, Literal

import msgspec

from hangar.app.bus import CommandBus, CommandContext
from hangar.app.codec import iso, new_id
from hangar.app.invoke import InvokeResult, InvokeTool
from hangar.domain.errors import HangarError, NotFoundError

TaskStatus = Literal["working", "completed", "failed", "cancelled"]


class TaskNotFoundError(NotFoundError):
    def __init__(self, task_id: str) -> None:
        super().__init__(f"Task '{task_id}' not found (unknown, or finished long ago)")


class TaskError(msgspec.Struct):
    error: str
    message: str
    status_code: int


class TaskView(msgspec.Struct, kw_only=True):
    task_id: str
    provider_id: str
    tool: str
    status: TaskStatus = "working"
    created_at: str
    finished_at: str | None = None
    result: InvokeResult | None = None
    error: TaskError | None = None


class AsyncInvocations:
    def __init__(self, bus: CommandBus, keep: int = 1000) -> None:
        self._bus = bus
        self._keep = keep
        self._views: OrderedDict[str, TaskView] = OrderedDict()
        self._running: dict[str, asyncio.Task[None]] = {}

    def submit(self, provider_id: str, tool: str, arguments: dict[str, Any], timeout_s: float | None,
               ctx: CommandContext) -> TaskView:
        task_id = new_id()
        view = TaskView(task_id=task_id, provider_id=provider_id, tool=tool, created_at=iso(time.time()))
        self._views[task_id] = view
        cmd = InvokeTool(provider_id=provider_id, tool=tool, arguments=arguments, timeout_s=timeout_s,
                         call_id=task_id)
        self._running[task_id] = asyncio.create_task(self._run(view, cmd, ctx), name=f"hangar-task-{task_id}")
        self._trim()
        return view

    async def _run(self, view: TaskView, cmd: InvokeTool, ctx: CommandContext) -> None:
        try:
            view.result = await self._bus.execute(cmd, ctx)
            view.status = "completed"
        except HangarError as exc:
            view.status = "failed"
            view.error = TaskError(exc.error_type, exc.message, exc.status_code)
        except asyncio.CancelledError:
            view.status = "cancelled"
        finally:
            view.finished_at = iso(time.time())
            self._running.pop(view.task_id, None)

    def get(self, task_id: str) -> TaskView:
        view = self._views.get(task_id)
        if view is None:
            raise TaskNotFoundError(task_id)
        return view

    async def cancel(self, task_id: str) -> TaskView:
        view = self.get(task_id)
        task = self._running.get(task_id)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return view

    def _trim(self) -> None:
        while len(self._views) > self._keep:
            oldest = next(iter(self._views))
            if oldest in self._running:
                break
            self._views.popitem(last=False)

    async def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
