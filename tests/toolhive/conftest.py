from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import package_hangar

hangar = package_hangar
"""One server for the package, its clients' home a temporary one."""


@pytest.fixture(scope="package")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="package")
def package_config(home: Path) -> str:
    return f"providers: {{}}\nclients:\n  home: {home}\nregistries:\n  refresh_interval_s: 1\n"
