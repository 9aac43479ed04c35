"""``/api/catalog`` against a real server: add, search, tags, get, delete, deploy, bad input."""

from __future__ import annotations

import sys
import uuid

import httpx

from tests.discovery.conftest import assert_envelope


def add(api: httpx.Client, name: str, description: str, **fields: object) -> dict:
    r = api.post("/api/catalog", json={"name": name, "description": description, **fields})
    assert r.status_code == 201, r.text
    return dict(r.json())


def names(api: httpx.Client, **params: str) -> list[str]:
    body = api.get("/api/catalog", params=params).json()
    assert body["total"] == len(body["entries"])
    return [e["name"] for e in body["entries"]]


def test_add_get_list_delete(api: httpx.Client) -> None:
    r = api.post("/api/catalog", json={"name": "cat-tiny", "description": "Tiny from catalog", "mode": "subprocess",
                                       "command": [sys.executable, "-m", "hangar.examples.math_server"],
                                       "tags": ["demo", "math"]})
    assert r.status_code == 201
    e = r.json()
    assert r.headers["location"] == f"/api/catalog/{e['entry_id']}"
    assert {k: e[k] for k in ("name", "description", "mode", "image", "endpoint", "tags", "source", "verified",
                              "required_env", "builtin")} == {
        "name": "cat-tiny", "description": "Tiny from catalog", "mode": "subprocess", "image": None, "endpoint": None,
        "tags": ["demo", "math"], "source": "custom", "verified": False, "required_env": [], "builtin": False}
    assert api.get(f"/api/catalog/{e['entry_id']}").json() == e
    assert "cat-tiny" in names(api)
    r = api.delete(f"/api/catalog/{e['entry_id']}")
    assert r.status_code == 200 and r.json() == {"entry_id": e["entry_id"], "deleted": True}
    assert_envelope(api.get(f"/api/catalog/{e['entry_id']}"), 404, "CatalogEntryNotFoundError")
    assert_envelope(api.delete(f"/api/catalog/{e['entry_id']}"), 404)
    assert "cat-tiny" not in names(api)


def test_search_is_a_substring_and_tags_are_and(api: httpx.Client) -> None:
    tag = uuid.uuid4().hex[:6]
    add(api, f"Alpha-{tag}", "Reads the WEATHER", tags=[tag, "web", "read"])
    add(api, f"beta-{tag}", "writes files", tags=[tag, "files"])
    add(api, f"gamma-{tag}", "weather and files", tags=[tag, "web", "files"])
    assert names(api, tags=tag) == [f"Alpha-{tag}", f"beta-{tag}", f"gamma-{tag}"]
    assert names(api, tags=f"{tag},web") == [f"Alpha-{tag}", f"gamma-{tag}"]
    assert names(api, tags=f"{tag},web,files") == [f"gamma-{tag}"]
    assert names(api, tags=f"{tag},web,nope") == []
    assert names(api, tags=f"{tag}, WEB ,") == [f"Alpha-{tag}", f"gamma-{tag}"]
    assert names(api, search="weather", tags=tag) == [f"Alpha-{tag}", f"gamma-{tag}"]
    assert names(api, search=f"ALPHA-{tag}") == [f"Alpha-{tag}"]
    assert names(api, search="no such thing anywhere") == []
    assert_envelope(api.post("/api/catalog", json={"name": f"beta-{tag}", "description": "again"}), 409)


def test_deploy_registers_a_provider_once(api: httpx.Client) -> None:
    e = add(api, "cat-deploy", "deployable", command=[sys.executable, "-m", "hangar.examples.math_server"],
            env={"MODE": "fast"})
    assert e["mode"] == "subprocess"
    r = api.post(f"/api/catalog/{e['entry_id']}/deploy")
    assert r.status_code == 201, r.text
    assert r.json() == {"provider_id": "cat-deploy", "entry_id": e["entry_id"], "mode": "subprocess",
                        "deployed": True, "created": True}
    detail = api.get("/api/providers/cat-deploy").json()
    assert detail["state"] == "cold" and detail["description"] == "deployable"
    assert detail["config"]["command"][0] == sys.executable and detail["config"]["env"] == {"MODE": "fast"}
    assert_envelope(api.post(f"/api/catalog/{e['entry_id']}/deploy"), 409)
    r = api.post(f"/api/catalog/{e['entry_id']}/deploy", json={"provider_id": "cat-deploy-2", "idle_ttl_s": 30,
                                                               "env": {"EXTRA": "1"}})
    assert r.status_code == 201 and r.json()["provider_id"] == "cat-deploy-2"
    cfg = api.get("/api/providers/cat-deploy-2").json()["config"]
    assert cfg["idle_ttl_s"] == 30 and cfg["env"] == {"MODE": "fast", "EXTRA": "1"}
    assert api.get(f"/api/catalog/{e['entry_id']}").json()["deploy_count"] == 2


def test_bad_input_is_refused_in_the_envelope(api: httpx.Client) -> None:
    before = api.get("/api/catalog").json()
    for body in (
        {}, {"name": "x"}, {"description": "no name"}, {"name": "", "description": "d"},
        {"name": "x", "description": ""}, {"name": "x", "description": "d", "mode": "ftp"},
        {"name": "x", "description": "d", "mode": "subprocess"}, {"name": "x", "description": "d", "mode": "docker"},
        {"name": "x", "description": "d", "mode": "remote", "endpoint": "ftp://nope"},
        {"name": "x", "description": "d", "command": "python -V"}, {"name": "x", "description": "d", "tags": "a,b"},
        {"name": "x", "description": "d", "colour": "red"}, {"name": 5, "description": "d"},
        {"name": "x", "description": "d", "env_vars": [{"name": "A"}, {"name": "A"}]},
    ):
        assert_envelope(api.post("/api/catalog", json=body), 422)
    assert_envelope(api.post("/api/catalog", content=b"{nope", headers={"content-type": "application/json"}), 400)
    assert_envelope(api.get("/api/catalog/no-such-entry"), 404)
    assert_envelope(api.delete("/api/catalog/no-such-entry"), 404)
    assert_envelope(api.post("/api/catalog/no-such-entry/deploy"), 404)
    e = add(api, "cat-bad-deploy", "for bad deploys", command=[sys.executable, "-V"])
    url = f"/api/catalog/{e['entry_id']}/deploy"
    assert_envelope(api.post(url, json={"provider_id": "bad id"}), 422)
    assert_envelope(api.post(url, json={"provider_id": "has.dot"}), 422)
    assert_envelope(api.post(url, json={"env": {"A": 1}}), 422)
    assert_envelope(api.post(url, json={"idle_ttl_s": -1}), 422)
    assert_envelope(api.post(url, json={"surprise": True}), 422)
    assert_envelope(api.post(url, content=b"[", headers={"content-type": "application/json"}), 400)
    empty = add(api, "cat-empty", "nothing to run")
    assert_envelope(api.post(f"/api/catalog/{empty['entry_id']}/deploy"), 422)
    assert api.get("/api/providers/cat-bad-deploy").status_code == 404
    after = api.get("/api/catalog").json()
    assert after["total"] == before["total"] + 2
