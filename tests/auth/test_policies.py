"""Tool access policies change what a principal can call (REST, group invoke, ``/mcp``) and list."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from tests.auth.conftest import AuthHangar, make_key
from tests.support import fixture_provider

MARK = f"auth-policies-{uuid.uuid4().hex[:6]}"


class World:
    def __init__(self, server: AuthHangar, admin: httpx.Client) -> None:
        r = admin.post("/api/providers", json=fixture_provider("pol", MARK))
        assert r.status_code == 201, r.text
        assert admin.post("/api/providers/pol/start").status_code == 200
        assert admin.post("/api/groups", json={"group_id": "polgrp"}).status_code == 201
        assert admin.post("/api/groups/polgrp/members", json={"member_id": "pol"}).status_code == 201
        self.dev_key = make_key(admin, "dev", "developer")
        self.ci_key = make_key(admin, "ci", "service-account")
        self.dev = server.client_for(self.dev_key)
        self.ci = server.client_for(self.ci_key)


@pytest.fixture(scope="module")
def world(server: AuthHangar, admin: httpx.Client) -> World:
    return World(server, admin)


def call(client: httpx.Client, tool: str, args: dict[str, Any] | None = None, target: str = "providers/pol") -> int:
    body = {"arguments": args if args is not None else ({"a": 1, "b": 2} if tool == "add" else {"text": "hi"})}
    return client.post(f"/api/{target}/tools/{tool}/invoke", json=body).status_code


def mcp(server: AuthHangar, key: str, call_name: str | None = None) -> tuple[list[str], Any]:
    """``tools/list`` (and optionally one ``tools/call``) through the MCP SDK's own client."""

    async def run() -> tuple[list[str], Any]:
        # The front door loads its SDK in the background: 503 with Retry-After until it is up.
        async with httpx.AsyncClient(base_url=server.base, headers={"X-API-Key": key}) as probe:
            for _ in range(120):
                if (await probe.post("/mcp", json={})).status_code != 503:
                    break
                await asyncio.sleep(0.5)
        http = create_mcp_http_client(headers={"X-API-Key": key})
        async with http, streamable_http_client(server.base + "/mcp", http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                names = [t.name for t in (await session.list_tools()).tools]
                result: Any = None
                if call_name is not None:
                    try:
                        result = await session.call_tool(call_name, {"a": 2, "b": 3})
                    except MCPError as exc:  # a tool the principal may not see is an unknown tool
                        result = exc
                return names, result

    return asyncio.run(run())


def test_deny_allow_and_clear_change_what_a_principal_can_call(
    server: AuthHangar, admin: httpx.Client, world: World
) -> None:
    assert call(world.dev, "add") == 200 and call(world.dev, "echo") == 200

    r = admin.put("/api/auth/policies/pol/add", json={"principal_id": "dev", "effect": "deny"})
    assert r.status_code == 200, r.text
    assert r.json()["entries"] == [{"principal_id": "dev", "effect": "deny"}] and r.json()["deny_list"] == ["dev"]
    got = admin.get("/api/auth/policies/pol/add").json()
    assert got["found"] is True and got["total"] == 1 and got["entries"][0]["effect"] == "deny"

    denied = world.dev.post("/api/providers/pol/tools/add/invoke", json={"arguments": {"a": 1, "b": 2}})
    assert denied.status_code == 403 and denied.json()["error"] == "ToolAccessDeniedError"
    assert call(world.dev, "echo") == 200 and call(world.ci, "add") == 200

    # An allow entry on the provider's '*' makes an allow list: only ci may call pol's tools now.
    assert admin.put("/api/auth/policies/pol/*", json={"principal_id": "ci", "effect": "allow"}).status_code == 200
    assert call(world.dev, "echo") == 403 and call(world.ci, "echo") == 200 and call(world.ci, "add") == 200
    # Deny wins over allow, at any level.
    assert admin.put("/api/auth/policies/pol/add", json={"principal_id": "*", "effect": "deny"}).status_code == 200
    assert call(world.ci, "add") == 403 and call(world.ci, "echo") == 200

    events = admin.get("/api/observability/security?event_type=ToolAccessDenied&limit=50").json()["events"]
    assert {(e["principal_id"], e["tool_name"]) for e in events} >= {("dev", "add"), ("dev", "echo"), ("ci", "add")}

    cleared = admin.delete("/api/auth/policies/pol/add")
    assert cleared.status_code == 200 and cleared.json()["cleared"] == 2 and cleared.json()["entries"] == []
    one = admin.delete("/api/auth/policies/pol/*", params={"principal_id": "ci"})
    assert one.json()["cleared"] == 1 and one.json()["found"] is False
    assert call(world.dev, "add") == 200 and call(world.dev, "echo") == 200 and call(world.ci, "add") == 200
    assert admin.delete("/api/auth/policies/pol/add").json()["cleared"] == 0


def test_group_invocations_honour_member_and_group_policies(admin: httpx.Client, world: World) -> None:
    assert call(world.dev, "add", target="groups/polgrp") == 200
    assert admin.put("/api/auth/policies/polgrp/add", json={"principal_id": "dev", "effect": "deny"}).status_code == 200
    assert call(world.dev, "add", target="groups/polgrp") == 403
    assert call(world.ci, "add", target="groups/polgrp") == 200
    assert admin.delete("/api/auth/policies/polgrp/add").status_code == 200
    assert admin.put("/api/auth/policies/pol/echo", json={"principal_id": "ci", "effect": "deny"}).status_code == 200
    assert call(world.ci, "echo", target="groups/polgrp") == 403
    assert admin.delete("/api/auth/policies/pol/echo").status_code == 200
    assert call(world.ci, "echo", target="groups/polgrp") == 200


def test_mcp_lists_and_calls_only_what_the_policies_allow(
    server: AuthHangar, admin: httpx.Client, world: World
) -> None:
    names, result = mcp(server, world.dev_key, "pol__add")
    assert "pol__add" in names and "pol__echo" in names and "polgrp__add" in names
    assert not isinstance(result, MCPError) and not result.is_error

    assert admin.put("/api/auth/policies/pol/add", json={"principal_id": "dev", "effect": "deny"}).status_code == 200
    assert admin.put("/api/auth/policies/polgrp/*", json={"principal_id": "dev", "effect": "deny"}).status_code == 200
    names, result = mcp(server, world.dev_key, "pol__add")
    assert "pol__add" not in names and "pol__echo" in names and not any(n.startswith("polgrp__") for n in names)
    assert isinstance(result, MCPError) and "Unknown tool" in str(result)
    ci_names, ci_result = mcp(server, world.ci_key, "pol__add")
    assert "pol__add" in ci_names and "polgrp__add" in ci_names and not ci_result.is_error

    assert admin.delete("/api/auth/policies/pol/add").status_code == 200
    assert admin.delete("/api/auth/policies/polgrp/*").status_code == 200
    names, _ = mcp(server, world.dev_key)
    assert "pol__add" in names and "polgrp__add" in names


def test_bad_policy_requests_change_nothing(admin: httpx.Client) -> None:
    before = admin.get("/api/auth/policies/pol/add").json()
    for body in ({"principal_id": "dev", "effect": "maybe"}, {"effect": "deny"}, {"principal_id": "dev"},
                 {"principal_id": "bad id!", "effect": "deny"}, {"principal_id": "dev", "effect": "deny", "x": 1}):
        r = admin.put("/api/auth/policies/pol/add", json=body)
        assert r.status_code == 422, (body, r.text)
        assert set(r.json()) == {"error", "message", "status_code"}
    r = admin.put("/api/auth/policies/bad%20id/add", json={"principal_id": "dev", "effect": "deny"})
    assert r.status_code == 422
    assert admin.get("/api/auth/policies/bad%20id/add").status_code == 422
    assert admin.get("/api/auth/policies/pol/add").json() == before
