"""JSON-RPC over a newline-delimited byte stream: the part a child's stdio and a container's
attach socket have in common.

A transport supplies three primitives (is the wire open, write one line, drain); requests,
notifications, cancellations, answers to the server's own requests and the dispatch of every
stdout line live here once.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Callable
from typing import Any, NoReturn

import msgspec

from hangar.app.call_relay import RelayRefused

from . import jsonrpc
from .client import BaseMcpClient
from .errors import CallTimeout, ProviderCrashed, ProviderUnavailable
from .logs import LogBuffer

log = logging.getLogger("hangar.runtime")


class LineRpcClient(BaseMcpClient):
    # Set by subclasses in __init__.
    logs: LogBuffer
    _pending: jsonrpc.PendingRequests
    _failure: ProviderCrashed | None
    _state: str
    _started: bool
    _on_exit: Callable[[Any], None] | None  # the exit code (None: unknown)
    _close_task: asyncio.Task[None] | None
    _lost_task: asyncio.Task[None] | None
    _wire_name = "stdin"
    """How a failed write is described ("stdin closed", "container stdin closed")."""

    @abc.abstractmethod
    def _wire_open(self) -> bool:
        """Whether a line can be written now."""

    @abc.abstractmethod
    def _write_line(self, data: bytes) -> None:
        """Write ``data`` plus a newline in one call, so concurrent writers never interleave."""

    @abc.abstractmethod
    async def _drain(self) -> None: ...

    @abc.abstractmethod
    async def _close(self) -> None:
        """Stop the server and release everything (runs once, see ``close``)."""

    @abc.abstractmethod
    async def _handle_lost(self) -> None:
        """The server went away on its own: record why, clean up, tell ``on_exit``."""

    # --- start, stop and loss, the same for a process and a container ----------------------------

    async def _abort_start(self, exc: BaseException) -> NoReturn:
        """A start that failed part-way: close what was set up, then raise (as unavailable)."""
        await self.close()
        if isinstance(exc, ProviderUnavailable | asyncio.CancelledError):
            raise exc
        raise ProviderUnavailable(f"provider {self.provider_id} failed to initialise: {exc}") from exc

    async def close(self) -> None:
        """Idempotent; concurrent callers share one stop sequence."""
        if self._close_task is None:
            self._close_task = asyncio.get_running_loop().create_task(self._close())
        # Shielded so that a cancelled caller cannot abandon a half-stopped process or container.
        await asyncio.shield(self._close_task)

    def _connection_lost(self) -> None:
        """The server's output ended or it exited, whichever is seen first; during close() a no-op."""
        if self._state != "running" or self._lost_task is not None:
            return
        self._lost_task = asyncio.get_running_loop().create_task(self._handle_lost())

    def _crashed(self, why: str, rc: int | None) -> None:
        """Fail every pending request with the crash, its last stderr line included."""
        last = self.logs.last_line("stderr")
        msg = f"provider {self.provider_id}{why}" + (f"; last stderr: {last}" if last else "")
        self._failure = failure = ProviderCrashed(msg, returncode=rc, last_stderr=last)
        self._pending.fail_all(failure.again)

    def _tell_exit(self, rc: int | None) -> None:
        # A failure during start() is reported by start() raising, not by on_exit as well.
        if self._on_exit is not None and self._started:
            try:
                self._on_exit(rc)
            except Exception:
                log.exception("on_exit callback failed for provider %s", self.provider_id)

    async def _request(self, method: str, params: Any, timeout_s: float) -> msgspec.Raw:
        if self._failure is not None:
            raise self._failure.again()
        if self._state != "running" or not self._wire_open():
            raise ProviderUnavailable(f"provider {self.provider_id} is not running")
        loop = asyncio.get_running_loop()
        rid, fut = self._pending.open(loop)
        try:
            self._write_line(jsonrpc.encode_request(rid, method, params))
            await self._drain()
        except (ConnectionError, RuntimeError) as exc:
            self._pending.discard(rid)
            if self._failure is not None:
                raise self._failure.again() from exc
            raise ProviderCrashed(f"provider {self.provider_id}: {self._wire_name} closed ({exc})") from exc
        try:
            return await jsonrpc.wait_response(loop, fut, method, timeout_s)
        except CallTimeout:
            self._cancel_remote(rid, f"timed out after {timeout_s:g}s")
            raise
        except asyncio.CancelledError:
            self._cancel_remote(rid, "caller cancelled")
            raise
        finally:
            self._pending.discard(rid)

    @property
    def _relayed(self) -> set[asyncio.Task[None]]:
        tasks: set[asyncio.Task[None]] | None = self.__dict__.get("_relayed_tasks")
        if tasks is None:
            tasks = self.__dict__["_relayed_tasks"] = set()
        return tasks

    async def _relay_server_request(self, env: jsonrpc.Envelope) -> None:
        """The provider asked something of its client: relay it, and always answer."""
        assert self.server_request_handler is not None and env.id is not None and env.method
        try:
            result = await self.server_request_handler(env.method, env.params)
        except RelayRefused as exc:
            self._send(jsonrpc.encode_error(env.id, exc.code, exc.message))
        except Exception as exc:
            self._send(jsonrpc.encode_error(env.id, jsonrpc.INTERNAL_ERROR, f"relay failed: {exc}"))
        else:
            self._send(jsonrpc.encode_result(env.id, result))

    async def _notify(self, method: str, params: Any = None) -> None:
        self._send(jsonrpc.encode_notification(method, params))

    def _send(self, data: bytes) -> None:
        if self._wire_open():
            self._write_line(data)

    def _cancel_remote(self, rid: int, reason: str) -> None:
        if self._state == "running" and self._failure is None:
            self._send(jsonrpc.encode_cancel(rid, reason))

    def _on_stdout_line(self, line: bytes) -> None:
        try:
            env = jsonrpc.decode_envelope(line)
        except msgspec.DecodeError:
            # Banners and stray prints: not fatal, but worth showing to the operator.
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            if text.strip():
                self.logs.append(text, "stdout")
            return
        if env.method is None:
            if not self._pending.resolve(env) and env.error is not None and self._state == "running":
                # An error nobody waits for (late, or id-less parse error): worth a trace.
                log.warning("provider %s error: %s", self.provider_id, env.error.message)
        elif env.id is not None:
            if self.server_request_handler is not None and env.method != "ping":
                task = asyncio.get_running_loop().create_task(self._relay_server_request(env))
                self._relayed.add(task)
                task.add_done_callback(self._relayed.discard)
                return
            result, error = jsonrpc.answer_server_request(env.method)
            if error is None:
                self._send(jsonrpc.encode_result(env.id, result))
            else:
                self._send(jsonrpc.encode_error(env.id, error.code, error.message))
        else:
            self._dispatch_notification(env.method, env.params)
