"""Which names hold secrets: the one rule used for sealing definitions, exports, logs and
responses.

A name is secret when it contains a marker (``TOKEN``, ``PASSWORD``, ``KEY``, ``PRIVATE``, ...),
unless it ends with a suffix that says the value is *where* a secret is rather than the secret
itself (``GITHUB_TOKEN_FILE=/run/secrets/gh``, ``admin_key_env: HANGAR_ADMIN_KEY``). Erring on the
side of redaction is cheap; a missed secret is not, so ``_HEADER`` (``AUTH_HEADER`` often holds
``Bearer ...``) is not an exemption.
"""

from __future__ import annotations

SECRET_MARKERS = ("SECRET", "TOKEN", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "AUTH", "PRIVATE")
LOCATION_SUFFIXES = ("_ENV", "_FILE", "_PATH", "_NAME", "_CLAIM", "_ID")
REDACTED = "***"


def looks_secret(name: str) -> bool:
    upper = name.upper()
    return any(m in upper for m in SECRET_MARKERS) and not upper.endswith(LOCATION_SUFFIXES)


# --- credentials inside URLs ----------------------------------------------------------------------
# ``scheme://user:password@host``. Found by one left-to-right scan rather than a regular
# expression: the pattern's backtracking was quadratic, and user text (a 100 kB description)
# froze the event loop for seconds.

_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SPACE = frozenset(" \t\n\r\f\v\x1c\x1d\x1e\x1f\x85\xa0")
_USER_STOP = frozenset(":/@") | _SPACE


def url_password_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every password in ``scheme://user:password@`` within ``text``.

    Linear in ``len(text)``: every character is looked at a bounded number of times (the
    scheme walk-back stops at ``:``/``/``, which end the previous match's search, and the next
    ``@``/space is found once per region instead of once per candidate)."""
    spans: list[tuple[int, int]] = []
    n = len(text)
    pos = 0
    next_stop = -1  # index of the next '@' or whitespace at or after the password start
    while True:
        sep = text.find("://", pos)
        if sep < 0:
            return spans
        pos = sep + 3
        # scheme: a letter followed by scheme characters, immediately before '://'
        i = sep
        while i > 0 and text[i - 1] in _SCHEME_CHARS:
            i -= 1
        while i < sep and text[i] not in _LETTERS:
            i += 1
        if i == sep:
            continue
        # user: one or more characters other than ':', '/', '@' and whitespace, then ':'
        j = pos
        while j < n and text[j] not in _USER_STOP:
            j += 1
        if j == pos or j >= n or text[j] != ":":
            continue
        start = j + 1
        if next_stop < start:
            next_stop = start
            while next_stop < n and text[next_stop] != "@" and text[next_stop] not in _SPACE:
                next_stop += 1
        if next_stop >= n:
            return spans  # no '@' anywhere after this point: nothing later can match either
        if text[next_stop] == "@" and next_stop > start:
            spans.append((start, next_stop))
            pos = next_stop + 1


def has_url_password(text: str) -> bool:
    return bool(url_password_spans(text))


def mask_url_password(text: str, mask: str = REDACTED) -> str:
    spans = url_password_spans(text)
    if not spans:
        return text
    out: list[str] = []
    last = 0
    for start, end in spans:
        out.append(text[last:start])
        out.append(mask)
        last = end
    out.append(text[last:])
    return "".join(out)


def is_secret_value(name: str, value: str, declared: set[str] | frozenset[str] = frozenset()) -> bool:
    """THE policy: a value is secret if its name looks secret, the definition declares it, or
    it carries credentials inside a URL (``postgres://user:PASS@db``)."""
    return name in declared or looks_secret(name) or has_url_password(value)
