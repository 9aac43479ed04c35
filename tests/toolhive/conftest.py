from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import HangarProcess


@pytest.fixture(scope="package")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="package")
def hangar(tmp_path_factory: pytest.TempPathFactory, home: Path) -> Iterator[HangarProcess]:
    """One server for the package (start-up is the dearest part), its clients' home a temporary one."""
    work = Path(tmp_path_factory.mktemp("toolhive"))
    cfg = work / "hangar.yaml"
    cfg.write_text(f"providers: {{}}\nclients:\n  home: {home}\nregistries:\n  refresh_interval_s: 1\n")
    proc = HangarProcess(work, config=cfg).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="package")
def api(hangar: HangarProcess) -> Iterator[httpx.Client]:
    with hangar.client() as client:
        yield client
