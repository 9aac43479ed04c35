"""The groups routes of the contract against a real server: shapes, defaults and bad input."""

from __future__ import annotations

import httpx

from tests.groups.conftest import assert_envelope, group_invoke, new_group, new_provider, uid
from tests.support import wait_until

ADD_TOOL = [{"name": "add", "description": "Add two numbers.",
             "input_schema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                              "required": ["a", "b"]}}]


def test_create_list_get_update_delete(api: httpx.Client) -> None:
    gid = uid("g")
    r = api.post("/api/groups", json={"group_id": gid, "description": "LLM pool"})
    assert r.status_code == 201 and r.json() == {"group_id": gid, "created": True}
    assert r.headers["location"] == f"/api/groups/{gid}"

    detail = api.get(f"/api/groups/{gid}").json()
    assert detail["group_id"] == gid and detail["description"] == "LLM pool"
    assert detail["strategy"] == "round_robin" and detail["min_healthy"] == 1
    assert detail["state"] == "inactive" and detail["members"] == []
    assert detail["healthy_count"] == 0 and detail["total_members"] == 0 and detail["is_available"] is False
    assert detail["circuit_breaker_state"] == "closed" and detail["circuit_open"] is False
    assert detail["circuit_breaker"]["failure_threshold"] == 1  # runtime.group_breaker_failure_threshold

    listed = next(g for g in api.get("/api/groups").json()["groups"] if g["group_id"] == gid)
    assert {"group_id", "state", "strategy", "members", "circuit_breaker_state"} <= set(listed)
    assert listed == api.get(f"/api/groups/{gid}").json()

    etag = api.get(f"/api/groups/{gid}").headers["etag"]
    r = api.put(f"/api/groups/{gid}", json={"strategy": "priority", "min_healthy": 2, "description": "changed",
                                             "circuit_breaker": {"failure_threshold": 4, "reset_timeout_s": 2.5}})
    assert r.status_code == 200 and r.json() == {"group_id": gid, "updated": True}
    detail = api.get(f"/api/groups/{gid}").json()
    assert (detail["strategy"], detail["min_healthy"], detail["description"]) == ("priority", 2, "changed")
    assert detail["circuit_breaker"]["failure_threshold"] == 4 and detail["circuit_breaker"]["reset_timeout_s"] == 2.5
    assert_envelope(api.put(f"/api/groups/{gid}", json={"description": "x"}, headers={"If-Match": etag}),
                    412, "PreconditionFailedError")

    r = api.delete(f"/api/groups/{gid}")
    assert r.status_code == 200 and r.json() == {"group_id": gid, "deleted": True}
    assert_envelope(api.get(f"/api/groups/{gid}"), 404, "GroupNotFoundError")
    assert_envelope(api.delete(f"/api/groups/{gid}"), 404, "GroupNotFoundError")
    assert all(g["group_id"] != gid for g in api.get("/api/groups").json()["groups"])


def test_bad_create_and_update_bodies_change_nothing(api: httpx.Client) -> None:
    gid = new_group(api, [])
    before = api.get(f"/api/groups/{gid}").json()
    assert_envelope(api.post("/api/groups", json={"group_id": gid}), 409, "AlreadyExistsError")
    for body in ({"strategy": "round_robin"}, {"group_id": uid("g"), "strategy": "bogus"},
                 {"group_id": uid("g"), "min_healthy": 0}, {"group_id": uid("g"), "min_healthy": "x"},
                 {"group_id": uid("g"), "nope": 1}, {"group_id": uid("g"), "circuit_breaker": {"failure_threshold": 0}},
                 {"group_id": "bad id!"}, {"group_id": "has.dot"}):
        r = api.post("/api/groups", json=body)
        assert_envelope(r, 422, "ValidationError")
    r = api.post("/api/groups", content=b"{not json", headers={"content-type": "application/json"})
    assert_envelope(r, 400)
    pid, _ = new_provider(api)
    assert_envelope(api.post("/api/groups", json={"group_id": pid}), 409, "AlreadyExistsError")
    assert api.get(f"/api/groups/{pid}").status_code == 404

    bad_updates: list[dict[str, object]] = [
        {"strategy": "bogus"}, {"min_healthy": -1}, {"unknown": True}, {"circuit_breaker": {"x": 1}},
    ]
    for update in bad_updates:
        assert_envelope(api.put(f"/api/groups/{gid}", json=update), 422, "ValidationError")
    assert_envelope(api.put(f"/api/groups/{uid('nope')}", json={"description": "x"}), 404, "GroupNotFoundError")
    after = api.get(f"/api/groups/{gid}").json()
    assert after == before


def test_members_add_show_remove_and_bad_input(api: httpx.Client) -> None:
    a, _ = new_provider(api, tools=ADD_TOOL)
    b, _ = new_provider(api, tools=ADD_TOOL)
    gid = new_group(api, [], min_healthy=2)
    r = api.post(f"/api/groups/{gid}/members", json={"member_id": a, "weight": 3, "priority": 2})
    assert r.status_code == 201 and r.json() == {"group_id": gid, "provider_id": a, "added": True}
    detail = api.get(f"/api/groups/{gid}").json()
    assert detail["state"] == "partial"  # 1 healthy < min_healthy 2
    m = detail["members"][0]
    assert (m["id"], m["state"], m["in_rotation"], m["weight"], m["priority"]) == (a, "cold", True, 3, 2)
    assert m["circuit_breaker_state"] == "closed" and m["inflight"] == 0
    r = api.post(f"/api/groups/{gid}/members", json={"member_id": b})
    assert r.status_code == 201
    detail = api.get(f"/api/groups/{gid}").json()
    assert detail["state"] == "healthy" and detail["healthy_count"] == 2 and detail["total_members"] == 2
    assert [(x["id"], x["weight"], x["priority"]) for x in detail["members"]] == [(a, 3, 2), (b, 1, 1)]

    assert_envelope(api.post(f"/api/groups/{gid}/members", json={"member_id": a}), 409, "AlreadyExistsError")
    assert_envelope(api.post(f"/api/groups/{gid}/members", json={"member_id": uid("nope")}),
                    404, "ProviderNotFoundError")
    assert_envelope(api.post(f"/api/groups/{uid('nope')}/members", json={"member_id": a}), 404, "GroupNotFoundError")
    for body in ({}, {"member_id": a, "weight": 0}, {"member_id": a, "priority": -1}, {"member_id": a, "weight": "x"},
                 {"member_id": a, "extra": 1}):
        assert_envelope(api.post(f"/api/groups/{gid}/members", json=body), 422, "ValidationError")
    assert api.get(f"/api/groups/{gid}").json() == detail

    r = api.delete(f"/api/groups/{gid}/members/{a}")
    assert r.status_code == 200 and r.json() == {"group_id": gid, "provider_id": a, "removed": True}
    assert_envelope(api.delete(f"/api/groups/{gid}/members/{a}"), 404, "GroupMemberNotFoundError")
    assert_envelope(api.delete(f"/api/groups/{uid('nope')}/members/{a}"), 404, "GroupNotFoundError")
    detail = api.get(f"/api/groups/{gid}").json()
    assert [x["id"] for x in detail["members"]] == [b] and detail["state"] == "partial"
    assert api.get(f"/api/providers/{a}").status_code == 200  # leaving a group keeps the provider


def test_rebalance_tools_and_invoke_errors(api: httpx.Client) -> None:
    a, _ = new_provider(api, tools=ADD_TOOL)
    gid = new_group(api, [a])
    r = api.post(f"/api/groups/{gid}/rebalance")
    assert r.status_code == 200 and r.json() == {"status": "rebalanced", "group_id": gid, "in_rotation": [a]}
    assert api.get(f"/api/groups/{gid}").json()["last_rebalanced_at"]
    assert_envelope(api.post(f"/api/groups/{uid('nope')}/rebalance"), 404, "GroupNotFoundError")

    tools = api.get(f"/api/groups/{gid}/tools").json()
    assert tools["group_id"] == gid and [(t["name"], t["members"]) for t in tools["tools"]] == [("add", [a])]

    assert_envelope(group_invoke(api, uid("nope"), "add", a=1, b=2), 404, "GroupNotFoundError")
    assert_envelope(group_invoke(api, gid, "nosuch"), 404, "GroupToolNotFoundError")
    assert_envelope(group_invoke(api, gid, "add", a="x", b=2), 422, "ValidationError")
    r = api.post(f"/api/groups/{gid}/tools/add/invoke", json={"arguments": {}, "timeout_s": 0})
    assert_envelope(r, 422, "ValidationError")
    empty = new_group(api, [])
    assert_envelope(group_invoke(api, empty, "add"), 503, "GroupUnavailableError")

    r = group_invoke(api, gid, "add", a=2, b=3)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["provider_id"] == a and out["group_id"] == gid and out["tool"] == "add" and out["attempts"] == 1
    assert out["is_error"] is False and float(out["result"][0]["text"]) == 5 and out["duration_ms"] > 0
    hist = api.get(f"/api/providers/{a}/tools/history").json()["history"]
    assert {h.get("group_id") for h in hist} == {gid}


def test_deleting_a_provider_removes_it_from_its_groups(api: httpx.Client) -> None:
    a, _ = new_provider(api, tools=ADD_TOOL)
    b, _ = new_provider(api, tools=ADD_TOOL)
    g1, g2 = new_group(api, [a, b]), new_group(api, [a])
    assert api.delete(f"/api/providers/{a}").status_code == 200

    def gone() -> bool:
        return all(a not in [m["id"] for m in api.get(f"/api/groups/{g}").json()["members"]] for g in (g1, g2))

    assert wait_until(gone, 10)
    assert [m["id"] for m in api.get(f"/api/groups/{g1}").json()["members"]] == [b]
    assert api.get(f"/api/groups/{g2}").json()["state"] == "inactive"
    events = api.get(f"/api/groups/{g1}/tools").json()
    assert events["tools"][0]["members"] == [b]
