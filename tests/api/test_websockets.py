"""WebSocket streams over a real connection to a running server."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from pathlib import Path

import httpx
import websockets

from tests.support import HangarProcess


def ws_url(hangar: HangarProcess, path: str) -> str:
    return hangar.base.replace("http://", "ws://") + path


async def recv_json(ws: websockets.ClientConnection, wait_s: float = 5) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), wait_s))


def test_events_stream_frames_are_flat(hangar: HangarProcess) -> None:
    async def scenario() -> None:
        pid = f"ws-{uuid.uuid4().hex[:6]}"
        async with websockets.connect(ws_url(hangar, "/api/ws/events")) as ws:
            await ws.send(json.dumps({"provider_ids": [pid]}))
            ack = await recv_json(ws)
            assert ack == {"filter": {"event_types": None, "provider_ids": [pid]}}
            async with httpx.AsyncClient(base_url=hangar.base) as api:
                await api.post("/api/providers", json={"provider_id": pid, "mode": "docker", "image": "a:1"})
                await api.put(f"/api/providers/{pid}", json={"description": "d"})
            first = await recv_json(ws)
            assert first["event_type"] == "ProviderRegistered"
            assert first["provider_id"] == pid and first["stream_id"] == f"provider:{pid}"
            assert {"event_id", "position", "recorded_at", "spec"} <= set(first)
            second = await recv_json(ws)
            assert second["event_type"] == "ProviderUpdated" and second["position"] > first["position"]

    asyncio.run(scenario())


def test_event_type_filter_and_bad_filter(hangar: HangarProcess) -> None:
    async def scenario() -> None:
        pid = f"ws-{uuid.uuid4().hex[:6]}"
        async with websockets.connect(ws_url(hangar, "/api/ws/events")) as ws:
            await ws.send("not json")
            err = await recv_json(ws)
            assert err["error"] == "ValidationError" and err["status_code"] == 422
            await ws.send(json.dumps({"event_types": ["ProviderDeregistered"], "provider_ids": [pid]}))
            await recv_json(ws)
            async with httpx.AsyncClient(base_url=hangar.base) as api:
                await api.post("/api/providers", json={"provider_id": pid, "mode": "docker", "image": "a:1"})
                await api.delete(f"/api/providers/{pid}")
            frame = await recv_json(ws)
            assert frame["event_type"] == "ProviderDeregistered" and frame["provider_id"] == pid

    asyncio.run(scenario())


def test_state_stream_only_carries_state_changes(hangar: HangarProcess) -> None:
    """A failing start changes state twice (cold → initializing → dead); the state stream
    carries exactly those two frames and none of the other events the start records."""

    async def scenario() -> None:
        pid = f"st-{uuid.uuid4().hex[:6]}"
        async with websockets.connect(ws_url(hangar, "/api/ws/state")) as ws:
            # Widening the filter beyond state changes is not possible on this stream.
            await ws.send(json.dumps({"event_types": ["ProviderRegistered", "ProviderStateChanged"],
                                      "provider_ids": [pid]}))
            await recv_json(ws)
            async with httpx.AsyncClient(base_url=hangar.base, timeout=30) as api:
                await api.post("/api/providers", json={"provider_id": pid, "mode": "subprocess",
                                                       "command": ["/nonexistent/provider-binary"]})
                assert (await api.post(f"/api/providers/{pid}/start")).status_code == 503
            frames = [await recv_json(ws), await recv_json(ws)]
            assert [(f["event_type"], f["old_state"], f["new_state"]) for f in frames] == [
                ("ProviderStateChanged", "cold", "initializing"),
                ("ProviderStateChanged", "initializing", "dead"),
            ]
            try:
                extra = await recv_json(ws, wait_s=0.5)
            except TimeoutError:
                return
            raise AssertionError(f"unexpected frame on the state stream: {extra}")

    asyncio.run(scenario())


def test_slow_client_is_dropped_and_others_keep_up(tmp_path: Path) -> None:
    """A client that stops reading is closed with 1013 while a reading client gets every frame.

    Payloads are random so that permessage-deflate cannot shrink them, and the slow client's
    socket has a tiny receive buffer, so the server's send path really backs up.
    """
    cfg = tmp_path / "hangar.yaml"
    cfg.write_text("websocket:\n  queue_size: 20\n")
    hangar = HangarProcess(tmp_path, config=cfg).start()
    n = 400

    async def scenario() -> None:
        url = ws_url(hangar, "/api/ws/events")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", hangar.port))
        sock.setblocking(False)
        slow = await websockets.connect(url, sock=sock, max_queue=1)
        slow.transport.pause_reading()  # type: ignore[attr-defined]
        fast_count = 0
        async with websockets.connect(url, max_size=2**22) as fast:

            async def drain_fast() -> None:
                nonlocal fast_count
                while fast_count < n:
                    await asyncio.wait_for(fast.recv(), 10)
                    fast_count += 1

            reader = asyncio.create_task(drain_fast())
            async with httpx.AsyncClient(base_url=hangar.base, timeout=30) as api:
                for _ in range(n):
                    r = await api.post("/api/providers", json={
                        "provider_id": f"slow-{uuid.uuid4().hex[:10]}", "mode": "docker",
                        "image": "a:1", "description": os.urandom(2000).hex(),
                        # Big frames through the env (each value is within its documented limit).
                        "env": {f"V{i}": os.urandom(3000).hex() for i in range(2)}})
                    assert r.status_code == 201
            await reader
        assert fast_count == n
        slow.transport.resume_reading()  # type: ignore[attr-defined]
        received = 0
        try:
            while True:
                await asyncio.wait_for(slow.recv(), 10)
                received += 1
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is None or closed.rcvd.code in (1008, 1013)
        assert received < n  # it was cut off, not served everything
        await slow.close()

    try:
        asyncio.run(scenario())
    finally:
        hangar.stop()
