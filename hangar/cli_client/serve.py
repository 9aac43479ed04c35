"""``hangar serve``: where to listen, and telling the operator when and where it is ready."""

from __future__ import annotations

import sys
from typing import Any

import uvicorn

from hangar.config.schema import HangarConfig


def listen_address(cli_host: str | None, cli_port: int | None, cfg: HangarConfig) -> tuple[str, int]:
    """Command-line flags win only when given; otherwise the config file's ``server`` section."""
    return (cli_host or cfg.server.host, cli_port if cli_port is not None else cfg.server.port)


def banner(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    base = f"http://{shown}:{port}"
    return (
        f"hangar: ready, listening on {host}:{port}\n"
        f"  dashboard  {base}/ui\n"
        f"  MCP        {base}/mcp\n"
        f"  API docs   {base}/schema/swagger\n"
        f"  health     {base}/health/ready\n"
    )


class _AnnouncingServer(uvicorn.Server):
    """Prints the URLs once the socket is bound and the app's start-up has finished."""

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            sys.stderr.write(banner(self.config.host, self.config.port))
            sys.stderr.flush()


def run(app: Any, host: str, port: int) -> None:
    print(f"hangar: starting (replaying the event log, starting configured providers) on {host}:{port}",
          file=sys.stderr, flush=True)
    config = uvicorn.Config(
        app, host=host, port=port, loop="uvloop", http="httptools", ws="websockets-sansio",
        log_level="warning", access_log=False, lifespan="on",
    )
    _AnnouncingServer(config).run()
