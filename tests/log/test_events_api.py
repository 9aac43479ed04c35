"""``GET /api/events``, ``/api/streams``, Server-Sent Events and the resumable WebSocket, over
real connections to a running server."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import httpx
import pytest
import websockets

from hangar.app import codec
from hangar.domain import events as ev
from hangar.domain.provider_spec import ProviderSpec
from hangar.store import create_event_store
from tests.support import HangarProcess


@pytest.fixture(scope="module")
def hangar_config() -> str:
    # The resume test writes 1,500 events at full speed: skip the per-commit fsync here.
    return "providers: {}\nevent_store: {sqlite_synchronous: NORMAL}\n"


def ws_url(hangar: HangarProcess, path: str) -> str:
    return hangar.base.replace("http://", "ws://") + path


def all_events(api: httpx.Client, from_position: int = 0, **params: object) -> list[dict]:
    out: list[dict] = []
    cursor: int | None = from_position
    while cursor is not None:
        r = api.get("/api/events", params={"from_position": cursor, "limit": 1000, **params})
        assert r.status_code == 200, r.text
        body = r.json()
        out += body["events"]
        cursor = body["next_cursor"]
    return out


def test_pages_filter_and_hide_secrets(api: httpx.Client) -> None:
    pid = f"ev-{uuid.uuid4().hex[:6]}"
    corr = f"corr-{uuid.uuid4().hex[:8]}"
    body = {"provider_id": pid, "mode": "docker", "image": "a:1", "env": {"API_TOKEN": "plain-secret-value"}}
    assert api.post("/api/providers", json=body, headers={"X-Correlation-ID": corr}).status_code == 201
    for i in range(5):
        assert api.put(f"/api/providers/{pid}", json={"description": f"d{i}"}).status_code == 200
    everything = all_events(api)
    positions = [e["position"] for e in everything]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert all(e["event_type"] != "CommandAudited" for e in everything)
    assert "plain-secret-value" not in json.dumps(everything)

    # Paging one at a time by cursor gives exactly the same sequence.
    one_by_one, cursor = [], 0
    while cursor is not None:
        page = api.get("/api/events", params={"from_position": cursor, "limit": 1}).json()
        one_by_one += page["events"]
        cursor = page["next_cursor"]
    assert [e["position"] for e in one_by_one] == positions

    mine = all_events(api, stream_id=f"provider:{pid}")
    assert [e["event_type"] for e in mine] == ["ProviderRegistered"] + ["ProviderUpdated"] * 5
    assert all(e["provider_id"] == pid and e["stream_id"] == f"provider:{pid}" for e in mine)
    assert mine[0]["metadata"]["correlation_id"] == corr
    by_prefix = all_events(api, stream="provider:", event_type=["ProviderRegistered", "ProviderUpdated"])
    assert [e["position"] for e in mine] == [e["position"] for e in by_prefix if e["provider_id"] == pid]
    updates = all_events(api, event_type="ProviderUpdated", stream_id=f"provider:{pid}")
    assert len(updates) == 5
    assert [e["position"] for e in all_events(api, correlation_id=corr)] == [mine[0]["position"]]
    assert all(e["metadata"]["principal"] == "anonymous" for e in all_events(api, principal="anonymous"))
    middle = datetime.fromtimestamp((mine[0]["occurred_at"] + mine[1]["occurred_at"]) / 2, UTC).isoformat()
    after = all_events(api, since=middle, stream_id=f"provider:{pid}")
    assert [e["position"] for e in after] == [e["position"] for e in mine[1:]]

    info = api.get(f"/api/streams/provider:{pid}").json()
    assert info["version"] == 6 and info["event_count"] == 6 and info["snapshot_version"] is None
    missing = api.get(f"/api/streams/provider:never-{pid}")
    assert missing.status_code == 404 and missing.json()["error"] == "StreamNotFoundError"
    stream_page = api.get(f"/api/streams/provider:{pid}/events", params={"limit": 2}).json()
    assert [e["position"] for e in stream_page["events"]] == positions_of(mine[:2])
    assert stream_page["next_cursor"] == mine[1]["position"]


def positions_of(events: list[dict]) -> list[int]:
    return [e["position"] for e in events]


def test_bad_queries_answer_422_in_the_envelope(api: httpx.Client) -> None:
    for params in ({"limit": 0}, {"limit": 1001}, {"from_position": -1}, {"event_type": "NoSuchEvent"},
                   {"since": "yesterday"}, {"until": "2024-01-01T00:00:00"},
                   {"since": "2025-01-02T00:00:00Z", "until": "2025-01-01T00:00:00Z"}):
        r = api.get("/api/events", params=params)
        assert r.status_code == 422, (params, r.text)
        assert set(r.json()) == {"error", "message", "status_code"} and r.json()["status_code"] == 422
    r = api.get("/api/events/stream", headers={"Last-Event-ID": "abc"})
    assert r.status_code == 422 and r.json()["error"] == "ValidationError"


def test_sse_resumes_after_last_event_id(hangar: HangarProcess, api: httpx.Client) -> None:
    pid = f"sse-{uuid.uuid4().hex[:6]}"
    api.post("/api/providers", json={"provider_id": pid, "mode": "docker", "image": "a:1"})
    first = all_events(api, stream_id=f"provider:{pid}")[0]["position"]
    for i in range(3):
        api.put(f"/api/providers/{pid}", json={"description": f"s{i}"})
    expected = positions_of(all_events(api, stream_id=f"provider:{pid}"))[1:]

    async def scenario() -> list[tuple[int, dict]]:
        got: list[tuple[int, dict]] = []
        async with httpx.AsyncClient(base_url=hangar.base, timeout=10) as client:
            headers = {"Last-Event-ID": str(first)}
            async with client.stream("GET", "/api/events/stream", params={"stream_id": f"provider:{pid}"},
                                     headers=headers) as resp:
                assert resp.headers["content-type"].startswith("text/event-stream")
                event_id = None
                async for line in resp.aiter_lines():
                    if line.startswith("id: "):
                        event_id = int(line[4:])
                    elif line.startswith("data: "):
                        got.append((event_id or 0, json.loads(line[6:])))
                        if len(got) == len(expected) + 1:
                            break
                        if len(got) == len(expected):
                            # Live now: the next write arrives on the same stream.
                            await client.put(f"/api/providers/{pid}", json={"description": "live"})
        return got

    got = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert [p for p, _ in got[:-1]] == expected
    assert all(p == frame["position"] for p, frame in got)
    assert got[-1][1]["spec"]["description"] == "live" and got[-1][0] > expected[-1]


def test_ws_resume_delivers_exactly_what_was_missed_then_live(hangar: HangarProcess, api: httpx.Client) -> None:
    """Read 500 events, disconnect, 1,000 more are written at full speed, reconnect with the last
    position: exactly those 1,000 in order, then live ones; then a ``resume`` message rewinds."""
    tag = f"rs{uuid.uuid4().hex[:6]}"
    flt = json.dumps({"event_types": ["ProviderRegistered"]})

    async def write(client: httpx.AsyncClient, start: int, n: int) -> None:
        """As fast as the log takes them: appended straight to the server's database by a
        second store (as another replica would), all at once; the server picks them up from
        the database like any commit it did not make itself."""
        store = create_event_store(hangar.db_url)
        await store.start()
        try:
            await asyncio.gather(*(
                store.append(f"provider:{tag}-{i}", 0, [codec.encode(
                    ev.ProviderRegistered(provider_id=f"{tag}-{i}", spec=ProviderSpec(mode="docker", image="a:1")),
                    codec.EventMetadata(principal="writer"),
                )]) for i in range(start, start + n)
            ))
        finally:
            await store.close()

    async def frames(ws: websockets.ClientConnection, n: int) -> list[dict]:
        out = []
        while len(out) < n:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if str(msg.get("provider_id", "")).startswith(tag):
                out.append(msg)
        return out

    def stored(after: int) -> list[int]:
        return [e["position"] for e in all_events(api, event_type="ProviderRegistered", from_position=after)
                if e["provider_id"].startswith(tag)]

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=hangar.base, timeout=30) as client:
            await write(client, 0, 500)
            async with websockets.connect(ws_url(hangar, "/api/ws/events?from_position=0"), max_size=None) as ws:
                await ws.send(flt)
                first = await frames(ws, 500)
            assert positions_of(first) == stored(0)
            last = first[-1]["position"]
            await write(client, 500, 1000)  # nobody is listening
            missed = stored(last)
            assert len(missed) == 1000
            async with websockets.connect(ws_url(hangar, f"/api/ws/events?from_position={last}"),
                                          max_size=None) as ws:
                await ws.send(flt)
                resumed = await frames(ws, 1000)
                assert positions_of(resumed) == missed
                # Writes while following arrive live, once each, in order.
                await write(client, 1500, 20)
                live = await frames(ws, 20)
                assert positions_of(live) == stored(missed[-1])
                # A resume message rewinds the open socket to any position.
                await ws.send(json.dumps({"resume": missed[-3]}))
                again = await frames(ws, 22)
                assert positions_of(again) == missed[-2:] + positions_of(live)
                try:
                    extra = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    extra = None
                assert extra is None or not str(json.loads(extra).get("provider_id", "")).startswith(tag)

    asyncio.run(scenario())


def test_resume_message_on_a_live_socket(hangar: HangarProcess, api: httpx.Client) -> None:
    """A socket opened without a position switches to stored-then-live delivery on ``resume``."""
    pid = f"rm-{uuid.uuid4().hex[:6]}"
    api.post("/api/providers", json={"provider_id": pid, "mode": "docker", "image": "a:1"})
    api.put(f"/api/providers/{pid}", json={"description": "x"})
    mine = positions_of(all_events(api, stream_id=f"provider:{pid}"))

    async def scenario() -> list[int]:
        async with websockets.connect(ws_url(hangar, "/api/ws/events")) as ws:
            await ws.send(json.dumps({"resume": mine[0] - 1}))
            got: list[int] = []
            while len(got) < 2:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if msg.get("stream_id") == f"provider:{pid}":
                    got.append(msg["position"])
                elif "event_id" not in msg:
                    assert msg == {"resumed": mine[0] - 1}
            return got

    assert asyncio.run(scenario()) == mine


def test_resume_while_writes_continue_has_no_gap_or_duplicate(hangar: HangarProcess, api: httpx.Client) -> None:
    """The switch from stored to live events happens while a writer keeps appending."""
    tag = f"rw{uuid.uuid4().hex[:6]}"

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=hangar.base, timeout=30) as client:
            start = 0  # the whole log is caught up from the store while the writer goes on
            stop = asyncio.Event()

            async def writer() -> None:
                i = 0
                while not stop.is_set():
                    body = {"provider_id": f"{tag}-{i}", "mode": "docker", "image": "a:1"}
                    assert (await client.post("/api/providers", json=body)).status_code == 201
                    i += 1

            task = asyncio.create_task(writer())
            await asyncio.sleep(0.5)
            got: list[int] = []
            async with websockets.connect(ws_url(hangar, f"/api/ws/events?from_position={start}"),
                                          max_size=None) as ws:
                await ws.send(json.dumps({"event_types": ["ProviderRegistered"]}))
                deadline = asyncio.get_running_loop().time() + 1.5
                while asyncio.get_running_loop().time() < deadline:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if str(msg.get("provider_id", "")).startswith(tag):
                        got.append(msg["position"])
                stop.set()
                await task
                expected = [e["position"] for e in all_events(api, event_type="ProviderRegistered")
                            if e["provider_id"].startswith(tag)]
                while len(got) < len(expected):
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if str(msg.get("provider_id", "")).startswith(tag):
                        got.append(msg["position"])
            assert got == expected and len(expected) > 10

    asyncio.run(scenario())


def test_cli_events_follow_diff_and_as_of(hangar: HangarProcess, api: httpx.Client) -> None:
    import subprocess
    import sys

    pid = f"cli-{uuid.uuid4().hex[:6]}"
    before = all_events(api)[-1]["position"]
    api.post("/api/providers", json={"provider_id": pid, "mode": "docker", "image": "a:1"})
    after = all_events(api)[-1]["position"]
    cli = [sys.executable, "-m", "hangar.cli"]
    url = ["--url", hangar.base]

    out = subprocess.run([*cli, "events", "--from", str(before), "--stream", "provider:", *url],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert [json.loads(line)["provider_id"] for line in out.splitlines()] == [pid]
    diff = json.loads(subprocess.run([*cli, "diff", str(before), str(after), *url],
                                     capture_output=True, text=True, timeout=60, check=True).stdout)
    assert [(c["resource"], c["change"]) for c in diff["changes"]] == [(f"provider:{pid}", "created")]
    past = json.loads(subprocess.run([*cli, "as-of", str(before), "providers", *url],
                                     capture_output=True, text=True, timeout=60, check=True).stdout)
    assert pid not in {p["provider_id"] for p in past["providers"]}
    bad = subprocess.run([*cli, "as-of", "not-a-time", "providers", *url], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "(422)" in bad.stderr

    follow = subprocess.Popen([*cli, "events", "--from", str(before), "--stream", "provider:", "--follow", *url],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert follow.stdout is not None
        assert json.loads(follow.stdout.readline())["provider_id"] == pid
        api.put(f"/api/providers/{pid}", json={"description": "followed"})
        assert json.loads(follow.stdout.readline())["spec"]["description"] == "followed"
    finally:
        follow.kill()
        follow.wait(10)
