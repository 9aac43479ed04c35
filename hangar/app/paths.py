"""Files named over the API (a config to diff or reload, a catalog document to import) must lie
inside directories the operator configured, so an API caller cannot make Hangar read, and echo
fragments of, any file the process can open (``/etc/shadow``)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from hangar.domain.errors import PathNotAllowedError


def allowed_roots(config_path: str | None, extra: Iterable[str]) -> list[Path]:
    """The startup config file's directory plus the configured ones (relative to it)."""
    base = Path(config_path).resolve().parent if config_path else None
    roots = [base] if base is not None else []
    for d in extra:
        p = Path(d)
        if not p.is_absolute() and base is not None:
            p = base / p
        roots.append(p.resolve())
    return roots


def confine(path: str, roots: Iterable[Path], what: str) -> Path:
    """``path`` resolved (symlinks followed) if it is inside one of ``roots``; else a 403 that
    names the setting to change and nothing about the file."""
    if "\0" in path:
        raise PathNotAllowedError(f"{what}: not an allowed path")
    real = Path(os.path.realpath(path))
    for root in roots:
        if real == root or real.is_relative_to(root):
            return real
    raise PathNotAllowedError(
        f"{what}: not inside a directory this server may read from "
        "(the config file's directory, config.allowed_dirs or catalog.import_dirs)"
    )
