"""``/api/ws/events?from_position=N``: stored events after N, then live, with no gap or duplicate.

A client that remembers the ``position`` of the last frame it handled reconnects with it (or
sends ``{"resume": N}`` on an open socket) and receives exactly what it missed. Filters work as
on the live stream (``{"event_types": [...], "provider_ids": [...]}``, acknowledged).
"""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from hangar.app.log.ports import EventQuery
from hangar.app.log.query import public_frame
from hangar.app.log.wiring import LogFeatures
from hangar.app.ports import RecordedEvent


class ClientMessage(msgspec.Struct, forbid_unknown_fields=True):
    """A filter (as on the live stream), a resume request, or both."""

    event_types: list[str] | None = None
    provider_ids: list[str] | None = None
    resume: int | None = None


class _ProviderField(msgspec.Struct):
    provider_id: str | None = None


_message = msgspec.json.Decoder(ClientMessage)
_provider = msgspec.json.Decoder(_ProviderField)


def parse_message(text: str) -> ClientMessage:
    msg = _message.decode(text)
    if msg.resume is not None and msg.resume < 0:
        raise msgspec.ValidationError("resume must be a non-negative position")
    return msg


class Filter:
    def __init__(self) -> None:
        self.event_types: frozenset[str] | None = None
        self.provider_ids: frozenset[str] | None = None

    def set(self, msg: ClientMessage) -> None:
        self.event_types = frozenset(msg.event_types) if msg.event_types else None
        self.provider_ids = frozenset(msg.provider_ids) if msg.provider_ids else None

    def wants(self, rec: RecordedEvent) -> bool:
        if self.event_types is not None and rec.event_type not in self.event_types:
            return False
        if self.provider_ids is None:
            return True
        return _provider.decode(rec.data).provider_id in self.provider_ids


async def _send(socket: WebSocket, log: LogFeatures, after: int, filt: Filter) -> None:
    follow = log.events.follow(EventQuery(after=after))
    try:
        async for rec in follow:
            if filt.wants(rec):
                await socket.send_data(public_frame(rec).decode(), mode="text")
    finally:
        await follow.aclose()  # type: ignore[attr-defined]


async def serve_resumable(socket: WebSocket, log: LogFeatures, after: int, filt: Filter | None = None) -> None:
    """Runs until the client leaves; a ``resume`` message restarts delivery from its position."""
    filt = filt or Filter()
    sender = asyncio.create_task(_send(socket, log, after, filt))
    try:
        while True:
            receiver = asyncio.create_task(socket.receive_data(mode="text"))
            done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if sender in done:
                receiver.cancel()
                with contextlib.suppress(BaseException):
                    await receiver
                sender.result()
                return
            try:
                msg = parse_message(receiver.result())
            except msgspec.DecodeError as exc:  # ValidationError is a DecodeError too
                await socket.send_json(
                    {"error": "ValidationError", "message": f"invalid message: {exc}", "status_code": 422}
                )
                continue
            if msg.event_types is not None or msg.provider_ids is not None or msg.resume is None:
                filt.set(msg)
                await socket.send_json({"filter": {"event_types": msg.event_types, "provider_ids": msg.provider_ids}})
            if msg.resume is not None:
                sender.cancel()
                with contextlib.suppress(BaseException):
                    await sender
                await socket.send_json({"resumed": msg.resume})
                sender = asyncio.create_task(_send(socket, log, msg.resume, filt))
    except WebSocketDisconnect:
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(BaseException):
            await sender
