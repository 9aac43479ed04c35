"""Running the app in THIS process, on the asyncio loop Hangar owns.

Both servers keep the property the lifecycle depends on: the process an operator signals is
the process that owns the providers (parent-death signals, the reaper's pipe, ``kill -9`` taking
them down, SIGHUP reloads, a SIGTERM that stops every provider before exiting).

- ``granian`` (the default): granian's embedded server, whose Rust HTTP workers hand requests
  to callbacks on our own loop; no worker process is spawned. SIGINT/SIGTERM stop it and then
  the app's lifespan shutdown runs, as with uvicorn.
- ``uvicorn``: uvicorn with httptools and uvloop, also in-process.

The figures behind the choice are in ``docs/performance.md``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any

SERVERS = ("granian", "uvicorn")
DEFAULT_SERVER = "granian"


def serve(app: Any, host: str, port: int, server: str = DEFAULT_SERVER, header_timeout_s: float = 10.0) -> None:
    """``header_timeout_s``: a connection that has not sent a request's headers by then is
    closed (slow-loris connections are never held open)."""
    if server == "uvicorn":
        _uvicorn(app, host, port, header_timeout_s)
    elif server == "granian":
        _granian(app, host, port, header_timeout_s)
    else:
        raise ValueError(f"unknown server {server!r}: choose one of {', '.join(SERVERS)}")


def _uvicorn(app: Any, host: str, port: int, header_timeout_s: float) -> None:
    from hangar.cli_client.serve import run

    run(app, host, port, header_timeout_s)


def _announcing(app: Any, host: str, port: int) -> Any:
    """The app, printing the ready banner once its start-up has finished (as with uvicorn)."""
    from hangar.cli_client.serve import banner, settle_heap

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return

        async def announce(message: Any) -> None:
            await send(message)
            if message["type"] == "lifespan.startup.complete":
                settle_heap()
                sys.stderr.write(banner(host, port))
                sys.stderr.flush()

        await app(scope, receive, announce)

    return wrapped


def _granian(app: Any, host: str, port: int, header_timeout_s: float) -> None:
    import uvloop
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server.embed import Server

    print(f"hangar: starting (replaying the event log, starting configured providers) on {host}:{port}",
          file=sys.stderr, flush=True)

    async def main() -> None:
        server = Server(
            _announcing(app, host, port), address=host, port=port, interface=Interfaces.ASGI,
            log_level=LogLevels.warning, log_access=False, websockets=True, runtime_threads=1, backlog=1024,
            http1_settings=HTTP1Settings(header_read_timeout=max(1, int(header_timeout_s * 1000))),
        )
        # The embedded server announces itself as experimental at WARNING on every start.
        logging.getLogger("_granian").setLevel(logging.ERROR)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, server.stop)
        try:
            await server.serve()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    uvloop.run(main())
