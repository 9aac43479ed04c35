"""Every discovery route's bad input is a 4xx in the contract's envelope, and changes nothing."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.discovery.conftest import assert_envelope, math_def, register, write_def


def sources(api: httpx.Client) -> list[dict]:
    return list(api.get("/api/discovery/sources").json()["sources"])


def test_register_list_update_enable_delete(api: httpx.Client, tmp_path: Path) -> None:
    r = api.post("/api/discovery/sources", json={"source_type": "filesystem", "mode": "additive",
                                                 "enabled": False, "config": {"path": str(tmp_path)}})
    assert r.status_code == 201
    sid = r.json()["source_id"]
    assert r.json() == {"source_id": sid, "registered": True} and sid.startswith("filesystem-")
    assert r.headers["location"] == f"/api/discovery/sources/{sid}"
    [row] = [s for s in sources(api) if s["source_id"] == sid]
    assert row["type"] == "filesystem" and row["mode"] == "additive" and row["enabled"] is False
    assert row["last_scan"] is None and row["providers_found"] == 0

    r = api.put(f"/api/discovery/sources/{sid}", json={"mode": "authoritative", "config": {"path": str(tmp_path),
                                                                                          "interval_s": 5}})
    assert r.status_code == 200 and r.json() == {"source_id": sid, "updated": True}
    row = api.get(f"/api/discovery/sources/{sid}").json()
    assert row["mode"] == "authoritative" and row["config"]["interval_s"] == 5
    r = api.put(f"/api/discovery/sources/{sid}/enable", json={"enabled": True})
    assert r.status_code == 200 and r.json() == {"source_id": sid, "enabled": True}
    assert api.get(f"/api/discovery/sources/{sid}").json()["enabled"] is True
    assert api.put(f"/api/discovery/sources/{sid}/enable", json={"enabled": False}).json()["enabled"] is False

    r = api.delete(f"/api/discovery/sources/{sid}")
    assert r.status_code == 200 and r.json() == {"source_id": sid, "deregistered": True}
    assert all(s["source_id"] != sid for s in sources(api))
    assert_envelope(api.delete(f"/api/discovery/sources/{sid}"), 404)


def test_bad_input_is_refused_in_the_envelope(api: httpx.Client, tmp_path: Path) -> None:
    sid = register(api, "filesystem", enabled=False, path=str(tmp_path))
    before = sources(api)
    post = "/api/discovery/sources"
    for body in (
        {},
        {"mode": "additive"},
        {"source_type": "filesystem"},
        {"source_type": "ftp", "mode": "additive"},
        {"source_type": "filesystem", "mode": "sometimes", "config": {"path": "/x"}},
        {"source_type": "filesystem", "mode": "additive", "config": {}},
        {"source_type": "filesystem", "mode": "additive", "config": {"path": "/x", "paht": 1}},
        {"source_type": "filesystem", "mode": "additive", "config": {"path": "/x", "interval_s": 0}},
        {"source_type": "docker", "mode": "additive", "config": {"require_approval": "maybe"}},
        {"source_type": "kubernetes", "mode": "additive", "config": {"kinds": ["deployments"]}},
        {"source_type": "docker", "mode": "additive", "enabled": "yes"},
        {"source_type": "docker", "mode": "additive", "config": []},
        {"source_type": "docker", "mode": "additive", "colour": "red"},
        {"source_type": "docker", "mode": "additive", "source_id": "bad id!"},
    ):
        assert_envelope(api.post(post, json=body), 422)
    assert_envelope(api.post(post, json={"source_type": "filesystem", "mode": "additive", "source_id": sid,
                                         "config": {"path": "/x"}}), 409)
    assert_envelope(api.post(post, content=b"{not json", headers={"content-type": "application/json"}), 400)
    assert_envelope(api.post(post, json=["filesystem"]), 422)

    assert_envelope(api.put("/api/discovery/sources/nope", json={"enabled": True}), 404)
    assert_envelope(api.put(f"/api/discovery/sources/{sid}", json={"mode": "bold"}), 422)
    assert_envelope(api.put(f"/api/discovery/sources/{sid}", json={"config": {"pattern": "*.yml"}}), 422)
    assert_envelope(api.put(f"/api/discovery/sources/{sid}", json={"type": "docker"}), 422)
    assert_envelope(api.delete("/api/discovery/sources/nope"), 404)
    assert_envelope(api.post("/api/discovery/sources/nope/scan"), 404)
    assert_envelope(api.put("/api/discovery/sources/nope/enable", json={"enabled": True}), 404)
    assert_envelope(api.put(f"/api/discovery/sources/{sid}/enable", json={}), 422)
    assert_envelope(api.put(f"/api/discovery/sources/{sid}/enable", json={"enabled": "on"}), 422)
    assert_envelope(api.put(f"/api/discovery/sources/{sid}/enable"), 422)
    assert_envelope(api.post("/api/discovery/approve/nobody"), 404, "CandidateNotFoundError")
    assert_envelope(api.post("/api/discovery/reject/nobody"), 404, "CandidateNotFoundError")
    assert_envelope(api.post("/api/discovery/reject/nobody", json={"reason": 5}), 422)
    assert sources(api) == before


def test_approval_of_a_name_taken_meanwhile_is_refused(api: httpx.Client, tmp_path: Path) -> None:
    write_def(tmp_path, "late-clash", math_def())
    sid = register(api, "filesystem", enabled=False, path=str(tmp_path), require_approval=True)
    api.post(f"/api/discovery/sources/{sid}/scan")
    assert api.post("/api/providers", json={"provider_id": "late-clash", "mode": "remote",
                                            "endpoint": "http://127.0.0.1:9/mcp"}).status_code == 201
    body = assert_envelope(api.post("/api/discovery/approve/late-clash", params={"source_id": sid}), 422)
    assert "name collision" in body["message"]
    assert api.get("/api/providers/late-clash").json()["mode"] == "remote"
    assert_envelope(api.post("/api/discovery/approve/late-clash", params={"source_id": "other"}), 404)
