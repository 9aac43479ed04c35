"""A watchdog that kills every provider process group once Hangar is gone.

A parent-death signal only reaches a provider's *direct* child; ``npx``/``uvx``/shell wrappers
leave grandchildren that would outlive a SIGKILLed Hangar. One helper per Hangar instance (not
per provider) holds the list of provider process groups; Hangar feeds it ``+pgid`` / ``-pgid``
lines over a pipe. When the pipe reaches EOF (Hangar exited, however it died) or its own
parent-death signal (SIGTERM) arrives, it SIGKILLs every group still registered and exits.

The helper (``reaper_helper.py``) is stdlib-only and started as ``python -I -S <file>``: about
40 ms and 10 MB once per Hangar instance, and it never imports Hangar or its dependencies.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys

log = logging.getLogger("hangar.runtime.reaper")

_HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reaper_helper.py")


class ProcessReaper:
    """Hangar's handle on the helper process. ``track``/``untrack`` never block."""

    def __init__(self, python: str = sys.executable) -> None:
        self._python = python
        self._proc: asyncio.subprocess.Process | None = None
        self._tracked: set[int] = set()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def tracked(self) -> frozenset[int]:
        return frozenset(self._tracked)

    async def start(self) -> None:
        if self._proc is not None:
            return
        self._proc = await asyncio.create_subprocess_exec(
            self._python,
            "-I",
            "-S",
            _HELPER,
            str(os.getpid()),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            # Its own session: a Ctrl-C aimed at Hangar's terminal must not kill the watchdog
            # before Hangar has had a chance to stop its providers.
            start_new_session=True,
        )

    def track(self, pgid: int) -> None:
        self._tracked.add(pgid)
        self._send(f"+{pgid}\n")

    def untrack(self, pgid: int) -> None:
        if pgid in self._tracked:
            self._tracked.discard(pgid)
            self._send(f"-{pgid}\n")

    def _send(self, line: str) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing():
            log.warning("process reaper is not running; %r not delivered", line.strip())
            return
        # A few bytes into a pipe the helper drains continuously: never fills up in practice.
        proc.stdin.write(line.encode())

    async def close(self, timeout_s: float = 5.0) -> None:
        """Stop the helper. Groups still tracked at this point are killed by it (shutdown)."""
        proc = self._proc
        if proc is None:
            return
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        self._tracked.clear()
