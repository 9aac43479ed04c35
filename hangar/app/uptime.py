"""How long this Hangar has been serving."""

from __future__ import annotations

import time


class Uptime:
    """Counted from construction, and again from the end of start-up (``restart``), so a slow
    replay does not count as time served."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def restart(self) -> None:
        self.started = time.monotonic()

    def seconds(self) -> float:
        return time.monotonic() - self.started
