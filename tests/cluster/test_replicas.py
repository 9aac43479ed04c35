"""Three ``hangar serve`` replicas on one PostgreSQL database tell one story.

Real processes, a real database, real MCP providers (the SDK-built stdio fixture), a real MCP
SDK client behind a round-robin proxy. The replicas share one module-scoped trio; the tests that
kill a replica run last and replace it.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
import sqlalchemy as sa
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from websockets.sync.client import connect

from hangar.app.mcp_catalog import exposed_uri
from tests.cluster.harness import (
    FAST_CLUSTER,
    Cluster,
    RoundRobinProxy,
    cluster_info,
    needs_pg,
    pg_schema,
    wait_front_door,
)
from tests.support import REPO, HangarProcess, fixture_provider, pid_alive, pids_with_mark, wait_until

pytestmark = needs_pg
RICH = REPO / "tests" / "fixtures" / "rich_server.py"

ADD = {"name": "add", "description": "Add two numbers.",
       "input_schema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                        "required": ["a", "b"]}}


@pytest.fixture(scope="module")
def scan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("scan"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, scan_dir: Path) -> Iterator[Cluster]:
    work = Path(tmp_path_factory.mktemp("replicas"))
    # A source scanned every second: the leader alone runs the schedule.
    config = FAST_CLUSTER + f"""
discovery:
  sources:
    every-second:
      type: filesystem
      config: {{path: "{scan_dir}", interval_s: 1, watch: false}}
"""
    with pg_schema() as url:
        c = Cluster(work, url, config)
        try:
            c.start(3)
            yield c
        finally:
            c.close()


@pytest.fixture(scope="module")
def trio(cluster: Cluster) -> list[HangarProcess]:
    return cluster.replicas[:3]


def create(base: str, mark: str, **fields: Any) -> str:
    pid = f"p-{uuid.uuid4().hex[:8]}"
    body = fixture_provider(pid, mark, tools=[ADD], **fields)
    r = httpx.post(base + "/api/providers", json=body, timeout=30)
    assert r.status_code == 201, r.text
    return pid


def call(base: str, pid: str, a: int, b: int) -> httpx.Response:
    return httpx.post(f"{base}/api/providers/{pid}/tools/add/invoke", json={"arguments": {"a": a, "b": b}},
                      timeout=60)


def created_on_a_started_via_b(trio: list[HangarProcess]) -> tuple[str, str, int]:
    """A provider created on A and started by a call through B: its mark, id and one process."""
    mark = uuid.uuid4().hex
    pid = create(trio[0].base, mark)
    assert call(trio[1].base, pid, 1, 2).status_code == 200
    [process] = pids_with_mark(mark)
    return mark, pid, process


def state(base: str, pid: str) -> str:
    return str(httpx.get(f"{base}/api/providers/{pid}", timeout=10).json()["state"])


def owner(proc: HangarProcess, pid: str) -> str | None:
    for inst in cluster_info(proc)["instances"]:
        if pid in inst["providers"]:
            return str(inst["address"])
    return None


def events(url: str, event_type: str) -> list[tuple[dict[str, Any], dict[str, Any], float]]:
    async def query() -> list[Any]:
        from hangar.store.engine import create_engine

        engine, _ = create_engine(url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(sa.text(
                    "SELECT data, metadata, recorded_at FROM events WHERE event_type = :t ORDER BY position"),
                    {"t": event_type})
                return list(rows)
        finally:
            await engine.dispose()

    return [(json.loads(d), json.loads(m), t) for d, m, t in asyncio.run(query())]


# --- every replica sees everything ------------------------------------------------------------


def test_a_command_on_a_reaches_b_c_and_a_websocket_on_c_within_100ms(trio: list[HangarProcess]) -> None:
    a, b, c = trio
    delays: list[float] = []
    with connect(c.base.replace("http", "ws") + "/api/ws/events", open_timeout=10) as ws, \
            httpx.Client(base_url=a.base, timeout=30) as client:
        ws.send(json.dumps({"event_types": ["ProviderRegistered"]}))
        time.sleep(0.2)
        for _ in range(200):
            pid = f"w-{uuid.uuid4().hex[:8]}"
            r = client.post("/api/providers", json={"provider_id": pid, "mode": "remote",
                                                   "endpoint": "http://127.0.0.1:9/mcp"})
            answered = time.perf_counter()
            assert r.status_code == 201, r.text
            while True:
                frame = json.loads(ws.recv(timeout=5))
                if frame.get("provider_id") == pid:
                    delays.append(max(0.0, time.perf_counter() - answered))
                    break
    delays.sort()
    p99 = delays[int(len(delays) * 0.99) - 1]
    print(f"propagation A→WS on C: median {statistics.median(delays) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
    assert p99 < 0.100
    # Listed on B and C (read-your-writes on A is the bus's own guarantee).
    for replica in (b, c):
        listed = {p["provider"] for p in httpx.get(replica.base + "/api/providers").json()["providers"]}
        assert len(listed) >= 200 and pid in listed


def test_the_internal_endpoint_wants_the_cluster_token(cluster: Cluster, trio: list[HangarProcess]) -> None:
    url = trio[0].base + "/internal/cluster/commands"
    op = {"op": "health", "provider_id": "nobody-runs-this"}
    for headers in ({}, {"x-hangar-cluster-token": "not-the-token"}):
        r = httpx.post(url, json=op, headers=headers)
        assert r.status_code == 401 and r.json()["error"] == "AuthenticationError"
    token = {"x-hangar-cluster-token": cluster.env["HANGAR_CLUSTER_TOKEN"]}
    assert httpx.post(url, json={"op": "explode"}, headers=token).status_code == 422
    r = httpx.post(url, json=op, headers=token)
    assert r.status_code == 200 and r.json() == {"ok": False}
    info = cluster_info(trio[1])
    assert {i["address"] for i in info["instances"]} >= {p.base for p in trio}
    assert info["leader"] in {i["instance_id"] for i in info["instances"]} and info["generation"] >= 1


# --- ownership: one process per provider ---------------------------------------------------------


def test_two_hundred_calls_through_three_replicas_reach_one_process(trio: list[HangarProcess]) -> None:
    mark = uuid.uuid4().hex
    pid = create(trio[0].base, mark)

    def one(i: int) -> float:
        r = call(trio[i % 3].base, pid, i, 1)
        assert r.status_code == 200, r.text
        return float(r.json()["result"][0]["text"])

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(one, range(200)))
    assert results == [float(i + 1) for i in range(200)]
    assert len(pids_with_mark(mark)) == 1
    # Every replica records the calls it accepted; together they are all 200.
    history = httpx.get(f"{trio[1].base}/api/providers/{pid}/tools/history?limit=500").json()["history"]
    assert sum(1 for h in history if h["event_type"] == "ToolInvocationCompleted") == 200
    assert all(state(p.base, pid) == "ready" for p in trio)


def test_starting_and_stopping_a_replica_changes_nothing_of_the_others(cluster: Cluster,
                                                                       trio: list[HangarProcess]) -> None:
    mark, pid, process = created_on_a_started_via_b(trio)
    d = cluster.add()
    try:
        assert state(d.base, pid) == "ready"
        assert call(d.base, pid, 2, 2).status_code == 200  # served by the owner, not a copy
        assert pids_with_mark(mark) == [process]
    finally:
        d.stop()
        cluster.replicas.remove(d)
    time.sleep(0.5)
    assert [state(p.base, pid) for p in trio] == ["ready"] * 3
    assert pids_with_mark(mark) == [process]


def test_stop_and_delete_on_another_replica_reach_the_owner(trio: list[HangarProcess]) -> None:
    mark = uuid.uuid4().hex
    pid = create(trio[0].base, mark)
    assert call(trio[0].base, pid, 1, 1).status_code == 200
    assert len(pids_with_mark(mark)) == 1
    assert httpx.post(f"{trio[2].base}/api/providers/{pid}/stop", timeout=30).status_code == 200
    assert wait_until(lambda: not pids_with_mark(mark), 10)
    assert all(state(p.base, pid) == "cold" for p in trio)
    assert call(trio[1].base, pid, 1, 1).status_code == 200
    assert len(pids_with_mark(mark)) == 1
    assert httpx.delete(f"{trio[2].base}/api/providers/{pid}", timeout=30).status_code == 200
    assert wait_until(lambda: not pids_with_mark(mark), 10)


def test_an_async_task_is_seen_everywhere_and_cancelled_from_another_replica(trio: list[HangarProcess]) -> None:
    mark, pid = uuid.uuid4().hex, f"p-{uuid.uuid4().hex[:8]}"
    assert httpx.post(trio[0].base + "/api/providers", json=fixture_provider(pid, mark), timeout=30).status_code == 201
    r = httpx.post(f"{trio[0].base}/api/providers/{pid}/tools/slow/invoke-async",
                   json={"arguments": {"seconds": 30}}, timeout=30)
    assert r.status_code == 202, r.text
    tid = r.json()["task_id"]
    assert wait_until(lambda: httpx.get(f"{trio[1].base}/api/tasks/{tid}", timeout=10).status_code == 200, 10)
    cancelled = httpx.post(f"{trio[2].base}/api/tasks/{tid}/cancel", timeout=30).json()
    assert cancelled["status"] == "cancelled"
    # Replica A, running the call, hears the cancel from the log and stops it (a late answer
    # could not change the task anyway: an ended task stays as it ended).
    assert wait_until(lambda: all(
        httpx.get(f"{p.base}/api/tasks/{tid}", timeout=10).json()["status"] == "cancelled" for p in trio), 10)


# --- MCP sessions on any replica -------------------------------------------------------------------


async def test_an_mcp_client_behind_round_robin_works_and_hears_a_change_made_elsewhere(
        trio: list[HangarProcess]) -> None:
    for p in trio:
        await asyncio.to_thread(wait_front_door, p)
    pid = await asyncio.to_thread(create, trio[0].base, uuid.uuid4().hex)
    proxy = RoundRobinProxy([p.base for p in trio]).start()
    changed = asyncio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    failures = 0
    try:
        async with streamable_http_client(proxy.url + "/mcp") as (read, write), \
                ClientSession(read, write, message_handler=on_message) as session:
            await session.initialize()
            for i in range(50):
                names = {t.name for t in (await session.list_tools()).tools}
                res = await session.call_tool(f"{pid}__add", {"a": i, "b": 1})
                if f"{pid}__add" not in names or res.is_error:
                    failures += 1
            changed.clear()
            added = await asyncio.to_thread(create, trio[2].base, uuid.uuid4().hex)
            await asyncio.wait_for(changed.wait(), 10)
            assert f"{added}__add" in {t.name for t in (await session.list_tools()).tools}
    finally:
        proxy.stop()
    assert failures == 0
    assert min(proxy.served) >= 30  # every replica really took its share


async def test_resources_prompts_and_completions_through_a_replica_without_the_provider(
        trio: list[HangarProcess], tmp_path: Path) -> None:
    """Read, get and complete on a replica that does not run the provider: served by the one
    process on its owner, as tool calls are."""
    for p in trio:
        await asyncio.to_thread(wait_front_door, p)
    mark, pid = uuid.uuid4().hex, f"rich-{uuid.uuid4().hex[:8]}"
    body = {"provider_id": pid, "mode": "subprocess", "command": [sys.executable, str(RICH)],
            "env": {"HANGAR_TEST_MARK": mark, "RICH_MARK_DIR": str(tmp_path)}}
    assert (await asyncio.to_thread(httpx.post, trio[0].base + "/api/providers", json=body, timeout=30)).status_code \
        == 201
    r = await asyncio.to_thread(httpx.post, f"{trio[0].base}/api/providers/{pid}/tools/add/invoke",
                                json={"arguments": {"a": 1, "b": 2}}, timeout=60)
    assert r.status_code == 200, r.text
    where = await asyncio.to_thread(owner, trio[0], pid)
    other = next(p for p in trio if p.base != where)
    uri = exposed_uri(pid, "memo://notes/beta")
    async with streamable_http_client(other.base + "/mcp") as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        readme = exposed_uri(pid, "memo://readme")
        for _ in range(100):  # what the owner learned reaches this replica through the log
            if readme in {str(res.uri) for res in (await session.list_resources()).resources}:
                break
            await asyncio.sleep(0.1)
        got = await session.read_resource(uri)
        block = got.contents[0]
        assert isinstance(block, types.TextResourceContents) and block.text == "note about beta"
        assert str(block.uri) == uri
        prompt = await session.get_prompt(f"{pid}__greet", {"name": "Ada"})
        assert "Hello, Ada!" in str(prompt.messages[0].content)
        done = await session.complete(types.PromptReference(name=f"{pid}__review"), {"name": "language", "value": "p"})
        assert done.completion.values == ["python", "perl"]
    assert len(pids_with_mark(mark)) == 1  # the owner's one process served all of it
    assert await asyncio.to_thread(owner, other, pid) == where


# --- failures: the leader, an owner ------------------------------------------------------------------


def _leader(procs: list[HangarProcess]) -> HangarProcess:
    for p in procs:
        if cluster_info(p)["is_leader"]:
            return p
    raise AssertionError("no leader")


def test_sigkill_the_leader_another_takes_over_and_scans_go_on_once(cluster: Cluster,
                                                                     trio: list[HangarProcess]) -> None:
    before = events(cluster.db_url, "DiscoveryScanCompleted")
    window = [e for e in before if e[2] > time.time() - 3]
    assert 1 <= len(window) <= 4, "the leader alone scans every second"
    leader = _leader(trio)
    old_generation = cluster_info(leader)["generation"]
    killed_at = time.time()
    leader.kill()
    survivors = [p for p in trio if p is not leader]
    assert wait_until(lambda: any(cluster_info(p)["is_leader"] for p in survivors), 1.5 + 2.0)
    took_over = time.time() - killed_at
    new = _leader(survivors)
    assert cluster_info(new)["generation"] > old_generation
    time.sleep(3.2)
    scans = [e for e in events(cluster.db_url, "DiscoveryScanCompleted") if e[2] > killed_at + took_over + 0.1]
    assert 2 <= len(scans) <= 4, scans
    # Leader-only writes carry the new leader's fencing generation.
    assert {m.get("fencing") for _, m, _ in scans} == {cluster_info(new)["generation"]}
    cluster.replicas.remove(leader)
    trio[trio.index(leader)] = cluster.add()


def test_sigkill_an_owner_the_next_call_elsewhere_starts_it_there(cluster: Cluster,
                                                                  trio: list[HangarProcess]) -> None:
    mark, pid, old_process = created_on_a_started_via_b(trio)
    address = owner(trio[0], pid)
    victim = next(p for p in trio if p.base == address)
    others = [p for p in trio if p is not victim]
    victim.kill()
    # The dead replica's reaper takes its provider processes with it.
    assert wait_until(lambda: not pid_alive(old_process), 5)
    # Once its lease has run out, the leader records the provider as stopped, with the reason.
    assert wait_until(lambda: state(others[0].base, pid) == "cold", 1.5 + 3), \
        httpx.get(f"{others[0].base}/api/events?stream_id=provider:{pid}").text[-3000:]
    r = call(others[0].base, pid, 20, 22)
    assert r.status_code == 200, r.text
    assert float(r.json()["result"][0]["text"]) == 42
    assert len(pids_with_mark(mark)) == 1
    assert owner(others[1], pid) == others[0].base
    cluster.replicas.remove(victim)
