"""Following a WebSocket stream until Ctrl-C (``events tail``, ``providers logs -f``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hangar.cli_client.http import EXIT_REFUSED, Api, CliFailure, unreachable


def follow(api: Api, path: str, first: dict[str, Any] | None, show: Callable[[dict[str, Any]], None]) -> None:
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect

    url = api.ws_url(path)
    try:
        ws = connect(url, additional_headers=api.headers, open_timeout=10)
    except InvalidStatus as exc:
        raise CliFailure(EXIT_REFUSED, f"{url} refused the connection ({exc.response.status_code})") from None
    except OSError as exc:
        raise unreachable(api.url, exc) from None
    with ws:
        if first is not None:
            ws.send(json.dumps(first))
        try:
            for raw in ws:
                frame = json.loads(raw)
                if "filter" in frame and len(frame) == 1:
                    continue  # the server's acknowledgement of our filter
                if "error" in frame and "status_code" in frame:
                    raise CliFailure(EXIT_REFUSED, f"{frame['message']} ({frame['status_code']})")
                show(frame)
        except ConnectionClosed as exc:
            if exc.rcvd is not None and exc.rcvd.code not in (1000, 1001):
                raise CliFailure(EXIT_REFUSED, f"stream closed: {exc.rcvd.reason or exc.rcvd.code}") from None
