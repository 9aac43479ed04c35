"""Semantic versions (semver.org 2.0.0): parsing and precedence, nothing else."""

from __future__ import annotations

import re

_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)


def is_semver(text: str) -> bool:
    return bool(_SEMVER.match(text))


def sort_key(text: str) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
    """A key whose order is semver precedence: a release sorts after its pre-releases, numeric
    pre-release parts before alphanumeric ones, build metadata ignored. Text that is not a
    version sorts first (only valid versions are ever recorded)."""
    m = _SEMVER.match(text)
    if m is None:
        return (-1, 0, 0, 0, ())
    major, minor, patch, pre = int(m[1]), int(m[2]), int(m[3]), m[4]
    if pre is None:
        return (major, minor, patch, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (major, minor, patch, 0, parts)
