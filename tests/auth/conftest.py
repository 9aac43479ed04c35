from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import HangarProcess, keep_providers_cold

ADMIN_KEY = "mcp_test-admin-key-0123456789abcdefghijklmnopqrstuv"

# Generous limits: the matrix and CRUD tests send a few hundred requests from one principal.
AUTH_CONFIG = """
auth:
  enabled: true
  rate_limit: {requests_per_second: 10000, burst: 10000}
"""


class AuthHangar(HangarProcess):
    """``hangar serve`` with auth on, seeded with ``ADMIN_KEY`` through ``HANGAR_ADMIN_KEY``."""

    def __init__(self, workdir: Path, config_text: str = AUTH_CONFIG, admin_key: str = ADMIN_KEY,
                 env: dict[str, str] | None = None) -> None:
        cfg = workdir / "hangar.yaml"
        cfg.write_text(config_text)
        super().__init__(workdir, config=cfg, env={"HANGAR_ADMIN_KEY": admin_key, **(env or {})})
        self.admin_key = admin_key

    def start(self, timeout: float = 30.0) -> AuthHangar:
        keep_providers_cold(self.config)
        env = {**os.environ, **self.env}
        env.pop("HANGAR_DB_URL", None)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hangar.cli", "serve", "--config", str(self.config),
             "--port", str(self.port), "--db", self.db_url],
            cwd=self.workdir, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hangar exited with {self.proc.returncode}: {self.log()}")
            try:
                r = httpx.get(self.base + "/api/system", headers={"X-API-Key": self.admin_key}, timeout=1)
                if r.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"hangar did not become ready: {self.log()}")

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=30, headers={"X-API-Key": self.admin_key})

    def client_for(self, key: str | None) -> httpx.Client:
        headers = {"X-API-Key": key} if key else {}
        return httpx.Client(base_url=self.base, timeout=30, headers=headers)


def make_key(admin: httpx.Client, principal: str, *roles: str, **extra: object) -> str:
    r = admin.post("/api/auth/keys", json={"principal_id": principal, "name": f"{principal}-key", **extra})
    assert r.status_code == 201, r.text
    for role in roles:
        a = admin.post(f"/api/auth/principals/{principal}/roles", json={"role_id": role})
        assert a.status_code == 200, a.text
    return str(r.json()["raw_key"])


def make_role(admin: httpx.Client, role_id: str, *permissions: str) -> None:
    r = admin.post("/api/auth/roles", json={"role_id": role_id, "description": role_id,
                                            "permissions": list(permissions)})
    assert r.status_code in (201, 409), r.text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthHangar]:
    proc = AuthHangar(Path(tmp_path_factory.mktemp("auth"))).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def admin(server: AuthHangar) -> Iterator[httpx.Client]:
    with server.admin() as client:
        yield client
