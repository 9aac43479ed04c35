"""The replica running a provider counts the tasks other replicas relay to it.

``note_relayed_task`` is what the owner's side of a forwarded ``request`` op records about
tasks; the forwarding itself runs between real replicas in ``tests/cluster/test_replicas.py``.
The runtime here only records what it is told (the supervisor's own handling of open tasks is
tested with real processes in ``tests/mcp/test_tasks.py``)."""

from __future__ import annotations

from typing import Any

from hangar.app.cluster_runtime import note_relayed_task


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def task_opened(self, provider_id: str, task_id: str, ttl_ms: object = None) -> None:
        self.calls.append(("opened", provider_id, task_id, ttl_ms))

    def task_closed(self, provider_id: str, task_id: str) -> None:
        self.calls.append(("closed", provider_id, task_id))


def note(method: str, arguments: dict[str, Any], result: Any) -> list[tuple[Any, ...]]:
    rec = Recorder()
    note_relayed_task(rec, "p", method, arguments, result)  # type: ignore[arg-type]
    return rec.calls


def test_a_task_created_through_another_replica_is_opened_here() -> None:
    created = {"task": {"taskId": "t1", "status": "working", "ttl": 60_000}}
    assert note("tools/call", {"name": "slow"}, created) == [("opened", "p", "t1", 60_000)]
    # A task that ended before its create answer came back, or a plain result: nothing open.
    assert note("tools/call", {}, {"task": {"taskId": "t2", "status": "completed"}}) == []
    assert note("tools/call", {}, {"content": [], "isError": False}) == []


def test_an_answer_that_shows_the_end_closes_it() -> None:
    assert note("tasks/get", {"taskId": "t1"}, {"taskId": "t1", "status": "completed"}) == [("closed", "p", "t1")]
    assert note("tasks/cancel", {"taskId": "t1"}, {"taskId": "t1", "status": "cancelled"}) == [("closed", "p", "t1")]
    assert note("tasks/result", {"taskId": "t1"}, {"content": []}) == [("closed", "p", "t1")]
    # Still running, or not about a task at all: nothing changes.
    assert note("tasks/get", {"taskId": "t1"}, {"taskId": "t1", "status": "working"}) == []
    assert note("resources/read", {"uri": "x"}, {"contents": []}) == []
    assert note("tasks/get", {}, {"status": "completed"}) == []
