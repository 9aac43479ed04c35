"""``hangar providers …`` and ``hangar call …``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from hangar.cli_client import output as out
from hangar.cli_client.http import Api, CliFailure
from hangar.cli_client.streams import follow


def providers_ls(args: argparse.Namespace, api: Api) -> None:
    body = api.get("/api/providers", state=args.state)
    if args.json:
        return out.print_json(body)
    rows = [(p["provider_id"], p["state"], p["mode"], p["health_status"], p["tools_count"], p["description"])
            for p in body["providers"]]
    out.table(["id", "state", "mode", "health", "tools", "description"], rows)


def providers_show(args: argparse.Namespace, api: Api) -> None:
    p = api.get(f"/api/providers/{args.provider}")
    if args.json:
        return out.print_json(p)
    cfg = p["config"]
    out.fields([
        ("id", p["provider_id"]), ("state", p["state"]), ("mode", p["mode"]), ("health", p["health_status"]),
        ("breaker", p["circuit_breaker_state"]), ("command", cfg.get("command")), ("image", cfg.get("image")),
        ("endpoint", cfg.get("endpoint")), ("last error", p["health"].get("last_error")),
        ("calls", f"{p['tool_calls_total']} ({p['tool_calls_failed']} failed)"),
        ("tools", [t["name"] for t in p["tools"]]), ("description", p["description"]),
    ])


def providers_start(args: argparse.Namespace, api: Api) -> None:
    body = api.post(f"/api/providers/{args.provider}/start")
    if args.json:
        return out.print_json(body)
    ms = body.get("startup_duration_ms")
    took = f" in {ms:.0f} ms" if isinstance(ms, int | float) else ""
    out.line(f"{body['provider_id']}: {body['state']}{took}, {body['tools_count']} tools")


def providers_stop(args: argparse.Namespace, api: Api) -> None:
    body = api.post(f"/api/providers/{args.provider}/stop", {"reason": args.reason})
    if args.json:
        return out.print_json(body)
    out.line(f"{body['provider_id']}: {body['state']} ({body['reason']})")


def providers_restart(args: argparse.Namespace, api: Api) -> None:
    api.post(f"/api/providers/{args.provider}/stop", {"reason": "restart"})
    providers_start(args, api)


def providers_rm(args: argparse.Namespace, api: Api) -> None:
    body = api.delete(f"/api/providers/{args.provider}")
    if args.json:
        return out.print_json(body)
    out.line(f"{body['provider_id']}: deleted")


def providers_logs(args: argparse.Namespace, api: Api) -> None:
    if args.follow:
        api.get(f"/api/providers/{args.provider}")  # an unknown provider fails like every command

        def show(frame: dict[str, Any]) -> None:
            out.line(json.dumps(frame) if args.json else f"{frame['timestamp']} {frame['line']}")

        follow(api, f"/api/ws/providers/{args.provider}/logs", None, show)
        return
    body = api.get(f"/api/providers/{args.provider}/logs", lines=args.lines)
    if args.json:
        return out.print_json(body)
    for e in body["logs"]:
        out.line(f"{e['timestamp']} {e['line']}")


def parse_arguments(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs (values read as JSON when they parse, else as strings), or one JSON object."""
    if len(pairs) == 1 and pairs[0].lstrip().startswith("{"):
        try:
            doc = json.loads(pairs[0])
        except ValueError as exc:
            raise CliFailure(2, f"arguments are not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise CliFailure(2, "arguments must be a JSON object")
        return doc
    arguments: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise CliFailure(2, f"argument '{pair}' is not key=value")
        try:
            arguments[key] = json.loads(raw)
        except ValueError:
            arguments[key] = raw
    return arguments


def call(args: argparse.Namespace, api: Api) -> int:
    body = {"arguments": parse_arguments(args.arguments)}
    if args.call_timeout is not None:
        body["timeout_s"] = args.call_timeout
    target = "groups" if args.group else "providers"
    res = api.post(f"/api/{target}/{args.provider}/tools/{args.tool}/invoke", body)
    if args.json:
        out.print_json(res)
    else:
        for item in res.get("result", []):
            out.line(item["text"] if item.get("type") == "text" else json.dumps(item))
    return 1 if res.get("is_error") else 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    prov = sub.add_parser("providers", help="list, inspect, start, stop and remove providers")
    ps = prov.add_subparsers(dest="providers_command", required=True)
    ls = ps.add_parser("ls", parents=[common], help="list providers")
    ls.add_argument("--state", default=None, choices=["cold", "initializing", "ready", "degraded", "dead"])
    ls.set_defaults(client_func=providers_ls)
    for name, func, helptext in (
        ("show", providers_show, "one provider in detail"),
        ("start", providers_start, "start a provider (no-op when running)"),
        ("restart", providers_restart, "stop, then start a provider"),
        ("rm", providers_rm, "stop and delete a provider"),
    ):
        p = ps.add_parser(name, parents=[common], help=helptext)
        p.add_argument("provider")
        p.set_defaults(client_func=func)
    stop = ps.add_parser("stop", parents=[common], help="stop a provider")
    stop.add_argument("provider")
    stop.add_argument("--reason", default="user_request", help="recorded with the stop (default: %(default)s)")
    stop.set_defaults(client_func=providers_stop)
    logs = ps.add_parser("logs", parents=[common], help="a provider's stderr lines")
    logs.add_argument("provider")
    logs.add_argument("-n", "--lines", type=int, default=100, help="how many recent lines (default: %(default)s)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until Ctrl-C")
    logs.set_defaults(client_func=providers_logs)

    c = sub.add_parser("call", parents=[common], help="call a tool: hangar call PROVIDER TOOL a=2 b=3",
                       description="Arguments are key=value pairs (values parsed as JSON when they can be: "
                                   "a=2 is a number, s=hi a string) or a single JSON object. Exit code 1 "
                                   "when the tool reports an error.")
    c.add_argument("provider", help="provider id (or group id with --group)")
    c.add_argument("tool")
    c.add_argument("arguments", nargs="*", help="key=value … or one JSON object")
    c.add_argument("--group", action="store_true", help="PROVIDER names a group")
    c.add_argument("--call-timeout", type=float, default=None, help="seconds the tool may take (server default)")
    c.set_defaults(client_func=call)
