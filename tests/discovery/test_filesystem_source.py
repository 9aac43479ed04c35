"""Filesystem source end to end, against a real ``hangar serve`` and real files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx

from tests.discovery.conftest import assert_envelope, math_def, pending_names, quarantined, register, write_def
from tests.support import wait_until


def scan(api: httpx.Client, sid: str) -> dict:
    r = api.post(f"/api/discovery/sources/{sid}/scan")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source_id"] == sid and body["scan_triggered"] is True
    return body


def test_scan_pending_approve_then_the_provider_runs(api: httpx.Client, tmp_path: Path) -> None:
    write_def(tmp_path, "fs-math", math_def(description="found on disk", metadata={"team": "ops"}))
    sid = register(api, "filesystem", path=str(tmp_path), require_approval=True, interval_s=3600,
                   watch=False, enabled=False)
    assert scan(api, sid)["providers_found"] == 1
    [p] = [p for p in api.get("/api/discovery/pending").json()["pending"] if p["source_id"] == sid]
    assert p["name"] == "fs-math" and p["source"] == "filesystem" and p["mode"] == "subprocess"
    assert p["metadata"] == {"team": "ops"} and p["connection_info"]["command"][0] == sys.executable
    assert api.get("/api/providers/fs-math").status_code == 404

    r = api.post("/api/discovery/approve/fs-math")
    assert r.status_code == 200, r.text
    assert r.json() == {"approved": True, "provider": "fs-math", "provider_id": "fs-math", "source_id": sid,
                        "status": "registered"}
    assert pending_names(api, sid) == set()
    detail = api.get("/api/providers/fs-math").json()
    assert detail["description"] == "found on disk"
    r = api.post("/api/providers/fs-math/start")
    assert r.status_code == 200, r.text
    assert wait_until(lambda: api.get("/api/providers/fs-math").json()["state"] == "ready", 20)
    api.post("/api/providers/fs-math/stop")
    src = api.get(f"/api/discovery/sources/{sid}").json()
    assert src["registered"] == ["fs-math"] and src["providers_count"] == 1 and src["last_error"] is None


def test_invalid_definitions_are_quarantined_with_reasons(api: httpx.Client, tmp_path: Path) -> None:
    assert api.post("/api/providers", json={"provider_id": "taken", "mode": "subprocess",
                                            "command": [sys.executable, "-V"]}).status_code == 201
    write_def(tmp_path, "no-such-cmd", {"mode": "subprocess", "connection": {"command": "/nonexistent/bin/srv"}})
    write_def(tmp_path, "broken", "mode: [unclosed\n")
    write_def(tmp_path, "typo", {"mode": "subprocess", "comand": [sys.executable]})
    write_def(tmp_path, "taken", math_def())
    write_def(tmp_path, "remote-bad", {"mode": "remote", "connection": {"endpoint": "ftp://x"}})
    write_def(tmp_path, "off", math_def(enabled=False))
    sid = register(api, "filesystem", path=str(tmp_path), require_approval=False, interval_s=3600,
                   watch=False, enabled=False)
    res = scan(api, sid)
    assert res["providers_found"] == 5 and res["registered"] == []
    q = quarantined(api, sid)
    assert set(q) == {"no-such-cmd", "broken", "typo", "taken", "remote-bad"}
    assert "command not found: /nonexistent/bin/srv" in q["no-such-cmd"]["reasons"]
    assert "not valid YAML" in q["broken"]["reason"]
    assert "unknown field 'comand'" in q["typo"]["reasons"]
    assert "name collision" in q["taken"]["reason"]
    assert "endpoint" in q["remote-bad"]["reason"]
    assert q["typo"]["quarantine_time"] and q["typo"]["provider"]["origin"].endswith("typo.yaml")
    assert api.get("/api/providers/off").status_code == 404

    # Approving what is still invalid is refused and changes nothing.
    body = assert_envelope(api.post("/api/discovery/approve/no-such-cmd"), 422, "ValidationError")
    assert "command not found" in body["message"]
    assert "no-such-cmd" in quarantined(api, sid)

    # Fixed on disk: the next scan registers it (this source needs no approval).
    write_def(tmp_path, "no-such-cmd", math_def())
    assert scan(api, sid)["registered"] == ["no-such-cmd"]
    assert api.get("/api/providers/no-such-cmd").status_code == 200
    assert "no-such-cmd" not in quarantined(api, sid)
    # A candidate may also be rejected straight from quarantine.
    assert api.post("/api/discovery/reject/typo").json() == {"rejected": True, "provider": "typo", "source_id": sid}
    assert "typo" not in quarantined(api, sid)


def test_rejected_stays_rejected_until_its_definition_changes(api: httpx.Client, tmp_path: Path) -> None:
    write_def(tmp_path, "fs-rej", math_def())
    sid = register(api, "filesystem", path=str(tmp_path), require_approval=True, interval_s=3600,
                   watch=False, enabled=False)
    scan(api, sid)
    assert pending_names(api, sid) == {"fs-rej"}
    r = api.post("/api/discovery/reject/fs-rej", json={"reason": "not wanted"})
    assert r.status_code == 200 and r.json()["rejected"] is True
    for _ in range(2):
        scan(api, sid)
        assert pending_names(api, sid) == set()
    assert api.get(f"/api/discovery/sources/{sid}").json()["rejected"] == ["fs-rej"]
    assert_envelope(api.post("/api/discovery/approve/fs-rej"), 404)

    write_def(tmp_path, "fs-rej", math_def(description="a new version"))
    scan(api, sid)
    assert pending_names(api, sid) == {"fs-rej"}


def test_authoritative_removes_only_what_it_registered(api: httpx.Client, tmp_path: Path) -> None:
    auth_dir, add_dir = tmp_path / "auth", tmp_path / "add"
    write_def(auth_dir, "auth-a", math_def())
    write_def(auth_dir, "auth-b", math_def())
    write_def(add_dir, "add-a", math_def())
    assert api.post("/api/providers", json={"provider_id": "by-hand", "mode": "subprocess",
                                            "command": [sys.executable, "-V"]}).status_code == 201
    a_sid = register(api, "filesystem", "authoritative", path=str(auth_dir), require_approval=False,
                     interval_s=3600,
                   watch=False, enabled=False)
    d_sid = register(api, "filesystem", "additive", path=str(add_dir), require_approval=False,
                     interval_s=3600,
                   watch=False, enabled=False)
    assert sorted(scan(api, a_sid)["registered"]) == ["auth-a", "auth-b"]
    assert scan(api, d_sid)["registered"] == ["add-a"]

    (auth_dir / "auth-a.yaml").unlink()
    (add_dir / "add-a.yaml").unlink()
    assert scan(api, a_sid)["deregistered"] == ["auth-a"]
    assert scan(api, d_sid)["deregistered"] == []
    assert api.get("/api/providers/auth-a").status_code == 404
    for kept in ("auth-b", "add-a", "by-hand"):
        assert api.get(f"/api/providers/{kept}").status_code == 200, kept
    assert api.get(f"/api/discovery/sources/{a_sid}").json()["registered"] == ["auth-b"]


def test_changes_on_disk_are_picked_up_without_a_scan_request(api: httpx.Client, tmp_path: Path) -> None:
    sid = register(api, "filesystem", "authoritative", path=str(tmp_path), pattern="*.yaml,*.json",
                   require_approval=False, interval_s=3600, watch=True, watch_interval_s=0.2)
    assert wait_until(lambda: api.get(f"/api/discovery/sources/{sid}").json()["scans"] >= 1, 10)
    (tmp_path / "watched.json").write_text(json.dumps(
        {"mode": "subprocess", "connection": {"command": [sys.executable, "-m", "hangar.examples.math_server"]}}
    ))
    assert wait_until(lambda: api.get("/api/providers/watched").status_code == 200, 15)
    (tmp_path / "watched.json").unlink()
    assert wait_until(lambda: api.get("/api/providers/watched").status_code == 404, 15)
