"""Asynchronous tool calls (REST ``invoke-async``): the ``AsyncTask`` aggregate and its events.

A task is one stream (``asynctask:{id}``): submitted, then exactly one of completed, failed or
cancelled. Once it has ended nothing changes it: a completion arriving after a cancel (the call
was already on its way back) or a second cancel decides no events. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from hangar.domain.errors import AlreadyExistsError, NotFoundError
from hangar.domain.event_base import Event

TASK_STREAM = "asynctask:"
TaskStatus = Literal["working", "completed", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
INTERRUPTED = "TaskInterrupted"
"""The error of a task whose replica stopped (or died) while it ran."""


class AsyncTaskSubmitted(Event, frozen=True):
    task_id: str
    provider_id: str
    tool: str
    principal: str
    instance: str
    """The replica running the call: it alone can finish it."""
    created_at: str
    provider_task: bool = False
    """Run as an MCP task of the provider (tools whose ``taskSupport`` is ``required``)."""


class AsyncTaskCompleted(Event, frozen=True):
    task_id: str
    finished_at: str
    content: list[dict[str, Any]] = []
    is_error: bool = False
    structured_content: dict[str, Any] | None = None
    duration_ms: float = 0.0


class AsyncTaskFailed(Event, frozen=True):
    task_id: str
    finished_at: str
    error: str
    message: str
    status_code: int = 500


class AsyncTaskCancelled(Event, frozen=True):
    task_id: str
    finished_at: str


ASYNC_TASK_EVENTS: tuple[type[Event], ...] = (
    AsyncTaskSubmitted, AsyncTaskCompleted, AsyncTaskFailed, AsyncTaskCancelled,
)


class AsyncTaskNotFoundError(NotFoundError):
    def __init__(self, task_id: str) -> None:
        super().__init__(f"Task '{task_id}' not found")


class _State(msgspec.Struct):
    exists: bool = False
    status: str = "working"


class AsyncTask:
    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        self.s = _State()
        self.version = 0

    def require(self) -> None:
        if not self.s.exists:
            raise AsyncTaskNotFoundError(self.task_id)

    @property
    def ended(self) -> bool:
        return self.s.status in TERMINAL

    def submit(self, event: AsyncTaskSubmitted) -> list[Event]:
        if self.s.exists:
            raise AlreadyExistsError(f"Task '{self.task_id}' already exists")
        return [event]

    def finish(self, event: AsyncTaskCompleted | AsyncTaskFailed | AsyncTaskCancelled) -> list[Event]:
        self.require()
        return [] if self.ended else [event]

    def apply(self, e: Event) -> None:
        match e:
            case AsyncTaskSubmitted():
                self.s.exists = True
            case AsyncTaskCompleted():
                self.s.status = "completed"
            case AsyncTaskFailed():
                self.s.status = "failed"
            case AsyncTaskCancelled():
                self.s.status = "cancelled"
            case _:
                pass

    def snapshot(self) -> bytes:
        return msgspec.json.encode(self.s)

    @classmethod
    def from_snapshot(cls, task_id: str, version: int, state: bytes) -> AsyncTask:
        agg = cls(task_id)
        agg.s = msgspec.json.decode(state, type=_State)
        agg.version = version
        return agg
