"""The starter catalog in config/catalog is imported at start, and a deleted entry stays deleted."""

from __future__ import annotations

from pathlib import Path

from tests.catalog.test_catalog_import import entry
from tests.support import REPO, HangarProcess


def test_starter_catalog_is_seeded_and_a_deletion_sticks(tmp_path: Path) -> None:
    cfg = tmp_path / "hangar.yaml"
    cfg.write_text(f"catalog:\n  seed: [{REPO / 'config' / 'catalog' / 'starter.yaml'}]\n")
    proc = HangarProcess(tmp_path, config=cfg).start()
    try:
        with proc.client() as api:
            listed = api.get("/api/catalog").json()
            assert {"math", "time", "fetch", "github"} <= {e["name"] for e in listed["entries"]}
            math = entry(api, "math")
            assert math["builtin"] is True and math["source"] == "hangar"
            gh = entry(api, "github")
            assert gh["required_env"] == ["GITHUB_PERSONAL_ACCESS_TOKEN"] and gh["mode"] == "docker"
            assert api.delete(f"/api/catalog/{math['entry_id']}").status_code == 200
            total = listed["total"] - 1
    finally:
        proc.stop()
    proc = HangarProcess(tmp_path, config=cfg, db_url=proc.db_url).start()
    try:
        with proc.client() as api:
            assert api.get("/api/catalog").json()["total"] == total
            assert api.get("/api/catalog", params={"search": "arithmetic"}).json()["total"] == 0
    finally:
        proc.stop()
