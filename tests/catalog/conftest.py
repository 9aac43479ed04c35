from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import HangarProcess


@pytest.fixture(scope="module")
def hangar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HangarProcess]:
    proc = HangarProcess(Path(tmp_path_factory.mktemp("catalog"))).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def api(hangar: HangarProcess) -> Iterator[httpx.Client]:
    with hangar.client() as client:
        yield client
