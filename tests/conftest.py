from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import HangarProcess, running


@pytest.fixture(scope="module")
def hangar_config() -> str:
    """The YAML the module's server starts with; directories and modules override it."""
    return ""


@pytest.fixture(scope="module")
def hangar(
    tmp_path_factory: pytest.TempPathFactory, hangar_config: str, request: pytest.FixtureRequest
) -> Iterator[HangarProcess]:
    """One Hangar server per test module (start-up costs about a second)."""
    with running(Path(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])), hangar_config) as proc:
        yield proc


@pytest.fixture(scope="module")
def server(hangar: HangarProcess) -> HangarProcess:
    return hangar


@pytest.fixture(scope="module")
def api(hangar: HangarProcess) -> Iterator[httpx.Client]:
    with hangar.client() as client:
        yield client
