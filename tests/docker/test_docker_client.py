"""DockerClient against the real engine: MCP over an attached container's stdio."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import docker
import pytest

from hangar.runtime.docker import DockerClient
from hangar.runtime.docker_engine import LABEL_INSTANCE, LABEL_PROVIDER, DockerEngine
from hangar.runtime.errors import CallTimeout, ProviderCrashed, ProviderUnavailable

from .conftest import IMAGE, REPO, containers_of, minimal_server_spec, sdk_server_spec


def new_id() -> str:
    return f"dk-{uuid.uuid4().hex[:8]}"


async def wait_for(predicate: object, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):  # type: ignore[arg-type]
            return True
        await asyncio.sleep(0.05)
    return False


async def test_sdk_server_in_a_container(docker_api: docker.APIClient, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "hello.txt").write_text("from the host")
    engine = DockerEngine()
    pid = new_id()
    client = DockerClient(
        pid, sdk_server_spec(env={"FIXTURE_BANNER": "1", "GREETING": "hi"}, volumes=[f"{data}:/data:ro"]),
        engine=engine,
    )
    try:
        info = await client.start()
        assert info.name == "fixture-stdio" and client.alive
        tools = {t.name for t in await client.list_tools()}
        assert {"add", "echo", "slow", "crash", "stderr_line", "getenv"} <= tools

        result = await client.call_tool("add", {"a": 2, "b": 3})
        assert not result.is_error and float(result.content[0]["text"]) == 5
        assert (await client.call_tool("getenv", {"name": "GREETING"})).content[0]["text"] == "hi"

        # stderr goes to the log buffer; the banner printed on stdout is logged, not fatal.
        await client.call_tool("stderr_line", {"text": "a line on stderr"})
        assert await wait_for(lambda: client.logs.last_line("stderr") == "a line on stderr")
        assert client.logs.last_line("stdout") == "fixture server starting (this banner is not JSON)"

        # Calls are multiplexed on the one attach connection.
        outs = await asyncio.gather(*(client.call_tool("echo", {"text": f"m{i}"}) for i in range(40)))
        assert [o.content[0]["text"] for o in outs] == [f"m{i}" for i in range(40)]

        with pytest.raises(CallTimeout):
            await client.call_tool("slow", {"seconds": 5}, timeout_s=0.3)
        assert float((await client.call_tool("add", {"a": 1, "b": 1})).content[0]["text"]) == 2
        assert await client.ping() < 5

        [listed] = containers_of(docker_api, pid)
        assert listed["Labels"][LABEL_PROVIDER] == pid
        assert listed["Labels"][LABEL_INSTANCE] == engine.instance
        info_c = docker_api.inspect_container(listed["Id"])
        host = info_c["HostConfig"]
        assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"] is True
        assert info_c["Config"]["OpenStdin"] is True and info_c["Config"]["StdinOnce"] is True
        assert info_c["Config"]["Tty"] is False and info_c["Config"]["Image"] == IMAGE
        mounts = {m["Destination"]: m for m in info_c["Mounts"]}
        assert mounts["/data"]["Source"] == str(data) and mounts["/data"]["RW"] is False
        assert "GREETING=hi" in info_c["Config"]["Env"]
        assert info_c["Name"].lstrip("/") == client.container_name
    finally:
        await client.close()
        await client.close()  # idempotent
    assert containers_of(docker_api, pid) == []
    with pytest.raises(ProviderUnavailable):
        await client.call_tool("add", {"a": 1, "b": 1})
    await engine.close()


async def test_network_read_only_and_volume_options(docker_api: docker.APIClient, tmp_path: Path) -> None:
    engine = DockerEngine()
    pid = new_id()
    client = DockerClient(
        pid, minimal_server_spec(network="host", read_only=False, volumes=[f"{tmp_path}:/scratch"]),
        engine=engine,
    )
    try:
        await client.start()
        [listed] = containers_of(docker_api, pid)
        info = docker_api.inspect_container(listed["Id"])
        assert info["HostConfig"]["NetworkMode"] == "host"
        assert info["HostConfig"]["ReadonlyRootfs"] is False
        assert not info["HostConfig"].get("Tmpfs")
        scratch = next(m for m in info["Mounts"] if m["Destination"] == "/scratch")
        assert scratch["RW"] is True and scratch["Source"] == str(tmp_path)
    finally:
        await client.close()
        await engine.close()
    assert containers_of(docker_api, pid) == []


async def test_crash_fails_pending_calls_promptly(docker_api: docker.APIClient) -> None:
    engine = DockerEngine()
    pid = new_id()
    exits: list[int | None] = []
    client = DockerClient(pid, sdk_server_spec(), engine=engine, on_exit=exits.append)
    try:
        await client.start()
        slow = asyncio.ensure_future(client.call_tool("slow", {"seconds": 30}))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(ProviderCrashed) as info:
            await client.call_tool("crash", {})
        assert time.monotonic() - started < 5
        assert info.value.returncode == 3 and "exited with code 3" in str(info.value)
        with pytest.raises(ProviderCrashed):
            await slow
        assert not client.alive
        assert await wait_for(lambda: exits == [3])
        # Nobody closes a crashed connection: the client removes its container by itself.
        assert await wait_for(lambda: containers_of(docker_api, pid) == [])
        with pytest.raises(ProviderCrashed):
            await client.call_tool("add", {"a": 1, "b": 1})
    finally:
        await client.close()
        await engine.close()


async def test_engine_unreachable_is_a_clear_unavailable(tmp_path: Path) -> None:
    dead = f"unix://{tmp_path}/no-engine.sock"
    engine = DockerEngine(environ={"DOCKER_HOST": dead})
    client = DockerClient(new_id(), minimal_server_spec(), engine=engine)
    with pytest.raises(ProviderUnavailable, match=f"Docker engine not reachable at {dead}"):
        await client.start()
    assert not client.alive
    await engine.close()


async def test_bad_definitions_fail_start_and_leave_nothing(docker_api: docker.APIClient) -> None:
    engine = DockerEngine()
    try:
        pid = new_id()
        client = DockerClient(pid, minimal_server_spec(volumes=["no-container-path"]), engine=engine)
        with pytest.raises(ProviderUnavailable, match="invalid volume"):
            await client.start()

        pid = new_id()
        spec = minimal_server_spec()
        missing = type(spec)(image="hangar-test-no-such-image:1", command=spec.command)
        client = DockerClient(pid, missing, engine=engine)
        with pytest.raises(ProviderUnavailable, match="hangar-test-no-such-image"):
            await client.start()
        assert containers_of(docker_api, pid) == []

        pid = new_id()
        nocmd = type(spec)(image=IMAGE, command=["/no/such/binary"])
        client = DockerClient(pid, nocmd, engine=engine)
        with pytest.raises(ProviderUnavailable, match="docker could not run"):
            await client.start()
        assert containers_of(docker_api, pid) == []

        # A server that dies before answering: start says how, with its last stderr line.
        pid = new_id()
        dies = type(spec)(image=IMAGE, command=["python3", "-c", "import sys; sys.exit('bad config: no token')"])
        client = DockerClient(pid, dies, engine=engine)
        with pytest.raises(ProviderUnavailable, match="exited with code 1; last stderr: bad config: no token"):
            await client.start()
        assert containers_of(docker_api, pid) == []
    finally:
        await engine.close()


async def test_server_that_ignores_stdin_eof_is_stopped(docker_api: docker.APIClient) -> None:
    engine = DockerEngine()
    pid = new_id()
    # Never answers initialize and never exits by itself: start times out, close must stop it.
    stubborn = minimal_server_spec()
    spec = type(stubborn)(image=IMAGE, command=["python3", "-c", "import time; time.sleep(300)"])
    client = DockerClient(pid, spec, engine=engine, start_timeout_s=1.0, stop_grace_s=0.3, stop_timeout_s=1)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="failed to initialise"):
        await client.start()
    assert time.monotonic() - started < 10
    assert containers_of(docker_api, pid) == []
    await engine.close()


async def test_cancelled_start_leaves_no_container(docker_api: docker.APIClient) -> None:
    engine = DockerEngine()
    pid = new_id()
    client = DockerClient(pid, sdk_server_spec(), engine=engine)
    task = asyncio.ensure_future(client.start())
    assert await wait_for(lambda: containers_of(docker_api, pid) != [])
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await client.close()
    assert containers_of(docker_api, pid) == []
    await engine.close()


def _spawn_owner(provider_id: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.docker.owner_process", provider_id],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)


async def test_killed_owner_leaves_an_exited_container_that_is_swept(docker_api: docker.APIClient) -> None:
    doomed, survivor = new_id(), new_id()
    owners = {pid: _spawn_owner(pid) for pid in (doomed, survivor)}
    try:
        names = {pid: await asyncio.to_thread(p.stdout.readline) for pid, p in owners.items()}  # type: ignore[union-attr]
        assert all(n.strip() for n in names.values()), names
        owners[doomed].send_signal(signal.SIGKILL)
        owners[doomed].wait(10)

        # Its socket died with it, closing the container's stdin (StdinOnce): the server exits.
        # (Gone already also counts: any other Hangar on this host may have swept it first.)
        def exited() -> bool:
            return all(c["State"] == "exited" for c in containers_of(docker_api, doomed))

        assert await wait_for(exited, within=15)
        # The next Hangar sweeps what a dead owner left, and only that.
        engine = DockerEngine()
        await engine.api()
        await engine.wait_swept()
        assert containers_of(docker_api, doomed) == []
        [alive] = containers_of(docker_api, survivor)
        assert alive["State"] == "running"
        await engine.close()
    finally:
        for p in owners.values():
            if p.poll() is None:
                p.kill()
                p.wait(10)
        for pid in (doomed, survivor):
            for c in containers_of(docker_api, pid):
                docker_api.remove_container(c["Id"], force=True)
