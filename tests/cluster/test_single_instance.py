"""SQLite is the one-machine default: a second Hangar on the same file is refused at start,
with a message naming the first, and the first keeps running untouched."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support import HangarProcess


def test_a_second_hangar_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    first = HangarProcess(tmp_path).start()
    try:
        second = HangarProcess(tmp_path, config=first.config, db_url=first.db_url)
        with pytest.raises(RuntimeError) as refused:
            second.start(timeout=30)
        message = str(refused.value)
        assert f"pid {first.proc.pid}" in message and "already serving" in message  # type: ignore[union-attr]
        assert "use PostgreSQL to run several replicas" in message
        assert second.proc is not None and second.proc.returncode == 2
        assert httpx.get(first.base + "/health/live").status_code == 200
        # Not a cluster: no peers, so no internal endpoint; the cluster view shows this one instance.
        assert httpx.post(first.base + "/internal/cluster/commands", json={}).status_code == 404
        view = httpx.get(first.base + "/api/cluster").json()
        assert view["mode"] == "single" and view["is_leader"] and len(view["instances"]) == 1
    finally:
        first.stop()
