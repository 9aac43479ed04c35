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
from typing import Any

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
