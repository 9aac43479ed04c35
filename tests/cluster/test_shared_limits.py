"""A key limited to 10 requests per second gets about 10 per second in total across three
replicas (not 30): the limit is counted in PostgreSQL, shared by every replica."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.cluster.harness import FAST_CLUSTER, Cluster, needs_pg, pg_schema

pytestmark = needs_pg

ADMIN_KEY = "mcp_" + secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    work = Path(tmp_path_factory.mktemp("limits"))
    config = FAST_CLUSTER + """
auth:
  enabled: true
  rate_limit: {requests_per_second: 10, burst: 10}
"""
    with pg_schema() as url:
        c = Cluster(work, url, config, env={"HANGAR_ADMIN_KEY": ADMIN_KEY})
        try:
            c.start(3)
            yield c
        finally:
            c.close()


def test_a_key_gets_its_limit_once_across_three_replicas(cluster: Cluster) -> None:
    bases = [p.base for p in cluster.replicas]
    headers = {"X-API-Key": ADMIN_KEY}
    time.sleep(1.0 - time.time() % 1.0)  # start on a window boundary
    deadline = time.monotonic() + 3.0
    admitted = refused = 0

    def hammer(base: str) -> tuple[int, int]:
        ok = no = 0
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
            while time.monotonic() < deadline:
                status = client.get("/api/system").status_code
                if status == 200:
                    ok += 1
                else:
                    assert status == 429
                    no += 1
        return ok, no

    with ThreadPoolExecutor(6) as pool:
        for ok, no in pool.map(hammer, bases * 2):
            admitted += ok
            refused += no
    rate = admitted / 3.0
    print(f"admitted {admitted} in 3 s across three replicas ({rate:.1f}/s), refused {refused}")
    assert refused > admitted
    assert 8 <= rate <= 14  # one limit of 10/s, not three


def test_failed_keys_lock_a_client_out_on_every_replica(cluster: Cluster) -> None:
    a, b, c = cluster.replicas[:3]
    for i in range(5):  # auth.lockout.max_failures, spread over the replicas
        base = (a, b, c)[i % 3].base
        assert httpx.get(base + "/api/system", headers={"X-API-Key": "wrong"}).status_code in (401, 429)
    time.sleep(0.6)
    for p in (a, b, c):
        r = httpx.get(p.base + "/api/system", headers={"X-API-Key": ADMIN_KEY})
        assert r.status_code == 429, r.text
