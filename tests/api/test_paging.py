"""Cursor paging: a walk through 1,000 providers while another client creates and deletes
providers sees every provider that existed throughout exactly once; bad cursors are 400s; lists
asked without a cursor keep the contract's shape."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hangar.app import codec
from hangar.app.codec import EventMetadata
from hangar.domain.events import ProviderRegistered
from hangar.domain.provider_spec import ProviderSpec
from hangar.store import create_event_store, migrate
from tests.discovery.conftest import assert_envelope, math_def, register, write_def
from tests.support import HangarProcess

STABLE_IDS = [f"p{i:04d}" for i in range(1000)]
CHURN_EVERY = 2


def body(pid: str) -> dict[str, object]:
    return {"provider_id": pid, "mode": "remote", "endpoint": "http://127.0.0.1:9/mcp"}


async def seed_providers(url: str, ids: list[str]) -> None:
    """The thousand providers go straight into the server's event store before it starts (one
    group commit instead of a thousand requests): the same events a POST records."""
    await migrate(url)
    store = create_event_store(url)
    await store.start()
    try:
        meta = EventMetadata(principal="seed")
        spec = ProviderSpec(mode="remote", endpoint="http://127.0.0.1:9/mcp")
        await asyncio.gather(*(
            store.append(f"provider:{pid}", 0, [codec.encode(ProviderRegistered(provider_id=pid, spec=spec), meta)])
            for pid in ids))
    finally:
        await store.close()


@pytest.fixture(scope="module")
def hangar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HangarProcess]:
    work = Path(tmp_path_factory.mktemp("paging"))
    url = f"sqlite+aiosqlite:///{work / 'hangar.db'}"
    asyncio.run(seed_providers(url, STABLE_IDS))
    proc = HangarProcess(work, db_url=url).start()
    try:
        yield proc
    finally:
        proc.stop()


def test_walk_sees_every_stable_provider_exactly_once(hangar, api: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    stable = STABLE_IDS
    assert [p["provider"] for p in api.get("/api/providers").json()["providers"]] == stable
    stop = threading.Event()
    turn = threading.Semaphore(0)
    done = threading.Semaphore(0)
    churned: list[str] = []

    def churn() -> None:
        """Every few pages the other client creates a provider (ids sorting before,
        inside and after the stable ones, in pages already seen and still to come) and deletes
        the one it created before."""
        with httpx.Client(base_url=hangar.base, timeout=30) as other:
            n = 0
            while True:
                turn.acquire()
                if stop.is_set():
                    return
                pid = ("a", "p0500x", "z")[n % 3] + f"{n:05d}"
                assert other.post("/api/providers", json=body(pid)).status_code == 201
                churned.append(pid)
                if n % 2:
                    assert other.delete(f"/api/providers/{churned[-2]}").status_code == 200
                n += 1
                done.release()

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        seen: list[str] = []
        pages = 0
        cursor = None
        while True:
            params: dict[str, object] = {"limit": 7, **({"cursor": cursor} if cursor else {})}
            r = api.get("/api/providers", params=params)
            assert r.status_code == 200, r.text
            page = r.json()
            assert set(page) == {"providers", "next_cursor", "prev_cursor"}
            assert len(page["providers"]) <= 7
            seen += [p["provider"] for p in page["providers"]]
            pages += 1
            if pages % CHURN_EVERY == 0:
                turn.release()
                assert done.acquire(timeout=30), "the other client stopped"
            cursor = page["next_cursor"]
            if cursor is None:
                break
    finally:
        stop.set()
        turn.release()
        worker.join(60)
    assert len(churned) == pages // CHURN_EVERY  # the list changed all along the walk
    got = [p for p in seen if p.startswith("p") and len(p) == 5]
    assert got == stable  # each exactly once, in order
    assert len(seen) == len(set(seen))
    assert pages >= len(STABLE_IDS) // 7


def test_prev_cursor_goes_back(api: httpx.Client) -> None:
    first = api.get("/api/providers", params={"limit": 5}).json()
    assert first["prev_cursor"] is None
    second = api.get("/api/providers", params={"limit": 5, "cursor": first["next_cursor"]}).json()
    back = api.get("/api/providers", params={"limit": 5, "cursor": second["prev_cursor"]}).json()
    assert back["providers"] == first["providers"]


def test_invalid_or_tampered_cursor_is_400_in_the_envelope(api: httpx.Client) -> None:
    nxt = api.get("/api/providers", params={"limit": 2}).json()["next_cursor"]
    body, mac = nxt.split(".")
    for bad in ("nonsense", body + ".AAAAAAAAAAAAAAAAAAAAAA", body[:-2] + "xx." + mac):
        assert_envelope(api.get("/api/providers", params={"cursor": bad}), 400, "InvalidCursorError")
    # a cursor from another list is refused, not reinterpreted
    cat = api.post("/api/catalog", json={"name": "c1", "description": "d"})
    assert cat.status_code == 201
    api.post("/api/catalog", json={"name": "c2", "description": "d"})
    cat_cursor = api.get("/api/catalog", params={"limit": 1}).json()["next_cursor"]
    assert_envelope(api.get("/api/providers", params={"cursor": cat_cursor}), 400, "InvalidCursorError")
    assert_envelope(api.get("/api/providers", params={"limit": 0}), 422)


def test_without_cursor_the_contract_shape_is_unchanged(api: httpx.Client) -> None:
    assert set(api.get("/api/providers").json()) == {"providers"}
    assert set(api.get("/api/catalog").json()) == {"entries", "total"}
    assert set(api.get("/api/discovery/pending").json()) == {"pending"}
    assert set(api.get("/api/discovery/quarantined").json()) == {"quarantined"}
    assert set(api.get("/api/observability/audit", params={"limit": 5}).json()) == {"records", "total"}
    assert set(api.get("/api/observability/security").json()) == {"events", "total"}


def test_catalog_and_audit_pages(api: httpx.Client) -> None:
    names: list[str] = []
    cursor = None
    while True:
        page = api.get("/api/catalog", params={"limit": 1, **({"cursor": cursor} if cursor else {})}).json()
        names += [e["name"] for e in page["entries"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert names == sorted(names, key=str.lower) and len(names) == page["total"]
    full = api.get("/api/observability/audit", params={"limit": 1000}).json()["records"][:12]
    walked: list[dict[str, object]] = []
    cursor = ""
    while len(walked) < 12:
        page = api.get("/api/observability/audit", params={"limit": 4, "cursor": cursor}).json()
        walked += page["records"]
        cursor = page["next_cursor"]
    assert [r["record_id"] for r in walked[:12]] == [r["record_id"] for r in full]


def test_discovery_pending_pages(api: httpx.Client, tmp_path: Path) -> None:
    for i in range(5):
        write_def(tmp_path, f"pend-{i}", math_def())
    sid = register(api, "filesystem", path=str(tmp_path), require_approval=True, interval_s=3600, watch=False,
                   enabled=False)
    assert api.post(f"/api/discovery/sources/{sid}/scan").json()["providers_found"] == 5
    full = api.get("/api/discovery/pending").json()["pending"]
    walked: list[dict[str, object]] = []
    cursor = None
    while True:
        page = api.get("/api/discovery/pending", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        walked += page["pending"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == full and [p["name"] for p in walked] == [f"pend-{i}" for i in range(5)]
