"""The route → permission table covers every route the app registers, and names real permissions."""

from __future__ import annotations

import pytest

from hangar.api.permissions import PUBLIC, ROUTE_PERMISSIONS, route_keys
from hangar.asgi import create_app
from hangar.config.schema import HangarConfig
from hangar.domain.auth import PERMISSION_CATALOGUE, parse_permission


def test_every_registered_route_has_a_permission() -> None:
    app = create_app(config=HangarConfig())
    keys = [key for key, _ in route_keys(app)]
    assert len(keys) > 20
    assert any(k.startswith("WS ") for k in keys)
    missing = sorted(k for k in keys if k not in ROUTE_PERMISSIONS)
    assert not missing, (
        "routes without an entry in hangar/api/permissions.py ROUTE_PERMISSIONS "
        f"(add one line each): {missing}"
    )


@pytest.mark.parametrize("key", sorted(ROUTE_PERMISSIONS))
def test_table_entries_are_valid(key: str) -> None:
    method, _, path = key.partition(" ")
    assert method in {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "WS", "ASGI"}
    assert path.startswith("/") and ":" not in path, "paths are written without parameter types"
    value = ROUTE_PERMISSIONS[key]
    if value != PUBLIC:
        resource, action = parse_permission(value)
        assert resource in PERMISSION_CATALOGUE and action in PERMISSION_CATALOGUE[resource]
