"""Secrets stay secret, user text cannot freeze the server, and API paths cannot read files."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid

import httpx
import websockets

from tests.auth.conftest import AuthHangar, make_key
from tests.security.conftest import envelope, stored_text


def test_free_text_fields_are_bounded(admin: httpx.Client) -> None:
    body = {"provider_id": "long-desc", "mode": "remote", "endpoint": "http://127.0.0.1:1/mcp",
            "description": "a://b:" * 2000}  # 12,000 characters: past the 4,096 limit
    err = envelope(admin.post("/api/providers", json=body), 422)
    assert "description" in err["message"]
    assert admin.get("/api/providers/long-desc").status_code == 404
    # The limits are documented.
    spec = admin.get("/schema/openapi.json").json()
    create = spec["components"]["schemas"]["CreateProviderRequest"]["properties"]
    desc = create["description"]
    assert 4096 in [desc.get("maxLength")] + [d.get("maxLength") for d in desc.get("oneOf", []) + desc.get("anyOf", [])]


def test_config_rendering_of_the_longest_text_stays_fast(admin: httpx.Client) -> None:
    body = {"provider_id": "max-desc", "mode": "remote", "endpoint": "http://127.0.0.1:1/mcp",
            "description": ("a://b:" * 700)[:4096], "env": {f"V{i}": "x://u:" * 2000 for i in range(16)}}
    assert admin.post("/api/providers", json=body).status_code == 201, body
    for method, path in (("GET", "/api/config"), ("POST", "/api/config/export"), ("GET", "/api/config/diff")):
        started = time.perf_counter()
        r = admin.request(method, path)
        assert r.status_code == 200, r.text
        assert time.perf_counter() - started < 2.0, path


def test_config_and_import_paths_are_confined(server: AuthHangar, admin: httpx.Client) -> None:
    outside = server.workdir.parent / f"outside-{uuid.uuid4().hex}.yaml"
    marker = f"first-line-{uuid.uuid4().hex}"
    outside.write_text(f"{marker}: [\n")
    try:
        for r in (
            admin.get("/api/config/diff", params={"config_path": str(outside)}),
            admin.get("/api/config/diff", params={"config_path": "/etc/shadow"}),
            admin.post("/api/config/reload", json={"config_path": str(outside)}),
            admin.post("/api/catalog/import", json={"path": str(outside)}),
            admin.post("/api/catalog/import", json={"path": str(server.workdir / "docs" / ".." / ".." / outside.name)}),
        ):
            err = envelope(r, 403)
            assert err["error"] == "PathNotAllowedError"
            assert marker not in r.text and "root:" not in r.text
        # A symlink inside an allowed directory does not lead out of it.
        link = server.workdir / "docs" / "link.yaml"
        link.symlink_to(outside)
        envelope(admin.post("/api/catalog/import", json={"path": str(link)}), 403)
    finally:
        outside.unlink()
    # Inside the allowed directories paths still work.
    inside = server.workdir / "docs" / "peer.yaml"
    inside.write_text("providers: {}\n")
    assert admin.get("/api/config/diff", params={"config_path": str(inside)}).status_code == 200


def _ws_url(server: AuthHangar) -> str:
    return server.base.replace("http://", "ws://") + "/api/ws/events"


async def _frames(server: AuthHangar, key: str, action: object, until: str, wait_s: float = 10) -> list[str]:
    """Frames seen by ``key``'s event stream while ``action`` runs, up to a frame containing ``until``."""
    frames: list[str] = []
    async with websockets.connect(_ws_url(server), additional_headers={"X-API-Key": key}) as ws:
        await asyncio.sleep(0.2)
        await asyncio.to_thread(action)  # type: ignore[arg-type]
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                frame = str(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
            except TimeoutError:
                break
            frames.append(frame)
            if until in frame:
                break
    return frames


def test_env_secrets_sealed_everywhere(server: AuthHangar, admin: httpx.Client) -> None:
    url_pw, token = f"pw{uuid.uuid4().hex}", f"tok{uuid.uuid4().hex}"
    provider = {"provider_id": "db-user", "mode": "subprocess", "command": [sys.executable, "-c", "pass"],
                "env": {"DATABASE_URL": f"postgres://app:{url_pw}@db:5432/app", "PLAIN": "visible"}}
    entry = {"name": f"tokened-{uuid.uuid4().hex[:6]}", "description": "needs a token", "mode": "subprocess",
             "command": ["true"], "env": {"API_TOKEN": token, "DSN": f"mysql://u:{url_pw}@h/d"}}

    def act() -> None:
        assert admin.post("/api/providers", json=provider).status_code == 201
        r = admin.post("/api/catalog", json=entry)
        assert r.status_code == 201, r.text
        entry["id"] = r.json()["entry_id"] if "entry_id" in r.json() else r.json()["id"]

    frames = asyncio.run(_frames(server, server.admin_key, act, "CatalogEntryAdded"))
    seen = "\n".join(frames)
    assert "ProviderRegistered" in seen and "CatalogEntryAdded" in seen
    for secret in (url_pw, token):
        assert secret not in seen
        assert secret not in stored_text(server)
    detail = admin.get("/api/providers/db-user").text
    assert url_pw not in detail and "visible" in detail
    cat = admin.get(f"/api/catalog/{entry['id']}").text
    assert token not in cat and url_pw not in cat
    for r in (admin.get("/api/config"), admin.post("/api/config/export"), admin.get("/api/config/diff")):
        assert url_pw not in r.text and token not in r.text


def test_viewer_event_stream_has_no_auth_events(server: AuthHangar, admin: httpx.Client) -> None:
    viewer = make_key(admin, f"viewer-{uuid.uuid4().hex[:6]}", "viewer")
    with server.client_for(viewer) as v:
        assert v.get("/api/auth/roles").status_code == 403

    def act() -> None:
        make_key(admin, f"other-{uuid.uuid4().hex[:6]}", "viewer")
        with server.client_for("mcp_wrong-key") as bad:
            assert bad.get("/api/system").status_code == 401
        body = {"provider_id": f"after-{uuid.uuid4().hex[:6]}", "mode": "remote", "endpoint": "http://127.0.0.1:1/"}
        assert admin.post("/api/providers", json=body).status_code == 201

    frames = asyncio.run(_frames(server, viewer, act, "ProviderRegistered"))
    types = [json.loads(f).get("event_type") for f in frames]
    assert "ProviderRegistered" in types, types
    assert not {"ApiKeyCreated", "RoleAssigned", "AuthenticationFailed", "PermissionDenied"} & set(types), types
    # An administrator's stream still carries them.
    admin_frames = asyncio.run(_frames(server, server.admin_key,
                                       lambda: make_key(admin, f"x-{uuid.uuid4().hex[:6]}"), "ApiKeyCreated"))
    assert any("ApiKeyCreated" in f for f in admin_frames)
