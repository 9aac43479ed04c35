"""``hangar discovery ls|scan``: discovery sources of a running Hangar.

``scan`` asks for one source at a time so the terminal shows the run's course (a bar, or a
line per source when piped) instead of one long silent request.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from hangar.app.progress import Progress
from hangar.cli_client import output as out
from hangar.cli_client.http import EXIT_REFUSED, Api
from hangar.cli_client.progress import display


def discovery_ls(args: argparse.Namespace, api: Api) -> None:
    body = api.get("/api/discovery/sources")
    if args.json:
        return out.print_json(body)
    out.table(["id", "type", "mode", "enabled", "last scan", "found", "error"],
              [(s["source_id"], s["source_type"], s["mode"], s["enabled"], s.get("last_scan"),
                s.get("providers_found"), s.get("last_error")) for s in body["sources"]])


def discovery_scan(args: argparse.Namespace, api: Api) -> int:
    ids: list[str] = args.source or [
        s["source_id"] for s in api.get("/api/discovery/sources")["sources"] if s["enabled"]]
    results: list[dict[str, Any]] = []
    began = time.monotonic()
    with display():
        progress = Progress("discovery_scan", len(ids))
        for sid in ids:
            r = api.post(f"/api/discovery/sources/{sid}/scan")
            results.append(r)
            progress.advance(outcome="failed" if r.get("error") else "scanned")
            progress.item(item=sid, found=r["providers_found"], new=r.get("new", 0), pending=r["pending"],
                          quarantined=r["quarantined"], error=r.get("error"))
        progress.finish()
    summary = {"sources": results, "providers_found": sum(r["providers_found"] for r in results),
               "new": sum(r.get("new", 0) for r in results), "failed": sum(1 for r in results if r.get("error")),
               "duration_ms": round((time.monotonic() - began) * 1000, 3)}
    if args.json:
        out.print_json(summary)
    else:
        out.table(["source", "found", "new", "pending", "quarantined", "registered", "error"],
                  [(r["source_id"], r["providers_found"], r.get("new", 0), r["pending"], r["quarantined"],
                    r["registered"], r.get("error")) for r in results])
        out.line(f"{len(results)} sources scanned in {summary['duration_ms'] / 1000:.2f}s: "
                 f"{summary['providers_found']} found, {summary['new']} new, {summary['failed']} failed")
    return EXIT_REFUSED if summary["failed"] else 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    disc = sub.add_parser("discovery", help="discovery sources")
    ds = disc.add_subparsers(dest="discovery_command", required=True)
    ds.add_parser("ls", parents=[common], help="list sources").set_defaults(client_func=discovery_ls)
    scan = ds.add_parser("scan", parents=[common],
                         help="scan sources now, showing progress (exit 1 when a scan fails)")
    scan.add_argument("source", nargs="*", help="source ids (default: every enabled source)")
    scan.set_defaults(client_func=discovery_scan)
