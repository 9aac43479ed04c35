"""``hangar events``, ``hangar diff`` and ``hangar as-of``: the log of a running Hangar, from a shell.

    hangar events --from 1200 --type ProviderStateChanged      # one page of JSON lines
    hangar events --from 1200 --follow                         # then live (Server-Sent Events)
    hangar diff 1200 2026-12-04T10:00:00Z                      # what changed between two points
    hangar as-of 2026-12-04T10:00:00Z providers                # a read as it was then
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from hangar.domain.errors import HangarError

AS_OF_READS = {
    "providers": "/api/providers", "groups": "/api/groups", "catalog": "/api/catalog",
    "roles": "/api/auth/roles", "policies": "/api/auth/policies", "system": "/api/system",
}


def _client(args: argparse.Namespace) -> Any:
    import httpx

    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    return httpx.Client(base_url=args.url.rstrip("/"), headers=headers, timeout=args.timeout)


def _get(args: argparse.Namespace, path: str, params: dict[str, Any]) -> Any:
    from hangar.cli import _config_request

    return _config_request(args, path, None, method="GET", params=params)


def _events(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"from_position": args.from_position, "limit": args.limit}
    if args.type:
        params["event_type"] = args.type
    if args.stream:
        params["stream"] = args.stream
    if not args.follow:
        page = _get(args, "/api/events", params)
        for event in page["events"]:
            print(json.dumps(event))
        if page["next_cursor"] is not None:
            print(f"# more: --from {page['next_cursor']}", file=sys.stderr)
        return 0
    return _follow(args, params)


def _follow(args: argparse.Namespace, params: dict[str, Any]) -> int:
    import httpx

    params.pop("limit", None)
    try:
        with _client(args) as client, client.stream(
            "GET", "/api/events/stream", params=params, timeout=httpx.Timeout(args.timeout, read=None)
        ) as resp:
            if resp.status_code >= 400:
                resp.read()
                raise HangarError(f"{resp.status_code}: {resp.text}")
            for line in resp.iter_lines():
                if line.startswith("data: "):
                    print(line[6:], flush=True)
    except httpx.HTTPError as exc:
        raise HangarError(f"cannot reach {args.url}: {exc}") from None
    except KeyboardInterrupt:
        return 0
    return 0


def _diff(args: argparse.Namespace) -> int:
    print(json.dumps(_get(args, "/api/diff", {"from": args.start, "to": args.end}), indent=2))
    return 0


def _as_of(args: argparse.Namespace) -> int:
    print(json.dumps(_get(args, AS_OF_READS[args.read], {"as_of": args.point}), indent=2))
    return 0


def add_commands(sub: Any) -> None:
    """Registers the subcommands on ``hangar``'s subparsers."""
    ev = sub.add_parser("events", help="page (or follow) the event log of a running Hangar")
    ev.add_argument("--from", dest="from_position", type=int, default=0, help="start after this position")
    ev.add_argument("--limit", type=int, default=1000)
    ev.add_argument("--type", action="append", default=None, help="event type (repeatable)")
    ev.add_argument("--stream", default=None, help="stream id prefix, e.g. provider:")
    ev.add_argument("--follow", action="store_true", help="keep printing new events as they happen")
    ev.set_defaults(func=_events)
    df = sub.add_parser("diff", help="what changed between two points (positions or RFC 3339 times)")
    df.add_argument("start")
    df.add_argument("end")
    df.set_defaults(func=_diff)
    ao = sub.add_parser("as-of", help="a read as it was at a past point")
    ao.add_argument("point", help="a position or an RFC 3339 time")
    ao.add_argument("read", choices=sorted(AS_OF_READS))
    ao.set_defaults(func=_as_of)
    for p in (ev, df, ao):
        p.add_argument("--url", default=os.environ.get("HANGAR_URL", "http://127.0.0.1:8000"),
                       help="the running Hangar (or HANGAR_URL)")
        p.add_argument("--api-key", default=os.environ.get("HANGAR_API_KEY"), help="or HANGAR_API_KEY")
        p.add_argument("--timeout", type=float, default=60.0)
