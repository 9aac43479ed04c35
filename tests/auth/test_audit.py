"""The audit trail (every command: principal, target, outcome, correlation id) and the security log."""

from __future__ import annotations

import uuid

import httpx

from tests.auth.conftest import AuthHangar, make_key
from tests.support import fixture_provider, pids_with_mark, wait_until

MARK = f"auth-audit-{uuid.uuid4().hex[:6]}"


def audit(admin: httpx.Client, **params: object) -> dict:
    r = admin.get("/api/observability/audit", params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_commands_are_audited_with_principal_target_outcome_and_correlation(
    server: AuthHangar, admin: httpx.Client
) -> None:
    ops_key = make_key(admin, "auditee", "provider-admin")
    ops = server.client_for(ops_key)
    r = ops.post("/api/providers", json={"provider_id": "aud1", "mode": "docker", "image": "a:1"},
                 headers={"X-Correlation-ID": "corr-create-aud1"})
    assert r.status_code == 201
    # Read-your-writes: the record is there for the very next query.
    body = audit(admin, provider_id="aud1")
    assert body["total"] == 1
    rec = body["records"][0]
    assert rec["command"] == "RegisterProvider" and rec["event_type"] == "ProviderRegistered"
    assert rec["principal"] == "auditee" and rec["outcome"] == "success"
    assert rec["target_type"] == "provider" and rec["target_id"] == "aud1" and rec["provider_id"] == "aud1"
    assert rec["correlation_id"] == "corr-create-aud1" and rec["events"] == ["ProviderRegistered"]
    assert {"record_id", "recorded_at", "occurred_at", "command_id"} <= set(rec)

    assert ops.put("/api/providers/aud1", json={"description": "d"}).status_code == 200
    missing = ops.delete("/api/providers/aud-missing")
    assert missing.status_code == 404
    body = audit(admin, provider_id="aud1")
    assert body["total"] == 2 and [x["command"] for x in body["records"]] == ["UpdateProvider", "RegisterProvider"]
    failed = audit(admin, provider_id="aud-missing")["records"]
    assert len(failed) == 1 and failed[0]["outcome"] == "failure"
    assert failed[0]["error_type"] == "ProviderNotFoundError" and failed[0]["command"] == "DeregisterProvider"
    assert audit(admin, provider_id="aud-missing", outcome="success")["total"] == 0
    assert audit(admin, principal="auditee")["total"] >= 3


def test_tool_calls_are_audited_from_their_own_events(server: AuthHangar, admin: httpx.Client) -> None:
    assert admin.post("/api/providers", json=fixture_provider("aud2", MARK)).status_code == 201
    key = make_key(admin, "caller", "developer")
    caller = server.client_for(key)
    ok = caller.post("/api/providers/aud2/tools/add/invoke", json={"arguments": {"a": 1, "b": 2}})
    assert ok.status_code == 200, ok.text
    bad = caller.post("/api/providers/aud2/tools/nosuch/invoke", json={"arguments": {}})
    assert bad.status_code == 404
    calls = audit(admin, provider_id="aud2", event_type="InvokeTool")["records"]
    assert [(c["event_type"], c["outcome"], c["principal"]) for c in calls] == [
        ("InvokeTool", "failure", "caller"), ("ToolInvocationCompleted", "success", "caller")]
    assert calls[1]["tool_name"] == "add" and calls[1]["duration_ms"] > 0
    completed = audit(admin, event_type="ToolInvocationCompleted", provider_id="aud2")
    assert completed["total"] == 1
    assert admin.post("/api/providers/aud2/stop").status_code == 200
    assert wait_until(lambda: not pids_with_mark(MARK), timeout=10)


def test_audit_filters_limit_and_bad_input(admin: httpx.Client) -> None:
    for i in range(3):
        assert admin.post("/api/providers", json={"provider_id": f"lim{i}", "mode": "docker",
                                                  "image": "a:1"}).status_code == 201
    by_event = audit(admin, event_type="ProviderRegistered")
    by_command = audit(admin, event_type="RegisterProvider")
    assert by_event["total"] == by_command["total"] >= 3
    page = audit(admin, event_type="RegisterProvider", limit=2)
    assert len(page["records"]) == 2 and page["total"] == by_command["total"]
    assert page["records"][0]["provider_id"] == "lim2"  # newest first
    assert audit(admin, provider_id="never-existed") == {"records": [], "total": 0}
    for params in ({"limit": 0}, {"limit": 1001}, {"limit": "x"}, {"outcome": "maybe"}, {"provider_id": ""}):
        r = admin.get("/api/observability/audit", params=params)
        assert r.status_code == 422, (params, r.text)
        assert set(r.json()) == {"error", "message", "status_code"}


def test_security_events_with_filters(server: AuthHangar, admin: httpx.Client) -> None:
    weak = make_key(admin, "weakling")
    assert server.client_for(weak).get("/api/providers").status_code == 403
    assert server.client_for("mcp_not-a-key").get("/api/providers").status_code == 401
    body = admin.get("/api/observability/security").json()
    kinds = [e["event_type"] for e in body["events"]]
    assert {"PermissionDenied", "AuthenticationFailed", "ApiKeyCreated", "RoleAssigned"} <= set(kinds)
    assert body["total"] >= len(body["events"])
    denied = admin.get("/api/observability/security", params={"event_type": "PermissionDenied"}).json()
    latest = denied["events"][0]
    assert latest["principal_id"] == "weakling" and latest["permission"] == "providers:read"
    assert latest["path"] == "/api/providers" and latest["method"] == "GET"
    assert all(e["event_type"] == "PermissionDenied" for e in denied["events"])
    two = admin.get("/api/observability/security", params={"limit": 2}).json()
    assert len(two["events"]) == 2 and two["total"] == body["total"]
    assert two["events"][0]["position"] > two["events"][1]["position"]
    for params in ({"limit": 0}, {"limit": 5000}, {"limit": "many"}):
        assert admin.get("/api/observability/security", params=params).status_code == 422


def test_audit_survives_a_crash(server: AuthHangar, admin: httpx.Client) -> None:
    assert admin.post("/api/providers", json={"provider_id": "crash1", "mode": "docker",
                                              "image": "a:1"}).status_code == 201
    server.kill()  # SIGKILL right after the 201: the audit record must already be durable
    server.start()
    with server.admin() as fresh:
        records = audit(fresh, provider_id="crash1")["records"]
        assert [r["command"] for r in records] == ["RegisterProvider"]
        assert records[0]["principal"] == "admin"
