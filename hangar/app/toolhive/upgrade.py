"""Upgrade checks: an offline comparison of a workload's image (or package) with the catalog entry
that offers the same image or package. Only names of variables ever appear, never values."""

from __future__ import annotations

from typing import Any

from hangar.app.bus import CommandBus, CommandContext
from hangar.app.projections.catalog import CatalogProjection, EntryView
from hangar.app.projections.providers import ProviderView
from hangar.app.providers import UpdateProvider
from hangar.app.toolhive.workloads import image_of


def unversioned(ref: str) -> str:
    """``ghcr.io/org/img:1.2`` → ``ghcr.io/org/img``; ``npx://@scope/pkg@1.2`` → ``npx://@scope/pkg``."""
    ref = ref.split("@sha256:")[0]
    scheme, sep, rest = ref.partition("://")
    if sep:
        at = rest.find("@", 1)
        return f"{scheme}://{rest[:at] if at > 0 else rest}"
    last = ref.rsplit("/", 1)[-1]
    return ref[: len(ref) - len(last)] + last.split(":")[0]


def entry_image(e: EntryView) -> str:
    if e.entry.image:
        return e.entry.image
    cmd = e.entry.command or []
    if cmd[:2] == ["npx", "-y"] and len(cmd) > 2:
        return "npx://" + cmd[2]
    if cmd[:1] == ["uvx"] and len(cmd) > 1:
        return "uvx://" + cmd[1]
    return ""


def check_upgrade(view: ProviderView, catalog: CatalogProjection) -> dict[str, Any]:
    current = image_of(view.spec)
    out: dict[str, Any] = {"workload_name": view.provider_id, "current_image": current}
    if not current or current.startswith("cmd://"):
        return out | {"status": "not-registry-sourced"}
    key = unversioned(current)
    match = next((e for e in catalog.search() if entry_image(e) and unversioned(entry_image(e)) == key), None)
    if match is None:
        return out | {"status": "server-not-found", "reason": f"no catalog entry offers {key}"}
    candidate = entry_image(match)
    supplied = set(view.spec.env)
    added = [{"name": v.name, "description": v.description, "required": v.required, "secret": v.secret,
              **({"default": v.default} if v.default is not None and not v.secret else {})}
             for v in match.entry.env_vars if v.name not in supplied]
    status = "up-to-date" if candidate == current else "upgrade-available"
    return out | {"status": status, "candidate_image": candidate, "registry_server": match.entry.name,
                  "env_var_drift": {"added": added, "removed": []}}


async def upgrade_image(
    bus: CommandBus, view: ProviderView, catalog: CatalogProjection, ctx: CommandContext
) -> dict[str, Any]:
    result = check_upgrade(view, catalog)
    if result["status"] != "upgrade-available" or view.spec.mode != "docker":
        return result
    await bus.execute(UpdateProvider(provider_id=view.provider_id, changes={"image": result["candidate_image"]}), ctx)
    return result | {"status": "up-to-date", "current_image": result["candidate_image"]}
