"""Progress of long work (imports, scans, bulk operations, config applies) as throttled lines.

A ``Progress`` counts items and reports ``done/total``, the rate and the elapsed time: in the
server log as structlog ``progress`` lines (at most one a second, and at each tenth of the total
so a short run still shows its course), and always a final ``progress_done`` line. A command
line tool that runs the same work in its own process installs a ``ProgressSink`` (a ``rich``
bar on a terminal, plain lines otherwise) through ``reporting``; the sink then replaces the log
lines, so the terminal shows one display, not two.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, Protocol

import structlog

log = structlog.get_logger("hangar.progress")

EVERY_S = 1.0
STEPS = 10
"""Besides once a second, a line at each tenth of the total: deterministic for short runs."""
STEPPED_FROM = 10
"""Work of fewer items than this gets no line per tenth (it would be a line per item: the
start-up's three providers and six catalog entries); the line a second and the final line stay."""


class ProgressSink(Protocol):
    def update(self, p: Progress, due: bool, detail: dict[str, Any]) -> None:
        """``due``: the throttle would write a line now (a plain display writes one)."""


    def finish(self, p: Progress) -> None: ...


_sink: ContextVar[ProgressSink | None] = ContextVar("hangar_progress_sink", default=None)


@contextlib.contextmanager
def reporting(sink: ProgressSink) -> Iterator[None]:
    """Send the progress of work started inside the block (same task or its children) to ``sink``."""
    token = _sink.set(sink)
    try:
        yield
    finally:
        _sink.reset(token)


class Progress:
    def __init__(self, operation: str, total: int | None = None, *, clock: Callable[[], float] = time.monotonic,
                 every_s: float = EVERY_S, **fields: Any) -> None:
        self.operation, self.total, self.fields = operation, total, fields
        self.done = 0
        self.counts: dict[str, int] = {}
        self._clock, self._every_s = clock, every_s
        self.started = clock()
        self._last_line = self.started
        self._next_step = 1
        self.finished = False
        self.sink = _sink.get()

    @property
    def elapsed_s(self) -> float:
        return self._clock() - self.started

    @property
    def rate(self) -> float | None:
        """Items per second so far (None before any time has passed)."""
        elapsed = self.elapsed_s
        return self.done / elapsed if elapsed > 0 else None

    def summary(self) -> dict[str, Any]:
        rate = self.rate
        return {"operation": self.operation, "done": self.done, "total": self.total, **self.counts,
                "per_s": round(rate, 1) if rate is not None else None, "elapsed_s": round(self.elapsed_s, 3),
                **self.fields}

    def advance(self, n: int = 1, *, outcome: str | None = None, **detail: Any) -> None:
        """``n`` more items done; ``outcome`` (added, failed…) is counted; ``detail`` goes on the
        line this call may write (the item's name, its own counts)."""
        self.done += n
        if outcome:
            self.counts[outcome] = self.counts.get(outcome, 0) + n
        due = self._due()
        if self.sink is not None:
            self.sink.update(self, due, detail)
        elif due:
            log.info("progress", **self.summary(), **detail)

    def _due(self) -> bool:
        now = self._clock()
        step_due = False
        if self.total and self.total >= STEPPED_FROM:
            while self._next_step <= STEPS and self.done * STEPS >= self._next_step * self.total:
                self._next_step += 1
                step_due = True
        if self.total is not None and self.done >= self.total:
            return False  # the final line says it
        if step_due or now - self._last_line >= self._every_s:
            self._last_line = now
            return True
        return False

    def item(self, **detail: Any) -> None:
        """A line about one item (a source scanned), always written: for work with few, slow items."""
        if self.sink is not None:
            self.sink.update(self, True, detail)
            return
        log.info("progress_item", operation=self.operation, done=self.done, total=self.total, **detail)

    def finish(self, **extra: Any) -> dict[str, Any]:
        """The final line (once), with the counts and anything the caller adds; returns them."""
        self.fields.update(extra)
        summary = self.summary()
        if self.finished:
            return summary
        self.finished = True
        if self.sink is not None:
            self.sink.finish(self)
        else:
            log.info("progress_done", **summary)
        return summary
