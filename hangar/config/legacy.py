"""Configuration shapes from other tools, read into Hangar's own (an edge concern: the domain
never sees them)."""

from __future__ import annotations

from typing import Any

from hangar.domain.errors import ValidationError


def normalise_peer_discovery(section: Any) -> Any:
    """mcp-hangar's ``discovery:`` section (``enabled``, ``auto_register``,
    ``refresh_interval_s`` and a list of flat ``sources``) in Hangar's shape; Hangar's own
    shape passes through unchanged."""
    if not isinstance(section, dict) or not isinstance(section.get("sources"), list):
        return section
    rest = {k: v for k, v in section.items() if k not in ("enabled", "auto_register", "refresh_interval_s", "sources")}
    if section.get("enabled") is False:
        return {**rest, "sources": {}}
    sources: dict[str, Any] = {}
    for i, item in enumerate(section["sources"]):
        if not isinstance(item, dict):
            raise ValidationError(f"discovery.sources[{i}]: expected a mapping")
        body = dict(item)
        stype = body.pop("type", None)
        sid = str(body.pop("source_id", body.pop("name", f"{stype}-{i}")))
        entry: dict[str, Any] = {"type": stype}
        for key in ("mode", "enabled"):
            if key in body:
                entry[key] = body.pop(key)
        if "refresh_interval_s" in section and "interval_s" not in body:
            body["interval_s"] = section["refresh_interval_s"]
        if "auto_register" in section and "require_approval" not in body:
            body["require_approval"] = not section["auto_register"]
        entry["config"] = body
        sources[sid] = entry
    return {**rest, "sources": sources}
