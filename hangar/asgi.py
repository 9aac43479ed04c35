"""An importable app factory for ASGI servers that take a target string (granian, uvicorn --factory).

    granian --interface asgi --factory hangar.asgi:make_app
    HANGAR_CONFIG=config/hangar.yaml HANGAR_DB_URL=sqlite+aiosqlite:///./data/hangar.db
"""

from __future__ import annotations

import os

from litestar import Litestar

from hangar.api.app import create_app


def make_app() -> Litestar:
    return create_app(os.environ.get("HANGAR_CONFIG"), os.environ.get("HANGAR_DB_URL"))
