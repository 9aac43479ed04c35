"""The enforcement matrix over every route the app registers (REST, WebSocket, ``/mcp``):
no key → 401, a key without the route's permission → 403, a key with exactly that permission
gets through (whatever the handler then answers for the dummy ids: never 401/403)."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from hangar.api.permissions import PUBLIC, ROUTE_PERMISSIONS, route_keys
from hangar.asgi import create_app
from hangar.config.schema import HangarConfig
from tests.auth.conftest import AuthHangar, make_key

ROUTES = sorted({key for key, _ in route_keys(create_app(config=HangarConfig()))})
PARAM_VALUES = {"provider_id": "nope-prov", "tool_name": "nope", "key_id": "key_nope", "principal_id": "nobody",
                "role_id": "nope-role", "group_id": "nope-group", "member_id": "nope", "source_id": "nope",
                "entry_id": "nope", "name": "nope", "path": "nope"}
MCP_INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "matrix", "version": "1"}}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PARAM_VALUES.get(m.group(1), "x"), path)


def perm_slug(permission: str) -> str:
    return "p-" + permission.replace(":", "-").replace("*", "all")


class Keys:
    """One principal without roles, and per permission one principal holding exactly that one."""

    def __init__(self, admin: httpx.Client) -> None:
        self.none_ = make_key(admin, "matrix-noroles")
        self.by_perm: dict[str, str] = {}

        async def one(client: httpx.AsyncClient, permission: str) -> None:
            slug = perm_slug(permission)
            r = await client.post("/api/auth/roles", json={"role_id": slug, "permissions": [permission]})
            assert r.status_code == 201, r.text
            r = await client.post("/api/auth/keys", json={"principal_id": slug, "name": slug})
            assert r.status_code == 201, r.text
            self.by_perm[permission] = r.json()["raw_key"]
            r = await client.post(f"/api/auth/principals/{slug}/roles", json={"role_id": slug})
            assert r.status_code == 200, r.text

        async def all_() -> None:
            async with httpx.AsyncClient(base_url=str(admin.base_url), headers=dict(admin.headers),
                                         timeout=60) as client:
                perms = sorted({v for v in ROUTE_PERMISSIONS.values() if v != PUBLIC})
                await asyncio.gather(*(one(client, p) for p in perms))

        asyncio.run(all_())

    def other_than(self, permission: str) -> str:
        perms = sorted(self.by_perm)
        return self.by_perm[perms[(perms.index(permission) + 1) % len(perms)]]


@pytest.fixture(scope="module")
def keys(admin: httpx.Client) -> Keys:
    return Keys(admin)


async def http_status(client: httpx.AsyncClient, key: str | None, method: str, path: str) -> int:
    headers = {"X-API-Key": key} if key else {}
    if method == "ASGI":
        request = client.build_request("POST", path, json=MCP_INIT, headers={**headers, **MCP_HEADERS})
    else:
        body = {} if method in ("POST", "PUT", "PATCH") else None
        request = client.build_request(method, path, json=body, headers=headers)
    # Streamed: a granted event stream (SSE) never ends, and only its status matters then.
    r = await client.send(request, stream=True)
    try:
        if r.status_code not in (401, 403):
            return r.status_code
        await r.aread()
    finally:
        await r.aclose()
    if path.startswith(("/api/v1beta/", "/registry/")):
        # ToolHive's API and the registry API answer in their own shapes: plain text, or
        # JSON with a message ({code, message} or {error}).
        if r.headers["content-type"].startswith("application/json"):
            body = r.json()
            assert body.get("message") or body.get("error"), r.text
        else:
            assert r.text.strip(), r.text
    else:
        assert r.json()["status_code"] == r.status_code, r.text  # the contract's envelope
    return r.status_code


async def ws_status(server: AuthHangar, key: str | None, path: str) -> int:
    headers = {"X-API-Key": key} if key else {}
    try:
        async with websockets.connect(server.base.replace("http", "ws") + path, additional_headers=headers):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


async def status_of(server: AuthHangar, client: httpx.AsyncClient, key: str | None, route: str) -> int:
    method, _, path = route.partition(" ")
    if method == "WS":
        return await ws_status(server, key, concrete(path))
    return await http_status(client, key, method, concrete(path))


def status(server: AuthHangar, key: str | None, route: str) -> int:
    async def once() -> int:
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
            return await status_of(server, client, key, route)

    return asyncio.run(once())


async def check_route(server: AuthHangar, client: httpx.AsyncClient, keys: Keys, route: str) -> list[str]:
    permission = ROUTE_PERMISSIONS[route]
    if permission == PUBLIC:
        got = await status_of(server, client, None, route)
        return [] if got not in (401, 403) else [f"{route}: public route answered {got}"]
    problems = []
    for label, key, want in (("no key", None, 401), ("no roles", keys.none_, 403),
                             ("another permission", keys.other_than(permission), 403)):
        got = await status_of(server, client, key, route)
        if got != want:
            problems.append(f"{route}: {label} → {got}, expected {want}")
    got = await status_of(server, client, keys.by_perm[permission], route)
    if got in (401, 403, 429) or got >= 500:
        problems.append(f"{route}: with exactly '{permission}' → {got}")
    return problems


def test_route_matrix(server: AuthHangar, keys: Keys) -> None:
    """Every registered route, four principals each (run eight routes at a time)."""
    assert "ASGI /mcp" in ROUTES and any(r.startswith("WS ") for r in ROUTES)

    async def run() -> list[str]:
        gate = asyncio.Semaphore(8)
        async with httpx.AsyncClient(base_url=server.base, timeout=60) as client:
            # The MCP front door loads its SDK in the background and answers 503 with
            # Retry-After until it is up; wait for it as a client would.
            mcp_key = keys.by_perm[ROUTE_PERMISSIONS["ASGI /mcp"]]
            deadline = asyncio.get_running_loop().time() + 60
            while await status_of(server, client, mcp_key, "ASGI /mcp") == 503:
                assert asyncio.get_running_loop().time() < deadline, "/mcp never came up"
                await asyncio.sleep(0.5)
            async def one(route: str) -> list[str]:
                async with gate:
                    return await check_route(server, client, keys, route)

            results = await asyncio.gather(*(one(r) for r in ROUTES))
        return [p for ps in results for p in ps]

    problems = asyncio.run(run())
    assert not problems, "\n".join(problems)


BUILTIN_EXPECTATIONS = [
    ("viewer", "GET /api/providers", 200),
    ("viewer", "POST /api/providers", 403),
    ("viewer", "GET /api/system", 200),
    ("viewer", "GET /api/observability/audit", 403),
    ("viewer", "WS /api/ws/state", 101),
    ("auditor", "GET /api/observability/audit", 200),
    ("auditor", "GET /api/observability/security", 200),
    ("auditor", "POST /api/auth/keys", 403),
    ("developer", "GET /api/groups", 200),
    ("developer", "DELETE /api/providers/{provider_id}", 403),
    ("service-account", "ASGI /mcp", 200),
    ("service-account", "GET /api/auth/roles", 403),
    ("provider-admin", "WS /api/ws/events", 101),
    ("provider-admin", "GET /api/auth/roles", 403),
    ("admin", "GET /api/auth/roles", 200),
    ("admin", "GET /metrics", 200),
]


def test_builtin_roles(server: AuthHangar, admin: httpx.Client) -> None:
    keys = {role: make_key(admin, f"builtin-{role}", role) for role in {r for r, _, _ in BUILTIN_EXPECTATIONS}}
    got = [(role, route, status(server, keys[role], route)) for role, route, _ in BUILTIN_EXPECTATIONS]
    assert got == BUILTIN_EXPECTATIONS


def test_bearer_header_and_bad_schemes(server: AuthHangar) -> None:
    url = server.base + "/api/system"
    assert httpx.get(url, headers={"Authorization": f"Bearer {server.admin_key}"}).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"Basic {server.admin_key}"}).status_code == 401
    r = httpx.get(server.base + "/api/system")
    assert r.status_code == 401 and "Bearer" in r.headers["www-authenticate"]
    # CORS preflight is answered without credentials.
    assert httpx.options(server.base + "/api/system").status_code != 401
