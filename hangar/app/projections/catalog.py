"""The catalog read model: entries, searchable by name/description and tags."""

from __future__ import annotations

from typing import Any

import msgspec

from hangar.app.codec import iso
from hangar.app.ports import RecordedEvent
from hangar.domain import catalog_events as ce
from hangar.domain.catalog import STREAM_PREFIX
from hangar.domain.catalog_events import CatalogEntryData
from hangar.domain.event_base import Event


class EntryView(msgspec.Struct, kw_only=True):
    entry_id: str
    entry: CatalogEntryData
    created_at: str
    updated_at: str
    version: int = 0
    deploy_count: int = 0
    last_deployed_at: str | None = None


class CatalogProjection:
    def __init__(self) -> None:
        self.entries: dict[str, EntryView] = {}
        self.by_name: dict[str, str] = {}
        self.ever_named: set[str] = set()
        """Every name the catalog has ever held: seeding never brings back a deleted entry."""

    def get(self, entry_id: str) -> EntryView | None:
        return self.entries.get(entry_id)

    def search(self, text: str | None = None, tags: list[str] | None = None) -> list[EntryView]:
        needle = (text or "").strip().lower()
        wanted = {t.strip().lower() for t in tags or [] if t.strip()}
        out = []
        for v in self.entries.values():
            e = v.entry
            if needle and needle not in e.name.lower() and needle not in e.description.lower():
                continue
            if wanted and not wanted <= {t.lower() for t in e.tags}:
                continue
            out.append(v)
        return sorted(out, key=lambda v: (v.entry.name.lower(), v.entry_id))

    def apply(self, rec: RecordedEvent, event: Event) -> None:
        if not rec.stream_id.startswith(STREAM_PREFIX):
            return
        eid = rec.stream_id[len(STREAM_PREFIX):]
        when = iso(rec.recorded_at)
        match event:
            case ce.CatalogEntryAdded(entry=entry):
                self.entries[eid] = EntryView(
                    entry_id=eid, entry=entry, created_at=when, updated_at=when, version=rec.stream_version
                )
                self.by_name[entry.name] = eid
                self.ever_named.add(entry.name)
            case ce.CatalogEntryUpdated(entry=entry):
                v = self.entries.get(eid)
                if v is not None:
                    if v.entry.name != entry.name and self.by_name.get(v.entry.name) == eid:
                        del self.by_name[v.entry.name]
                    v.entry, v.updated_at, v.version = entry, when, rec.stream_version
                    self.by_name[entry.name] = eid
                    self.ever_named.add(entry.name)
            case ce.CatalogEntryRemoved(name=name):
                self.entries.pop(eid, None)
                if self.by_name.get(name) == eid:
                    del self.by_name[name]
            case ce.CatalogEntryDeployed():
                v = self.entries.get(eid)
                if v is not None:
                    v.deploy_count += 1
                    v.last_deployed_at = when
                    v.version = rec.stream_version
            case _:
                pass

    def dump(self) -> Any:
        return {
            "entries": {k: msgspec.to_builtins(v) for k, v in sorted(self.entries.items())},
            "ever_named": sorted(self.ever_named),
        }
