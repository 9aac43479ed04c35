"""Cursor paging, shared by every list that can grow.

A cursor names a *key* (the sort key of the last or first row a page showed), never an offset,
so rows inserted or removed while a client walks a list can neither shift nor repeat the rows
that were there all along. Cursors are opaque and tamper-evident: base64url JSON plus an HMAC
over it, bound to the list they came from (``scope``) and to this server's lifetime; anything
else answers 400 in the API's envelope.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import os
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

import msgspec
from litestar.params import Parameter

from hangar.domain.errors import HangarError

T = TypeVar("T")
MAX_CURSOR_LENGTH = 2048


class InvalidCursorError(HangarError):
    status_code = 400

    def __init__(self, message: str = "Invalid cursor parameter") -> None:
        super().__init__(message)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    next_cursor: str | None
    prev_cursor: str | None


class Pager:
    """Signs and checks cursors with a key shared by the replicas (random when none is given)."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or os.urandom(32)

    def _mac(self, body: bytes) -> str:
        return _b64(hmac.new(self._key, body, hashlib.sha256).digest()[:16])

    def encode(self, scope: str, direction: str, key: Any) -> str:
        body = msgspec.json.encode({"s": scope, "d": direction, "k": key})
        return f"{_b64(body)}.{self._mac(body)}"

    def decode(self, scope: str, cursor: str) -> tuple[str, Any]:
        """``(direction, key)`` from a cursor this server issued for ``scope``."""
        try:
            if len(cursor) > MAX_CURSOR_LENGTH:
                raise ValueError
            body_text, mac = cursor.split(".", 1)
            body = _unb64(body_text)
            # Bytes: compare_digest raises TypeError for str with non-ASCII characters (found by
            # schemathesis: a fuzzed cursor answered 500).
            if not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
                raise ValueError
            data = msgspec.json.decode(body)
        except (ValueError, msgspec.DecodeError):
            raise InvalidCursorError() from None
        if not isinstance(data, dict) or data.get("s") != scope or data.get("d") not in ("after", "before"):
            raise InvalidCursorError("Invalid cursor parameter: it belongs to another list")
        return str(data["d"]), _tuple(data.get("k"))

    def page(
        self, scope: str, rows: Sequence[T], key: Callable[[T], Any], limit: int, cursor: str | None,
    ) -> Page[T]:
        """One page of ``rows`` (already sorted by ``key``, keys unique) after or before the
        cursor's key; ``next_cursor`` is None on the last page, ``prev_cursor`` on the first."""
        keys = [_tuple(key(r)) for r in rows]
        if cursor:
            direction, at = self.decode(scope, cursor)
            try:
                if direction == "after":
                    start = bisect.bisect_right(keys, at)
                    end = start + limit
                else:
                    end = bisect.bisect_left(keys, at)
                    start = max(0, end - limit)
            except TypeError:  # a key of another shape (a signed cursor of an older layout)
                raise InvalidCursorError() from None
        else:
            start, end = 0, limit
        chosen = list(rows[start:end])
        nxt = self.encode(scope, "after", keys[end - 1]) if chosen and end < len(rows) else None
        prev = self.encode(scope, "before", keys[start]) if chosen and start > 0 else None
        return Page(chosen, nxt, prev)


def _tuple(k: Any) -> Any:
    """JSON turns tuples into lists; compare keys in one shape."""
    return tuple(_tuple(x) for x in k) if isinstance(k, list | tuple) else k


def paged(body: dict[str, Any], page: Page[Any], *, prev: bool = True) -> dict[str, Any]:
    """A list body with the page's cursors added next to the contract's own fields."""
    body["next_cursor"] = page.next_cursor
    if prev:
        body["prev_cursor"] = page.prev_cursor
    return body


# --- query parameters the /api lists share ---------------------------------------------------

DEFAULT_LIMIT = 50
PageLimit = Annotated[int | None, Parameter(ge=1, le=500, description="Page size; asks for cursor paging")]
Cursor = Annotated[str | None, Parameter(max_length=MAX_CURSOR_LENGTH,
                                         description="Opaque cursor from next_cursor/prev_cursor")]
"""Lists whose contract already has ``limit`` page only when ``cursor`` is given (an empty
``cursor=`` starts at the top), so requests without it keep today's exact shape."""


def wants_page(limit: int | None, cursor: str | None) -> bool:
    return limit is not None or cursor is not None


def page_rows(
    pager: Pager, scope: str, rows: Sequence[T], key: Callable[[T], Any], limit: int | None, cursor: str | None,
) -> Page[T]:
    return pager.page(scope, rows, key, limit or DEFAULT_LIMIT, cursor or None)
