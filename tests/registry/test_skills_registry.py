"""The skills extension routes against a real server, field by field as the reference prints them."""

from __future__ import annotations

import httpx

BASE = "/registry/default/v0.1/x/dev.toolhive/skills"

FULL = {
    "namespace": "io.github.acme",
    "name": "code-review",
    "description": "Structured code review following OWASP guidelines",
    "version": "1.2.0",
    "status": "active",
    "title": "Security Code Review",
    "license": "Apache-2.0",
    "compatibility": "Requires git",
    "allowedTools": ["Bash(git:*)", "Read"],
    "repository": {"url": "https://github.com/acme/skills", "type": "git"},
    "icons": [{"src": "https://example.com/icon.png", "size": "64x64", "type": "image/png", "label": "logo"}],
    "packages": [{"registryType": "git", "url": "https://github.com/acme/skills", "ref": "v1.2.0",
                  "subfolder": "skills/code-review"}],
    "metadata": {"author": "acme-security-team"},
    "_meta": {},
}


def skill(name: str, version: str, **extra: object) -> dict[str, object]:
    return {"namespace": "io.github.test", "name": name, "description": f"{name} does things",
            "version": version, **extra}


def publish(api: httpx.Client, body: dict[str, object], registry: str = "default") -> httpx.Response:
    return api.post(f"/registry/{registry}/v0.1/x/dev.toolhive/skills", json=body)


def error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"], body
    return str(body["error"])


def test_publish_answers_the_skill_and_every_read_route_shows_it(api: httpx.Client) -> None:
    r = publish(api, FULL)
    assert r.status_code == 201, r.text
    assert r.json() == FULL
    assert api.get(f"{BASE}/io.github.acme/code-review").json() == FULL
    assert api.get(f"{BASE}/io.github.acme/code-review/versions/1.2.0").json() == FULL
    versions = api.get(f"{BASE}/io.github.acme/code-review/versions").json()
    assert versions == {"skills": [FULL], "metadata": {"count": 1, "nextCursor": ""}}
    listed = api.get(BASE, params={"search": "owasp"}).json()
    assert listed == {"skills": [FULL], "metadata": {"count": 1, "nextCursor": ""}}


def test_status_defaults_to_active_and_absent_fields_stay_absent(api: httpx.Client) -> None:
    r = publish(api, skill("minimal", "0.1.0"))
    assert r.status_code == 201
    assert r.json() == {**skill("minimal", "0.1.0"), "status": "active"}


def test_limit_range_and_cursor_errors(api: httpx.Client) -> None:
    for bad in ("0", "101", "x", "-1"):
        assert "limit" in error(api.get(BASE, params={"limit": bad}), 400)
    assert api.get(BASE, params={"limit": "1"}).status_code == 200
    assert api.get(BASE, params={"limit": "100"}).status_code == 200
    error(api.get(BASE, params={"cursor": "garbage"}), 400)
    error(api.get(BASE, params={"status": "bogus"}), 400)


def test_cursor_walks_every_skill_once(api: httpx.Client) -> None:
    for i in range(7):
        assert publish(api, skill(f"walk-{i}", "1.0.0", title="walker")).status_code == 201
    seen: list[str] = []
    cursor = ""
    while True:
        params = {"limit": "3", "search": "walker", **({"cursor": cursor} if cursor else {})}
        body = api.get(BASE, params=params).json()
        assert body["metadata"]["count"] == len(body["skills"]) <= 3
        seen += [s["name"] for s in body["skills"]]
        cursor = body["metadata"]["nextCursor"]
        if not cursor:
            break
    assert seen == [f"walk-{i}" for i in range(7)]
    first = api.get(BASE, params={"limit": "3", "search": "walker"}).json()["metadata"]["nextCursor"]
    tampered = first[:-2] + ("AA" if not first.endswith("AA") else "BB")
    error(api.get(BASE, params={"cursor": tampered}), 400)


def test_validation_reports_every_problem_at_once(api: httpx.Client) -> None:
    msg = error(publish(api, {"namespace": "acme", "name": "Bad_Name", "version": "1.2",
                              "packages": [{"registryType": "oci"}, {"registryType": "npm"},
                                           {"registryType": "git"}]}), 400)
    for part in ("description: required", "namespace:", "name:", "version:", "packages[0].identifier",
                 "packages[1].registryType", "packages[2].url"):
        assert part in msg, msg
    msg = error(publish(api, {}), 400)
    assert all(f"{k}: required" in msg for k in ("namespace", "name", "description", "version"))
    error(api.post(BASE, content=b"not json", headers={"content-type": "application/json"}), 400)


def test_duplicate_version_is_409_and_changes_nothing(api: httpx.Client) -> None:
    assert publish(api, skill("dup", "1.0.0")).status_code == 201
    assert "already exists" in error(publish(api, skill("dup", "1.0.0", description="other")), 409)
    assert api.get(f"{BASE}/io.github.test/dup/versions/1.0.0").json()["description"] == "dup does things"


def test_latest_is_highest_semver_not_archived(api: httpx.Client) -> None:
    for v, status in (("1.9.0", "active"), ("1.10.0", "deprecated"), ("2.0.0-rc.1", "active"),
                      ("2.0.0", "archived")):
        assert publish(api, skill("ver", v, status=status)).status_code == 201
    assert api.get(f"{BASE}/io.github.test/ver").json()["version"] == "2.0.0-rc.1"
    versions = api.get(f"{BASE}/io.github.test/ver/versions").json()
    assert [s["version"] for s in versions["skills"]] == ["2.0.0", "2.0.0-rc.1", "1.10.0", "1.9.0"]
    assert api.delete(f"{BASE}/io.github.test/ver/versions/2.0.0-rc.1").status_code == 204
    assert api.get(f"{BASE}/io.github.test/ver").json()["version"] == "1.10.0"
    listed = api.get(BASE, params={"search": "ver does"}).json()["skills"]
    assert [(s["name"], s["version"]) for s in listed] == [("ver", "1.10.0")]
    assert [s["name"] for s in api.get(BASE, params={"status": "deprecated"}).json()["skills"]] == ["ver"]


def test_all_archived_is_not_found_as_latest(api: httpx.Client) -> None:
    assert publish(api, skill("gone", "1.0.0", status="archived")).status_code == 201
    error(api.get(f"{BASE}/io.github.test/gone"), 404)
    assert "gone" not in [s["name"] for s in api.get(BASE, params={"limit": "100"}).json()["skills"]]
    assert "gone" in [s["name"] for s in api.get(BASE, params={"status": "archived"}).json()["skills"]]


def test_delete_is_204_then_404(api: httpx.Client) -> None:
    assert publish(api, skill("del", "1.0.0")).status_code == 201
    r = api.delete(f"{BASE}/io.github.test/del/versions/1.0.0")
    assert r.status_code == 204 and r.content == b""
    error(api.get(f"{BASE}/io.github.test/del/versions/1.0.0"), 404)
    error(api.get(f"{BASE}/io.github.test/del"), 404)
    error(api.get(f"{BASE}/io.github.test/del/versions"), 404)
    error(api.delete(f"{BASE}/io.github.test/del/versions/1.0.0"), 404)


def test_unknown_registry_is_404(api: httpx.Client) -> None:
    error(api.get("/registry/nope/v0.1/x/dev.toolhive/skills"), 404)
    error(publish(api, skill("x", "1.0.0"), registry="nope"), 404)


def test_mirror_is_read_only(api: httpx.Client) -> None:
    doc = {"skills": [skill("mirrored", "1.0.0"), skill("mirrored", "1.1.0")]}
    r = api.post("/api/registries/upstream/skills/import", json={"source": "https://example.com/s", "document": doc})
    assert r.status_code == 200, r.text
    assert r.json() == {"registry": "upstream", "published": 2, "deleted": 0, "unchanged": 0}
    mirror = "/registry/upstream/v0.1/x/dev.toolhive/skills"
    assert api.get(f"{mirror}/io.github.test/mirrored").json()["version"] == "1.1.0"
    assert "not a managed registry" in error(publish(api, skill("new", "1.0.0"), registry="upstream"), 403)
    error(api.delete(f"{mirror}/io.github.test/mirrored/versions/1.0.0"), 403)
    assert api.get(f"{mirror}/io.github.test/mirrored/versions/1.0.0").status_code == 200
    # importing again is a no-op; a changed document replaces the mirror's content
    r = api.post("/api/registries/upstream/skills/import", json={"source": "https://example.com/s", "document": doc})
    assert r.json() == {"registry": "upstream", "published": 0, "deleted": 0, "unchanged": 2}
    r = api.post("/api/registries/upstream/skills/import",
                 json={"source": "https://example.com/s", "document": {"skills": [skill("mirrored", "1.0.0")]}})
    assert r.json() == {"registry": "upstream", "published": 0, "deleted": 1, "unchanged": 1}
    error(api.get(f"{mirror}/io.github.test/mirrored/versions/1.1.0"), 404)
