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
