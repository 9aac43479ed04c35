"""MCP over a container's stdin/stdout, through the Docker Engine API.

The container is created with stdin open (``StdinOnce``, no tty) and attached *before* it starts,
so not a byte of output is missed. The SDK hands back the hijacked attach connection; we take its
socket over with asyncio, so JSON-RPC never waits on a thread: frames are demultiplexed by
:mod:`hangar.runtime.docker_stream`, stdout lines resolve pending requests, stderr lines go to the
provider's log buffer. The attach stream ending is how a container exit is noticed: at once, not at
the next health check. Every other engine call (create, start, wait, stop, remove) is a blocking SDK
call on the engine's thread pool.

Because of ``StdinOnce``, a Hangar that dies however abruptly closes its containers' stdin with
its socket: a stdio MCP server then exits by itself, and the next Hangar sweeps the remains.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import jsonrpc
from .client import PROTOCOL_VERSION, NotificationHandler, ServerInfo
from .docker_engine import READ_ONLY_TMPFS, ContainerSpec, DockerEngine, parse_volume
from .docker_stream import AttachProtocol, LineSplitter
from .errors import ProviderCrashed, ProviderUnavailable
from .line_rpc import LineRpcClient
from .logs import LogBuffer
from .process import DEFAULT_STREAM_LIMIT

if TYPE_CHECKING:
    from docker import APIClient

log = logging.getLogger("hangar.runtime.docker")

# After the attach stream ends, how long to ask the engine for the exit code that explains it.
_EXIT_AFTER_EOF_S = 2.0


class DockerClient(LineRpcClient):
    _wire_name = "container stdin"

    """One provider container. ``start()`` creates, attaches, starts and initialises it;
    ``close()`` closes its stdin, stops it and removes it."""

    def __init__(
        self,
        provider_id: str,
        container: ContainerSpec,
        *,
        engine: DockerEngine,
        logs: LogBuffer | None = None,
        on_exit: Callable[[int | None], None] | None = None,
        on_notification: NotificationHandler | None = None,
        start_timeout_s: float = 30.0,
        stop_grace_s: float = 1.0,
        stop_timeout_s: int = 2,
        protocol_version: str = PROTOCOL_VERSION,
        line_limit: int = DEFAULT_STREAM_LIMIT,
    ) -> None:
        super().__init__(provider_id, protocol_version=protocol_version, on_notification=on_notification)
        self.container = container
        self._engine = engine
        self.logs = logs if logs is not None else LogBuffer(provider_id)
        self._on_exit = on_exit
        self._start_timeout_s = start_timeout_s
        self._stop_grace_s = stop_grace_s
        self._stop_timeout_s = stop_timeout_s
        self._line_limit = line_limit
        # Named up front so that close() can find the container even if create's answer was lost.
        self.container_name = f"hangar-{provider_id}-{uuid.uuid4().hex[:10]}"
        self.container_id: str | None = None
        self._created = False
        self._removed = False
        self._api: APIClient | None = None
        self._setup: asyncio.Task[socket.socket] | None = None
        self._proto: AttachProtocol | None = None
        self._pending = jsonrpc.PendingRequests()
        self._failure: ProviderCrashed | None = None
        self._state = "new"  # new -> running -> closed; a crash sets _failure while running
        self._started = False
        self._close_task: asyncio.Task[None] | None = None
        self._lost_task: asyncio.Task[None] | None = None
        self.exit_code: int | None = None

    # --- public surface ------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self._state == "running" and self._failure is None

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    async def start(self) -> ServerInfo:
        if self._state != "new":
            raise RuntimeError(f"DockerClient for {self.provider_id} cannot be started twice")
        self._state = "running"
        try:
            binds = [parse_volume(v) for v in self.container.volumes]
            self._api = api = await self._engine.api()
            await self._engine.wait_swept()
            # A task of its own: if our caller is cancelled mid-way, close() still learns what
            # was created and removes it.
            self._setup = asyncio.get_running_loop().create_task(
                self._engine.run(self._create_attach_start, api, binds), name=f"hangar-docker-{self.provider_id}"
            )
            raw = await asyncio.shield(self._setup)
            await self._connect(raw)
            info = await self._handshake(self._start_timeout_s)
        except BaseException as exc:
            await self._abort_start(exc)
        self._started = True
        return info

    # --- engine calls (blocking, on the engine's threads) --------------------------------------

    def _create_attach_start(self, api: APIClient, binds: list[str]) -> socket.socket:
        from docker.errors import APIError, DockerException, ImageNotFound

        spec = self.container
        host_config = api.create_host_config(
            binds=binds or None,
            network_mode=spec.network or "none",
            read_only=spec.read_only,
            tmpfs=dict(READ_ONLY_TMPFS) if spec.read_only else None,
        )

        def create() -> dict[str, Any]:
            created: dict[str, Any] = api.create_container(
                spec.image,
                command=list(spec.command) if spec.command else None,
                stdin_open=True,  # with detach=False the SDK also sets StdinOnce and attaches stdio
                tty=False,
                environment=dict(spec.env),
                labels=self._engine.labels(self.provider_id),
                name=self.container_name,
                host_config=host_config,
            )
            return created

        try:
            try:
                created = create()
            except ImageNotFound:
                # What `docker run` does; with no registry reachable this fails fast and says so.
                try:
                    api.pull(spec.image)
                except DockerException as exc:
                    raise ProviderUnavailable(
                        f"image {spec.image!r} is not present on the engine and could not be pulled: "
                        f"{_explain(exc)}"
                    ) from exc
                created = create()
            self.container_id = created["Id"]
            self._created = True
            sdk_sock = api.attach_socket(
                self.container_name, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            )
            raw = _take_socket(sdk_sock, self._engine.url)
            try:
                api.start(self.container_name)
            except BaseException:
                raw.close()
                raise
            return raw
        except ProviderUnavailable:
            raise
        except APIError as exc:
            raise ProviderUnavailable(f"docker could not run {spec.image!r}: {_explain(exc)}") from exc
        except Exception as exc:  # DockerException, or requests' own connection errors
            raise self._engine.unreachable(exc) from exc

    def _exit_code(self, api: APIClient) -> int | None:
        try:
            status = api.wait(self.container_name, timeout=_EXIT_AFTER_EOF_S)
            code = status.get("StatusCode")
            return int(code) if code is not None else None
        except Exception:
            return None

    def _stop_and_remove(self, api: APIClient, exited: bool) -> None:
        from docker.errors import NotFound

        if not exited:
            with contextlib.suppress(NotFound):
                api.stop(self.container_name, timeout=self._stop_timeout_s)
        with contextlib.suppress(NotFound):
            api.remove_container(self.container_name, v=True, force=True)
        self._removed = True

    # --- wiring the attach socket into the event loop ------------------------------------------

    async def _connect(self, raw: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        stdout = LineSplitter(self._on_stdout_line, self._overflow("stdout"), self._line_limit)
        stderr = LineSplitter(self._on_stderr_line, self._overflow("stderr"), self._line_limit)
        proto = AttachProtocol(stdout, stderr, self._connection_lost)
        try:
            await loop.connect_accepted_socket(lambda: proto, sock=raw)
        except BaseException:
            raw.close()
            raise
        self._proto = proto

    def _overflow(self, stream: str) -> Callable[[int], None]:
        def dropped(limit: int) -> None:
            self.logs.append(f"<dropped {stream} line over {limit} bytes>", stream)

        return dropped

    def _on_stderr_line(self, line: bytes) -> None:
        self.logs.append(line.decode("utf-8", "replace").rstrip("\r"))

    # --- transport primitives ------------------------------------------------------------------

    def _wire_open(self) -> bool:
        proto = self._proto
        return proto is not None and proto.open

    def _write_line(self, data: bytes) -> None:
        assert self._proto is not None
        self._proto.write(data + b"\n")

    async def _drain(self) -> None:
        assert self._proto is not None
        await self._proto.drain()

    # --- exit handling -------------------------------------------------------------------------

    async def _handle_lost(self) -> None:
        api = self._api
        rc: int | None = None
        if api is not None:
            with contextlib.suppress(ProviderUnavailable):  # the engine client closing under us
                rc = await self._engine.run(self._exit_code, api)
        if self._state != "running":
            return
        self.exit_code = rc
        self._crashed(f": container exited with code {rc}" if rc is not None else ": container closed its output", rc)
        # Nobody calls close() on a crashed connection: leave no container behind ourselves.
        if api is not None:
            try:
                await self._engine.run(self._stop_and_remove, api, rc is not None)
            except Exception as exc:
                log.warning("could not remove container %s of %s: %s", self.container_name, self.provider_id, exc)
        self._tell_exit(rc)

    async def _close(self) -> None:
        was_running = self._state == "running"
        self._state = "closed"
        self._pending.fail_all(lambda: ProviderUnavailable(f"provider {self.provider_id} was stopped"))
        setup = self._setup
        if setup is not None:
            # Let an interrupted create/attach/start finish so its container can be removed.
            await asyncio.wait([setup])
            if self._proto is None and not setup.cancelled() and setup.exception() is None:
                setup.result().close()  # start() never got to take the socket over
        proto = self._proto
        exited = False
        if proto is not None:
            # A stdio server exits on stdin EOF; only a stubborn one needs stopping.
            proto.close_stdin()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(proto.closed.wait(), self._stop_grace_s)
                exited = True
            proto.abort()
        if self._lost_task is not None:
            # It may be mid-removal: let it finish rather than racing it.
            await asyncio.gather(self._lost_task, return_exceptions=True)
        if was_running and setup is not None and self._api is not None and not self._removed:
            # Even when create seemed to fail: it may have failed after the engine made it.
            try:
                await self._engine.run(self._stop_and_remove, self._api, exited)
            except Exception as exc:
                if self._created:
                    log.warning("could not remove container %s of %s: %s",
                                self.container_name, self.provider_id, exc)
        self.logs.close_subscribers()


def _take_socket(sdk_sock: Any, url: str) -> socket.socket:
    """A plain socket of our own for the hijacked connection, detached from the SDK's objects."""
    inner = getattr(sdk_sock, "_sock", sdk_sock)
    if type(inner) is not socket.socket:
        with contextlib.suppress(Exception):
            sdk_sock.close()
        raise ProviderUnavailable(
            f"docker mode needs a unix:// or plain tcp:// engine endpoint to attach stdio; {url} is not"
        )
    # dup(): the SDK's response object still owns (and will close) the original descriptor.
    raw = inner.dup()
    with contextlib.suppress(Exception):
        sdk_sock.close()
    response = getattr(sdk_sock, "_response", None)
    if response is not None:
        with contextlib.suppress(Exception):
            response.close()
    raw.setblocking(False)
    return raw


def _explain(exc: Exception) -> str:
    explanation = getattr(exc, "explanation", None)
    text = str(explanation or exc)
    return text if len(text) <= 500 else text[:500] + "..."
