"""The hijacked attach connection of a non-tty container, as an asyncio protocol.

Without a tty the engine multiplexes stdout and stderr on one connection: every frame is an
8-byte header (stream type, three zero bytes, big-endian payload length) followed by the payload.
A frame boundary says nothing about line boundaries, so each stream has its own line splitter.
What we write is the container's stdin, unframed; half-closing the connection closes that stdin
(the container is created with ``StdinOnce``).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import cast

STDOUT = 1
STDERR = 2
_HEADER = struct.Struct(">BxxxI")

LineSink = Callable[[bytes], None]
"""Receives one complete line without its newline."""
OverflowSink = Callable[[int], None]
"""Told that a line longer than the limit was dropped (with the limit)."""


class LineSplitter:
    """Bytes in, complete lines out; a line longer than ``limit`` is dropped, not buffered."""

    __slots__ = ("_buf", "_discarding", "_limit", "_on_line", "_on_overflow")

    def __init__(self, on_line: LineSink, on_overflow: OverflowSink, limit: int) -> None:
        self._buf = bytearray()
        self._on_line = on_line
        self._on_overflow = on_overflow
        self._limit = limit
        self._discarding = False

    def feed(self, data: bytes) -> None:
        start = 0
        n = len(data)
        while start < n:
            nl = data.find(b"\n", start)
            if nl < 0:
                if not self._discarding:
                    self._buf += data[start:]
                    if len(self._buf) > self._limit:
                        self._buf.clear()
                        self._discarding = True
                        self._on_overflow(self._limit)
                return
            if self._discarding:
                # The tail of an oversized line: resync at its newline.
                self._discarding = False
            elif self._buf:
                self._buf += data[start:nl]
                line = bytes(self._buf)
                self._buf.clear()
                self._emit(line)
            else:
                self._emit(data[start:nl])
            start = nl + 1

    def _emit(self, line: bytes) -> None:
        if len(line) > self._limit:
            self._on_overflow(self._limit)
        else:
            self._on_line(line)

    def flush(self) -> None:
        """At EOF: a last line without a newline still counts."""
        if self._buf and not self._discarding:
            line = bytes(self._buf)
            self._buf.clear()
            self._emit(line)


class AttachProtocol(asyncio.Protocol):
    """Demultiplexes frames into two line splitters and offers ``write``/``drain``/``close_stdin``."""

    def __init__(self, stdout: LineSplitter, stderr: LineSplitter, on_closed: Callable[[], None]) -> None:
        self._splitters = {STDOUT: stdout, STDERR: stderr}
        self._on_closed = on_closed
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None
        self._write_resumed: asyncio.Event | None = None
        self.closed = asyncio.Event()

    # --- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: uvloop's transports do not subclass asyncio's.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        view = memoryview(buf)
        pos, end = 0, len(buf)
        try:
            while end - pos >= 8:
                kind, size = _HEADER.unpack_from(buf, pos)
                if end - pos - 8 < size:
                    break
                splitter = self._splitters.get(kind)
                if splitter is not None:  # stdin echo (0) or unknown types are skipped
                    splitter.feed(bytes(view[pos + 8 : pos + 8 + size]))
                pos += 8 + size
        finally:
            view.release()
        if pos:
            del buf[:pos]

    def eof_received(self) -> bool:
        return False  # the engine closed its side: the container's output is over

    def connection_lost(self, exc: Exception | None) -> None:
        for splitter in self._splitters.values():
            splitter.flush()
        self._transport = None
        if self._write_resumed is not None:
            self._write_resumed.set()
        self.closed.set()
        self._on_closed()

    def pause_writing(self) -> None:
        self._write_resumed = asyncio.Event()

    def resume_writing(self) -> None:
        if self._write_resumed is not None:
            self._write_resumed.set()
            self._write_resumed = None

    # --- our side --------------------------------------------------------------------------------

    @property
    def open(self) -> bool:
        t = self._transport
        return t is not None and not t.is_closing()

    def write(self, data: bytes) -> None:
        t = self._transport
        if t is None or t.is_closing():
            raise ConnectionResetError("attach connection closed")
        t.write(data)

    async def drain(self) -> None:
        waiter = self._write_resumed
        if waiter is not None:
            await waiter.wait()
        if self._transport is None:
            raise ConnectionResetError("attach connection closed")

    def close_stdin(self) -> None:
        t = self._transport
        if t is not None and not t.is_closing() and t.can_write_eof():
            t.write_eof()

    def abort(self) -> None:
        t = self._transport
        if t is not None:
            t.abort()
