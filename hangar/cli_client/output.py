"""How the CLI prints: a ``rich`` table on a terminal, tab-separated lines when piped, and the
server's JSON verbatim with ``--json``."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

STATE_STYLE = {"ready": "green", "degraded": "yellow", "dead": "red", "initializing": "cyan", "cold": "dim",
               "healthy": "green", "unhealthy": "red", "open": "red", "closed": "green", "half_open": "yellow"}


def is_tty() -> bool:
    return sys.stdout.isatty()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(_cell(v) for v in value) or "-"
    return str(value)


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    if not is_tty():
        print("\t".join(c.upper() for c in columns))
        for row in rows:
            print("\t".join(_cell(v) for v in row))
        return
    t = Table(title=title, header_style="bold")
    for c in columns:
        t.add_column(c.upper())
    for row in rows:
        cells = []
        for v in row:
            text = _cell(v)
            style = STATE_STYLE.get(text)
            cells.append(f"[{style}]{text}[/{style}]" if style else text)
        t.add_row(*cells)
    Console().print(t)


def fields(pairs: Sequence[tuple[str, Any]]) -> None:
    """``key  value`` lines for one object."""
    width = max((len(k) for k, _ in pairs), default=0)
    for k, v in pairs:
        print(f"{k.ljust(width)}  {_cell(v)}")


def line(text: str) -> None:
    print(text, flush=True)
