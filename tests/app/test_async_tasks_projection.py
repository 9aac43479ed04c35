"""The REST task read model keeps the latest tasks, but never forgets one still working: start-up
reconciliation must still find it if the replica running it dies."""

from __future__ import annotations

from hangar.app.codec import EventMetadata, encode
from hangar.app.ports import RecordedEvent
from hangar.app.projections.async_tasks import AsyncTasksProjection
from hangar.domain import async_tasks as at
from hangar.domain.event_base import Event


def feed(view: AsyncTasksProjection, event: Event, position: int) -> None:
    new = encode(event, EventMetadata())
    rec = RecordedEvent(event_id=new.event_id, stream_id=f"task:{position}", stream_version=1, position=position,
                        event_type=new.event_type, data=new.data, metadata=new.metadata, recorded_at=0.0)
    view.apply(rec, event)


def submitted(task_id: str) -> at.AsyncTaskSubmitted:
    return at.AsyncTaskSubmitted(task_id=task_id, provider_id="p", tool="t", created_at="2026-12-04T00:00:00Z",
                                 principal="admin", instance="i1")


def test_the_oldest_finished_tasks_go_first_and_working_ones_stay() -> None:
    view = AsyncTasksProjection(keep=3)
    feed(view, submitted("long"), 1)  # still working at the end
    for i in range(2, 8):
        feed(view, submitted(f"t{i}"), i * 2)
        feed(view, at.AsyncTaskCancelled(task_id=f"t{i}", finished_at="2026-12-04T00:00:01Z"), i * 2 + 1)
    assert list(view.views) == ["long", "t6", "t7"]
    assert [v.task_id for v in view.working()] == ["long"]
