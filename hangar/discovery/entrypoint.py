"""Entry-point source: provider definitions that installed Python packages advertise.

A package lists entry points in a group (``config.group``, default ``mcp.providers``, the group
mcp-hangar uses). Each entry point loads to a definition in the ``providers.d/`` format (a
mapping), to a list of them, or to a callable returning either; the entry point's name is the
default provider name. An entry point that fails to load is quarantined with the error.
"""

from __future__ import annotations

import asyncio
import importlib
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from hangar.config.discovery_sources import EntrypointConfig
from hangar.discovery.definition import parse_definition
from hangar.domain.discovery_events import Candidate


def _origin(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    name = getattr(dist, "name", None) if dist is not None else None
    return f"entrypoint {ep.group}:{ep.name} = {ep.value}" + (f" (package {name})" if name else "")


def _load(ep: EntryPoint) -> Any:
    obj = ep.load()
    return obj() if callable(obj) else obj


def candidates_of(ep: EntryPoint) -> list[Candidate]:
    origin = _origin(ep)
    try:
        obj = _load(ep)
    except Exception as exc:  # third-party code: any failure is a reason, not a crash
        return [Candidate(name=ep.name, origin=origin, errors=[f"cannot load entry point: {exc!r}"])]
    items = obj if isinstance(obj, list) else [obj]
    out: list[Candidate] = []
    for i, item in enumerate(items):
        default = ep.name if len(items) == 1 else f"{ep.name}-{i}"
        c = parse_definition(item, default, origin)
        if c is not None:
            out.append(c)
    return out


class EntrypointScanner:
    async def scan(self, config: EntrypointConfig) -> list[Candidate]:
        return await asyncio.to_thread(self._scan, config)

    def _scan(self, config: EntrypointConfig) -> list[Candidate]:
        # Packages installed since the last scan must be seen.
        importlib.invalidate_caches()
        eps = sorted(entry_points(group=config.group), key=lambda e: e.name)
        out: list[Candidate] = []
        for ep in eps:
            out += candidates_of(ep)
        return out

    def signature(self, config: EntrypointConfig) -> None:
        return None
