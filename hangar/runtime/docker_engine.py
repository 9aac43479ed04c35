"""Hangar's handle on one Docker engine, through the official ``docker`` SDK.

Every SDK call blocks (it is ``requests`` underneath), so each one runs on this engine's own small
thread pool: a slow engine can then never starve the event loop's default executor, which DNS and
other libraries share. The SDK is imported lazily, inside that pool, so a Hangar that never runs a
docker provider never pays for the import.

Containers carry two labels: ``hangar.provider=<id>`` and ``hangar.instance=<host>:<pid>:<start>``
(the owning Hangar process, with its start time so a recycled pid is not mistaken for it). A
Hangar killed with SIGKILL cannot remove its containers, so the next Hangar on the same host sweeps
every container whose owner process is gone.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import ProviderUnavailable

if TYPE_CHECKING:
    from docker import APIClient

log = logging.getLogger("hangar.runtime.docker")

T = TypeVar("T")

LABEL_PROVIDER = "hangar.provider"
LABEL_INSTANCE = "hangar.instance"
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
# Scratch space for servers that need it: the root filesystem stays read-only, as asked.
READ_ONLY_TMPFS = {"/tmp": "rw,nosuid,nodev,size=64m"}


@dataclass(frozen=True)
class ContainerSpec:
    """What to run: the docker-relevant slice of a provider definition."""

    image: str
    command: Sequence[str] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    volumes: Sequence[str] = ()
    network: str = "none"
    read_only: bool = True


def parse_volume(spec: str) -> str:
    """Validate ``host:container[:ro|rw]`` and return it in the engine's bind syntax."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise ProviderUnavailable(f"invalid volume {spec!r}: expected 'host:container[:ro]'")
    if not parts[1].startswith("/"):
        raise ProviderUnavailable(f"invalid volume {spec!r}: the container path must be absolute")
    mode = parts[2] if len(parts) == 3 else "rw"
    if mode not in ("ro", "rw"):
        raise ProviderUnavailable(f"invalid volume {spec!r}: mode must be 'ro' or 'rw'")
    return f"{parts[0]}:{parts[1]}:{mode}"


def _process_start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def instance_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{_process_start_time(os.getpid()) or '?'}"


def owner_gone(label: str, hostname: str) -> bool:
    """True when ``label`` names a Hangar process on this host that no longer exists."""
    try:
        host, pid_text, started = label.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != hostname:
        return False  # another machine's engine client: not ours to judge
    if started == "?":
        return not os.path.exists(f"/proc/{pid}")
    return _process_start_time(pid) != started


def engine_url(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def engine_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether an engine is plausibly there, so that a sweep at start is worth trying."""
    env = os.environ if environ is None else environ
    if env.get("DOCKER_HOST"):
        return True
    return os.path.exists(DEFAULT_DOCKER_HOST.removeprefix("unix://"))


class DockerEngine:
    """A lazily connected SDK client plus the thread pool its blocking calls run on."""

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        api_timeout_s: float = 30.0,
        max_workers: int = 8,
    ) -> None:
        self._environ = dict(os.environ if environ is None else environ)
        self.url = engine_url(self._environ)
        self._api_timeout_s = api_timeout_s
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers, thread_name_prefix="hangar-docker")
        self._api: APIClient | None = None
        self._connect_lock = asyncio.Lock()
        self._sweep_task: asyncio.Task[None] | None = None
        self._sweep_timer: asyncio.Task[None] | None = None
        self.instance = instance_label()
        self._closed = False

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._closed:
            raise ProviderUnavailable("the docker engine client is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def unreachable(self, exc: BaseException) -> ProviderUnavailable:
        return ProviderUnavailable(f"Docker engine not reachable at {self.url}: {_reason(exc)}")

    async def api(self) -> APIClient:
        """The SDK client, connecting (and sweeping leftovers) on first use.

        A failed connection is not cached: the engine may come up later, and the next start
        should find it.
        """
        if self._api is not None:
            return self._api
        async with self._connect_lock:
            if self._api is None:
                try:
                    self._api = await self.run(self._connect_blocking)
                except ProviderUnavailable:
                    raise
                except Exception as exc:
                    raise self.unreachable(exc) from exc
                self.sweep_soon()
        return self._api

    def _connect_blocking(self) -> APIClient:
        import docker  # lazy on purpose: see the module docstring

        kwargs = docker.utils.kwargs_from_env(environment=self._environ)
        api = docker.APIClient(version="auto", timeout=self._api_timeout_s, **kwargs)
        api.ping()
        return api

    # --- leftovers ------------------------------------------------------------------------------

    def sweep_later(self, delay_s: float) -> None:
        """At Hangar start: connect and sweep once startup is over, unless a start did already."""
        if self._sweep_timer is None and not self._closed:
            self._sweep_timer = asyncio.get_running_loop().create_task(
                self._sweep_after(delay_s), name="hangar-docker-sweep-timer"
            )

    async def _sweep_after(self, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        with contextlib.suppress(Exception):
            await self.api()  # the first connection triggers the sweep
            await self.wait_swept()

    def sweep_soon(self) -> None:
        """Remove orphaned containers in the background; never delays or fails a caller."""
        if self._sweep_task is None and not self._closed:
            self._sweep_task = asyncio.get_running_loop().create_task(self._sweep(), name="hangar-docker-sweep")

    async def wait_swept(self) -> None:
        if self._sweep_task is not None:
            await asyncio.shield(self._sweep_task)

    async def _sweep(self) -> None:
        try:
            api = await self.api()
            removed = await self.run(self._sweep_blocking, api)
        except Exception as exc:
            log.debug("docker sweep skipped: %s", exc)
            return
        if removed:
            log.warning("removed %d container(s) left behind by a Hangar that is gone: %s",
                        len(removed), ", ".join(removed))

    def _sweep_blocking(self, api: APIClient) -> list[str]:
        hostname = socket.gethostname()
        removed: list[str] = []
        for c in api.containers(all=True, filters={"label": LABEL_INSTANCE}):
            owner = (c.get("Labels") or {}).get(LABEL_INSTANCE, "")
            if owner == self.instance or not owner_gone(owner, hostname):
                continue
            with contextlib.suppress(Exception):
                api.remove_container(c["Id"], force=True, v=True)
                removed.append((c.get("Names") or [c["Id"][:12]])[0].lstrip("/"))
        return removed

    def labels(self, provider_id: str) -> dict[str, str]:
        return {LABEL_PROVIDER: provider_id, LABEL_INSTANCE: self.instance}

    async def close(self) -> None:
        self._closed = True
        tasks = [t for t in (self._sweep_timer, self._sweep_task) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        api, self._api = self._api, None
        # Threads still inside a blocking call finish on their own; nothing waits for them.
        self._executor.shutdown(wait=False, cancel_futures=True)
        if api is not None:
            with contextlib.suppress(Exception):
                api.close()


def _reason(exc: BaseException) -> str:
    """The innermost useful message of an SDK/requests/urllib3 exception chain."""
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    for e in reversed(seen):
        if isinstance(e, OSError) and e.strerror:
            return e.strerror
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "..."
