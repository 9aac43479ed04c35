"""File watching (a changed file is applied by itself) and the start of a Hangar whose file
dropped providers while it was down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.ops.conftest import fixture_entry, new_mark, provider_ids, write_yaml
from tests.support import HangarProcess, fixture_provider, wait_until


def test_file_watching_and_restart_applies_removals(tmp_path: Path) -> None:
    base: dict[str, Any] = {"config": {"watch": True, "watch_interval_s": 0.2},
                            "providers": {"w1": fixture_entry(new_mark())}}
    cfg = write_yaml(tmp_path / "hangar.yaml", base)
    server = HangarProcess(tmp_path, config=cfg).start(timeout=60)
    try:
        with server.client() as api:
            assert api.post("/api/providers", json=fixture_provider("viaapi", new_mark())).status_code == 201
            base["providers"]["w2"] = fixture_entry(new_mark())
            write_yaml(cfg, base)
            assert wait_until(lambda: provider_ids(api) == {"w1", "w2", "viaapi"}, 10)
            # The reload is recorded once all of it is applied.
            assert wait_until(lambda: api.get("/api/config").json()["last_reload"]["trigger"] == "watch", 5)
            cfg.write_text("providers:\n  w1: {mode: subprocess, command: [x], idle_tt1_s: 1}\n")
            assert wait_until(lambda: any(
                a["rule"] == "config_reload_failed" for a in api.get("/api/observability/alerts").json()["alerts"]), 10)
            assert provider_ids(api) == {"w1", "w2", "viaapi"}
    finally:
        server.stop()
    # Hangar was down while w2 left the file: the next start removes it (and only it).
    base["providers"].pop("w2")
    write_yaml(cfg, base)
    again = HangarProcess(tmp_path, config=cfg, db_url=server.db_url).start(timeout=60)
    try:
        with again.client() as api:
            assert provider_ids(api) == {"w1", "viaapi"}

            def resolved() -> bool:  # a valid file was applied since the rejected one
                alerts = api.get("/api/observability/alerts", params={"level": "info"}).json()["alerts"]
                return bool(alerts) and alerts[0]["state"] == "resolved"

            assert wait_until(resolved, 5)
    finally:
        again.stop()
