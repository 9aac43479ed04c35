"""A full disk: writes answer 507 ``InsufficientStorage`` naming the data directory, nothing is
half-written, a gauge and an alert show the free space, and Hangar recovers once space is back.

Runs on a real 8 MiB tmpfs (needs root to mount; skipped with the reason otherwise)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import HangarProcess, wait_until

PY = [sys.executable, "-c", "pass"]


@pytest.fixture(scope="module")
def tiny_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    mount = Path(tmp_path_factory.mktemp("tinydisk"))
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip() or r.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> None:
    with open(path, "wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()


def test_full_disk_answers_507_and_recovers(tiny_disk: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "hangar.yaml"
    cfg.write_text("observability:\n  alerts: {disk_check_interval_s: 0.2}\n")
    server = HangarProcess(tmp_path, config=cfg, db_url=f"sqlite+aiosqlite:///{tiny_disk / 'hangar.db'}")
    server.start()
    try:
        with server.client() as api:
            metrics = api.get("/metrics").text
            assert f'hangar_data_dir_free_bytes{{directory="{tiny_disk}"}}' in metrics
            # 8 MiB is below the default 256 MiB threshold: the alert is raised.
            assert wait_until(lambda: any(
                a["rule"] == "data_dir_low_space" and a["state"] == "active"
                for a in api.get("/api/observability/alerts").json()["alerts"]
            ), timeout=10)
            filler = tiny_disk / "filler"
            _fill(filler)
            r = api.post("/api/providers", json={"provider_id": "on-full-disk", "mode": "subprocess",
                                                 "command": PY, "description": "x" * 4000})
            assert r.status_code == 507, r.text
            body = r.json()
            assert body["error"] == "InsufficientStorage" and body["status_code"] == 507
            assert str(tiny_disk) in body["message"]
            assert api.get("/api/providers/on-full-disk").status_code == 404
            filler.unlink()
            r = api.post("/api/providers", json={"provider_id": "after-full-disk", "mode": "subprocess",
                                                 "command": PY})
            assert r.status_code == 201, r.text
            assert api.get("/api/system").status_code == 200
    finally:
        server.stop()
