"""``GET /api/tools`` over real providers and a group, and ``If-Match`` races on a group."""

from __future__ import annotations

import sys
import threading

import httpx

from tests.discovery.conftest import assert_envelope

MATH = [sys.executable, "-m", "hangar.examples.math_server"]


def predefined(pid: str, *names: str) -> dict[str, object]:
    return {"provider_id": pid, "mode": "subprocess", "command": MATH,
            "tools": [{"name": n, "description": f"{n} tool",
                       "input_schema": {"type": "object", "properties": {"x": {"type": "number"}}}} for n in names]}


def all_tools(api: httpx.Client, **params: object) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    cursor = None
    while True:
        page = api.get("/api/tools", params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        out += page["tools"]
        cursor = page["next_cursor"]
        if not cursor:
            return out


def test_tools_across_providers_and_groups(api: httpx.Client) -> None:
    assert api.post("/api/providers", json=predefined("alpha", "add", "sub")).status_code == 201
    assert api.post("/api/providers", json=predefined("beta", "mul")).status_code == 201
    assert api.post("/api/groups", json={"group_id": "pool"}).status_code == 201
    for m in ("alpha", "beta"):
        assert api.post("/api/groups/pool/members", json={"member_id": m}).status_code == 201
    body = api.get("/api/tools").json()
    assert set(body) == {"tools", "total"}
    names = [t["name"] for t in body["tools"]]
    assert names == ["alpha__add", "alpha__sub", "beta__mul", "pool__add", "pool__mul", "pool__sub"]
    add = body["tools"][0]
    assert add["provider"] == "alpha" and add["group"] is False and add["description"] == "add tool"
    assert add["input_schema"]["properties"] == {"x": {"type": "number"}}
    assert add["etag"].startswith('"') and len({t["etag"] for t in body["tools"][:3]}) == 3
    assert [t["name"] for t in api.get("/api/tools", params={"q": "alpha__"}).json()["tools"]] == ["alpha__add",
                                                                                              "alpha__sub"]
    assert [t["name"] for t in api.get("/api/tools", params={"provider": "pool"}).json()["tools"]] == [
        "pool__add", "pool__mul", "pool__sub"]
    assert [t["name"] for t in all_tools(api)] == names
    assert_envelope(api.get("/api/tools", params={"cursor": "bogus"}), 400, "InvalidCursorError")
    # the names are the ones /mcp answers to: the list follows a started provider's real tools
    assert api.post("/api/providers/beta/start").status_code == 200
    started = [t["name"] for t in api.get("/api/tools", params={"provider": "beta"}).json()["tools"]]
    assert "beta__add" in started and "beta__mul" not in started
    # tool history pages by stream version: a walk with a cursor equals one big read
    for n in range(4):
        r = api.post("/api/providers/beta/tools/add/invoke", json={"arguments": {"a": n, "b": 1}})
        assert r.status_code == 200, r.text
    full = api.get("/api/providers/beta/tools/history", params={"limit": 500}).json()
    assert set(full) == {"provider_id", "history", "total"} and full["total"] == 8
    walked: list[dict[str, object]] = []
    cursor = ""
    while True:
        page = api.get("/api/providers/beta/tools/history", params={"limit": 3, "cursor": cursor}).json()
        walked += page["history"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == full["history"]
    assert_envelope(api.get("/api/providers/beta/tools/history", params={"cursor": "x.y"}), 400, "InvalidCursorError")
    api.post("/api/providers/beta/stop")


def test_two_clients_same_if_match_exactly_one_wins(api: httpx.Client, hangar) -> None:  # type: ignore[no-untyped-def]
    assert api.post("/api/groups", json={"group_id": "race", "min_healthy": 1}).status_code == 201
    for round_ in range(5):
        tag = api.get("/api/groups/race").headers["etag"]
        barrier = threading.Barrier(2)
        results: list[httpx.Response] = []

        def put(value: int, tag: str = tag, barrier: threading.Barrier = barrier,
                results: list[httpx.Response] = results) -> None:
            with httpx.Client(base_url=hangar.base, timeout=30) as c:
                barrier.wait()
                results.append(c.put("/api/groups/race", json={"min_healthy": value, "description": f"d{value}"},
                                     headers={"If-Match": tag}))

        threads = [threading.Thread(target=put, args=(v,)) for v in (10 + round_ * 2, 11 + round_ * 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 412], [r.text for r in results]
        winner = next(r for r in results if r.status_code == 200)
        loser = next(r for r in results if r.status_code == 412)
        assert_envelope(loser, 412)
        g = api.get("/api/groups/race")
        body = g.json()
        # the winner's change is whole: min_healthy and description from the same request
        assert body["description"] == f"d{body['min_healthy']}"
        assert g.headers["etag"] == winner.headers["etag"] == f'"{int(tag.strip(chr(34))) + 1}"'


def test_put_creates_and_if_none_match_is_create_only(api: httpx.Client) -> None:
    r = api.put("/api/groups/upserted", json={"strategy": "priority"}, headers={"If-None-Match": "*"})
    assert r.status_code == 201 and r.json() == {"group_id": "upserted", "created": True}
    assert r.headers["etag"] == api.get("/api/groups/upserted").headers["etag"]
    assert api.get("/api/groups/upserted").json()["strategy"] == "priority"
    assert_envelope(api.put("/api/groups/upserted", json={"min_healthy": 3}, headers={"If-None-Match": "*"}), 412)
    assert api.get("/api/groups/upserted").json()["min_healthy"] == 1
    assert_envelope(api.put("/api/groups/nothing-here", json={}, headers={"If-Match": '"3"'}), 412)
    assert_envelope(api.put("/api/groups/nothing-here", json={}), 404, "GroupNotFoundError")
    assert api.get("/api/groups/nothing-here").status_code == 404
    # providers cannot be created by PUT (the contract's body has no mode), but honour both headers
    assert api.post("/api/providers", json=predefined("etag-p", "x")).status_code == 201
    tag = api.get("/api/providers/etag-p").headers["etag"]
    assert_envelope(api.put("/api/providers/etag-p", json={"description": "x"}, headers={"If-None-Match": "*"}), 412)
    assert_envelope(api.delete("/api/providers/etag-p", headers={"If-Match": '"999"'}), 412)
    assert api.delete("/api/providers/etag-p", headers={"If-Match": tag}).status_code == 200


def test_roles_policies_catalog_and_sources_carry_etags(api: httpx.Client) -> None:
    assert_envelope(api.put("/api/auth/roles/etag-role", json={"permissions": ["providers:read"]}), 404)
    r = api.put("/api/auth/roles/etag-role", json={"permissions": ["providers:read"]}, headers={"If-None-Match": "*"})
    assert r.status_code == 201 and r.json()["created"] is True
    tag = r.headers["etag"]
    assert api.get("/api/auth/roles/etag-role").headers["etag"] == tag
    assert_envelope(api.put("/api/auth/roles/etag-role", json={"description": "x"}, headers={"If-None-Match": "*"}),
                    412)
    assert_envelope(api.put("/api/auth/roles/etag-role", json={"description": "x"}, headers={"If-Match": '"99"'}),
                    412)
    r = api.put("/api/auth/roles/etag-role", json={"description": "y"}, headers={"If-Match": tag})
    assert r.status_code == 200 and r.headers["etag"] != tag
    assert_envelope(api.delete("/api/auth/roles/etag-role", headers={"If-Match": tag}), 412)
    assert api.delete("/api/auth/roles/etag-role", headers={"If-Match": r.headers["etag"]}).status_code == 200

    pol = "/api/auth/policies/alpha/add"
    r = api.put(pol, json={"principal_id": "bob", "effect": "allow"}, headers={"If-None-Match": "*"})
    assert r.status_code == 200, r.text
    tag = r.headers["etag"]
    assert api.get(pol).headers["etag"] == tag
    assert_envelope(api.put(pol, json={"principal_id": "eve", "effect": "deny"}, headers={"If-None-Match": "*"}), 412)
    assert_envelope(api.put(pol, json={"principal_id": "eve", "effect": "deny"}, headers={"If-Match": '"77"'}), 412)
    assert [e["principal_id"] for e in api.get(pol).json()["entries"]] == ["bob"]
    assert api.delete(pol, headers={"If-Match": tag}).status_code == 200

    e = api.post("/api/catalog", json={"name": "etag-entry", "description": "d"})
    etag, eid = e.headers["etag"], e.json()["entry_id"]
    assert api.get(f"/api/catalog/{eid}").headers["etag"] == etag
    assert_envelope(api.delete(f"/api/catalog/{eid}", headers={"If-Match": '"42"'}), 412)
    assert api.delete(f"/api/catalog/{eid}", headers={"If-Match": etag}).status_code == 200

    s = api.post("/api/discovery/sources", json={"source_type": "filesystem", "mode": "additive", "enabled": False,
                                                 "config": {"path": "/nonexistent-for-etag"}})
    assert s.status_code == 201, s.text
    sid, stag = s.json()["source_id"], s.headers["etag"]
    assert api.get(f"/api/discovery/sources/{sid}").headers["etag"] == stag
    assert_envelope(api.put(f"/api/discovery/sources/{sid}", json={"mode": "authoritative"},
                            headers={"If-Match": '"50"'}), 412)
    assert_envelope(api.put(f"/api/discovery/sources/{sid}", json={"mode": "authoritative"},
                            headers={"If-None-Match": "*"}), 412)
    r = api.put(f"/api/discovery/sources/{sid}", json={"mode": "authoritative"}, headers={"If-Match": stag})
    assert r.status_code == 200
    assert api.delete(f"/api/discovery/sources/{sid}", headers={"If-Match": r.headers["etag"]}).status_code == 200
