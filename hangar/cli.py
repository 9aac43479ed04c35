"""The ``hangar`` command."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from hangar.domain.errors import HangarError
from hangar.serving import DEFAULT_SERVER, SERVERS


def _prefer_own_interpreter() -> None:
    """Put the directory of the interpreter running Hangar first on PATH.

    Providers inherit PATH, so a config that says ``command: [python, ...]`` (or ``uvx``,
    installed beside Hangar) runs with Hangar's own environment even when the virtualenv is
    not activated, as with ``.venv/bin/hangar serve``.
    """
    own = os.path.dirname(sys.executable)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if parts[:1] != [own]:
        os.environ["PATH"] = os.pathsep.join([own, *[p for p in parts if p != own]])


def _serve(args: argparse.Namespace) -> int:
    _prefer_own_interpreter()

    from hangar.app.auth.bootstrap import refuse_open_bind
    from hangar.asgi import create_app, resolve_db_url
    from hangar.cli_client.serve import listen_address
    from hangar.config.loader import load_config
    from hangar.serving import serve
    from hangar.store.instance_lock import InstanceConflictError, SingleInstanceLock

    cfg = load_config(args.config)
    host, port = listen_address(args.host, args.port, cfg)
    refuse_open_bind(host, cfg.auth.enabled, args.insecure)
    # One Hangar per SQLite file: a second one is refused here, naming the first.
    lock = SingleInstanceLock(resolve_db_url(args.db, cfg))
    try:
        lock.acquire()
    except InstanceConflictError as exc:
        raise HangarError(str(exc)) from None
    app = create_app(args.config, args.db, config=cfg, reload_on_sighup=True, port=port)
    serve(app, host, port, args.server, cfg.server.header_timeout_s)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from hangar.asgi import resolve_db_url
    from hangar.config.loader import load_config
    from hangar.store import migrate

    url = resolve_db_url(args.db, load_config(None))
    asyncio.run(migrate(url))
    print(f"migrations applied to {url}")
    return 0


def _config_request(args: argparse.Namespace, path: str, body: dict[str, object] | None) -> dict[str, object]:
    """POST to a running Hangar; a refusal is printed with the server's message."""
    import httpx

    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    try:
        r = httpx.post(args.url.rstrip("/") + path, json=body, headers=headers, timeout=args.timeout)
    except httpx.HTTPError as exc:
        raise HangarError(f"cannot reach {args.url}: {exc}") from None
    try:
        payload = r.json()
    except ValueError:
        payload = {"message": r.text}
    if r.status_code >= 400:
        raise HangarError(f"{r.status_code} {payload.get('error', '')}: {payload.get('message', r.text)}")
    result: dict[str, object] = payload
    return result


def _config_reload(args: argparse.Namespace) -> int:
    import json

    body: dict[str, object] = {"graceful": not args.no_graceful}
    if args.config_path:
        body["config_path"] = args.config_path
    payload = _config_request(args, "/api/config/reload", body)
    print(json.dumps(payload, indent=2))
    result = payload.get("result")
    return 0 if isinstance(result, dict) and result.get("success", True) else 1


def _config_export(args: argparse.Namespace) -> int:
    text = str(_config_request(args, "/api/config/export", None)["yaml"])
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


def _auth_create_key(args: argparse.Namespace) -> int:
    from hangar.api.auth import parse_expiry
    from hangar.app.auth.bootstrap import create_key_offline
    from hangar.asgi import resolve_db_url
    from hangar.config.loader import load_config
    from hangar.store import create_event_store, migrate

    cfg = load_config(args.config)
    url = resolve_db_url(args.db, cfg)
    expires_at = parse_expiry(args.expires_at)

    async def run() -> str:
        await migrate(url)
        created = await create_key_offline(
            create_event_store(url), args.principal, args.role, args.name or f"cli-{args.principal}", expires_at
        )
        return created.raw_key

    raw_key = asyncio.run(run())
    # The only time this key is ever shown: stdout carries nothing else, so it can be captured.
    print(raw_key)
    print(f"key for principal '{args.principal}'" + (f" with role '{args.role}'" if args.role else "")
          + " created; it cannot be shown again", file=sys.stderr)
    return 0


async def run_import(file: str, db_url: str, fmt: str = "auto", overwrite: bool = True) -> dict[str, Any]:
    """``hangar catalog import FILE``: straight into the event store (a running server picks the
    entries up from the log)."""
    import socket

    import msgspec

    from hangar.api.catalog import read_small
    from hangar.app.bus import CommandBus
    from hangar.app.catalog import Catalog, ImportCatalog, catalog_repository, read_document
    from hangar.app.projections.catalog import CatalogProjection
    from hangar.app.projector import Projector
    from hangar.domain.errors import ValidationError
    from hangar.formats.catalog import FORMATS, parse_document
    from hangar.store import create_event_store, migrate

    if fmt not in FORMATS:
        raise ValidationError(f"format must be one of {', '.join(FORMATS)}")
    try:
        text = await asyncio.to_thread(read_small, Path(file))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None
    kind, entries = parse_document(read_document(text, file), fmt)
    await migrate(db_url)
    store = create_event_store(db_url)
    await store.start()
    view = CatalogProjection()
    projector = Projector(store, [view])
    try:
        await projector.start()
        bus = CommandBus(f"{socket.gethostname()}:{os.getpid()}:cli")
        Catalog(catalog_repository(store, projector.wait_for), bus, view).register_with(bus)
        res = await bus.execute(ImportCatalog(entries=entries, format=kind, overwrite=overwrite))
        return msgspec.to_builtins(res)
    finally:
        await projector.stop()
        await store.close()


def _catalog_import(args: argparse.Namespace) -> int:
    from hangar.asgi import resolve_db_url
    from hangar.cli_client.progress import display
    from hangar.config.loader import load_config

    url = resolve_db_url(args.db, load_config(args.config))
    with display():  # a bar on a terminal, throttled lines otherwise (stderr)
        res = asyncio.run(run_import(args.file, url, args.format, overwrite=not args.no_overwrite))
    print(f"{res['format']}: {res['imported']} added, {res['updated']} updated, "
          f"{res['unchanged']} unchanged, {res['skipped']} skipped")
    return 0


def _definitions_export(args: argparse.Namespace) -> int:
    """Definitions of a running Hangar into a local directory, one YAML file per resource."""
    from pathlib import Path

    from hangar.api.definitions import write_dir

    files = _config_request(args, "/api/config/export?format=bundle", None)["files"]
    assert isinstance(files, dict)
    write_dir(Path(args.directory), {str(k): str(v) for k, v in files.items()})
    print(f"{len(files)} files written to {args.directory}")
    return 0


def _definitions_import(args: argparse.Namespace) -> int:
    """A local directory of definitions into a running Hangar (uploaded as a bundle)."""
    import json
    from pathlib import Path

    from hangar.api.definitions import read_dir

    files = read_dir(Path(args.directory))
    payload = _config_request(args, f"/api/config/import?strategy={args.strategy}", {"files": files})
    print(json.dumps(payload, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from hangar.cli_client.register import add_client_subcommands, package_version

    parser = argparse.ArgumentParser(prog="hangar", description="Control plane for MCP servers",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--version", action="version", version=f"hangar {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    # Everyday commands against a running Hangar over HTTP (providers, call, groups, events, keys, status).
    add_client_subcommands(sub)

    serve = sub.add_parser("serve", help="run the REST/WebSocket API")
    serve.add_argument("--config", default=os.environ.get("HANGAR_CONFIG"), help="YAML config file")
    serve.add_argument("--host", default=None, help="default: the config file's server.host (127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="default: the config file's server.port (8000)")
    serve.add_argument("--db", default=None, help="event store URL (or HANGAR_DB_URL)")
    serve.add_argument("--insecure", action="store_true",
                       help="allow a non-loopback --host while auth is disabled")
    serve.add_argument("--server", choices=SERVERS, default=os.environ.get("HANGAR_SERVER", DEFAULT_SERVER),
                       help=f"HTTP server, run inside this process (default {DEFAULT_SERVER}, or HANGAR_SERVER)")
    serve.set_defaults(func=_serve)

    auth = sub.add_parser("auth", help="API keys and roles")
    auth_sub = auth.add_subparsers(dest="auth_command", required=True)
    ck = auth_sub.add_parser("create-key", help="create an API key and print it (once)")
    ck.add_argument("--principal", required=True, help="principal the key authenticates as")
    ck.add_argument("--role", default=None, help="role to assign to the principal (e.g. admin)")
    ck.add_argument("--name", default=None, help="human-readable key name")
    ck.add_argument("--expires-at", default=None, help="ISO 8601 expiry (default: never)")
    ck.add_argument("--db", default=None, help="event store URL (or HANGAR_DB_URL)")
    ck.add_argument("--config", default=os.environ.get("HANGAR_CONFIG"), help="YAML config file")
    ck.set_defaults(func=_auth_create_key)

    cat = sub.add_parser("catalog", help="the provider catalog")
    cat_sub = cat.add_subparsers(dest="catalog_command", required=True)
    imp = cat_sub.add_parser("import", help="import a Hangar, ToolHive or MCP Registry document")
    imp.add_argument("file", help="JSON or YAML document")
    imp.add_argument("--db", default=None, help="event store URL (or HANGAR_DB_URL)")
    imp.add_argument("--config", default=os.environ.get("HANGAR_CONFIG"), help="YAML config file")
    imp.add_argument("--format", default="auto", choices=["auto", "hangar", "toolhive", "mcp-registry"])
    imp.add_argument("--no-overwrite", action="store_true", help="skip entries whose name exists")
    imp.set_defaults(func=_catalog_import)

    mig = sub.add_parser("migrate", help="apply database migrations")
    mig.add_argument("--db", default=None, help="event store URL (or HANGAR_DB_URL)")
    mig.set_defaults(func=_migrate)

    cfg = sub.add_parser("config", help="configuration of a running Hangar")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True)
    reload_p = cfg_sub.add_parser("reload", help="validate the config file and apply its differences")
    reload_p.add_argument("--config-path", default=None, help="file to load (default: the server's)")
    reload_p.add_argument("--no-graceful", action="store_true", help="do not wait for in-flight calls")
    reload_p.set_defaults(func=_config_reload)
    export_p = cfg_sub.add_parser("export", help="print the current state as a config file")
    export_p.add_argument("-o", "--output", default=None, help="write to this file instead of stdout")
    export_p.set_defaults(func=_config_export)
    def_export = sub.add_parser("export", help="write a running Hangar's definitions as YAML files")
    def_export.add_argument("directory", help="local directory (its YAML files are replaced)")
    def_export.set_defaults(func=_definitions_export)
    def_import = sub.add_parser("import", help="import a directory of YAML definitions into a running Hangar")
    def_import.add_argument("directory", help="local directory written by 'hangar export'")
    def_import.add_argument("--strategy", default="seed_only", choices=["seed_only", "overwrite_conflicts"])
    def_import.set_defaults(func=_definitions_import)
    for p in (reload_p, export_p, def_export, def_import):
        p.add_argument("--url", default=os.environ.get("HANGAR_URL", "http://127.0.0.1:8000"),
                       help="the running Hangar (or HANGAR_URL)")
        p.add_argument("--api-key", default=os.environ.get("HANGAR_API_KEY"), help="or HANGAR_API_KEY")
        p.add_argument("--timeout", type=float, default=120.0)

    # MCP client setup: logic in hangar.mcp_config.
    mcfg = sub.add_parser("mcp-config", help="print the config snippet that points an MCP client at /mcp")
    mcfg.add_argument("--client", required=True, choices=["claude-desktop", "claude-code", "cursor", "vscode",
                                                          "vscode-insider", "windsurf", "cline", "roo-code"])
    mcfg.add_argument("--url", default=os.environ.get("HANGAR_URL", "http://127.0.0.1:8000"),
                      help="where Hangar serves (or HANGAR_URL)")
    mcfg.add_argument("--name", default="hangar", help="the server's name in the client")
    mcfg.add_argument("--api-key-env", default=None, metavar="VAR",
                      help="auth is on: the environment variable holding the API key")
    mcfg.set_defaults(func=_mcp_config)
    return parser


def _mcp_config(args: argparse.Namespace) -> int:
    from hangar.mcp_config import snippet, where

    print(f"# {where(args.client)}", file=sys.stderr)
    print(snippet(args.client, args.url, args.name, args.api_key_env))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command != "serve":
        from hangar.observability.logging import configure_logging

        # Log lines of offline commands go to stderr: stdout carries only their result (a key).
        configure_logging("info")
    try:
        code: int = args.func(args)
    except HangarError as exc:
        print(f"hangar: {exc.message}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
