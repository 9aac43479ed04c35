"""The auth lockout alert: raised when a client is locked out, resolved when the lockout ends."""

from __future__ import annotations

from pathlib import Path

from tests.auth.conftest import AuthHangar
from tests.support import wait_until


def test_lockout_raises_then_resolves_an_alert(tmp_path: Path) -> None:
    config = "auth:\n  enabled: true\n  lockout: {max_failures: 2, window_s: 30, lockout_s: 1.0}\n"
    server = AuthHangar(tmp_path, config)
    server.start(timeout=60)
    try:
        with server.client() as anon:
            for _ in range(2):
                assert anon.get("/api/providers", headers={"X-API-Key": "wrong"}).status_code == 401
        with server.admin() as admin:
            def lockout_alert() -> dict[str, object] | None:
                r = admin.get("/api/observability/alerts", params={"level": "warning"})
                if r.status_code != 200:  # still locked out (429)
                    return None
                return next((a for a in r.json()["alerts"] if a["rule"] == "auth_lockout"), None)

            assert wait_until(lambda: lockout_alert() is not None, 10)
            assert wait_until(lambda: (a := lockout_alert()) is not None and a["state"] == "resolved", 10)
            alert = lockout_alert()
            assert alert is not None and alert["target"] == "127.0.0.1" and "locked out" in str(alert["message"])
            assert alert["level"] == "warning" and alert["resolution"] == "lockout expired"
    finally:
        server.stop()
