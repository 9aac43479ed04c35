"""The log routes show a principal only the streams whose REST counterparts it may read (the
rule the event WebSocket applies to frames): a viewer pages, follows and diffs the log without
seeing roles, keys, policies or the security stream; an administrator sees them."""

from __future__ import annotations

from typing import Any

import httpx

from tests.auth.conftest import AuthHangar, make_key, make_role

HIDDEN_FROM_VIEWER = ("auth:", "audit:", "system:config", "system:maintenance")


def all_events(client: httpx.Client) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor: int | None = 0
    while cursor is not None:
        r = client.get("/api/events", params={"from_position": cursor, "limit": 1000})
        assert r.status_code == 200, r.text
        body = r.json()
        out += body["events"]
        cursor = body["next_cursor"]
    return out


def test_a_viewer_reads_only_the_streams_its_role_may_read(server: AuthHangar, admin: httpx.Client) -> None:
    make_role(admin, "logvis-role", "providers:read")
    viewer_key = make_key(admin, "logvis-viewer", "viewer")
    r = admin.post("/api/providers", json={"provider_id": "logvis-p", "mode": "remote",
                                           "endpoint": "http://127.0.0.1:9/mcp"})
    assert r.status_code == 201, r.text

    everything = all_events(admin)
    assert any(e["stream_id"] == "auth:role:logvis-role" for e in everything)
    with server.client_for(viewer_key) as viewer:
        seen = all_events(viewer)
        assert any(e["stream_id"] == "provider:logvis-p" for e in seen)
        assert not [e["stream_id"] for e in seen if e["stream_id"].startswith(HIDDEN_FROM_VIEWER)]

        # A hidden stream is answered as one that does not exist; a visible one as usual.
        for path in ("/api/streams/auth:role:logvis-role", "/api/streams/auth:role:logvis-role/events"):
            hidden = viewer.get(path)
            assert hidden.status_code == 404, hidden.text
            assert set(hidden.json()) == {"error", "message", "status_code"}
            assert admin.get(path).status_code == 200
        assert viewer.get("/api/streams/provider:logvis-p").status_code == 200

        # The diff lists only resources the viewer may read.
        last = everything[-1]["position"]
        changes = viewer.get("/api/diff", params={"from": "0", "to": str(last)}).json()["changes"]
        assert any(c["resource"] == "provider:logvis-p" for c in changes)
        assert not [c["resource"] for c in changes if c["resource"].startswith(HIDDEN_FROM_VIEWER)]
        admin_changes = admin.get("/api/diff", params={"from": "0", "to": str(last)}).json()["changes"]
        assert any(c["resource"] == "auth:role:logvis-role" for c in admin_changes)


def test_a_bad_diff_range_is_422_and_changes_nothing(admin: httpx.Client) -> None:
    before = all_events(admin)
    for params in ({"from": "5", "to": "2"}, {"from": "yesterday", "to": "3"}, {"from": "0"}):
        r = admin.get("/api/diff", params=params)
        assert r.status_code in (400, 422), (params, r.text)
        body = r.json()
        assert set(body) == {"error", "message", "status_code"} and body["status_code"] == r.status_code
    assert all_events(admin) == before
