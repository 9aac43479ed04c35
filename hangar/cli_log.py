"""``hangar events``, ``hangar diff`` and ``hangar as-of``: the log of a running Hangar, from a shell.

    hangar events --from 1200 --type ProviderStateChanged      # one page of JSON lines
    hangar events --from 1200 --follow                         # then live (Server-Sent Events)
    hangar diff 1200 2026-12-04T10:00:00Z                      # what changed between two points
    hangar as-of 2026-12-04T10:00:00Z providers                # a read as it was then

Commands of the everyday CLI (``hangar/cli_client``): the same connection options and exit codes.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from hangar.cli_client import output as out
from hangar.cli_client.http import Api, CliFailure, unreachable

AS_OF_READS = {
    "providers": "/api/providers", "groups": "/api/groups", "catalog": "/api/catalog",
    "roles": "/api/auth/roles", "policies": "/api/auth/policies", "system": "/api/system",
}


def events(args: argparse.Namespace, api: Api) -> None:
    params: dict[str, Any] = {"from_position": args.from_position, "event_type": args.type, "stream": args.stream}
    if args.follow:
        return _follow(api, {k: v for k, v in params.items() if v is not None})
    page = api.get("/api/events", limit=args.limit, **params)
    for event in page["events"]:
        out.line(json.dumps(event))
    if page["next_cursor"] is not None:
        import sys

        print(f"# more: --from {page['next_cursor']}", file=sys.stderr)


def _follow(api: Api, params: dict[str, Any]) -> None:
    import httpx

    headers = {"X-API-Key": api.api_key} if api.api_key else {}
    try:
        with httpx.Client(base_url=api.url, headers=headers, timeout=httpx.Timeout(10, read=None)) as client, \
                client.stream("GET", "/api/events/stream", params=params) as resp:
            if resp.status_code >= 400:
                body = json.loads(resp.read() or b"{}")
                raise CliFailure(1, f"{body.get('message', resp.reason_phrase)} ({resp.status_code})")
            for line in resp.iter_lines():
                if line.startswith("data: "):
                    out.line(line[6:])
    except httpx.HTTPError as exc:
        raise unreachable(api.url, exc) from None


def diff(args: argparse.Namespace, api: Api) -> None:
    out.print_json(api.get("/api/diff", **{"from": args.start, "to": args.end}))


def as_of(args: argparse.Namespace, api: Api) -> None:
    out.print_json(api.get(AS_OF_READS[args.read], as_of=args.point))


def add_event_options(parser: argparse.ArgumentParser) -> None:
    """``hangar events`` itself (without ``tail``): a page of the log, or ``--follow``."""
    parser.add_argument("--from", dest="from_position", type=int, default=0, help="start after this position")
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--type", action="append", default=None, help="event type (repeatable)")
    parser.add_argument("--stream", default=None, help="stream id prefix, e.g. provider:")
    parser.add_argument("--follow", action="store_true", help="then keep printing new events as they happen")
    parser.set_defaults(client_func=events)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    df = sub.add_parser("diff", parents=[common], help="what changed between two points (positions or times)")
    df.add_argument("start")
    df.add_argument("end")
    df.set_defaults(client_func=diff)
    ao = sub.add_parser("as-of", parents=[common], help="a read as it was at a past point")
    ao.add_argument("point", help="a position or an RFC 3339 time")
    ao.add_argument("read", choices=sorted(AS_OF_READS))
    ao.set_defaults(client_func=as_of)
