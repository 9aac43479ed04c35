from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth.conftest import ADMIN_KEY, AuthHangar, admin

# Limits high enough for a module's few hundred requests; the config file's directory is the
# only one config and catalog paths may name (plus ``docs/``, below it).
SECURITY_CONFIG = """
auth:
  enabled: true
  rate_limit: {requests_per_second: 10000, burst: 10000}
config:
  allowed_dirs: [docs]
catalog:
  import_dirs: [docs]
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthHangar]:
    work = Path(tmp_path_factory.mktemp("security"))
    (work / "docs").mkdir()
    proc = AuthHangar(work, SECURITY_CONFIG).start()
    try:
        yield proc
    finally:
        proc.stop()


def envelope(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text[:500])
    body: dict[str, Any] = r.json()
    assert set(body) == {"error", "message", "status_code"} and body["status_code"] == status, body
    return body


def stored_text(server: AuthHangar) -> str:
    """Every byte of the event log's payloads (what a stolen database file would show)."""
    db = server.workdir / "hangar.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT * FROM events").fetchall() + conn.execute("SELECT * FROM snapshots").fetchall()
    return "\n".join(repr(r) for r in rows)


__all__ = ["ADMIN_KEY", "admin", "envelope", "stored_text"]
