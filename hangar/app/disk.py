"""Recognising a full disk in whatever a storage port raised, so the API can say so (507) instead
of answering an internal error."""

from __future__ import annotations

import errno


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC anywhere in the chain, or the driver's words for it (SQLITE_FULL, PostgreSQL's
    "No space left on device")."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno == errno.ENOSPC:
            return True
        text = str(current).lower()
        if "database or disk is full" in text or "no space left on device" in text:
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
    return False
