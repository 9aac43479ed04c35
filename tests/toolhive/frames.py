"""Records WebSocket event frames in a thread while a synchronous test drives the API."""

from __future__ import annotations

import asyncio
import threading

import websockets


class FrameRecorder(threading.Thread):
    """Every frame of ``/api/ws/events`` (unfiltered) while a scenario runs."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.frames = url, list[str]()
        self.ready, self.done = threading.Event(), threading.Event()

    def run(self) -> None:
        asyncio.run(self._record())

    async def _record(self) -> None:
        async with websockets.connect(self.url) as ws:
            await ws.send("{}")
            await ws.recv()
            self.ready.set()
            while not self.done.is_set():
                try:
                    self.frames.append(str(await asyncio.wait_for(ws.recv(), 0.2)))
                except TimeoutError:
                    continue

    def __enter__(self) -> FrameRecorder:
        self.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.join(10)
