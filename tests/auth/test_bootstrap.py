"""Bootstrap and exposure: a non-loopback bind with auth off is refused without --insecure, and
``HANGAR_ADMIN_KEY`` must be a real secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from hangar.app.auth.bootstrap import InsecureBindError, is_loopback, refuse_open_bind
from tests.support import REPO, free_port, wait_until


def serve(tmp: Path, *extra: str, env: dict[str, str] | None = None, config: str = "") -> subprocess.Popen[str]:
    cfg = tmp / "hangar.yaml"
    cfg.write_text(config or "providers: {}\n")
    full_env = {**os.environ, **(env or {})}
    full_env.pop("HANGAR_DB_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "hangar.cli", "serve", "--config", str(cfg), "--db",
         f"sqlite+aiosqlite:///{tmp / 'h.db'}", *extra],
        cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def test_open_bind_without_auth_is_refused(tmp_path: Path) -> None:
    proc = serve(tmp_path, "--host", "0.0.0.0", "--port", str(free_port()))
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "non-loopback" in out and "--insecure" in out


def test_open_bind_with_insecure_serves(tmp_path: Path) -> None:
    port = free_port()
    proc = serve(tmp_path, "--host", "0.0.0.0", "--port", str(port), "--insecure")
    try:
        def up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/system", timeout=1).status_code == 200
            except httpx.HTTPError:
                return proc.poll() is not None
        assert wait_until(up, timeout=60, interval=0.1)
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(20)


def test_weak_admin_key_is_refused_at_start(tmp_path: Path) -> None:
    proc = serve(tmp_path, "--port", str(free_port()), env={"HANGAR_ADMIN_KEY": "weak-secret-value"},
                 config="auth: {enabled: true}\n")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert "HANGAR_ADMIN_KEY must be at least 32 characters" in out and "weak-secret-value" not in out


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("example.com", False),
])
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_refuse_open_bind_rules() -> None:
    refuse_open_bind("127.0.0.1", auth_enabled=False, insecure=False)
    refuse_open_bind("0.0.0.0", auth_enabled=True, insecure=False)
    refuse_open_bind("0.0.0.0", auth_enabled=False, insecure=True)
    with pytest.raises(InsecureBindError):
        refuse_open_bind("0.0.0.0", auth_enabled=False, insecure=False)
