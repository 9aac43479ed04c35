"""Shared helpers for runtime tests: fixture servers as real subprocesses, /proc inspection."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from hangar.runtime import HttpClient, StdioClient
from hangar.runtime.process import group_members

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STDIO_SERVER = [sys.executable, str(FIXTURES / "stdio_server.py")]
HTTP_SERVER = [sys.executable, str(FIXTURES / "http_server.py")]
MINIMAL_SERVER = [sys.executable, "-S", str(FIXTURES / "minimal_stdio_server.py")]
REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_state(pid: int) -> str | None:
    """The /proc state letter of ``pid``, or None when it no longer exists."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rfind(b")") + 2 :].split()[0].decode()


def is_gone(pid: int) -> bool:
    """Dead: no /proc entry, or a zombie (this sandbox's init never reaps orphans)."""
    return proc_state(pid) in (None, "Z")


def live_group(pgid: int) -> list[int]:
    return group_members(pgid)


def count_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0, interval_s: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            return predicate()
        await asyncio.sleep(interval_s)
    return True


StdioFactory = Callable[..., Awaitable[StdioClient]]


@pytest.fixture
async def stdio_client() -> AsyncIterator[StdioFactory]:
    """Factory: ``await stdio_client(env={...})`` starts a client on the SDK stdio fixture."""
    clients: list[StdioClient] = []

    async def make(provider_id: str = "fixture", start: bool = True, **kwargs: Any) -> StdioClient:
        command = kwargs.pop("command", STDIO_SERVER)
        client = StdioClient(provider_id, command, **kwargs)
        clients.append(client)
        if start:
            await client.start()
        return client

    yield make
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


class HttpFixture:
    """The SDK HTTP fixture as a subprocess on a fixed port, so it can be restarted in place."""

    def __init__(self, *extra_args: str) -> None:
        self.port = free_port()
        self.extra_args = list(extra_args)
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        path = "/sse" if "sse" in self.extra_args else "/mcp"
        return f"http://127.0.0.1:{self.port}{path}"

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *HTTP_SERVER,
            "--port",
            str(self.port),
            *self.extra_args,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        assert line.startswith(b"READY"), line

    async def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.kill()
        await proc.wait()

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@pytest.fixture
async def http_fixture() -> AsyncIterator[Callable[..., Awaitable[HttpFixture]]]:
    servers: list[HttpFixture] = []

    async def make(*extra_args: str) -> HttpFixture:
        server = HttpFixture(*extra_args)
        servers.append(server)
        await server.start()
        return server

    yield make
    for server in servers:
        await server.stop()


HttpFactory = Callable[..., Awaitable[HttpClient]]


@pytest.fixture
async def http_client() -> AsyncIterator[HttpFactory]:
    clients: list[HttpClient] = []

    async def make(endpoint: str, **kwargs: Any) -> HttpClient:
        client = HttpClient("remote", endpoint, **kwargs)
        clients.append(client)
        await client.start()
        return client

    yield make
    for client in clients:
        await client.close()
