"""Workloads over /api/v1beta against a real server and real SDK fixture providers; every
response is checked against ToolHive's pinned OpenAPI document."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid

import httpx
import websockets
from mcp import Client

from tests.support import STDIO_FIXTURE, HangarProcess, pids_with_mark, wait_until
from tests.toolhive.frames import FrameRecorder
from tests.toolhive.swagger import check

V = "/api/v1beta"


def name(prefix: str = "w") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def body(n: str, mark: str, **extra: object) -> dict[str, object]:
    return {"name": n, "image": f"cmd://{sys.executable}", "cmd_arguments": [str(STDIO_FIXTURE)],
            "env_vars": {"HANGAR_TEST_MARK": mark}, **extra}


INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}


def mcp_ready(url: str) -> bool:
    """The MCP endpoints answer 503 until the SDK has loaded in the background."""
    def answered() -> bool:
        r = httpx.post(url, json=INIT, headers={"accept": "application/json, text/event-stream"}, timeout=10)
        return r.status_code != 503
    return wait_until(answered, 60, 0.2)


def status(api: httpx.Client, n: str) -> str:
    return str(check(api.get(f"{V}/workloads/{n}/status")).json()["status"])


def test_version_health_and_every_route_in_the_openapi(api: httpx.Client) -> None:
    assert check(api.get(f"{V}/version")).json()["version"]
    r = check(api.get("/health"))
    assert r.status_code == 204 and r.content == b""
    paths = api.get("/schema/openapi.json").json()["paths"]
    for p in ("/api/v1beta/workloads", "/api/v1beta/workloads/{name}/export", "/api/v1beta/groups/{name}",
              "/api/v1beta/clients/register", "/api/v1beta/discovery/clients", "/api/v1beta/secrets/default/keys/{key}",
              "/api/v1beta/registry/{name}/refresh", "/api/v1beta/skills/validate", "/api/v1beta/version", "/health"):
        assert p in paths, p


def test_upgrade_check_compares_with_the_catalog_offline(api: httpx.Client) -> None:
    entry = {"name": f"img-{uuid.uuid4().hex[:6]}", "description": "an image", "image": "ghcr.io/example/up:2.0",
             "env_vars": [{"name": "NEEDED", "required": True, "description": "x"}]}
    assert api.post("/api/catalog", json=entry).status_code == 201
    n = name()
    check(api.post(f"{V}/workloads", json={"name": n, "image": "ghcr.io/example/up:1.0"}))
    result = check(api.get(f"{V}/workloads/{n}/upgrade-check")).json()["result"]
    assert result["status"] == "upgrade-available" and result["candidate_image"] == "ghcr.io/example/up:2.0"
    assert [v["name"] for v in result["env_var_drift"]["added"]] == ["NEEDED"]
    assert check(api.post(f"{V}/workloads/{n}/upgrade", json={})).json()["result"]["status"] == "up-to-date"
    assert api.get(f"/api/providers/{n}").json()["config"]["image"] == "ghcr.io/example/up:2.0"
    assert check(api.get(f"{V}/workloads/{n}/upgrade-check")).json()["result"]["status"] == "up-to-date"
    check(api.delete(f"{V}/workloads/{n}"))
    # A workload resolved from a registry entry takes its image; required variables must be given.
    r = check(api.post(f"{V}/workloads", json={"name": name(), "registry": "default", "server": entry["name"]}))
    assert r.status_code == 400 and "NEEDED" in r.text
    m = name()
    check(api.post(f"{V}/workloads", json={"name": m, "registry": "default", "server": entry["name"],
                                          "env_vars": {"NEEDED": "yes"}}))
    assert api.get(f"/api/providers/{m}").json()["config"]["image"] == "ghcr.io/example/up:2.0"
    assert check(api.post(f"{V}/workloads", json={"name": name(), "server": "nope"})).status_code == 400
    check(api.delete(f"{V}/workloads/{m}"))


def test_created_workload_is_a_provider_served_alone_and_in_the_aggregate(
    hangar: HangarProcess, api: httpx.Client
) -> None:
    n, mark = name(), uuid.uuid4().hex

    async def scenario() -> list[dict[str, object]]:
        frames: list[dict[str, object]] = []
        ws_url = hangar.base.replace("http://", "ws://") + "/api/ws/events"
        async with websockets.connect(ws_url) as ws:
            await ws.send(json.dumps({"provider_ids": [n]}))
            await asyncio.wait_for(ws.recv(), 5)  # the filter's acknowledgement
            async with httpx.AsyncClient(base_url=hangar.base, timeout=30) as a:
                r = check(await a.post(f"{V}/workloads", json=body(n, mark)))
                assert r.status_code == 201 and r.json()["name"] == n
                listed = (await a.get("/api/providers")).json()["providers"]
                assert any(p["provider_id"] == n and p["state"] == "cold" for p in listed)
                w = check(await a.get(f"{V}/workloads", params={"all": "true"})).json()["workloads"]
                row = next(x for x in w if x["name"] == n)
                assert row["status"] == "stopped" and row["group"] == "default"
                assert row["url"] == f"{hangar.base}/mcp/providers/{n}"
            # First call over the workload's own endpoint starts it.
            assert mcp_ready(row["url"]) and mcp_ready(hangar.base + "/mcp")
            async with Client(row["url"]) as client:
                tools = await client.list_tools()
                assert "add" in {t.name for t in tools.tools}
                res = await client.call_tool("add", {"a": 2, "b": 5})
                assert res.structured_content == {"result": 7.0}
            assert pids_with_mark(mark)
            async with httpx.AsyncClient(base_url=hangar.base, timeout=30) as a:
                check(await a.post(f"{V}/workloads/{n}/stop"))
            assert not pids_with_mark(mark)
            # ... and over the aggregate front door, by its prefixed name.
            async with Client(hangar.base + "/mcp") as client:
                res = await client.call_tool(f"{n}__add", {"a": 1, "b": 1})
                assert res.structured_content == {"result": 2.0}
            while len({f.get("event_type") for f in frames} & {"ProviderRegistered", "ProviderStarted",
                                                                "ProviderStopped"}) < 3:
                frames.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
        return frames

    frames = asyncio.run(scenario())
    assert frames[0]["event_type"] == "ProviderRegistered"
    assert status(api, n) == "running"
    assert check(api.delete(f"{V}/workloads/{n}")).status_code == 202
    assert wait_until(lambda: not pids_with_mark(mark))
    assert api.get(f"/api/providers/{n}").status_code == 404


def test_export_round_trips_into_create_and_edit_changes_the_provider(api: httpx.Client) -> None:
    n = name()
    check(api.post(f"{V}/workloads", json=body(n, "x", env_vars={"A": "1"},
                                              secrets=[{"name": "some-secret", "target": "TOKEN_X"}])))
    got = check(api.get(f"{V}/workloads/{n}")).json()
    assert got["env_vars"] == {"A": "1"} and got["secrets"] == [{"name": "some-secret", "target": "TOKEN_X"}]
    exported = check(api.get(f"{V}/workloads/{n}/export")).json()
    assert exported["secrets"] == ["some-secret,target=TOKEN_X"]
    copy = name()
    check(api.post(f"{V}/workloads", json=exported | {"name": copy}))
    again = check(api.get(f"{V}/workloads/{copy}/export")).json()
    assert again | {"name": n, "base_name": n} == exported
    r = check(api.post(f"{V}/workloads/{n}/edit", json=body(n, "x", env_vars={"A": "2"})))
    assert r.json()["name"] == n
    assert api.get(f"/api/providers/{n}").json()["config"]["env"]["A"] == "2"
    check(api.get(f"{V}/workloads/{n}/logs"))
    result = check(api.get(f"{V}/workloads/{n}/upgrade-check")).json()["result"]
    assert result["status"] == "not-registry-sourced"
    check(api.get(f"{V}/workloads/upgrade-check", params={"all": "true"}))
    check(api.post(f"{V}/workloads/delete", json={"names": [n, copy]}))
    assert wait_until(lambda: api.get(f"/api/providers/{copy}").status_code == 404)


def test_bulk_stop_by_group_stops_every_member_in_the_background(hangar: HangarProcess, api: httpx.Client) -> None:
    g = name("g")
    assert check(api.post(f"{V}/groups", json={"name": g})).status_code == 201
    marks = {name(): uuid.uuid4().hex for _ in range(2)}
    for n, mark in marks.items():
        check(api.post(f"{V}/workloads", json=body(n, mark, group=g)))
        check(api.post(f"{V}/workloads/{n}/restart"))
        assert pids_with_mark(mark)
    listed = check(api.get(f"{V}/workloads", params={"group": g})).json()["workloads"]
    assert sorted(w["name"] for w in listed) == sorted(marks) and {w["status"] for w in listed} == {"running"}
    assert check(api.get(f"{V}/groups/{g}")).json()["name"] == g
    with FrameRecorder(hangar.base.replace("http://", "ws://") + "/api/ws/events") as frames:
        r = check(api.post(f"{V}/workloads/stop", json={"group": g}))
        assert r.status_code == 202
        assert wait_until(lambda: all(status(api, n) == "stopped" for n in marks), 20)
        assert wait_until(lambda: not any(pids_with_mark(m) for m in marks.values()))
        # Each workload's outcome is an event.
        assert wait_until(lambda: sum("WorkloadOperationCompleted" in f for f in frames.frames) == len(marks))
    outcomes = [json.loads(f) for f in frames.frames if "WorkloadOperationCompleted" in f]
    assert {(o["workload"], o["operation"], o["outcome"]) for o in outcomes} == {(n, "stop", "done") for n in marks}
    assert check(api.get(f"{V}/workloads", params={"group": g})).json()["workloads"] == []
    # Deleting the group with its workloads removes them; the default group cannot be deleted.
    assert check(api.delete(f"{V}/groups/{g}", params={"with-workloads": "true"})).status_code == 204
    assert all(api.get(f"/api/providers/{n}").status_code == 404 for n in marks)
    assert api.delete(f"{V}/groups/default").status_code == 400


def test_bad_input_gets_toolhive_4xx_and_changes_nothing(api: httpx.Client) -> None:
    before = api.get("/api/providers").json()
    cases: list[tuple[str, str, object, int]] = [
        ("GET", f"{V}/workloads/nope-{uuid.uuid4().hex[:4]}", None, 404),
        ("GET", f"{V}/workloads/nope/status", None, 404),
        ("GET", f"{V}/workloads/nope/export", None, 404),
        ("POST", f"{V}/workloads/nope/stop", None, 404),
        ("POST", f"{V}/workloads/nope/restart", None, 404),
        ("DELETE", f"{V}/workloads/nope", None, 404),
        ("POST", f"{V}/workloads/nope/edit", {"image": "x"}, 404),
        ("GET", f"{V}/workloads/nope/upgrade-check", None, 404),
        ("POST", f"{V}/workloads/stop", {"names": ["a"], "group": "default"}, 400),
        ("POST", f"{V}/workloads/restart", {}, 400),
        ("POST", f"{V}/workloads/delete", {"names": ["no-such-workload"]}, 400),
        ("POST", f"{V}/workloads/stop", b"{not json", 400),
        ("POST", f"{V}/workloads", {"name": "x-bad"}, 400),
        ("POST", f"{V}/workloads", {"name": "../etc", "image": "cmd:///bin/true"}, 400),
        ("POST", f"{V}/workloads", {"name": "ok-name", "image": "cmd:///bin/true", "env_vars": "nope"}, 400),
        ("POST", f"{V}/workloads", {"name": "ok-name", "image": "cmd:///bin/true", "group": "missing"}, 400),
        ("POST", f"{V}/workloads/stop", {"group": "missing"}, 400),
        ("GET", f"{V}/workloads", {"group": "missing"}, 404),
        ("POST", f"{V}/groups", {"name": "default"}, 409),
        ("POST", f"{V}/groups", {"name": "../x"}, 400),
        ("GET", f"{V}/groups/missing", None, 404),
        ("DELETE", f"{V}/groups/missing", None, 404),
    ]
    for method, path, payload, expected in cases:
        if isinstance(payload, bytes):
            r = api.request(method, path, content=payload, headers={"content-type": "application/json"})
        elif method == "GET" and isinstance(payload, dict):
            r = api.get(path, params=payload)
        else:
            r = api.request(method, path, json=payload) if payload is not None else api.request(method, path)
        assert r.status_code == expected, (method, path, r.status_code, r.text)
        assert r.text.strip(), (method, path)
        check(r)
    assert api.get("/api/providers").json() == before


def test_malformed_bodies_are_400_on_every_route_that_takes_one(api: httpx.Client) -> None:
    routes = [("POST", "/workloads"), ("POST", "/workloads/x/edit"), ("POST", "/workloads/stop"),
              ("POST", "/workloads/restart"), ("POST", "/workloads/delete"), ("POST", "/groups"),
              ("POST", "/clients"), ("POST", "/clients/register"), ("POST", "/clients/unregister"),
              ("POST", "/secrets"), ("POST", "/secrets/default/keys"), ("PUT", "/secrets/default/keys/k"),
              ("POST", "/registry"), ("PUT", "/registry/x"), ("POST", "/skills"), ("POST", "/skills/validate")]
    before = {p: api.get(V + p).text for p in ("/workloads?all=true", "/groups", "/clients", "/registry", "/skills")}
    for method, path in routes:
        for bad in (b"{not json", b'{"names": 5, "name": 7, "key": [], "value": {}, "path": 1, "url": 2}'):
            r = api.request(method, V + path, content=bad, headers={"content-type": "application/json"})
            assert r.status_code == 400, (method, path, bad, r.status_code, r.text)
            if path.startswith("/registry"):
                assert r.json()["code"] == "bad_request" and r.json()["message"]
            else:
                assert r.headers["content-type"].startswith("text/plain") and r.text.strip()
    assert {p: api.get(V + p).text for p in before} == before


def test_both_vocabularies_see_the_same_providers_and_groups(api: httpx.Client) -> None:
    p, g = name("rest"), name("lb")
    assert api.post("/api/providers", json={"provider_id": p, "mode": "subprocess",
                                            "command": [sys.executable, str(STDIO_FIXTURE)]}).status_code == 201
    row = next(w for w in check(api.get(f"{V}/workloads", params={"all": "true"})).json()["workloads"]
               if w["name"] == p)
    assert row["group"] == "default" and row["status"] == "stopped" and row["package"] == f"cmd://{sys.executable}"
    # A load-balancing group made over /api is a ToolHive group; its member is that group's workload.
    assert api.post("/api/groups", json={"group_id": g, "strategy": "random"}).status_code == 201
    assert api.post(f"/api/groups/{g}/members", json={"member_id": p}).status_code in (200, 201)
    assert check(api.get(f"{V}/groups/{g}")).json()["name"] == g
    assert [w["name"] for w in check(api.get(f"{V}/workloads", params={"all": "true", "group": g})).json()[
        "workloads"]] == [p]
    # Editing the workload's group over v1beta moves it: it stays in exactly one group.
    exported = check(api.get(f"{V}/workloads/{p}/export")).json()
    check(api.post(f"{V}/workloads/{p}/edit", json=exported | {"group": "default"}))
    assert api.get(f"/api/groups/{g}").json()["members"] == []
    check(api.delete(f"{V}/groups/{g}"))
    assert api.get(f"/api/groups/{g}").status_code == 404
    check(api.delete(f"{V}/workloads/{p}"))
