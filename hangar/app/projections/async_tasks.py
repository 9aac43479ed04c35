"""Asynchronous tool calls as ``GET /api/tasks/{id}`` shows them, rebuilt from the log: every
replica sees every task, and a task outlives a restart. Keeps the latest ``keep`` tasks (their
events stay in the log whatever happens here)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import msgspec

from hangar.app.invoke import InvokeResult
from hangar.app.ports import RecordedEvent
from hangar.domain import async_tasks as at
from hangar.domain.event_base import Event


class TaskError(msgspec.Struct):
    error: str
    message: str
    status_code: int


TaskResult = InvokeResult
"""A finished task's answer: the same shape as a synchronous invoke's."""


class TaskView(msgspec.Struct, kw_only=True):
    task_id: str
    provider_id: str
    tool: str
    status: at.TaskStatus = "working"
    created_at: str
    finished_at: str | None = None
    result: TaskResult | None = None
    error: TaskError | None = None
    principal: str = ""
    instance: str = ""
    """The replica running (or that ran) the call."""
    provider_task: bool = False


class AsyncTasksProjection:
    def __init__(self, keep: int = 10_000) -> None:
        self.keep = keep
        self.views: OrderedDict[str, TaskView] = OrderedDict()

    def get(self, task_id: str) -> TaskView | None:
        return self.views.get(task_id)

    def working(self) -> list[TaskView]:
        return [v for v in self.views.values() if v.status == "working"]

    def apply(self, rec: RecordedEvent, event: Event) -> None:
        if isinstance(event, at.AsyncTaskSubmitted):
            self.views[event.task_id] = TaskView(
                task_id=event.task_id, provider_id=event.provider_id, tool=event.tool,
                created_at=event.created_at, principal=event.principal, instance=event.instance,
                provider_task=event.provider_task,
            )
            if len(self.views) > self.keep:
                self._forget_oldest_finished(len(self.views) - self.keep)
            return
        view = self.views.get(getattr(event, "task_id", "")) if isinstance(event, at.ASYNC_TASK_EVENTS) else None
        if view is None or view.status != "working":
            return
        if isinstance(event, at.AsyncTaskCompleted):
            view.status = "completed"
            view.result = TaskResult(provider_id=view.provider_id, tool=view.tool, result=event.content,
                                     is_error=event.is_error, duration_ms=event.duration_ms,
                                     structured_content=event.structured_content)
        elif isinstance(event, at.AsyncTaskFailed):
            view.status = "failed"
            view.error = TaskError(event.error, event.message, event.status_code)
        elif isinstance(event, at.AsyncTaskCancelled):
            view.status = "cancelled"
        view.finished_at = getattr(event, "finished_at", None)

    def _forget_oldest_finished(self, excess: int) -> None:
        # A task still working stays until it ends: start-up reconciliation finds the working
        # tasks of a replica that died here, and a forgotten one would stay working for good.
        doomed: list[str] = []
        for task_id, view in self.views.items():
            if len(doomed) == excess:
                break
            if view.status != "working":
                doomed.append(task_id)
        for task_id in doomed:
            del self.views[task_id]

    def dump(self) -> Any:
        return {k: msgspec.to_builtins(v) for k, v in sorted(self.views.items())}
