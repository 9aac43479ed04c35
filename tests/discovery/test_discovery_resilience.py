"""Sources declared in config, sources that fail, and what survives a restart."""

from __future__ import annotations

from pathlib import Path

from tests.discovery.conftest import math_def, pending_names, write_def
from tests.support import HangarProcess, wait_until


def test_broken_sources_record_errors_and_the_others_keep_working(tmp_path: Path) -> None:
    good = tmp_path / "good"
    write_def(good, "cfg-first", math_def())
    cfg = tmp_path / "hangar.yaml"
    # Relative paths in the file are taken from the file's directory.
    cfg.write_text(
        "discovery:\n  sources:\n"
        "    missing-dir: {type: filesystem, config: {path: does-not-exist, interval_s: 1}}\n"
        "    dead-engine: {type: docker, config: {base_url: 'tcp://127.0.0.1:9', interval_s: 1, timeout_s: 1}}\n"
        "    dead-k8s: {type: kubernetes, config: {api_url: 'http://127.0.0.1:9', interval_s: 1}}\n"
        "    good: {type: filesystem, mode: authoritative,\n"
        "           config: {path: good, interval_s: 3600, watch_interval_s: 0.2, require_approval: false}}\n"
    )
    proc = HangarProcess(tmp_path, config=cfg).start()
    try:
        with proc.client() as api:
            def src(sid: str) -> dict:
                return dict(api.get(f"/api/discovery/sources/{sid}").json())

            assert wait_until(lambda: api.get("/api/providers/cfg-first").status_code == 200, 15)
            for broken in ("missing-dir", "dead-engine", "dead-k8s"):
                # The loop outlives its failures: it keeps scanning on schedule.
                assert wait_until(lambda b=broken: src(b)["failed_scans"] >= 2, 15), src(broken)
                s = src(broken)
                assert s["is_healthy"] is False and s["last_error"] and s["error_message"] == s["last_error"]
            assert "directory not found" in src("missing-dir")["last_error"]
            r = api.post("/api/discovery/sources/dead-engine/scan")
            assert r.status_code == 200 and r.json()["error"] and r.json()["providers_found"] == 0

            write_def(good, "cfg-second", math_def())
            assert wait_until(lambda: api.get("/api/providers/cfg-second").status_code == 200, 15)
            assert src("good")["is_healthy"] is True
            listed = {s["source_id"]: s for s in api.get("/api/discovery/sources").json()["sources"]}
            assert set(listed) >= {"missing-dir", "dead-engine", "dead-k8s", "good"}
            assert listed["good"]["config"]["path"] == str(good.resolve())
            assert listed["dead-engine"]["require_approval"] is True and listed["good"]["require_approval"] is False
    finally:
        proc.stop()


def test_sources_and_decisions_survive_a_restart(tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    write_def(defs, "keep-out", math_def())
    write_def(defs, "later", math_def())
    proc = HangarProcess(tmp_path).start()
    try:
        with proc.client() as api:
            r = api.post("/api/discovery/sources", json={
                "source_type": "filesystem", "mode": "additive", "source_id": "durable",
                "config": {"path": str(defs), "require_approval": True, "interval_s": 3600},
            })
            assert r.status_code == 201 and r.json() == {"source_id": "durable", "registered": True}
            assert wait_until(lambda: pending_names(api, "durable") == {"keep-out", "later"}, 10)
            assert api.post("/api/discovery/reject/keep-out").status_code == 200
    finally:
        proc.kill()  # a crash: nothing is flushed on the way out
    proc = HangarProcess(tmp_path, db_url=proc.db_url).start()
    try:
        with proc.client() as api:
            src = api.get("/api/discovery/sources/durable").json()
            assert src["rejected"] == ["keep-out"] and src["pending"] == ["later"]
            # The background loop is back: it scans at start, and the rejection still holds.
            assert wait_until(lambda: api.get("/api/discovery/sources/durable").json()["scans"] >= 2, 10)
            assert pending_names(api, "durable") == {"later"}
            assert api.post("/api/discovery/approve/later").status_code == 200
            assert api.get("/api/providers/later").status_code == 200
    finally:
        proc.stop()
