from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import HangarProcess


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def hangar(
    tmp_path_factory: pytest.TempPathFactory, home: Path, request: pytest.FixtureRequest
) -> Iterator[HangarProcess]:
    """One server per module, its clients' home directory a temporary one."""
    work = Path(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))
    cfg = work / "hangar.yaml"
    cfg.write_text(f"providers: {{}}\nclients:\n  home: {home}\nregistries:\n  refresh_interval_s: 0\n")
    proc = HangarProcess(work, config=cfg).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def api(hangar: HangarProcess) -> Iterator[httpx.Client]:
    with hangar.client() as client:
        yield client
