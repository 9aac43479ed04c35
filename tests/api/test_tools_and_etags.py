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
    assert names == ["alpha.add", "alpha.sub", "beta.mul", "pool.add", "pool.mul", "pool.sub"]
    add = body["tools"][0]
    assert add["provider"] == "alpha" and add["group"] is False and add["description"] == "add tool"
    assert add["input_schema"]["properties"] == {"x": {"type": "number"}}
    assert add["etag"].startswith('"') and len({t["etag"] for t in body["tools"][:3]}) == 3
    assert [t["name"] for t in api.get("/api/tools", params={"q": "alpha."}).json()["tools"]] == ["alpha.add",
                                                                                              "alpha.sub"]
    assert [t["name"] for t in api.get("/api/tools", params={"provider": "pool"}).json()["tools"]] == [
        "pool.add", "pool.mul", "pool.sub"]
    assert [t["name"] for t in all_tools(api)] == names
    assert_envelope(api.get("/api/tools", params={"cursor": "bogus"}), 400, "InvalidCursorError")
    # the names are the ones /mcp answers to: the list follows a started provider's real tools
    assert api.post("/api/providers/beta/start").status_code == 200
    started = [t["name"] for t in api.get("/api/tools", params={"provider": "beta"}).json()["tools"]]
    assert "beta.add" in started and "beta.mul" not in started
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
