"""Progress of long CLI work on stderr (stdout keeps carrying only results): a ``rich`` bar on
a terminal, plain throttled lines otherwise (a log file, CI, a pipe)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from hangar.app.progress import Progress, ProgressSink, reporting


def _counts(p: Progress) -> str:
    return " ".join(f"{k}={v}" for k, v in p.counts.items())


def _detail(detail: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in detail.items() if v is not None)


class PlainSink:
    """``operation: done/total (pct) rate/s elapsed counts`` lines, as often as the log's."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def _write(self, text: str) -> None:
        out = self.stream or sys.stderr
        out.write(text + "\n")
        out.flush()

    def update(self, p: Progress, due: bool, detail: dict[str, Any]) -> None:
        if not due:
            return
        total = f"/{p.total}" if p.total is not None else ""
        pct = f" ({100 * p.done // p.total}%)" if p.total else ""
        rate = f" {p.rate:.1f}/s" if p.rate is not None else ""
        parts = [f"{p.operation}: {p.done}{total}{pct}{rate} {p.elapsed_s:.1f}s", _counts(p), _detail(detail)]
        self._write(" ".join(x for x in parts if x))

    def finish(self, p: Progress) -> None:
        rate = f" ({p.rate:.1f}/s)" if p.rate is not None else ""
        total = f"/{p.total}" if p.total is not None else ""
        self._write(" ".join(x for x in (
            f"{p.operation} done: {p.done}{total} in {p.elapsed_s:.2f}s{rate}", _counts(p)) if x))


class RichSink:
    """A live bar with the count, the rate and the elapsed time; per-item details print above it."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as Bar

        self.console = Console(stderr=True)
        self.bar = Bar(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TaskProgressColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                       console=self.console, transient=False)
        self.tasks: dict[int, Any] = {}
        self.bar.start()

    def _task(self, p: Progress) -> Any:
        key = id(p)
        if key not in self.tasks:
            self.tasks[key] = self.bar.add_task(p.operation, total=p.total, rate="")
        return self.tasks[key]

    def update(self, p: Progress, due: bool, detail: dict[str, Any]) -> None:
        task = self._task(p)
        rate = f"{p.rate:.1f}/s" if p.rate is not None else ""
        self.bar.update(task, completed=p.done, rate=f"{rate} {_counts(p)}".strip())
        if detail and "item" in detail:
            self.console.print(f"  {_detail(detail)}")

    def finish(self, p: Progress) -> None:
        self.update(p, True, {})

    def close(self) -> None:
        self.bar.stop()


@contextlib.contextmanager
def display(tty: bool | None = None) -> Iterator[ProgressSink]:
    """Progress of work done inside the block, shown on stderr."""
    if tty is None:
        tty = sys.stderr.isatty()
    sink: PlainSink | RichSink = RichSink() if tty else PlainSink()
    try:
        with reporting(sink):
            yield sink
    finally:
        if isinstance(sink, RichSink):
            sink.close()
