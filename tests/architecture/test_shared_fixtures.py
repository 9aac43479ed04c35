"""Suites that share one server per package take it from ``tests.support``, not a copy each."""

from __future__ import annotations

from tests import support
from tests.registry import conftest as registry
from tests.toolhive import conftest as toolhive


def test_registry_and_toolhive_use_the_one_package_server_fixture() -> None:
    assert registry.hangar is toolhive.hangar is support.package_hangar
    assert not hasattr(registry, "api") and not hasattr(toolhive, "api")  # the root conftest's client
