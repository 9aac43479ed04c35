"""The names Hangar gives tools and prompts at ``/mcp``.

LLM APIs that clients forward tools to accept only ``^[a-zA-Z0-9_-]{1,64}$``, so an exposed name
is ``{provider_or_group}{separator}{name}`` (separator ``__`` by default) when that already fits;
otherwise every other character becomes ``_``, the result is cut to leave room, and ``_`` plus
the first 8 hex digits of the SHA-256 of the original pair is appended. The suffix makes two
originals that sanitise alike differ, and the same pair always gets the same name. A separator
of ``.`` is allowed for those who prefer ``provider.tool`` (dots are then kept as well).

The reverse mapping is exact: the catalog keeps a table from exposed name to ``(target, name)``
(``NameTable``), so nothing is ever parsed back out of a sanitised name. Only a name that is not
in the table (a cold provider whose tools are not known yet) is split at a separator whose left
side is a known provider or group.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable

MAX_LEN = 64
STRICT = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
DEFAULT_SEPARATOR = "__"
ALLOWED_SEPARATORS = ("__", "_", "-", ".", "--")
_HASH_LEN = 8


def _allowed(separator: str) -> re.Pattern[str]:
    return STRICT if "." not in separator else re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")


def _unsafe(separator: str) -> re.Pattern[str]:
    return re.compile(r"[^a-zA-Z0-9_.-]" if "." in separator else r"[^a-zA-Z0-9_-]")


def digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:_HASH_LEN]


def exposed_name(target: str, name: str, separator: str = DEFAULT_SEPARATOR) -> str:
    """The deterministic exposed name of ``name`` offered by ``target``."""
    raw = f"{target}{separator}{name}"
    if _allowed(separator).match(raw):
        return raw
    safe = _unsafe(separator).sub("_", raw)
    suffix = "_" + digest(target, name)
    return safe[: MAX_LEN - len(suffix)] + suffix


class NameTable:
    """Exposed name → ``(target, original name)``, collision-free by construction."""

    def __init__(self, separator: str = DEFAULT_SEPARATOR) -> None:
        self.separator = separator
        self._by_name: dict[str, tuple[str, str]] = {}
        self._by_pair: dict[tuple[str, str], str] = {}

    def add(self, target: str, name: str) -> str:
        pair = (target, name)
        known = self._by_pair.get(pair)
        if known is not None:
            return known
        exposed = exposed_name(target, name, self.separator)
        salt = 0
        # Only a deliberately crafted original can land on another's hashed name; the pairs are
        # added in a sorted order, so the salted retry is deterministic as well.
        while exposed in self._by_name:
            salt += 1
            suffix = "_" + digest(target, name, str(salt))
            exposed = _unsafe(self.separator).sub("_", f"{target}{self.separator}{name}")
            exposed = exposed[: MAX_LEN - len(suffix)] + suffix
        self._by_name[exposed] = pair
        self._by_pair[pair] = exposed
        return exposed

    def get(self, exposed: str) -> tuple[str, str] | None:
        return self._by_name.get(exposed)

    def names(self) -> Iterable[str]:
        return self._by_name.keys()


def split_unknown(exposed: str, separator: str, is_target: Callable[[str], bool]) -> tuple[str, str] | None:
    """``(target, name)`` for a name not in any table: the first split whose target exists."""
    start = 0
    while True:
        i = exposed.find(separator, start)
        if i <= 0:
            return None
        target, name = exposed[:i], exposed[i + len(separator):]
        if name and is_target(target):
            return target, name
        start = i + 1
