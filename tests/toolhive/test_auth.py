"""With auth on: the per-provider MCP endpoint asks for a key like /mcp, and a registered
client's entry carries the registering caller's key."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.auth.conftest import ADMIN_KEY, AuthHangar
from tests.support import STDIO_FIXTURE, wait_until
from tests.toolhive.swagger import check

V = "/api/v1beta"
CALL = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "add", "arguments": {"a": 1, "b": 2}}}
MCP_HEADERS = {"accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18"}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AuthHangar, Path]]:
    work = Path(tmp_path_factory.mktemp("thv-auth"))
    home = work / "home"
    config = (f"auth:\n  enabled: true\n  rate_limit: {{requests_per_second: 10000, burst: 10000}}\n"
              f"clients:\n  home: {home}\n")
    proc = AuthHangar(work, config_text=config).start()
    try:
        yield proc, home
    finally:
        proc.stop()


def test_provider_endpoint_needs_a_key_and_client_entries_carry_it(secured: tuple[AuthHangar, Path]) -> None:
    hangar, home = secured
    n = f"a-{uuid.uuid4().hex[:6]}"
    with hangar.admin() as admin:
        check(admin.post(f"{V}/workloads", json={"name": n, "image": f"cmd://{sys.executable}",
                                                 "cmd_arguments": [str(STDIO_FIXTURE)]}))
        url = f"{hangar.base}/mcp/providers/{n}"
        assert httpx.post(url, json=CALL, headers=MCP_HEADERS).status_code == 401
        assert httpx.get(hangar.base + f"{V}/workloads").status_code == 401
        keyed = {**MCP_HEADERS, "X-API-Key": ADMIN_KEY}

        def answered() -> bool:
            return httpx.post(url, json=CALL, headers=keyed, timeout=30).status_code != 503
        assert wait_until(answered, 60, 0.2)
        r = httpx.post(url, json=CALL, headers=keyed, timeout=30)
        assert r.status_code == 200 and r.json()["result"]["structuredContent"] == {"result": 3.0}, r.text
        check(admin.post(f"{V}/clients", json={"name": "cursor"}))
        entry = json.loads((home / ".cursor/mcp.json").read_text())["mcpServers"]["hangar"]
        assert entry == {"url": f"{hangar.base}/mcp", "headers": {"X-API-Key": ADMIN_KEY}}
        assert httpx.get(hangar.base + "/health").status_code == 204
        check(admin.delete(f"{V}/workloads/{n}"))
