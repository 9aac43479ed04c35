"""The attach-stream demultiplexer over a real socket pair (the engine's side written by hand in
its wire format: 8-byte header, stream type 1 = stdout / 2 = stderr, big-endian length).

Each test runs on both asyncio's loop and uvloop (see ``conftest.pytest_asyncio_loop_factories``):
``hangar serve`` runs on uvloop, whose transports are not asyncio's classes."""

from __future__ import annotations

import asyncio
import socket
import struct

from hangar.runtime.docker_stream import STDERR, STDOUT, AttachProtocol, LineSplitter


def frame(kind: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxI", kind, len(payload)) + payload


class Collected:
    def __init__(self) -> None:
        self.lines: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        self.overflows: list[str] = []
        self.closed = 0

    def count_close(self) -> None:
        self.closed += 1

    def splitter(self, name: str, limit: int = 1024) -> LineSplitter:
        return LineSplitter(self.lines[name].append, lambda _limit: self.overflows.append(name), limit)


async def connect(c: Collected, limit: int = 1024) -> tuple[AttachProtocol, socket.socket]:
    ours, engine = socket.socketpair()
    ours.setblocking(False)
    proto = AttachProtocol(c.splitter("stdout", limit), c.splitter("stderr", limit), c.count_close)
    await asyncio.get_running_loop().connect_accepted_socket(lambda: proto, sock=ours)
    return proto, engine


async def test_frames_split_anywhere_and_lines_spanning_frames() -> None:
    c = Collected()
    proto, engine = await connect(c)
    wire = (
        frame(STDOUT, b'{"a":1}\n{"b"')
        + frame(STDERR, b"warn one\nwarn ")
        + frame(STDOUT, b":2}\n")
        + frame(0, b"stdin echo is ignored\n")
        + frame(STDERR, b"two\r\n")
        + frame(STDOUT, b"")
    )
    # Byte by byte for the first part: headers and payloads cut at every possible offset.
    for i in range(40):
        engine.sendall(wire[i : i + 1])
        await asyncio.sleep(0)
    engine.sendall(wire[40:])
    engine.sendall(frame(STDOUT, b"last line without newline"))
    engine.close()
    await asyncio.wait_for(proto.closed.wait(), 5)
    assert c.lines["stdout"] == [b'{"a":1}', b'{"b":2}', b"last line without newline"]
    assert c.lines["stderr"] == [b"warn one", b"warn two\r"]
    assert c.closed == 1 and not proto.open


async def test_oversized_line_is_dropped_and_framing_resyncs() -> None:
    c = Collected()
    proto, engine = await connect(c, limit=16)
    engine.sendall(frame(STDOUT, b"x" * 10) + frame(STDOUT, b"y" * 10) + frame(STDOUT, b"zz\nok\n"))
    engine.sendall(frame(STDERR, b"e" * 40 + b"\nfine\n"))
    engine.close()
    await asyncio.wait_for(proto.closed.wait(), 5)
    assert c.lines["stdout"] == [b"ok"]
    assert c.lines["stderr"] == [b"fine"]
    assert c.overflows == ["stdout", "stderr"]


async def test_writes_reach_the_engine_and_close_stdin_half_closes() -> None:
    c = Collected()
    proto, engine = await connect(c)
    proto.write(b'{"jsonrpc":"2.0"}\n')
    await proto.drain()
    proto.close_stdin()
    engine.setblocking(False)
    loop = asyncio.get_running_loop()
    received = b""
    while True:
        chunk = await loop.sock_recv(engine, 1024)
        if not chunk:
            break
        received += chunk
    assert received == b'{"jsonrpc":"2.0"}\n'
    # Our read side stays open after the half-close: the container's last output still arrives.
    await loop.sock_sendall(engine, frame(STDOUT, b"bye\n"))
    engine.close()
    await asyncio.wait_for(proto.closed.wait(), 5)
    assert c.lines["stdout"] == [b"bye"]
