"""Engine construction and the few places where SQLite and PostgreSQL differ."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# Key of every PostgreSQL advisory lock Hangar takes (arbitrary constant: "HANGAR" in ASCII).
PG_APPEND_LOCK_KEY = 0x48414E474152
PG_MIGRATE_LOCK_KEY = PG_APPEND_LOCK_KEY + 1

# Execution option read by the SQLite ``begin`` hook to choose the BEGIN flavour.
BEGIN_OPTION = "hangar_begin"
_BEGIN_MODES = {"DEFERRED", "IMMEDIATE", "EXCLUSIVE"}
_SYNC_MODES = {"OFF", "NORMAL", "FULL", "EXTRA"}
SQLITE_BUSY_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class Backend:
    is_sqlite: bool


def parse_url(url: str) -> tuple[URL, dict[str, Any]]:
    """Split Hangar-specific query options off the URL; returns (url, connect_args).

    ``?schema=NAME`` on a PostgreSQL URL sets the connection's ``search_path``, which lets
    tests (and side-by-side deployments) keep several stores in one database.
    """
    parsed = make_url(url)
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql" and "schema" in parsed.query:
        schema = parsed.query["schema"]
        if not isinstance(schema, str):
            raise ValueError("schema must be given once")
        parsed = parsed.difference_update_query(["schema"])
        connect_args["server_settings"] = {"search_path": schema}
    return parsed, connect_args


def make_private(database: str) -> None:
    """The event log holds who did what (and sealed secrets): owner-only, like the key file.
    SQLite gives the ``-wal`` and ``-shm`` files the main file's mode, so creating the main
    file 0600 first covers them; files left by older versions are tightened."""
    try:
        fd = os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                if os.stat(database + suffix).st_mode & 0o077:
                    os.chmod(database + suffix, 0o600)
    else:
        os.close(fd)


def data_directory(url: str) -> str | None:
    """Where a SQLite store keeps its files (None for PostgreSQL: the server's own disk)."""
    parsed, _ = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return str(Path(parsed.database).resolve().parent)
def pg_schema(url: str) -> str:
    """The PostgreSQL schema a store URL works in (``?schema=``, else ``public``)."""
    _, connect_args = parse_url(url)
    return str(connect_args.get("server_settings", {}).get("search_path", "public"))


def backend_for(url: URL) -> Backend:
    name = url.get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported event store backend: {name!r}")
    return Backend(is_sqlite=name == "sqlite")


def create_engine(url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 10) -> tuple[AsyncEngine, Backend]:
    parsed, connect_args = parse_url(url)
    backend = backend_for(parsed)
    if not backend.is_sqlite:
        engine = create_async_engine(parsed, connect_args=connect_args, pool_size=pool_size, max_overflow=pool_size)
        return engine, backend

    sync_mode = sqlite_synchronous.upper()
    if sync_mode not in _SYNC_MODES:
        raise ValueError(f"sqlite_synchronous must be one of {sorted(_SYNC_MODES)}")
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        # Every pooled connection would get its own private database.
        raise ValueError("the SQLite event store needs a file path")
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    make_private(database)
    # No rollback on check-in: every transaction is ended explicitly (SQLAlchemy's own on
    # Connection.close(), the raw driver paths themselves, and a writer connection in an
    # unknown state is invalidated, not returned), so the reset would only cost a thread hop
    # on every read.
    engine = create_async_engine(parsed, pool_size=pool_size, max_overflow=pool_size, pool_reset_on_return=None)
    _install_sqlite_hooks(engine, sync_mode)
    return engine, backend


def _install_sqlite_hooks(engine: AsyncEngine, sync_mode: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module: in its legacy mode it never
        # emits BEGIN before a SELECT or DDL, so reads would not be snapshots and migrations
        # would autocommit statement by statement.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            _enable_wal(cursor)
            # FULL: the WAL is fsynced at every COMMIT, so an acknowledged append survives a
            # power cut, not just a crash of this process.
            cursor.execute(f"PRAGMA synchronous = {sync_mode}")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get(BEGIN_OPTION, "DEFERRED")
        if mode not in _BEGIN_MODES:
            raise ValueError(f"bad {BEGIN_OPTION}: {mode!r}")
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
        # writes can fail with SQLITE_BUSY without ever waiting on busy_timeout.
        conn.exec_driver_sql(f"BEGIN {mode}")


def _enable_wal(cursor: Any) -> None:
    # WAL is persistent, so this only does work on a brand-new file. Switching needs an
    # exclusive lock and SQLite does NOT apply busy_timeout to it: two processes creating
    # the database at once (two replicas migrating) would fail with "database is locked".
    # Waiting on BEGIN IMMEDIATE (which does honour busy_timeout) lets the other finish first.
    for _ in range(50):
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except Exception as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute("ROLLBACK")
    raise RuntimeError("could not switch the SQLite database to WAL mode")
