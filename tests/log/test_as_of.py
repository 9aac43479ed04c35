"""Time travel: every as-of read equals the live read captured at that moment, across a
scripted history (create, update, start, delete, policy change), from checkpoints that survive a
restart; a compacted range answers 410 with the earliest position still readable."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hangar.app.log.timetravel import FORMAT
from tests.support import HangarProcess, fixture_provider, pids_with_mark, running

MARK = f"asof-{uuid.uuid4().hex[:6]}"
GROUP = "asof-g"
READS = ["/api/providers", "/api/system", "/api/auth/roles", "/api/auth/policies", "/api/catalog"]


@pytest.fixture(scope="module")
def hangar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HangarProcess]:
    # A checkpoint every 100 events, so the script below crosses several.
    config = "providers: {}\nevent_store: {checkpoint_every: 100, sqlite_synchronous: NORMAL}\n"
    with running(Path(tmp_path_factory.mktemp("asof")), config) as proc:
        yield proc


def head(api: httpx.Client) -> int:
    cursor: int | None = 0
    last = 0
    while cursor is not None:
        body = api.get("/api/events", params={"from_position": cursor, "limit": 1000}).json()
        last, cursor = body["last_position"], body["next_cursor"]
    return last


RUNTIME_ONLY = ("circuit_breaker", "circuit_open", "healthy_count", "is_available")
MEMBER_RUNTIME_ONLY = ("in_rotation", "healthy", "consecutive_failures", "circuit_breaker_state", "inflight")
"""A group's live routing figures (breaker counters, in-flight calls, members' health as routing
sees it) are the runtime's, not facts of the log; as-of answers carry what the log records."""


def group_facts(body: dict[str, Any]) -> dict[str, Any]:
    facts = {k: v for k, v in body.items() if k not in RUNTIME_ONLY}
    if "members" in facts:
        facts["members"] = [{k: v for k, v in m.items() if k not in MEMBER_RUNTIME_ONLY} for m in facts["members"]]
    return facts


def comparable(path: str, body: Any) -> Any:
    if path == "/api/system":
        body["system"].pop("uptime_seconds")  # the process's age, not a fact of the log
    return body


def capture(api: httpx.Client, provider_id: str) -> tuple[int, dict[str, Any]]:
    """The live answers and the position they reflect (taken again if anything was written)."""
    while True:
        before = head(api)
        reads: dict[str, Any] = {p: comparable(p, api.get(p).json()) for p in READS}
        detail = api.get(f"/api/providers/{provider_id}")
        reads["detail"] = (detail.status_code, detail.json())
        reads["groups"] = [group_facts(g) for g in api.get("/api/groups").json()["groups"]]
        group = api.get(f"/api/groups/{GROUP}")
        reads["group"] = (group.status_code, group_facts(group.json()))
        if head(api) == before:
            return before, reads


def as_of_reads(api: httpx.Client, point: str, provider_id: str) -> dict[str, Any]:
    reads: dict[str, Any] = {}
    for p in READS:
        r = api.get(p, params={"as_of": point})
        assert r.status_code == 200, r.text
        reads[p] = comparable(p, r.json())
    detail = api.get(f"/api/providers/{provider_id}", params={"as_of": point})
    reads["detail"] = (detail.status_code, detail.json())
    reads["groups"] = [group_facts(g) for g in api.get("/api/groups", params={"as_of": point}).json()["groups"]]
    group = api.get(f"/api/groups/{GROUP}", params={"as_of": point})
    reads["group"] = (group.status_code, group_facts(group.json()))
    return reads


def test_as_of_equals_the_live_read_at_every_step(hangar: HangarProcess, api: httpx.Client) -> None:
    pid = "asof-p"
    noise = "asof-noise"
    captured: list[tuple[str, int, dict[str, Any]]] = [("empty", *capture(api, pid))]
    assert api.post("/api/providers", json=fixture_provider(pid, MARK)).status_code == 201
    captured.append(("create", *capture(api, pid)))
    assert api.post("/api/groups", json={"group_id": GROUP}).status_code == 201
    assert api.post(f"/api/groups/{GROUP}/members", json={"member_id": pid, "weight": 2}).status_code in (200, 201)
    captured.append(("group", *capture(api, pid)))
    assert api.put(f"/api/providers/{pid}", json={"description": "updated"}).status_code == 200
    captured.append(("update", *capture(api, pid)))
    assert api.post("/api/providers", json={"provider_id": noise, "mode": "docker", "image": "a:1"}).status_code == 201
    for i in range(120):  # with their audit records: two checkpoints, and a snapshot of the stream
        assert api.put(f"/api/providers/{noise}", json={"description": f"n{i}"}).status_code == 200
    captured.append(("noise", *capture(api, pid)))
    assert api.post(f"/api/providers/{pid}/start").status_code == 200
    captured.append(("start", *capture(api, pid)))
    role = {"role_id": "asof-role", "permissions": ["providers:read"]}
    assert api.post("/api/auth/roles", json=role).status_code == 201
    captured.append(("role", *capture(api, pid)))
    assert api.delete(f"/api/providers/{pid}").status_code == 200
    captured.append(("delete", *capture(api, pid)))
    r = api.put(f"/api/auth/policies/{noise}/echo", json={"principal_id": "bob", "effect": "deny"})
    assert r.status_code == 200, r.text
    captured.append(("policy", *capture(api, pid)))
    assert not pids_with_mark(MARK)

    started = dict((n, reads) for n, _, reads in captured)["start"]
    assert started["detail"][1]["state"] == "ready" and started["detail"][1]["tools_count"] > 0
    for name, position, live in captured:
        assert as_of_reads(api, str(position), pid) == live, name

    db = Path(hangar.workdir / "hangar.db")
    with sqlite3.connect(db) as conn:
        checkpoints = [p for (p,) in conn.execute("SELECT position FROM read_model_checkpoints ORDER BY position")]
    assert len(checkpoints) >= 2

    # An upgrade that changes the read models' format: the stored checkpoints are of an older
    # format. The start-up replay writes new ones, in the same positions, and every point stays
    # readable (it used to answer 410: the new copies were dropped as duplicates of the old).
    hangar.stop()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE read_model_checkpoints SET format = 'read-models-0', state = x'00'")
    hangar.start()
    with httpx.Client(base_url=hangar.base, timeout=30) as upgraded:
        for name, position, live in captured:
            assert as_of_reads(upgraded, str(position), pid) == live, name
    with sqlite3.connect(db) as conn:
        formats = {f for (f,) in conn.execute("SELECT format FROM read_model_checkpoints")}
    assert FORMAT in formats

    # A time names the last event recorded by then.
    noise_events = api.get("/api/events", params={"stream_id": f"provider:{noise}", "limit": 1}).json()["events"]
    at_time = api.get("/api/providers", params={"as_of": noise_events[0]["recorded_at"]})
    assert at_time.status_code == 200
    # The read stops at the last event recorded by then: nothing after its position was
    # recorded before the time asked (events of one group commit share their time, and times
    # are shown rounded, so the noise event itself may fall on either side).
    as_of_position = int(at_time.headers["X-As-Of-Position"])
    when = noise_events[0]["recorded_at"]
    after = api.get("/api/events", params={"from_position": as_of_position, "limit": 1}).json()["events"]
    assert after and all(e["recorded_at"] >= when for e in after)

    # Checkpoints are durable: after a restart the same answers come from the stored ones.
    hangar.stop()
    hangar.start()
    with httpx.Client(base_url=hangar.base, timeout=30) as fresh:
        for name, position, live in captured:
            assert as_of_reads(fresh, str(position), pid) == live, name

        # Compaction deletes history: before it answers 410 and names the earliest readable point.
        assert fresh.post("/api/maintenance/compact", json={"stream_id": f"provider:{noise}"}).status_code == 200
        early = captured[1][1]
        gone = fresh.get("/api/providers", params={"as_of": str(early)})
        assert gone.status_code == 410, gone.text
        body = gone.json()
        assert body["error"] == "HistoryGoneError" and body["status_code"] == 410
        earliest = int(gone.headers["X-Earliest-Position"])
        assert str(earliest) in body["message"] and earliest > captured[-1][1]
        ok = fresh.get("/api/providers", params={"as_of": str(earliest)})
        assert ok.status_code == 200 and ok.json() == fresh.get("/api/providers").json()

    # After a restart that has to seed the compacted stream, the same points stay readable or gone.
    hangar.stop()
    hangar.start()
    with httpx.Client(base_url=hangar.base, timeout=30) as again:
        assert again.get("/api/providers", params={"as_of": str(early)}).status_code == 410
        ok = again.get("/api/providers", params={"as_of": str(earliest)})
        assert ok.status_code == 200 and ok.json() == again.get("/api/providers").json()


def test_bad_as_of_is_422_and_changes_nothing(api: httpx.Client) -> None:
    for value in ("yesterday", "-1", "2024-01-01T00:00:00", "99999999"):
        r = api.get("/api/providers", params={"as_of": value})
        assert r.status_code == 422, (value, r.text)
        assert set(r.json()) == {"error", "message", "status_code"}
