"""Roles (built-in and custom), assignments, principals and check-permission."""

from __future__ import annotations

import httpx

from tests.auth.conftest import AuthHangar, make_key, make_role

BUILTINS = ["admin", "provider-admin", "developer", "viewer", "auditor", "service-account"]


def envelope(r: httpx.Response, status: int, error: str | None = None) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "message", "status_code"} and body["status_code"] == status
    if error is not None:
        assert body["error"] == error, body


def test_builtin_roles_are_listed_and_protected(admin: httpx.Client) -> None:
    builtin = admin.get("/api/auth/roles/builtin").json()
    assert [r["role_id"] for r in builtin["roles"]] == BUILTINS and builtin["total"] == 6
    everything = admin.get("/api/auth/roles").json()
    assert [r["role_id"] for r in everything["roles"]][:6] == BUILTINS
    role = admin.get("/api/auth/roles/viewer").json()
    assert role["role_id"] == "viewer" and role["builtin"] is True and "providers:read" in role["permissions"]
    assert admin.get("/api/auth/roles/admin").json()["permissions"] == ["*:*"]
    envelope(admin.get("/api/auth/roles/nope"), 404, "RoleNotFoundError")
    envelope(admin.put("/api/auth/roles/viewer", json={"description": "x"}), 409, "BuiltinRoleError")
    envelope(admin.delete("/api/auth/roles/admin"), 409, "BuiltinRoleError")
    envelope(admin.post("/api/auth/roles", json={"role_id": "developer", "permissions": []}), 409)
    assert admin.get("/api/auth/roles/viewer").json()["description"] == role["description"]


def test_custom_role_crud_and_validation(admin: httpx.Client) -> None:
    r = admin.post("/api/auth/roles", json={"role_id": "ops", "description": "Operations",
                                            "permissions": ["providers:start", "providers:stop", "providers:start"]})
    assert r.status_code == 201, r.text
    assert r.json()["role_id"] == "ops" and r.json()["permissions"] == ["providers:start", "providers:stop"]
    assert r.json()["builtin"] is False
    envelope(admin.post("/api/auth/roles", json={"role_id": "ops", "permissions": []}), 409, "AlreadyExistsError")
    for bad in (["nonsense"], ["providers:fly"], ["spaceships:read"], ["providers:read:extra"], [42]):
        envelope(admin.post("/api/auth/roles", json={"role_id": "bad", "permissions": bad}), 422)
    envelope(admin.post("/api/auth/roles", json={"description": "no id"}), 422)
    envelope(admin.post("/api/auth/roles", json={"role_id": "has space", "permissions": []}), 422)
    envelope(admin.get("/api/auth/roles/bad"), 404)

    r = admin.put("/api/auth/roles/ops", json={"description": "Ops v2"})
    assert r.status_code == 200 and r.json()["description"] == "Ops v2"
    assert r.json()["permissions"] == ["providers:start", "providers:stop"]
    r = admin.put("/api/auth/roles/ops", json={"permissions": ["providers:*", "*:read"]})
    assert r.json()["permissions"] == ["providers:*", "*:read"] and r.json()["description"] == "Ops v2"
    envelope(admin.put("/api/auth/roles/ops", json={}), 422)
    envelope(admin.put("/api/auth/roles/ops", json={"permissions": ["bogus:thing"]}), 422)
    envelope(admin.put("/api/auth/roles/ghost", json={"description": "x"}), 404, "RoleNotFoundError")
    assert admin.get("/api/auth/roles/ops").json()["permissions"] == ["providers:*", "*:read"]
    wildcard = admin.post("/api/auth/roles", json={"role_id": "everything", "permissions": ["*"]})
    assert wildcard.status_code == 201 and wildcard.json()["permissions"] == ["*:*"]
    assert "ops" in [x["role_id"] for x in admin.get("/api/auth/roles").json()["roles"]]


def test_assignment_changes_what_a_key_may_do(server: AuthHangar, admin: httpx.Client) -> None:
    starter = {"role_id": "starter", "permissions": ["providers:start"]}
    assert admin.post("/api/auth/roles", json=starter).status_code == 201
    raw = make_key(admin, "carol")
    carol = server.client_for(raw)
    envelope(carol.post("/api/providers/nope/start"), 403, "PermissionDeniedError")

    r = admin.post("/api/auth/principals/carol/roles", json={"role_id": "starter"})
    assert r.status_code == 200 and r.json()["assigned"] is True and r.json()["roles"] == ["starter"]
    assert admin.post("/api/auth/principals/carol/roles", json={"role_id": "starter"}).json()["already_assigned"]
    assert carol.post("/api/providers/nope/start").status_code == 404  # allowed; the provider is unknown
    envelope(carol.get("/api/providers"), 403)

    roles = admin.get("/api/auth/principals/carol/roles").json()
    assert roles["principal_id"] == "carol" and [x["role_id"] for x in roles["roles"]] == ["starter"]
    principals = {p["principal_id"]: p for p in admin.get("/api/auth/principals").json()["principals"]}
    assert principals["carol"]["roles"] == ["starter"] and principals["carol"]["active_keys"] == 1
    assert principals["admin"]["roles"] == ["admin"]

    envelope(admin.post("/api/auth/principals/carol/roles", json={"role_id": "ghost"}), 404, "RoleNotFoundError")
    envelope(admin.post("/api/auth/principals/carol/roles", json={}), 422)
    envelope(admin.post("/api/auth/principals/bad%20id/roles", json={"role_id": "viewer"}), 422)

    r = admin.delete("/api/auth/principals/carol/roles/starter")
    assert r.status_code == 200 and r.json()["revoked"] is True and r.json()["roles"] == []
    assert admin.delete("/api/auth/principals/carol/roles/starter").json()["revoked"] is False
    envelope(admin.delete("/api/auth/principals/carol/roles/ghost"), 404)
    envelope(carol.post("/api/providers/nope/start"), 403)


def test_check_permission_explains(admin: httpx.Client) -> None:
    make_key(admin, "dave", "developer")
    r = admin.post("/api/auth/check-permission", json={"principal_id": "dave", "permission": "providers:start"})
    assert r.status_code == 200
    assert r.json()["allowed"] is True and r.json()["granted_by_role"] == "developer"
    r = admin.post("/api/auth/check-permission", json={"principal_id": "dave", "permission": "providers:write"})
    assert r.json()["allowed"] is False and r.json()["granted_by_role"] is None and "developer" in r.json()["reason"]
    r = admin.post("/api/auth/check-permission",
                   json={"principal_id": "dave", "resource_type": "tools", "action": "invoke"})
    assert r.json()["allowed"] is True and r.json()["permission"] == "tools:invoke"
    r = admin.post("/api/auth/check-permission", json={"principal_id": "nobody-at-all", "permission": "system:read"})
    assert r.json()["allowed"] is False and "no roles" in r.json()["reason"]
    r = admin.post("/api/auth/check-permission", json={"principal_id": "admin", "permission": "auth:admin"})
    assert r.json()["allowed"] is True and r.json()["granted_by_role"] == "admin"
    envelope(admin.post("/api/auth/check-permission", json={"principal_id": "dave", "permission": "nonsense"}), 422)
    envelope(admin.post("/api/auth/check-permission", json={"principal_id": "dave"}), 422)
    envelope(admin.post("/api/auth/check-permission", json={"permission": "system:read"}), 422)


def test_deleting_a_role_revokes_it_from_its_holders(server: AuthHangar, admin: httpx.Client) -> None:
    readers = {"role_id": "temp-readers", "permissions": ["system:read"]}
    assert admin.post("/api/auth/roles", json=readers).status_code == 201
    raw = make_key(admin, "erin", "temp-readers")
    assert server.client_for(raw).get("/api/system").status_code == 200
    r = admin.delete("/api/auth/roles/temp-readers")
    assert r.status_code == 200 and r.json() == {"role_id": "temp-readers", "deleted": True, "revoked_from": 1}
    envelope(server.client_for(raw).get("/api/system"), 403)
    assert admin.get("/api/auth/principals/erin/roles").json()["roles"] == []
    envelope(admin.get("/api/auth/roles/temp-readers"), 404)
    envelope(admin.delete("/api/auth/roles/temp-readers"), 404)
    # Re-creating the name does not silently give the old holders their access back.
    assert admin.post("/api/auth/roles", json=readers).status_code == 201
    envelope(server.client_for(raw).get("/api/system"), 403)


SKILLS = "/registry/default/v0.1/x/dev.toolhive/skills"
PUBLISHED_SKILL = {"namespace": "io.github.auth", "name": "guarded", "description": "d", "version": "1.0.0"}


def test_publish_needs_skills_publish(server: AuthHangar) -> None:
    """Registry routes: skills:publish to publish and delete; refusals in the registry's body."""
    with server.admin() as admin:
        make_role(admin, "skill-reader", "skills:read")
        make_role(admin, "skill-publisher", "skills:read", "skills:publish")
        reader = make_key(admin, "reader", "skill-reader")
        publisher = make_key(admin, "publisher", "skill-publisher")
    with server.client_for(None) as anon:
        r = anon.post(SKILLS, json=PUBLISHED_SKILL)
        assert r.status_code == 401 and set(r.json()) == {"error"}
    with server.client_for(reader) as c:
        r = c.post(SKILLS, json=PUBLISHED_SKILL)
        assert r.status_code == 403 and set(r.json()) == {"error"}, r.text
        assert c.get(SKILLS).status_code == 200
    with server.client_for(publisher) as c:
        assert c.post(SKILLS, json=PUBLISHED_SKILL).status_code == 201
    with server.client_for(reader) as c:
        assert c.delete(f"{SKILLS}/io.github.auth/guarded/versions/1.0.0").status_code == 403
        assert c.get(f"{SKILLS}/io.github.auth/guarded").json()["version"] == "1.0.0"
    with server.client_for(publisher) as c:
        assert c.delete(f"{SKILLS}/io.github.auth/guarded/versions/1.0.0").status_code == 204
