from __future__ import annotations

import pytest

from tests.support import package_hangar

hangar = package_hangar
"""One server for the registry modules (they touch disjoint data)."""


@pytest.fixture(scope="package")
def package_config() -> str:
    return ""
