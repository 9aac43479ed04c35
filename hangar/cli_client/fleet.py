"""``hangar groups``, ``events tail``, ``keys`` and ``status``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from hangar import cli_log
from hangar.cli_client import output as out
from hangar.cli_client.http import Api
from hangar.cli_client.streams import follow


def groups_ls(args: argparse.Namespace, api: Api) -> None:
    body = api.get("/api/groups")
    if args.json:
        return out.print_json(body)
    rows = [(g["group_id"], g["state"], g["strategy"], f"{g['healthy_count']}/{g['total_members']}",
             g["circuit_breaker_state"], [m["id"] for m in g["members"]]) for g in body["groups"]]
    out.table(["id", "state", "strategy", "healthy", "breaker", "members"], rows)


def groups_show(args: argparse.Namespace, api: Api) -> None:
    g = api.get(f"/api/groups/{args.group}")
    if args.json:
        return out.print_json(g)
    out.fields([("id", g["group_id"]), ("state", g["state"]), ("strategy", g["strategy"]),
                ("min healthy", g["min_healthy"]), ("breaker", g["circuit_breaker_state"]),
                ("description", g["description"])])
    rows = [(m["id"], m["state"], m["in_rotation"], m["weight"], m["priority"], m["circuit_breaker_state"])
            for m in g["members"]]
    out.table(["member", "state", "in rotation", "weight", "priority", "breaker"], rows)


def _event_line(frame: dict[str, Any]) -> str:
    subject = frame.get("provider_id") or frame.get("group_id") or frame.get("stream_id", "")
    skip = {"event_id", "stream_id", "position", "recorded_at", "occurred_at", "event_type", "provider_id",
            "group_id", "metadata"}
    detail = " ".join(f"{k}={json.dumps(v)}" for k, v in frame.items() if k not in skip)
    return f"{frame.get('recorded_at', '')} {frame.get('event_type', '?'):<28} {subject} {detail}".rstrip()


def events_tail(args: argparse.Namespace, api: Api) -> None:
    wanted: dict[str, Any] = {}
    if args.type:
        wanted["event_types"] = args.type
    if args.provider:
        wanted["provider_ids"] = args.provider
    follow(api, "/api/ws/events", wanted or None,
           lambda f: out.line(json.dumps(f) if args.json else _event_line(f)))


def keys_create(args: argparse.Namespace, api: Api) -> None:
    body: dict[str, Any] = {"principal_id": args.principal, "name": args.name or f"cli-{args.principal}"}
    if args.expires_at:
        body["expires_at"] = args.expires_at
    created = api.post("/api/auth/keys", body)
    if args.json:
        return out.print_json(created)
    # stdout carries the key alone so a script can capture it; the rest goes to stderr.
    out.line(created["raw_key"])
    import sys

    print(f"key {created['key_id']} for '{created['principal_id']}' created; it cannot be shown again",
          file=sys.stderr)


def keys_ls(args: argparse.Namespace, api: Api) -> None:
    principals = [args.principal] if args.principal else [
        p["principal_id"] for p in api.get("/api/auth/principals")["principals"]]
    keys: list[dict[str, Any]] = []
    for p in principals:
        keys += api.get(f"/api/auth/keys/{p}", include_revoked=str(args.all).lower())["keys"]
    if args.json:
        return out.print_json({"keys": keys})
    out.table(["key id", "principal", "name", "status", "created", "expires"],
              [(k["key_id"], k["principal_id"], k["name"], k["status"], k["created_at"], k["expires_at"])
               for k in keys])


def keys_revoke(args: argparse.Namespace, api: Api) -> None:
    body = api.delete(f"/api/auth/keys/{args.key_id}", {"reason": args.reason} if args.reason else None)
    if args.json:
        return out.print_json(body)
    out.line(f"{body['key_id']}: revoked" + (" (it already was)" if body.get("already_revoked") else ""))


def status(args: argparse.Namespace, api: Api) -> None:
    system = api.get("/api/system")["system"]
    ready = api.request("GET", "/health/ready") if not args.json else None
    if args.json:
        return out.print_json(system)
    out.fields([
        ("url", api.url), ("version", system["version"]), ("ready", ready and ready.get("status") == "ready"),
        ("uptime", f"{system['uptime_seconds']:.0f} s"), ("providers", system["total_providers"]),
        ("by state", ", ".join(f"{k} {v}" for k, v in sorted(system["providers_by_state"].items())) or "-"),
        ("tools", system["total_tools"]), ("tool calls", system["total_tool_calls"]),
    ])


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    groups = sub.add_parser("groups", help="provider groups")
    gs = groups.add_subparsers(dest="groups_command", required=True)
    gs.add_parser("ls", parents=[common], help="list groups").set_defaults(client_func=groups_ls)
    show = gs.add_parser("show", parents=[common], help="one group and its members")
    show.add_argument("group")
    show.set_defaults(client_func=groups_show)

    events = sub.add_parser("events", parents=[common], help="the event log: a page, --follow, or tail")
    es = events.add_subparsers(dest="events_command")
    cli_log.add_event_options(events)  # hangar events [--from N] [--follow]
    tail = es.add_parser("tail", parents=[common], help="print events as they happen until Ctrl-C")
    tail.add_argument("--type", action="append", default=None, help="event type to keep (repeatable)")
    tail.add_argument("--provider", action="append", default=None, help="provider id to keep (repeatable)")
    tail.set_defaults(client_func=events_tail)

    keys = sub.add_parser("keys", help="API keys of a running Hangar (needs auth:admin)")
    ks = keys.add_subparsers(dest="keys_command", required=True)
    kc = ks.add_parser("create", parents=[common], help="create a key; stdout is the key alone")
    kc.add_argument("--principal", required=True, help="principal the key authenticates as")
    kc.add_argument("--name", default=None, help="key name (default: cli-PRINCIPAL)")
    kc.add_argument("--expires-at", default=None, help="ISO 8601 expiry (default: never)")
    kc.set_defaults(client_func=keys_create)
    kl = ks.add_parser("ls", parents=[common], help="list keys (never the keys themselves)")
    kl.add_argument("principal", nargs="?", default=None, help="only this principal's (default: all)")
    kl.add_argument("--all", action="store_true", help="include revoked keys")
    kl.set_defaults(client_func=keys_ls)
    kr = ks.add_parser("revoke", parents=[common], help="revoke a key")
    kr.add_argument("key_id")
    kr.add_argument("--reason", default=None)
    kr.set_defaults(client_func=keys_revoke)

    sub.add_parser("status", parents=[common], help="is Hangar up, and the fleet's totals").set_defaults(
        client_func=status)
