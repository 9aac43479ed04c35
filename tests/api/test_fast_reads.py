"""``GET /api/providers`` and ``GET /api/system`` answered from encoded bytes before routing
(hangar/api/fast_reads.py) say exactly what the controllers say, over real HTTP.

A trailing slash (``/api/providers/``) is not taken by the fast path, so the framework's own
answer for the same route is one request away to compare with.
"""

from __future__ import annotations

import re
import uuid

import httpx

_VOLATILE = {"x-correlation-id", "date", "server"}


def _headers(r: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in r.headers.items() if k not in _VOLATILE}


def _create(api: httpx.Client, n: int) -> list[str]:
    ids = [f"fast-{uuid.uuid4().hex[:8]}" for _ in range(n)]
    for pid in ids:
        r = api.post("/api/providers", json={"provider_id": pid, "mode": "remote", "endpoint": "http://127.0.0.1:9/mcp",
                                             "discover_on_register": False, "description": f"d {pid}"})
        assert r.status_code == 201, r.text
    return ids


def test_list_matches_the_controller_byte_for_byte(api: httpx.Client) -> None:
    ids = _create(api, 5)
    fast, slow = api.get("/api/providers"), api.get("/api/providers/")
    assert fast.status_code == slow.status_code == 200
    assert fast.content == slow.content and fast.content.endswith(b"}\n")
    assert _headers(fast) == _headers(slow)
    assert fast.headers["x-correlation-id"]
    listed = {row["provider_id"] for row in fast.json()["providers"]}
    assert set(ids) <= listed

    # A write is visible to the very next read (the cached bytes are dropped by the read model).
    api.delete(f"/api/providers/{ids[0]}")
    (extra,) = _create(api, 1)
    listed = {row["provider_id"] for row in api.get("/api/providers").json()["providers"]}
    assert ids[0] not in listed and extra in listed
    assert api.get("/api/providers").content == api.get("/api/providers/").content


def test_system_matches_the_controller_but_for_the_uptime(api: httpx.Client) -> None:
    _create(api, 2)
    fast, slow = api.get("/api/system"), api.get("/api/system/")
    assert fast.status_code == slow.status_code == 200
    uptime = re.compile(rb'"uptime_seconds":[0-9.e+-]+')
    assert uptime.sub(b"U", fast.content) == uptime.sub(b"U", slow.content)
    assert _headers(fast)["content-type"] == _headers(slow)["content-type"] == "application/json"
    assert int(fast.headers["content-length"]) == len(fast.content)
    first = fast.json()["system"]
    before = first["total_providers"]
    (pid,) = _create(api, 1)
    after = api.get("/api/system").json()["system"]
    assert after["total_providers"] == before + 1
    assert after["uptime_seconds"] >= first["uptime_seconds"]
    api.delete(f"/api/providers/{pid}")
    assert api.get("/api/system").json()["system"]["total_providers"] == before


def test_queries_and_head_still_work(api: httpx.Client) -> None:
    _create(api, 3)
    rows = api.get("/api/providers", params={"state": "cold"}).json()["providers"]
    assert rows and all(r["state"] == "cold" for r in rows)
    page = api.get("/api/providers", params={"limit": 2}).json()
    assert len(page["providers"]) == 2 and page["next_cursor"]
    assert api.get("/api/providers", params={"state": "nope"}).status_code in (400, 422)
    head = api.head("/api/providers")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(api.get("/api/providers").content)
    assert api.get("/api/system", params={"as_of": "1"}).status_code == 200


def test_invalid_host_is_refused_as_before(api: httpx.Client) -> None:
    for path in ("/api/providers", "/api/providers/"):
        r = api.get(path, headers={"host": "bad host"})
        assert r.status_code == 400, (path, r.text)


def test_fast_answers_are_counted_under_their_route(api: httpx.Client) -> None:
    api.get("/api/system")
    text = api.get("/metrics").text
    assert re.search(r'http_requests_total\{[^}]*route="/api/system"[^}]*\}', text), text[:2000]
