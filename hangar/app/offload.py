"""CPU-heavy work on user data (rendering, masking, diffing a configuration) runs in a worker
thread with a deadline, never on the event loop: one large request must not stall every other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from hangar.domain.errors import HangarError

T = TypeVar("T")

DEFAULT_DEADLINE_S = 10.0


class WorkTooLongError(HangarError):
    status_code = 503

    @property
    def error_type(self) -> str:
        return "ServiceUnavailable"


async def offload(fn: Callable[[], T], deadline_s: float = DEFAULT_DEADLINE_S) -> T:
    try:
        return await asyncio.wait_for(asyncio.to_thread(fn), deadline_s)
    except TimeoutError:
        raise WorkTooLongError(f"rendering did not finish within {deadline_s:g} s") from None
