from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support import STDIO_FIXTURE


def fixture_entry(mark: str, **fields: Any) -> dict[str, Any]:
    """A provider entry of the config file running the stdio fixture server."""
    env = {"HANGAR_TEST_MARK": mark, **fields.pop("env", {})}
    return {"mode": "subprocess", "command": [sys.executable, str(STDIO_FIXTURE)], "env": env, **fields}


def new_mark() -> str:
    return uuid.uuid4().hex


def write_yaml(path: Path, tree: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    return path


def provider_ids(api: httpx.Client) -> set[str]:
    return {p["provider_id"] for p in api.get("/api/providers").json()["providers"]}


def group_ids(api: httpx.Client) -> set[str]:
    return {g["group_id"] for g in api.get("/api/groups").json()["groups"]}


def error_of(r: httpx.Response, status: int) -> dict[str, Any]:
    """The contract's error envelope, checked."""
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert set(body) == {"error", "message", "status_code"} and body["status_code"] == status, body
    return body
