"""Process-group hygiene: grandchildren, the reaper, fd leaks, and stderr floods."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from typing import Any

import pytest

from hangar.runtime import ProcessReaper, ProviderCrashed, StdioClient
from hangar.runtime.process import ProviderProcess, build_env

from .conftest import (
    MINIMAL_SERVER,
    REPO_ROOT,
    STDIO_SERVER,
    StdioFactory,
    count_fds,
    is_gone,
    live_group,
    wait_until,
)


async def _spawn_grandchild(client: StdioClient) -> int:
    result = await client.call_tool("spawn_grandchild", {})
    return int(result.content[0]["text"])


async def test_close_leaves_no_process_of_the_group(stdio_client: StdioFactory) -> None:
    client = await stdio_client()
    pgid = client.pgid
    assert pgid is not None and pgid == client.pid
    grandchild = await _spawn_grandchild(client)
    assert set(live_group(pgid)) == {pgid, grandchild}
    started = time.perf_counter()
    await client.close()
    assert time.perf_counter() - started < 8
    assert live_group(pgid) == []
    assert is_gone(grandchild)


async def test_stop_escalates_to_sigkill_for_a_provider_ignoring_sigterm() -> None:
    stubborn = (
        "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "sys.stdin.close(); print('ready', flush=True); time.sleep(60)"
    )
    proc = await ProviderProcess.spawn([sys.executable, "-c", stubborn], env=build_env(None))
    assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"ready\n"  # SIGTERM now ignored
    started = time.perf_counter()
    await proc.stop(grace_s=0.2, term_timeout_s=0.3, kill_timeout_s=5)
    assert time.perf_counter() - started < 5
    assert proc.returncode == -signal.SIGKILL
    assert live_group(proc.pgid) == []


async def test_crash_takes_orphaned_grandchildren_down(stdio_client: StdioFactory) -> None:
    exits: list[int] = []
    client = await stdio_client(on_exit=exits.append)
    pgid = client.pgid
    assert pgid is not None
    grandchild = await _spawn_grandchild(client)
    client._proc.kill_group = lambda: None  # type: ignore[method-assign,union-attr]
    # Kill only the leader, as an OOM kill would: the grandchild holds stderr open.
    os.kill(pgid, signal.SIGKILL)
    assert await wait_until(lambda: exits == [-9], timeout_s=3)
    assert not is_gone(grandchild)  # with kill_group disabled it survives: the check has teeth
    await client.close()  # the stop sequence still sweeps the whole group
    assert await wait_until(lambda: is_gone(grandchild), timeout_s=3)


async def test_crash_kills_the_rest_of_the_group(stdio_client: StdioFactory) -> None:
    exits: list[int] = []
    client = await stdio_client(on_exit=exits.append)
    pgid = client.pgid
    assert pgid is not None
    grandchild = await _spawn_grandchild(client)
    os.kill(pgid, signal.SIGKILL)
    assert await wait_until(lambda: exits == [-9], timeout_s=3)
    assert await wait_until(lambda: is_gone(grandchild), timeout_s=3)


_OWNER = """
import asyncio, json, sys
from hangar.runtime import ProcessReaper, StdioClient

async def main():
    reaper = ProcessReaper() if sys.argv[1] == "reaper" else None
    if reaper is not None:
        await reaper.start()
    client = StdioClient("victim", json.loads(sys.argv[2]), reaper=reaper)
    await client.start()
    result = await client.call_tool("spawn_grandchild", {})
    print(json.dumps({"child": client.pid, "grandchild": int(result.content[0]["text"]),
                      "reaper": reaper.pid if reaper else None}), flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def _sigkill_owner(mode: str) -> dict[str, Any]:
    """Run Hangar-like owner process, let it spawn a provider + grandchild, then SIGKILL it."""
    owner = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _OWNER,
        mode,
        json.dumps(STDIO_SERVER),
        stdout=asyncio.subprocess.PIPE,
        cwd=str(REPO_ROOT),
    )
    assert owner.stdout is not None
    try:
        pids: dict[str, Any] = json.loads(await asyncio.wait_for(owner.stdout.readline(), 30))
    finally:
        owner.kill()
        await owner.wait()
    return pids


async def test_reaper_kills_child_and_grandchild_when_hangar_is_sigkilled() -> None:
    pids = await _sigkill_owner("reaper")
    watched = [pids["child"], pids["grandchild"], pids["reaper"]]
    assert await wait_until(lambda: all(is_gone(p) for p in watched), timeout_s=5), [
        (p, is_gone(p)) for p in watched
    ]
    assert live_group(pids["child"]) == []


async def test_without_reaper_only_the_direct_child_dies() -> None:
    # Control experiment: PDEATHSIG alone kills the direct child, never the grandchild.
    pids = await _sigkill_owner("none")
    try:
        assert await wait_until(lambda: is_gone(pids["child"]), timeout_s=3)
        await asyncio.sleep(0.3)
        assert not is_gone(pids["grandchild"])
    finally:
        os.kill(pids["grandchild"], signal.SIGKILL)


async def test_reaper_tracks_and_untracks_groups() -> None:
    reaper = ProcessReaper()
    await reaper.start()
    client = StdioClient("tracked", STDIO_SERVER, reaper=reaper)
    try:
        await client.start()
        assert reaper.alive and reaper.tracked == {client.pgid}
    finally:
        await client.close()
    assert reaper.tracked == frozenset()
    reaper_pid = reaper.pid
    assert reaper_pid is not None
    await reaper.close()
    assert not reaper.alive
    assert is_gone(reaper_pid)


async def test_no_fd_leak_over_start_close_cycles() -> None:
    reaper = ProcessReaper()
    await reaper.start()

    async def cycle(i: int) -> None:
        client = StdioClient(f"fd-{i}", MINIMAL_SERVER, reaper=reaper)
        await client.start()
        await client.call_tool("add", {"a": 1, "b": 2})
        if i % 3 == 1:  # the crash path must release everything too
            with pytest.raises(ProviderCrashed):
                await client.call_tool("crash", {})
        await client.close()

    try:
        await cycle(0)  # warm-up: the loop's own lazily created fds are not a leak
        before = count_fds()
        for i in range(30):
            await cycle(i)
        await asyncio.gather(*(cycle(i) for i in range(10)))
        assert count_fds() == before, os.listdir("/proc/self/fd")
        assert reaper.tracked == frozenset()
    finally:
        await reaper.close()


async def test_stderr_flood_never_stalls(stdio_client: StdioFactory) -> None:
    """1,500 calls with a 500-byte stderr line each: ~750 KiB through a 64 KiB pipe.

    Undrained, the pipe would fill after ~130 calls and the server would block forever on its
    next stderr write. Four calls stay in flight so the SDK server is never idle (it costs
    ~0.7 ms per call, which would otherwise dominate the test's duration).
    """
    client = await stdio_client(env={"FIXTURE_STDERR_EVERY_CALL": "1", "FIXTURE_STDERR_PAD": "490",
                                     "FIXTURE_ASYNC_STDIO": "1"})
    total, in_flight = 1_500, 4

    async def worker(offset: int) -> None:
        for i in range(offset, total, in_flight):
            result = await client.call_tool("add", {"a": i, "b": 1}, timeout_s=10)
            assert result.structured_content == {"result": i + 1.0}

    # A stall shows up as a CallTimeout of the call stuck behind the full pipe.
    await asyncio.gather(*(worker(k) for k in range(in_flight)))
    assert await wait_until(lambda: client.logs.total_lines >= total)
    assert len(client.logs) == 1000
    assert all(e.line == "call add " + "." * 490 for e in client.logs.tail())
