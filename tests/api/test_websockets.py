"""WebSocket streams over a real connection to a running server."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import websockets

from tests.support import HangarProcess


def ws_url(hangar: HangarProcess, path: str) -> str:
    return hangar.base.replace("http://", "ws://") + path


async def recv_json(ws: websockets.ClientConnection, timeout: float = 5) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


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
    async def scenario() -> None:
        async with websockets.connect(ws_url(hangar, "/api/ws/state")) as ws:
            # Widening the filter beyond state changes is not possible on this stream.
            await ws.send(json.dumps({"event_types": ["ProviderRegistered"]}))
            await recv_json(ws)
            async with httpx.AsyncClient(base_url=hangar.base) as api:
                await api.post("/api/providers", json={"provider_id": f"s-{uuid.uuid4().hex[:6]}",
                                                       "mode": "docker", "image": "a:1"})
            try:
                frame = await recv_json(ws, timeout=1)
            except TimeoutError:
                return
            assert frame["event_type"] == "ProviderStateChanged"

    asyncio.run(scenario())


def test_slow_client_is_dropped_and_others_keep_up(tmp_path: Path) -> None:
    """A client that never reads is closed (1008/1013) while a reading client gets everything."""
    cfg = tmp_path / "hangar.yaml"
    cfg.write_text("websocket:\n  queue_size: 20\n")
    hangar = HangarProcess(tmp_path, config=cfg).start()

    async def scenario() -> None:
        url = ws_url(hangar, "/api/ws/events")
        slow = await websockets.connect(url, max_size=2**20, max_queue=1)
        # Stop reading from the slow socket entirely so its TCP window and our queue fill up.
        slow.transport.pause_reading()  # type: ignore[attr-defined]
        fast_count = 0
        n = 1000
        async with websockets.connect(url) as fast:
            async with httpx.AsyncClient(base_url=hangar.base, timeout=30) as api:
                payload = "x" * 8000
                for i in range(n):
                    await api.post("/api/providers", json={
                        "provider_id": f"slow-{uuid.uuid4().hex[:10]}", "mode": "docker",
                        "image": "a:1", "description": payload})
                    while True:
                        try:
                            await asyncio.wait_for(fast.recv(), 0.001)
                            fast_count += 1
                        except TimeoutError:
                            break
            while fast_count < n:
                await asyncio.wait_for(fast.recv(), 5)
                fast_count += 1
        assert fast_count == n
        slow.transport.resume_reading()  # type: ignore[attr-defined]
        try:
            while True:
                await asyncio.wait_for(slow.recv(), 10)
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is None or closed.rcvd.code in (1008, 1013)
        await slow.close()

    try:
        asyncio.run(scenario())
    finally:
        hangar.stop()
