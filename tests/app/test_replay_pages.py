"""A page-at-a-time rebuild folds the same read models as event-by-event application, without
decoding events no read model reads."""

from __future__ import annotations

from typing import Any

from hangar.app import codec
from hangar.app.ports import RecordedEvent
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.projections.streams import StreamIndex
from hangar.app.projector import Projector
from hangar.domain import events as ev
from hangar.domain.provider_spec import ProviderSpec

SPEC = ProviderSpec(mode="remote", endpoint="http://127.0.0.1:9/mcp")
META = codec.EventMetadata(principal="t")


def history() -> list[RecordedEvent]:
    events: list[tuple[str, Any]] = []
    for p in ("a", "b"):
        events += [(f"provider:{p}", ev.ProviderRegistered(provider_id=p, spec=SPEC)),
                   (f"provider:{p}", ev.ProviderStateChanged(provider_id=p, old_state="cold",
                                                             new_state="initializing", reason="t")),
                   (f"calls:{p}", ev.ToolInvocationRequested(provider_id=p, tool_name="x", call_id="c",
                                                             arguments_size=2)),
                   (f"calls:{p}", ev.ToolInvocationCompleted(provider_id=p, tool_name="x", call_id="c",
                                                             duration_ms=1.0, result_size=2, is_error=False))]
    out, versions = [], {}
    for i, (stream, e) in enumerate(events, 1):
        new = codec.encode(e, META)
        versions[stream] = versions.get(stream, 0) + 1
        out.append(RecordedEvent(i, stream, versions[stream], new.event_id, new.event_type, new.data, new.metadata,
                                 1.0 + i))
    # Unreadable, but of a type no read model here reads: a page skips it without decoding.
    out.append(RecordedEvent(len(out) + 1, "x:1", 1, "bad", "NobodyReadsThis", b"not json", b"{}", 99.0))
    return out


def test_page_rebuild_matches_event_by_event() -> None:
    one = Projector(None, [StreamIndex(), ProvidersProjection()])  # type: ignore[arg-type]
    paged = Projector(None, [StreamIndex(), ProvidersProjection()])  # type: ignore[arg-type]
    records = history()
    for rec in records:
        one.apply(rec)
    paged.apply_page(records[:5])
    paged.apply_page(records[5:])
    assert paged.projections[1].dump() == one.projections[1].dump()
    # The stream index reads records, not events: it knows the unreadable event's stream too.
    assert paged.projections[0].dump() == {**one.projections[0].dump(), "x:1": 1}
    assert paged.position == one.position == len(records)
    assert one.undecodable == 1 and paged.undecodable == 0  # never decoded: nothing read it
    assert paged.projections[1].total_tool_calls == 2  # type: ignore[attr-defined]
