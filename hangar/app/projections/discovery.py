"""The discovery read model: sources, their last scans, and the candidates awaiting decisions."""

from __future__ import annotations

from typing import Any

import msgspec

from hangar.app.codec import iso
from hangar.app.ports import RecordedEvent
from hangar.domain import discovery_events as dv
from hangar.domain.discovery import STREAM_PREFIX
from hangar.domain.event_base import Event


class CandidateView(msgspec.Struct, kw_only=True):
    source_id: str
    source_type: str
    candidate: dv.Candidate
    fingerprint: str
    since: str
    last_seen_at: str
    reasons: list[str] = []


class SourceView(msgspec.Struct, kw_only=True):
    source_id: str
    source_type: str
    mode: str
    enabled: bool
    config: dict[str, Any]
    created_at: str
    updated_at: str
    version: int = 0
    last_scan: str | None = None
    last_error: str | None = None
    last_scan_duration_ms: float | None = None
    providers_found: int = 0
    scans: int = 0
    failed_scans: int = 0
    pending: dict[str, CandidateView] = {}
    quarantined: dict[str, CandidateView] = {}
    rejected: dict[str, str] = {}
    owned: dict[str, str] = {}


class DiscoveryProjection:
    def __init__(self) -> None:
        self.sources: dict[str, SourceView] = {}

    def get(self, source_id: str) -> SourceView | None:
        return self.sources.get(source_id)

    def holder(self, name: str, source_id: str | None = None) -> str | None:
        """The source holding ``name`` in pending (first) or quarantine."""
        views = [self.sources[source_id]] if source_id in self.sources else (
            [] if source_id is not None else sorted(self.sources.values(), key=lambda s: s.source_id)
        )
        for bucket in ("pending", "quarantined"):
            for v in views:
                if name in getattr(v, bucket):
                    return v.source_id
        return None

    def claimed_elsewhere(self, name: str, source_id: str) -> str | None:
        """Another source that proposes or registered ``name``."""
        for v in sorted(self.sources.values(), key=lambda s: s.source_id):
            if v.source_id != source_id and (name in v.pending or name in v.owned):
                return v.source_id
        return None

    def apply(self, rec: RecordedEvent, event: Event) -> None:
        if not rec.stream_id.startswith(STREAM_PREFIX):
            return
        sid = rec.stream_id[len(STREAM_PREFIX):]
        when = iso(rec.recorded_at)
        if isinstance(event, dv.DiscoverySourceRegistered):
            self.sources[sid] = SourceView(
                source_id=sid, source_type=event.source_type, mode=event.mode, enabled=event.enabled,
                config=dict(event.config), created_at=when, updated_at=when, version=rec.stream_version,
            )
            return
        v = self.sources.get(sid)
        if v is None:
            return
        v.version = rec.stream_version
        match event:
            case dv.DiscoverySourceUpdated():
                v.mode, v.enabled, v.config, v.updated_at = event.mode, event.enabled, dict(event.config), when
            case dv.DiscoverySourceDeregistered():
                del self.sources[sid]
            case dv.DiscoveryScanCompleted():
                v.last_scan, v.last_error = when, event.error
                v.last_scan_duration_ms = event.duration_ms
                v.scans += 1
                if event.error is None:
                    v.providers_found = event.providers_found
                    for c in (*v.pending.values(), *v.quarantined.values()):
                        c.last_seen_at = when
                else:
                    v.failed_scans += 1
            case dv.ProviderDiscovered():
                v.quarantined.pop(event.name, None)
                v.pending[event.name] = CandidateView(
                    source_id=sid, source_type=v.source_type, candidate=event.candidate,
                    fingerprint=event.fingerprint, since=when, last_seen_at=when,
                )
            case dv.ProviderQuarantined():
                v.pending.pop(event.name, None)
                v.quarantined[event.name] = CandidateView(
                    source_id=sid, source_type=v.source_type, candidate=event.candidate,
                    fingerprint=event.fingerprint, since=when, last_seen_at=when, reasons=list(event.reasons),
                )
            case dv.ProviderApproved():
                v.pending.pop(event.name, None)
                v.quarantined.pop(event.name, None)
                v.rejected.pop(event.name, None)
                v.owned[event.name] = event.fingerprint
            case dv.ProviderRejected():
                v.pending.pop(event.name, None)
                v.quarantined.pop(event.name, None)
                v.rejected[event.name] = event.fingerprint
            case dv.DiscoveredProviderLost():
                v.pending.pop(event.name, None)
                v.quarantined.pop(event.name, None)
                if event.deregistered:
                    v.owned.pop(event.name, None)
            case _:
                pass

    def dump(self) -> Any:
        return {k: msgspec.to_builtins(v) for k, v in sorted(self.sources.items())}
