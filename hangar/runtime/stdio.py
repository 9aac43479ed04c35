"""MCP over a subprocess's stdin/stdout, speaking newline-delimited JSON-RPC directly.

Per call the hot path is: encode one struct, one ``write`` to the pipe, one future resolved by
the stdout reader from an envelope-only decode. The SDK client's stream/task machinery is
bypassed on purpose; compatibility is proven against servers built with the SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence

from . import jsonrpc
from .client import PROTOCOL_VERSION, NotificationHandler, ServerInfo
from .errors import ProviderCrashed, ProviderUnavailable
from .line_rpc import LineRpcClient
from .logs import LogBuffer
from .process import DEFAULT_STREAM_LIMIT, ProviderProcess, build_env
from .reaper import ProcessReaper

log = logging.getLogger("hangar.runtime.stdio")

# After the child is reaped, how long to let the readers drain what is already in the pipes
# (the final response, the last stderr line). A grandchild holding a pipe open caps this wait.
_DRAIN_AFTER_EXIT_S = 0.2
# After stdout hits EOF, how long to wait for the exit code that explains it.
_EXIT_AFTER_EOF_S = 0.5


class StdioClient(LineRpcClient):
    """One provider process. ``start()`` spawns and initialises; ``close()`` stops the group.

    ``env`` is the provider's own environment, laid over PATH/HOME/LANG only. ``logs`` may be a
    buffer the caller keeps across restarts of the same provider (its subscribers then survive
    ``close()``); by default the client makes its own. ``on_exit(returncode)`` fires once when
    the process dies on its own after a successful start (negative = killed by that signal);
    not for a ``close()``, and not during ``start()``, which raises instead.
    """

    def __init__(
        self,
        provider_id: str,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        logs: LogBuffer | None = None,
        reaper: ProcessReaper | None = None,
        on_exit: Callable[[int], None] | None = None,
        on_notification: NotificationHandler | None = None,
        start_timeout_s: float = 30.0,
        stop_grace_s: float = 2.0,
        stop_term_timeout_s: float = 2.0,
        protocol_version: str = PROTOCOL_VERSION,
        stream_limit: int = DEFAULT_STREAM_LIMIT,
    ) -> None:
        super().__init__(provider_id, protocol_version=protocol_version, on_notification=on_notification)
        self.command = list(command)
        self._env = build_env(env)
        self._cwd = cwd
        self._owns_logs = logs is None
        self.logs = logs if logs is not None else LogBuffer(provider_id)
        self._reaper = reaper
        self._on_exit = on_exit
        self._start_timeout_s = start_timeout_s
        self._stop_grace_s = stop_grace_s
        self._stop_term_timeout_s = stop_term_timeout_s
        self._stream_limit = stream_limit
        self._proc: ProviderProcess | None = None
        self._pending = jsonrpc.PendingRequests()
        self._tasks: list[asyncio.Task[None]] = []
        self._stdout_done: asyncio.Event | None = None
        self._stderr_done: asyncio.Event | None = None
        self._failure: ProviderCrashed | None = None
        self._state = "new"  # new -> running -> closed; a crash sets _failure while running
        self._started = False
        self._close_task: asyncio.Task[None] | None = None
        self._lost_task: asyncio.Task[None] | None = None

    # --- public surface ------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        proc = self._proc
        if proc is None or proc.exited.done():
            return False
        return self._state == "running" and self._failure is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def pgid(self) -> int | None:
        return self._proc.pgid if self._proc else None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc else None

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    async def start(self) -> ServerInfo:
        if self._state != "new":
            raise RuntimeError(f"StdioClient for {self.provider_id} cannot be started twice")
        self._state = "running"
        self._proc = proc = await self._spawn()
        if self._reaper is not None:
            self._reaper.track(proc.pgid)
        loop = asyncio.get_running_loop()
        self._stdout_done, self._stderr_done = asyncio.Event(), asyncio.Event()
        self._tasks = [
            loop.create_task(self._read_stdout(proc.stdout), name=f"hangar-stdout-{self.provider_id}"),
            loop.create_task(self._read_stderr(proc.stderr), name=f"hangar-stderr-{self.provider_id}"),
        ]
        proc.exited.add_done_callback(lambda _: self._connection_lost())
        try:
            info = await self._handshake(self._start_timeout_s)
        except BaseException as exc:
            await self._abort_start(exc)
        self._started = True
        return info

    # --- transport primitives ------------------------------------------------------------------

    def _wire_open(self) -> bool:
        proc = self._proc
        return proc is not None and not proc.stdin.is_closing()

    def _write_line(self, data: bytes) -> None:
        # StreamWriter.write is synchronous: one call per message never interleaves.
        assert self._proc is not None
        self._proc.stdin.write(data + b"\n")

    async def _drain(self) -> None:
        assert self._proc is not None
        await self._proc.stdin.drain()

    # --- readers -------------------------------------------------------------------------------

    async def _read_stdout(self, stream: asyncio.StreamReader) -> None:
        try:
            while True:
                try:
                    line = await stream.readline()
                except ValueError:
                    # Longer than the stream limit: the framing resyncs at the next newline.
                    self.logs.append(f"<dropped stdout line over {self._stream_limit} bytes>", "stdout")
                    continue
                if not line:
                    return
                self._on_stdout_line(line)
        except (ConnectionError, OSError) as exc:
            log.debug("stdout of %s failed: %s", self.provider_id, exc)
        finally:
            assert self._stdout_done is not None
            self._stdout_done.set()
            self._connection_lost()

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        append = self.logs.append
        try:
            while True:
                try:
                    line = await stream.readline()
                except ValueError:
                    append(f"<dropped stderr line over {self._stream_limit} bytes>")
                    continue
                if not line:
                    return
                append(line.decode("utf-8", "replace").rstrip("\r\n"))
        except (ConnectionError, OSError) as exc:
            log.debug("stderr of %s failed: %s", self.provider_id, exc)
        finally:
            assert self._stderr_done is not None
            self._stderr_done.set()

    # --- exit handling -------------------------------------------------------------------------

    async def _handle_lost(self) -> None:
        proc = self._proc
        assert proc is not None and self._stdout_done is not None and self._stderr_done is not None
        await proc.wait_exit(_EXIT_AFTER_EOF_S)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(_both(self._stdout_done, self._stderr_done), _DRAIN_AFTER_EXIT_S)
        if self._state != "running":
            return
        rc = proc.returncode
        self._crashed(f" exited with code {rc}" if rc is not None else " closed its stdout", rc)
        # Either the leader is gone and whatever it forked is orphaned with no one to stop it,
        # or it closed stdout and can never answer again: both ways the group has to go.
        proc.kill_group()
        if rc is None and await proc.wait_exit(_EXIT_AFTER_EOF_S):
            rc = proc.returncode
        if self._reaper is not None and rc is not None:
            self._reaper.untrack(proc.pgid)
        if rc is not None and self._state == "running":
            self._tell_exit(rc)

    async def _close(self) -> None:
        proc = self._proc
        was_running = self._state == "running"
        self._state = "closed"
        self._pending.fail_all(lambda: ProviderUnavailable(f"provider {self.provider_id} was stopped"))
        if proc is not None and was_running:
            try:
                await proc.stop(self._stop_grace_s, self._stop_term_timeout_s)
            finally:
                if self._reaper is not None:
                    self._reaper.untrack(proc.pgid)
        tasks = [*self._tasks, *([self._lost_task] if self._lost_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._owns_logs:
            self.logs.close_subscribers()

    async def _spawn(self) -> ProviderProcess:
        try:
            return await ProviderProcess.spawn(
                self.command, env=self._env, cwd=self._cwd, limit=self._stream_limit
            )
        except ProviderUnavailable:
            self._state = "closed"
            raise


async def _both(a: asyncio.Event, b: asyncio.Event) -> None:
    await a.wait()
    await b.wait()
