"""WebSocket streams: ``/api/ws/events`` and ``/api/ws/state``."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import Parameter

from hangar.api.guard import accepted_subprotocol
from hangar.api.ws_resume import parse_message, serve_resumable
from hangar.app.hub import EventHub, Subscriber
from hangar.app.log.wiring import LogFeatures

# 1013 "try again later": the client fell behind and was dropped.
CLOSE_TOO_SLOW = 1013


class StreamFilter(msgspec.Struct, forbid_unknown_fields=True):
    event_types: list[str] | None = None
    provider_ids: list[str] | None = None


_filter_decoder = msgspec.json.Decoder(StreamFilter)


async def _receive_filters(socket: WebSocket, sub: Subscriber) -> int | None:
    while True:
        text = await socket.receive_data(mode="text")
        with contextlib.suppress(msgspec.DecodeError):
            resume = parse_message(text)
            if resume.resume is not None:
                return resume.resume  # continue on the resumable path (hangar/api/ws_resume.py)
        try:
            f = _filter_decoder.decode(text)
        except msgspec.DecodeError as exc:
            await socket.send_json(
                {"error": "ValidationError", "message": f"invalid filter: {exc}", "status_code": 422}
            )
            continue
        sub.set_filter(f.event_types, f.provider_ids)
        await socket.send_json({"filter": msgspec.to_builtins(f)})


async def _send_frames(socket: WebSocket, sub: Subscriber) -> None:
    while True:
        frame = await sub.queue.get()
        await socket.send_data(frame.decode(), mode="text")


async def stream(socket: WebSocket, sub: Subscriber) -> int | None:
    """Pump frames to the client until it leaves, falls too far behind, or asks to resume
    from a position (returned)."""
    receiver = asyncio.create_task(_receive_filters(socket, sub))
    tasks = [
        asyncio.create_task(_send_frames(socket, sub)),
        receiver,
        asyncio.create_task(sub.overflowed.wait()),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if receiver.done() and not receiver.cancelled() and receiver.exception() is None:
            return receiver.result()
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if sub.overflowed.is_set():
        with contextlib.suppress(Exception):
            await asyncio.wait_for(socket.close(code=CLOSE_TOO_SLOW, reason="client too slow"), 2)
    return None


async def _serve(socket: WebSocket, hub: EventHub, event_types: list[str] | None) -> int | None:
    await socket.accept(subprotocols=accepted_subprotocol(socket.scope))
    sub = hub.subscribe(event_types=event_types)
    try:
        return await stream(socket, sub)
    except WebSocketDisconnect:
        return None
    finally:
        hub.unsubscribe(sub)




@websocket("/api/ws/events")
async def events_stream(
    socket: WebSocket, hub: EventHub, log: LogFeatures, from_position: Annotated[int | None, Parameter(ge=0)] = None
) -> None:
    """Every domain event as one flat JSON frame; send a filter object to narrow it.
    ``?from_position=N`` or a ``{"resume": N}`` message: stored events after N first, then live."""
    if from_position is not None:
        await socket.accept(subprotocols=accepted_subprotocol(socket.scope))
        await serve_resumable(socket, log, from_position)
        return
    resume = await _serve(socket, hub, None)
    if resume is not None:
        await socket.send_json({"resumed": resume})
        await serve_resumable(socket, log, resume)


@websocket("/api/ws/state")
async def state_stream(socket: WebSocket, hub: EventHub) -> None:
    """``ProviderStateChanged`` frames only."""
    await _serve(socket, hub, ["ProviderStateChanged"])
