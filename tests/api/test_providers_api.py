"""The providers routes of the contract, against a real server over real HTTP."""

from __future__ import annotations

import uuid

import httpx
import pytest


def pid(prefix: str = "p") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create(api: httpx.Client, provider_id: str, **fields: object) -> httpx.Response:
    body = {"provider_id": provider_id, "mode": "subprocess", "command": ["python", "-V"], **fields}
    return api.post("/api/providers", json=body)


def assert_envelope(r: httpx.Response, status: int, error: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "message", "status_code"}, body
    assert body["status_code"] == status
    assert body["message"]
    if error:
        assert body["error"] == error
    return body


def test_create_get_list_update_delete(api: httpx.Client) -> None:
    p = pid()
    r = create(api, p, description="Math computation provider", env={"A": "1"})
    assert r.status_code == 201
    assert r.json() == {"provider_id": p, "created": True}
    assert r.headers["location"] == f"/api/providers/{p}"

    row = next(x for x in api.get("/api/providers").json()["providers"] if x["provider"] == p)
    assert row == {
        "provider": p, "provider_id": p, "state": "cold", "mode": "subprocess", "alive": False, "tools_count": 0,
        "health_status": "unknown", "tools_predefined": False,
        "description": "Math computation provider",
    }

    r = api.get(f"/api/providers/{p}")
    assert r.status_code == 200
    detail = r.json()
    assert detail["provider"] == p and detail["state"] == "cold"
    assert detail["config"]["idle_ttl_s"] == 300 and detail["config"]["network"] == "none"
    assert detail["config"]["read_only"] is True and detail["config"]["volumes"] == []
    assert detail["config"]["health_check_interval_s"] == 60
    assert "health" in detail and "tools" in detail
    etag = r.headers["etag"]

    r = api.put(f"/api/providers/{p}", json={"description": "new", "idle_ttl_s": 30})
    assert r.status_code == 200 and r.json() == {"provider_id": p, "updated": True}
    detail = api.get(f"/api/providers/{p}").json()
    assert detail["description"] == "new" and detail["config"]["idle_ttl_s"] == 30
    assert api.get(f"/api/providers/{p}").headers["etag"] != etag

    r = api.delete(f"/api/providers/{p}")
    assert r.status_code == 200 and r.json() == {"provider_id": p, "deleted": True}
    assert_envelope(api.get(f"/api/providers/{p}"), 404, "ProviderNotFoundError")
    assert all(x["provider"] != p for x in api.get("/api/providers").json()["providers"])


def test_list_filters_by_state(api: httpx.Client) -> None:
    p = pid()
    create(api, p)
    cold = api.get("/api/providers", params={"state": "cold"}).json()["providers"]
    assert any(x["provider"] == p for x in cold)
    ready = api.get("/api/providers", params={"state": "ready"}).json()["providers"]
    assert all(x["provider"] != p for x in ready)
    assert_envelope(api.get("/api/providers", params={"state": "sleepy"}), 422, "ValidationError")


def test_modes_need_their_fields(api: httpx.Client) -> None:
    r = api.post("/api/providers", json={"provider_id": pid(), "mode": "docker"})
    assert "image" in assert_envelope(r, 422)["message"]
    r = api.post("/api/providers", json={"provider_id": pid(), "mode": "remote"})
    assert "endpoint" in assert_envelope(r, 422)["message"]
    r = api.post("/api/providers", json={"provider_id": pid(), "mode": "subprocess", "command": []})
    assert "command" in assert_envelope(r, 422)["message"]
    p = pid()
    r = api.post("/api/providers", json={"provider_id": p, "mode": "docker", "image": "alpine:3"})
    assert r.status_code == 201
    r = api.post("/api/providers", json={"provider_id": pid(), "mode": "remote",
                                         "endpoint": "http://127.0.0.1:9/mcp"})
    assert r.status_code == 201


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[]", 422),
        (b"{}", 422),
        (b'{"provider_id": "x1", "mode": "carrier-pigeon", "command": ["a"]}', 422),
        (b'{"provider_id": "x1", "mode": "subprocess", "command": "python"}', 422),
        (b'{"provider_id": "x1", "mode": "subprocess", "command": ["a"], "idle_ttl_s": -1}', 422),
        (b'{"provider_id": "x1", "mode": "subprocess", "command": ["a"], "env": {"A": 1}}', 422),
        (b'{"provider_id": "x1", "mode": "subprocess", "command": ["a"], "idle_tt1_s": 5}', 422),
        (b'{"provider_id": "bad id!", "mode": "subprocess", "command": ["a"]}', 422),
        (b'{"provider_id": "", "mode": "subprocess", "command": ["a"]}', 422),
        (b'{"provider_id": "a.b", "mode": "subprocess", "command": ["a"]}', 422),
    ],
)
def test_create_rejects_bad_input_and_changes_nothing(api: httpx.Client, body: bytes, status: int) -> None:
    before = api.get("/api/providers").json()
    r = api.post("/api/providers", content=body, headers={"content-type": "application/json"})
    assert_envelope(r, status)
    assert api.get("/api/providers").json() == before


def test_duplicate_create_is_409(api: httpx.Client) -> None:
    p = pid()
    assert create(api, p).status_code == 201
    assert_envelope(create(api, p), 409, "AlreadyExistsError")


def test_recreate_after_delete(api: httpx.Client) -> None:
    p = pid()
    create(api, p, description="one")
    api.delete(f"/api/providers/{p}")
    assert create(api, p, description="two").status_code == 201
    assert api.get(f"/api/providers/{p}").json()["description"] == "two"


def test_update_and_delete_errors(api: httpx.Client) -> None:
    missing = pid("missing")
    assert_envelope(api.put(f"/api/providers/{missing}", json={"description": "x"}), 404)
    assert_envelope(api.delete(f"/api/providers/{missing}"), 404)
    p = pid()
    create(api, p)
    assert_envelope(api.put(f"/api/providers/{p}", json={"idle_ttl_s": "x"}), 422)
    assert_envelope(api.put(f"/api/providers/{p}", json={"mode": "docker"}), 422)
    assert_envelope(api.put(f"/api/providers/{p}", json={"health_check_interval_s": 0}), 422)
    assert_envelope(
        api.put(f"/api/providers/{p}", content=b"{", headers={"content-type": "application/json"}), 400
    )
    assert api.get(f"/api/providers/{p}").json()["config"]["idle_ttl_s"] == 300


def test_if_match(api: httpx.Client) -> None:
    p = pid()
    create(api, p)
    etag = api.get(f"/api/providers/{p}").headers["etag"]
    r = api.put(f"/api/providers/{p}", json={"description": "a"}, headers={"If-Match": etag})
    assert r.status_code == 200
    new_etag = r.headers["etag"]
    # The old version no longer matches: 412 and nothing changes.
    r = api.put(f"/api/providers/{p}", json={"description": "b"}, headers={"If-Match": etag})
    assert_envelope(r, 412, "PreconditionFailedError")
    assert api.get(f"/api/providers/{p}").json()["description"] == "a"
    assert_envelope(api.delete(f"/api/providers/{p}", headers={"If-Match": etag}), 412)
    assert_envelope(api.delete(f"/api/providers/{p}", headers={"If-Match": "W/" + new_etag}), 412)
    assert api.get(f"/api/providers/{p}").status_code == 200
    assert api.delete(f"/api/providers/{p}", headers={"If-Match": new_etag}).status_code == 200


def test_env_secrets_are_redacted(api: httpx.Client) -> None:
    p = pid()
    create(api, p, env={"API_TOKEN": "s3cret-value", "REGION": "eu"})
    env = api.get(f"/api/providers/{p}").json()["config"]["env"]
    assert env == {"API_TOKEN": "***", "REGION": "eu"}


def test_tool_history_params(api: httpx.Client) -> None:
    p = pid()
    create(api, p)
    r = api.get(f"/api/providers/{p}/tools/history")
    assert r.status_code == 200
    assert r.json() == {"provider_id": p, "history": [], "total": 0}
    for q in ({"limit": 0}, {"limit": 501}, {"limit": "x"}, {"from_position": -1}):
        assert_envelope(api.get(f"/api/providers/{p}/tools/history", params=q), 422)
    assert api.get(f"/api/providers/{p}/tools/history", params={"limit": 500}).status_code == 200
    assert_envelope(api.get(f"/api/providers/{pid('missing')}/tools/history"), 404)


def test_system(api: httpx.Client) -> None:
    create(api, pid())
    body = api.get("/api/system").json()
    assert set(body) == {"system"}
    s = body["system"]
    assert set(s) == {"total_providers", "providers_by_state", "total_tools", "total_tool_calls",
                      "uptime_seconds", "version"}
    assert s["total_providers"] >= 1 and s["providers_by_state"]["cold"] >= 1
    assert s["uptime_seconds"] > 0 and s["version"]


def test_compact(api: httpx.Client) -> None:
    assert_envelope(api.post("/api/maintenance/compact", json={}), 422)
    assert_envelope(api.post("/api/maintenance/compact", json={"stream_id": ""}), 422)
    assert_envelope(api.post("/api/maintenance/compact", json={"stream_id": "   "}), 422)
    assert_envelope(api.post("/api/maintenance/compact", json={"stream_id": 5}), 422)
    r = api.post("/api/maintenance/compact", json={"stream_id": "provider:nothing-here"})
    assert_envelope(r, 500, "NoSnapshotError")


def test_compact_after_snapshot(api: httpx.Client) -> None:
    p = pid()
    create(api, p)
    for i in range(120):  # snapshot_every defaults to 100
        assert api.put(f"/api/providers/{p}", json={"description": f"d{i}"}).status_code == 200
    r = api.post("/api/maintenance/compact", json={"stream_id": f"provider:{p}"})
    assert r.status_code == 200, r.text
    assert r.json() == {"compacted": {"stream_id": f"provider:{p}", "events_deleted": 100}}
    # The aggregate still loads and accepts changes after its early history is gone.
    assert api.put(f"/api/providers/{p}", json={"description": "after"}).status_code == 200
    assert api.get(f"/api/providers/{p}").json()["description"] == "after"


def test_unknown_route_and_method(api: httpx.Client) -> None:
    assert_envelope(api.get("/api/nope"), 404, "NotFound")
    assert_envelope(api.patch("/api/providers"), 405, "MethodNotAllowed")


def test_openapi_lists_every_route(api: httpx.Client) -> None:
    schema = api.get("/schema/openapi.json").json()
    paths = schema["paths"]
    for path in ("/api/providers", "/api/providers/{provider_id}", "/api/system",
                 "/api/providers/{provider_id}/tools/history", "/api/maintenance/compact"):
        assert path in paths, sorted(paths)
    create_schema = paths["/api/providers"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert create_schema
