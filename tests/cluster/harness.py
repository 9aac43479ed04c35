"""Several ``hangar serve`` replicas on one fresh PostgreSQL schema, and a round-robin proxy.

Enabled by ``HANGAR_TEST_PG_URL``; every test module using it gets its own schema (dropped at
the end) and kills every process it started.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.store.conftest import pg_execute
from tests.support import HangarProcess, free_port, keep_providers_cold

PG_URL = os.environ.get("HANGAR_TEST_PG_URL", "")
needs_pg = pytest.mark.skipif(not PG_URL, reason="set HANGAR_TEST_PG_URL to run replicas on PostgreSQL")

# Short TTLs keep failover tests quick; production defaults are several seconds.
FAST_CLUSTER = """
cluster:
  heartbeat_s: 0.25
  instance_ttl_s: 1.5
  leader_ttl_s: 1.5
  provider_lease_ttl_s: 1.5
"""


@contextmanager
def pg_schema() -> Iterator[str]:
    schema = f"hangar_cluster_{uuid.uuid4().hex[:10]}"
    asyncio.run(pg_execute(PG_URL, f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"
    finally:
        asyncio.run(pg_execute(PG_URL, f"DROP SCHEMA {schema} CASCADE"))


class Cluster:
    """Replicas sharing one database, config and cluster token."""

    def __init__(self, workdir: Path, db_url: str, config: str, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.db_url = db_url
        self.config = workdir / "hangar.yaml"
        self.config.write_text(config)
        # Written once here: replicas start side by side and must not each edit the shared file.
        keep_providers_cold(self.config)
        self.env = {"HANGAR_CLUSTER_TOKEN": secrets.token_urlsafe(24), **(env or {})}
        self.replicas: list[HangarProcess] = []

    def new_replica(self) -> HangarProcess:
        proc = HangarProcess(self.workdir, config=self.config, db_url=self.db_url, env=dict(self.env), discover=True)
        proc.env["HANGAR_ADVERTISE_URL"] = proc.base
        return proc

    def start(self, n: int) -> list[HangarProcess]:
        """Side by side: one migrates the schema while the others wait on its lock."""
        procs = [self.new_replica() for _ in range(n)]
        self.replicas += procs
        with ThreadPoolExecutor(n) as pool:
            list(pool.map(lambda p: p.start(), procs))
        return procs

    def add(self) -> HangarProcess:
        proc = self.new_replica().start()
        self.replicas.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.replicas:
            proc.stop()


def cluster_info(proc: HangarProcess, headers: dict[str, str] | None = None) -> dict[str, Any]:
    r = httpx.get(proc.base + "/api/cluster", headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    info: dict[str, Any] = r.json()
    return info


def wait_front_door(proc: HangarProcess, headers: dict[str, str] | None = None, timeout: float = 30) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(proc.base + "/mcp", headers=headers, timeout=5).status_code != 503:
            return
        time.sleep(0.05)
    raise AssertionError("the MCP front door did not start")


class RoundRobinProxy:
    """An HTTP proxy sending each request to the next replica in turn (no session affinity),
    streaming bodies both ways so that an MCP GET stream stays open through it."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self._next = itertools.cycle(range(len(backends)))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.served: list[int] = [0] * len(backends)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    async def _app(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        i = next(self._next)
        self.served[i] += 1
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k not in (b"host", b"content-length")]
        query = scope["query_string"].decode()
        url = self.backends[i] + scope["path"] + (f"?{query}" if query else "")
        async with httpx.AsyncClient(timeout=httpx.Timeout(None, connect=5)) as client:
            request = client.build_request(scope["method"], url, headers=headers, content=body)
            response = await client.send(request, stream=True)
            try:
                out = [(k, v) for k, v in response.headers.raw
                       if k.lower() not in (b"content-length", b"transfer-encoding", b"connection")]
                await send({"type": "http.response.start", "status": response.status_code, "headers": out})
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            finally:
                await response.aclose()

    def start(self) -> RoundRobinProxy:
        import time

        import uvicorn

        config = uvicorn.Config(self._app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", loop="asyncio", interface="asgi3")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(10)
