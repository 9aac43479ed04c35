"""The ``hangar`` command."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from hangar.domain.errors import HangarError


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from hangar.api.app import create_app

    app = create_app(args.config, args.db)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from hangar.api.app import resolve_db_url
    from hangar.config.loader import load_config
    from hangar.store import migrate

    url = resolve_db_url(args.db, load_config(None))
    asyncio.run(migrate(url))
    print(f"migrations applied to {url}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hangar", description="Control plane for MCP servers")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the REST/WebSocket API")
    serve.add_argument("--config", default=os.environ.get("HANGAR_CONFIG"), help="YAML config file")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--db", default=None, help="event store URL (or HANGAR_DB_URL)")
    serve.set_defaults(func=_serve)

    mig = sub.add_parser("migrate", help="apply database migrations")
    mig.add_argument("--db", default=None, help="event store URL (or HANGAR_DB_URL)")
    mig.set_defaults(func=_migrate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except HangarError as exc:
        print(f"hangar: {exc.message}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
