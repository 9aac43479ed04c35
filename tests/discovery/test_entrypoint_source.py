"""Entry-point source end to end, against the installed fixture package
``tests/fixtures/entrypoint_pkg`` (group ``hangar_test.providers``, plus one entry in the
default group ``mcp.providers``)."""

from __future__ import annotations

import httpx
import pytest

from tests.discovery.conftest import TEST_GROUP, ensure_entrypoint_package, pending_names, quarantined, register
from tests.support import wait_until


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    ensure_entrypoint_package()


def test_entry_points_are_found_vetted_and_registered(api: httpx.Client) -> None:
    sid = register(api, "entrypoint", enabled=False, group=TEST_GROUP, require_approval=True, interval_s=3600)
    r = api.post(f"/api/discovery/sources/{sid}/scan")
    assert r.status_code == 200 and r.json()["error"] is None, r.text
    # ep-math, ep-list-a (ep-list-b says enabled: false), ep-nocommand, ep-broken
    assert r.json()["providers_found"] == 4
    assert pending_names(api, sid) == {"ep-math", "ep-list-a"}
    q = quarantined(api, sid)
    assert set(q) == {"ep-nocommand", "ep-broken"}
    assert "cannot load entry point" in q["ep-broken"]["reason"]
    assert "command" in q["ep-nocommand"]["reason"]
    [p] = [p for p in api.get("/api/discovery/pending").json()["pending"] if p["name"] == "ep-math"]
    assert p["source"] == "entrypoint" and "hangar-test-entrypoints" in p["origin"]

    assert api.post("/api/discovery/approve/ep-math").json()["status"] == "registered"
    assert api.post("/api/discovery/reject/ep-list-a").status_code == 200
    assert api.post("/api/providers/ep-math/start").status_code == 200
    assert wait_until(lambda: api.get("/api/providers/ep-math").json()["state"] == "ready", 20)
    api.post("/api/providers/ep-math/stop")
    api.post(f"/api/discovery/sources/{sid}/scan")
    assert pending_names(api, sid) == set()


def test_default_group_is_mcp_providers(api: httpx.Client) -> None:
    sid = register(api, "entrypoint", enabled=False, require_approval=False)
    src = api.get(f"/api/discovery/sources/{sid}").json()
    assert src["config"] == {"require_approval": False} and src["require_approval"] is False
    r = api.post(f"/api/discovery/sources/{sid}/scan").json()
    assert "ep-default-group" in r["registered"]
    assert api.get("/api/providers/ep-default-group").status_code == 200
