"""What-if for tool policies, with auth on and real calls from two principals through a real
MCP provider: a deny on one tool reports exactly the calls it would have blocked, and the
running policy set is unchanged."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.auth.conftest import AuthHangar, make_key
from tests.support import fixture_provider

MARK = f"simulate-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthHangar]:
    proc = AuthHangar(Path(tmp_path_factory.mktemp("simulate"))).start()
    try:
        yield proc
    finally:
        proc.stop()


def test_simulated_deny_reports_exactly_the_calls_it_would_block(server: AuthHangar) -> None:
    with server.admin() as admin:
        assert admin.post("/api/providers", json=fixture_provider("sim", MARK)).status_code == 201
        assert admin.post("/api/providers/sim/start").status_code == 200
        alice_key, bob_key = make_key(admin, "alice", "developer"), make_key(admin, "bob", "developer")
        alice, bob = server.client_for(alice_key), server.client_for(bob_key)
        # The log shows key creations, never the keys or their digests; a viewer may read it.
        created = admin.get("/api/events", params={"event_type": "ApiKeyCreated"}).text
        assert "ApiKeyCreated" in created and "key_hash" not in created
        assert alice_key not in created and bob_key not in created
        assert alice.get("/api/events").status_code == 200  # developer holds events:read
        assert server.client_for(None).get("/api/events").status_code == 401
        start = admin.get("/api/events", params={"from_position": 10**9}).json()  # 200, nothing after
        assert start["events"] == []
        begin = admin.get("/api/auth/principals/alice/tools").json()["as_of"]

        def call(client: httpx.Client, tool: str) -> None:
            args = {"a": 1, "b": 2} if tool == "add" else {"text": "hi"}
            r = client.post(f"/api/providers/sim/tools/{tool}/invoke", json={"arguments": args})
            assert r.status_code == 200, r.text

        for _ in range(3):
            call(alice, "echo")
        call(alice, "add")
        for _ in range(2):
            call(bob, "echo")
        call(bob, "add")
        events_before = admin.get("/api/events", params={"from_position": 0, "limit": 1000}).json()
        policies_before = admin.get("/api/auth/policies").json()

        proposal = {"policies": [{"provider_id": "sim", "tool_name": "echo", "principal_id": "bob", "effect": "deny"}],
                    "from": str(begin)}
        r = admin.post("/api/auth/policies/simulate", json=proposal)
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["calls"] == 7 and report["newly_denied"] == 2 and report["newly_allowed"] == 0
        rows = {(x["principal"], x["tool_name"]): x for x in report["by_principal_and_tool"]}
        assert {k: (v["calls"], v["newly_denied"]) for k, v in rows.items()} == {
            ("alice", "echo"): (3, 0), ("alice", "add"): (1, 0), ("bob", "echo"): (2, 2), ("bob", "add"): (1, 0),
        }
        bob_echo = [e["position"] for e in admin.get("/api/events", params={
            "event_type": "ToolInvocationRequested", "principal": "bob", "from_position": begin, "limit": 1000,
        }).json()["events"] if e["tool_name"] == "echo"]
        assert rows[("bob", "echo")]["denied_positions"] == bob_echo

        # Nothing changed: no event appended, the running policies are the same, bob still may call.
        assert admin.get("/api/auth/policies").json() == policies_before
        after = admin.get("/api/events", params={"from_position": events_before["last_position"]}).json()
        assert [e["event_type"] for e in after["events"]] == []
        call(bob, "echo")

        # Simulating the opposite once the deny is real: those calls would be allowed again.
        deny = {"principal_id": "bob", "effect": "deny"}
        assert admin.put("/api/auth/policies/sim/echo", json=deny).status_code == 200
        pre = admin.get("/api/auth/principals/bob/tools").json()["as_of"]
        denied = bob.post("/api/providers/sim/tools/echo/invoke", json={"arguments": {"text": "x"}})
        assert denied.status_code == 403
        mark = admin.get("/api/auth/principals/bob/tools").json()
        assert ("sim", "echo") not in {(t["provider_id"], t["tool_name"]) for t in mark["tools"]}
        past = admin.get("/api/auth/principals/bob/tools", params={"as_of": str(begin)}).json()
        assert ("sim", "echo") in {(t["provider_id"], t["tool_name"]) for t in past["tools"]}
        undo = {"policies": [{"provider_id": "sim", "tool_name": "echo", "principal_id": "bob", "effect": "allow"}],
                "from": str(pre)}
        report = admin.post("/api/auth/policies/simulate", json=undo).json()
        assert report["newly_allowed"] == 1 and report["newly_denied"] == 0

        bad = admin.post("/api/auth/policies/simulate", json={"policies": [{"provider_id": "sim"}]})
        assert bad.status_code == 422 and set(bad.json()) == {"error", "message", "status_code"}
        assert admin.delete("/api/providers/sim").status_code == 200
