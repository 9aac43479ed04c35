from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import HangarProcess


@pytest.fixture(scope="package")
def hangar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HangarProcess]:
    """One server for the registry modules (they touch disjoint data)."""
    proc = HangarProcess(Path(tmp_path_factory.mktemp("registry"))).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="package")
def api(hangar: HangarProcess) -> Iterator[httpx.Client]:
    with hangar.client() as client:
        yield client
