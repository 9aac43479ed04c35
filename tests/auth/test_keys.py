"""API keys: shown once, stored only as a digest, expiry and revocation enforced, state durable."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import websockets

from tests.auth.conftest import AuthHangar, make_key
from tests.support import REPO, wait_until


def stored_bytes(server: AuthHangar) -> bytes:
    """Everything SQLite holds for the server: the database file plus its write-ahead log."""
    out = b""
    for suffix in ("", "-wal"):
        path = server.workdir / f"hangar.db{suffix}"
        if path.exists():
            out += path.read_bytes()
    return out


def test_raw_key_is_shown_once_and_only_its_digest_is_stored(server: AuthHangar, admin: httpx.Client) -> None:
    frames: list[str] = []

    async def create_while_watching() -> dict:
        url = server.base.replace("http", "ws") + "/api/ws/events"
        async with websockets.connect(url, additional_headers={"X-API-Key": server.admin_key}) as ws:
            await ws.send(json.dumps({"event_types": ["ApiKeyCreated"]}))
            await asyncio.wait_for(ws.recv(), 5)  # the filter acknowledgement
            async with httpx.AsyncClient(base_url=server.base, headers=dict(admin.headers)) as client:
                r = await client.post("/api/auth/keys", json={"principal_id": "alice", "name": "laptop"})
            assert r.status_code == 201, r.text
            frames.append(str(await asyncio.wait_for(ws.recv(), 5)))
            return dict(r.json())

    body = asyncio.run(create_while_watching())
    raw = body["raw_key"]
    assert re.fullmatch(r"mcp_[A-Za-z0-9_-]{43,}", raw)
    assert {"key_id", "principal_id", "name"} <= set(body) and body["principal_id"] == "alice"
    digest = hashlib.sha256(raw.encode()).hexdigest()
    assert admin.post("/api/auth/principals/alice/roles", json={"role_id": "viewer"}).status_code == 200
    assert server.client_for(raw).get("/api/providers").status_code == 200

    # Never again: not in listings, events, audit, security events, the event stream or an export.
    listing = admin.get("/api/auth/keys/alice")
    assert listing.status_code == 200 and listing.json()["total"] == 1
    key = listing.json()["keys"][0]
    assert key["key_id"] == body["key_id"] and key["status"] == "active" and key["revoked"] is False
    shown = [listing.text, frames[0], admin.get("/api/auth/principals").text,
             admin.get("/api/observability/audit?limit=1000").text,
             admin.get("/api/observability/security?limit=1000").text,
             admin.post("/api/config/export").text]
    for text in shown:
        assert raw not in text and digest not in text and "key_hash" not in text
    assert json.loads(frames[0])["event_type"] == "ApiKeyCreated"

    # Stored: the digest, never the raw key — in the database and in the server's log.
    stored = stored_bytes(server)
    assert digest.encode() in stored
    assert raw.encode() not in stored and server.admin_key.encode() not in stored
    log = server.log_path.read_text()
    assert raw not in log and digest not in log and server.admin_key not in log


def test_expired_keys_are_refused(server: AuthHangar, admin: httpx.Client) -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat().replace("+00:00", "Z")
    raw = make_key(admin, "temp", "viewer", expires_at=soon)
    client = server.client_for(raw)
    assert client.get("/api/system").status_code == 200
    assert wait_until(lambda: client.get("/api/system").status_code == 401, timeout=10, interval=0.25)
    r = client.get("/api/system")
    assert r.json() == {"error": "AuthenticationError", "message": "API key has expired", "status_code": 401}
    assert admin.get("/api/auth/keys/temp").json()["keys"][0]["status"] == "expired"
    events = admin.get("/api/observability/security?event_type=AuthenticationFailed&limit=1000").json()["events"]
    assert any(e["reason"] == "expired" and e["principal_id"] == "temp" for e in events)


def test_revoked_keys_are_refused(server: AuthHangar, admin: httpx.Client) -> None:
    raw = make_key(admin, "leaver", "viewer")
    key_id = admin.get("/api/auth/keys/leaver").json()["keys"][0]["key_id"]
    assert server.client_for(raw).get("/api/system").status_code == 200
    r = admin.request("DELETE", f"/api/auth/keys/{key_id}", json={"revoked_by": "secops", "reason": "left"})
    assert r.status_code == 200, r.text
    assert r.json()["revoked"] is True and r.json()["revoked_by"] == "admin" and r.json()["reason"] == "left"
    refused = server.client_for(raw).get("/api/system")
    assert refused.status_code == 401 and refused.json()["message"] == "API key has been revoked"
    listed = admin.get("/api/auth/keys/leaver").json()
    assert listed["active"] == 0 and listed["keys"][0]["revoked_by"] == "admin"
    again = admin.delete(f"/api/auth/keys/{key_id}")
    assert again.status_code == 200 and again.json()["already_revoked"] is True
    missing = admin.delete("/api/auth/keys/key_doesnotexist")
    assert missing.status_code == 404 and missing.json()["error"] == "ApiKeyNotFoundError"
    kinds = {e["event_type"] for e in admin.get("/api/observability/security?limit=1000").json()["events"]}
    assert {"ApiKeyCreated", "ApiKeyRevoked", "AuthenticationFailed"} <= kinds


def test_bad_key_requests_change_nothing(server: AuthHangar, admin: httpx.Client) -> None:
    before = admin.get("/api/auth/keys/bob").json()["total"]
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    cases = [
        ({"principal_id": "bob"}, 422),
        ({"name": "n"}, 422),
        ({"principal_id": "bob", "name": "n", "expires_at": "tomorrow"}, 422),
        ({"principal_id": "bob", "name": "n", "expires_at": past}, 422),
        ({"principal_id": "bad id!", "name": "n"}, 422),
        ({"principal_id": "system", "name": "n"}, 422),
        ({"principal_id": "Anonymous", "name": "n"}, 422),
        ({"principal_id": "bob", "name": ""}, 422),
        ({"principal_id": "bob", "name": "n", "bogus": 1}, 422),
    ]
    for body, status in cases:
        r = admin.post("/api/auth/keys", json=body)
        assert r.status_code == status, (body, r.text)
        assert set(r.json()) == {"error", "message", "status_code"}
    r = admin.post("/api/auth/keys", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert admin.get("/api/auth/keys/bob").json()["total"] == before


def test_cli_key_reaches_a_running_server_and_state_survives_restart(server: AuthHangar, admin: httpx.Client) -> None:
    kept = make_key(admin, "keeper", "developer")
    assert admin.post("/api/auth/roles", json={"role_id": "ops", "permissions": ["providers:*"]}).status_code == 201
    deny = {"principal_id": "keeper", "effect": "deny"}
    assert admin.put("/api/auth/policies/math/add", json=deny).status_code == 200
    gone = make_key(admin, "gone")
    gone_id = admin.get("/api/auth/keys/gone").json()["keys"][0]["key_id"]
    assert admin.delete(f"/api/auth/keys/{gone_id}").status_code == 200

    cli = subprocess.run(
        [sys.executable, "-m", "hangar.cli", "auth", "create-key", "--principal", "operator", "--role", "ops",
         "--name", "cli key", "--db", server.db_url],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert cli.returncode == 0, cli.stderr
    raw = cli.stdout.strip()
    assert re.fullmatch(r"mcp_[A-Za-z0-9_-]{43,}", raw) and raw not in cli.stderr
    # The running server follows the shared event store and accepts the key within its poll interval.
    op = server.client_for(raw)
    assert wait_until(lambda: op.get("/api/providers").status_code == 200, timeout=15, interval=0.2)
    assert op.get("/api/auth/roles").status_code == 403

    bad = subprocess.run(
        [sys.executable, "-m", "hangar.cli", "auth", "create-key", "--principal", "x", "--role", "no-such-role",
         "--db", server.db_url], cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert bad.returncode == 2 and "no-such-role" in bad.stderr and bad.stdout == ""

    server.stop()
    server.start()
    assert server.client_for(kept).get("/api/providers").status_code == 200
    assert server.client_for(raw).get("/api/providers").status_code == 200
    assert server.client_for(gone).get("/api/providers").status_code == 401
    with server.admin() as fresh:
        assert fresh.get("/api/auth/roles/ops").json()["permissions"] == ["providers:*"]
        assert [r["role_id"] for r in fresh.get("/api/auth/principals/keeper/roles").json()["roles"]] == ["developer"]
        assert fresh.get("/api/auth/policies/math/add").json()["entries"] == [
            {"principal_id": "keeper", "effect": "deny"}]
        # The seeded admin key was recorded once, not again at every start.
        assert fresh.get("/api/auth/keys/admin").json()["total"] == 1
    assert raw not in server.log_path.read_text()
