"""Lockout after repeated failed authentications (429, growing period) and per-principal rate limits.

Decision documented in ``hangar/api/guard.py``: a locked-out client address gets **429** with
``Retry-After`` for every request, whatever key it presents, until the period ends.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hangar.app.auth.limits import Lockouts, TokenBuckets
from tests.auth.conftest import AuthHangar, make_key
from tests.support import wait_until

LIMITS_CONFIG = """
auth:
  enabled: true
  rate_limit: {requests_per_second: 4, burst: 6}
  lockout: {max_failures: 3, window_s: 60, lockout_s: 1, max_lockout_s: 8}
"""


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthHangar]:
    proc = AuthHangar(Path(tmp_path_factory.mktemp("limits")), LIMITS_CONFIG).start()
    try:
        yield proc
    finally:
        proc.stop()


def get(server: AuthHangar, key: str | None) -> httpx.Response:
    headers = {"X-API-Key": key} if key else {}
    return httpx.get(server.base + "/api/system", headers=headers, timeout=30)


def test_failed_authentications_lock_the_client_out_for_growing_periods(limited: AuthHangar) -> None:
    for _ in range(10):  # no key at all is not a guess: it never locks anyone out
        assert get(limited, None).status_code == 401
    assert [get(limited, "mcp_wrong-guess").status_code for _ in range(3)] == [401, 401, 401]
    locked = get(limited, limited.admin_key)  # even the right key is refused while locked out
    assert locked.status_code == 429 and locked.json()["error"] == "ClientLockedOutError"
    assert locked.headers["Retry-After"] == "1"
    assert wait_until(lambda: get(limited, limited.admin_key).status_code == 200, timeout=5, interval=0.1)

    assert [get(limited, "mcp_wrong-guess").status_code for _ in range(3)] == [401, 401, 401]
    second = get(limited, limited.admin_key)
    assert second.status_code == 429 and second.headers["Retry-After"] == "2"  # doubled
    assert wait_until(lambda: get(limited, limited.admin_key).status_code == 200, timeout=6, interval=0.2)

    with limited.admin() as admin:
        events = admin.get("/api/observability/security?event_type=ClientLockedOut").json()
        assert events["total"] == 2
        assert [(e["lockouts"], e["lockout_s"]) for e in events["events"]] == [(2, 2.0), (1, 1.0)]
        assert events["events"][0]["client"] == "127.0.0.1"
        failed = admin.get("/api/observability/security?event_type=AuthenticationFailed&limit=1000").json()
        assert failed["total"] == 6 and {e["reason"] for e in failed["events"]} == {"invalid"}


def test_rate_limit_is_per_principal(limited: AuthHangar) -> None:
    time.sleep(1.6)  # let the admin's own bucket (4/s, burst 6) refill after the previous test
    with limited.admin() as admin:
        busy_key = make_key(admin, "busy", "viewer")
        calm_key = make_key(admin, "calm", "viewer")
    with httpx.Client(base_url=limited.base, headers={"X-API-Key": busy_key}) as busy:
        codes = [busy.get("/api/system") for _ in range(12)]
    refused = [r for r in codes if r.status_code == 429]
    assert refused and codes[0].status_code == 200
    assert refused[0].json()["error"] == "RateLimitExceeded" and int(refused[0].headers["Retry-After"]) >= 1
    assert get(limited, calm_key).status_code == 200  # another principal is unaffected
    time.sleep(0.6)  # the bucket refills at 4 tokens a second
    assert get(limited, busy_key).status_code == 200


def test_token_bucket_arithmetic() -> None:
    b = TokenBuckets(rate=2.0, burst=3)
    assert [b.take("p", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take("p", 0.0) == pytest.approx(0.5)
    assert b.take("q", 0.0) == 0.0
    assert b.take("p", 0.5) == 0.0  # one token back after half a second
    assert b.take("p", 0.5) == pytest.approx(0.5)


def test_lockout_arithmetic() -> None:
    lo = Lockouts(max_failures=2, window_s=10, lockout_s=5, max_lockout_s=12)
    assert lo.failure("ip", 0.0) is None
    assert lo.failure("ip", 20.0) is None  # the first failure left the window
    assert lo.failure("ip", 21.0) == (1, 5.0)
    assert lo.retry_after("ip", 22.0) == pytest.approx(4.0) and lo.retry_after("other", 22.0) == 0.0
    lo.failure("ip", 30.0)
    assert lo.failure("ip", 30.5) == (2, 10.0)
    lo.failure("ip", 50.0)
    assert lo.failure("ip", 50.5) == (3, 12.0)  # capped at max_lockout_s
    # Quiet for max_lockout_s after the last lockout ended: the doubling starts over.
    lo.failure("ip", 200.0)
    assert lo.failure("ip", 200.5) == (1, 5.0)
