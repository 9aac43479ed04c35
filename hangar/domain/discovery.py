"""The DiscoverySource aggregate: a place providers are found, and what became of each find.

Sources scan (filesystem, entry points, Docker, Kubernetes); each scan's finds are vetted and
then planned here, purely: which candidates go to pending or quarantine, which to register
without asking, which this source registered and must now remove (authoritative mode only).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Literal

import msgspec

from hangar.domain import discovery_events as dv
from hangar.domain.errors import (
    AlreadyExistsError,
    CandidateNotFoundError,
    DiscoverySourceNotFoundError,
    ValidationError,
)
from hangar.domain.event_base import Event
from hangar.domain.provider_spec import ProviderSpec, check_provider_id, check_spec

SourceType = Literal["filesystem", "entrypoint", "docker", "kubernetes"]
SourceMode = Literal["additive", "authoritative"]
SOURCE_TYPES: tuple[str, ...] = ("filesystem", "entrypoint", "docker", "kubernetes")

STREAM_PREFIX = "discovery:"

# Sources that find things other people run need an operator's approval unless told otherwise.
APPROVAL_BY_DEFAULT = frozenset({"docker", "kubernetes"})

# A source's ``config`` holds its scanner's settings (a directory and pattern, a Docker or
# Kubernetes API to reach, ...): adapter settings, defined and validated at the edge
# (``hangar.config.discovery_sources``). The aggregate keeps the dict, validated by the check
# it is given, and reads one policy key from it: ``require_approval``.
ConfigCheck = Callable[[str, dict[str, Any]], object]


def known_type(source_type: str, config: dict[str, Any]) -> object:
    """The least check: the type names a scanner."""
    if source_type not in SOURCE_TYPES:
        raise ValidationError(f"source_type must be one of {', '.join(SOURCE_TYPES)}")
    return config


def requires_approval(source_type: str, config: dict[str, Any]) -> bool:
    """``require_approval`` unset (None): true for docker and kubernetes, false otherwise."""
    value = config.get("require_approval")
    return source_type in APPROVAL_BY_DEFAULT if value is None else bool(value)


# --- candidates ------------------------------------------------------------------------------


def fingerprint(c: dv.Candidate) -> str:
    """Identity of a definition: where it was found and its free-form metadata do not count,
    so a recreated container with the same labels is the same candidate."""
    body = msgspec.to_builtins(msgspec.structs.replace(c, origin="", metadata={}))
    return hashlib.sha256(msgspec.json.encode(body, order="sorted")).hexdigest()[:16]


MODE_ALIASES = {"container": "docker", "stdio": "subprocess", "http": "remote", "sse": "remote"}


def candidate_spec(c: dv.Candidate) -> tuple[ProviderSpec | None, list[str]]:
    """The provider definition a candidate stands for, or the reasons it cannot be one."""
    reasons = list(c.errors)
    try:
        check_provider_id(c.name)
    except ValidationError as exc:
        reasons.append(exc.message)
    mode = MODE_ALIASES.get(c.mode, c.mode)
    if not mode:
        reasons.append("mode is missing")
        return None, reasons
    fields: dict[str, Any] = {
        **c.options, "mode": mode, "command": c.command, "image": c.image,
        "endpoint": c.endpoint, "env": c.env, "description": c.description,
    }
    try:
        spec = msgspec.convert(fields, ProviderSpec)
        check_spec(spec)
    except msgspec.ValidationError as exc:
        return None, [*reasons, f"invalid definition: {exc}"]
    except ValidationError as exc:
        return None, [*reasons, exc.message]
    return (spec if not reasons else None), reasons


class Vetted(msgspec.Struct, frozen=True, kw_only=True):
    candidate: dv.Candidate
    fingerprint: str
    reasons: list[str] = []


class ScanPlan(msgspec.Struct, kw_only=True):
    events: list[Event] = []
    register: list[Vetted] = []
    """Valid candidates to register now (no approval needed)."""
    remove: list[str] = []
    """Providers this source registered that it no longer finds (authoritative mode)."""


# --- the aggregate ---------------------------------------------------------------------------


class Pending(msgspec.Struct, kw_only=True):
    candidate: dv.Candidate
    fingerprint: str


class Quarantined(msgspec.Struct, kw_only=True):
    candidate: dv.Candidate
    fingerprint: str
    reasons: list[str]


class SourceSnapshot(msgspec.Struct, kw_only=True):
    source_id: str = ""
    registered: bool = False
    source_type: str = ""
    mode: str = "additive"
    enabled: bool = True
    config: dict[str, Any] = {}
    pending: dict[str, Pending] = {}
    quarantined: dict[str, Quarantined] = {}
    rejected: dict[str, str] = {}
    """name → fingerprint of the rejected definition."""
    owned: dict[str, str] = {}
    """name → fingerprint of the definition this source registered as a provider."""


class DiscoverySource:
    def __init__(self, source_id: str) -> None:
        self.s = SourceSnapshot(source_id=source_id)
        self.version = 0

    @property
    def source_id(self) -> str:
        return self.s.source_id

    @property
    def exists(self) -> bool:
        return self.s.registered

    def require(self) -> None:
        if not self.s.registered:
            raise DiscoverySourceNotFoundError(self.s.source_id)

    @property
    def require_approval(self) -> bool:
        return requires_approval(self.s.source_type, self.s.config)

    # --- deciding ----------------------------------------------------------------------------

    def register(
        self, source_type: str, mode: str, enabled: bool, config: dict[str, Any], check: ConfigCheck = known_type,
    ) -> list[Event]:
        if self.s.registered:
            raise AlreadyExistsError(f"Discovery source '{self.source_id}' already exists")
        check(source_type, config)
        return [dv.DiscoverySourceRegistered(
            source_id=self.source_id, source_type=source_type, mode=mode, enabled=enabled, config=config,
        )]

    def update(
        self, mode: str | None = None, enabled: bool | None = None, config: dict[str, Any] | None = None,
        check: ConfigCheck = known_type,
    ) -> list[Event]:
        self.require()
        new_mode = self.s.mode if mode is None else mode
        new_enabled = self.s.enabled if enabled is None else enabled
        new_config = self.s.config if config is None else config
        check(self.s.source_type, new_config)
        changed = [
            name for name, old, new in (
                ("mode", self.s.mode, new_mode), ("enabled", self.s.enabled, new_enabled),
                ("config", self.s.config, new_config),
            ) if old != new
        ]
        if not changed:
            return []
        return [dv.DiscoverySourceUpdated(
            source_id=self.source_id, mode=new_mode, enabled=new_enabled, config=new_config, changed=changed,
        )]

    def deregister(self) -> list[Event]:
        self.require()
        return [dv.DiscoverySourceDeregistered(source_id=self.source_id)]

    def plan_scan(self, found: list[Vetted], existing_providers: set[str]) -> ScanPlan:
        """Decide what a successful scan means. ``existing_providers``: every provider id now
        registered, so an owned provider someone deleted is proposed again."""
        self.require()
        s, sid = self.s, self.source_id
        plan = ScanPlan()
        approval = self.require_approval
        seen: set[str] = set()
        for v in found:
            name, fp = v.candidate.name, v.fingerprint
            seen.add(name)
            if v.reasons:
                q = s.quarantined.get(name)
                if q is None or q.fingerprint != fp or q.reasons != v.reasons:
                    plan.events.append(dv.ProviderQuarantined(
                        source_id=sid, name=name, fingerprint=fp, candidate=v.candidate, reasons=v.reasons,
                    ))
                continue
            if s.rejected.get(name) == fp:
                continue  # rejected before, and the definition has not changed since
            if s.owned.get(name) == fp and name in existing_providers:
                if name in s.quarantined or name in s.pending:
                    plan.events.append(dv.DiscoveredProviderLost(source_id=sid, name=name))
                continue
            if approval:
                p = s.pending.get(name)
                if p is None or p.fingerprint != fp:
                    plan.events.append(dv.ProviderDiscovered(
                        source_id=sid, name=name, fingerprint=fp, candidate=v.candidate,
                    ))
            else:
                plan.register.append(v)
        for name in sorted((set(s.pending) | set(s.quarantined)) - seen):
            if name not in s.owned:
                plan.events.append(dv.DiscoveredProviderLost(source_id=sid, name=name))
        if s.mode == "authoritative":
            plan.remove = sorted(set(s.owned) - seen)
        return plan

    def approve(self, name: str, fp: str, provider_id: str, automatic: bool = False) -> list[Event]:
        self.require()
        return [dv.ProviderApproved(
            source_id=self.source_id, name=name, fingerprint=fp, provider_id=provider_id, automatic=automatic,
        )]

    def reject(self, name: str, reason: str = "") -> list[Event]:
        self.require()
        held = self.s.pending.get(name) or self.s.quarantined.get(name)
        if held is None:
            raise CandidateNotFoundError(name)
        return [dv.ProviderRejected(
            source_id=self.source_id, name=name, fingerprint=held.fingerprint, reason=reason,
        )]

    def quarantine(self, v: Vetted) -> list[Event]:
        self.require()
        return [dv.ProviderQuarantined(
            source_id=self.source_id, name=v.candidate.name, fingerprint=v.fingerprint,
            candidate=v.candidate, reasons=v.reasons,
        )]

    def lose(self, name: str, deregistered: bool) -> list[Event]:
        self.require()
        return [dv.DiscoveredProviderLost(source_id=self.source_id, name=name, deregistered=deregistered)]

    def scan_completed(self, providers_found: int, error: str | None, duration_ms: float) -> list[Event]:
        self.require()
        return [dv.DiscoveryScanCompleted(
            source_id=self.source_id, providers_found=providers_found, error=error,
            duration_ms=round(duration_ms, 3),
        )]

    # --- evolving ----------------------------------------------------------------------------

    def apply(self, e: Event) -> None:
        s = self.s
        match e:
            case dv.DiscoverySourceRegistered():
                self.s = SourceSnapshot(
                    source_id=s.source_id, registered=True, source_type=e.source_type, mode=e.mode,
                    enabled=e.enabled, config=dict(e.config),
                )
            case dv.DiscoverySourceUpdated():
                s.mode, s.enabled, s.config = e.mode, e.enabled, dict(e.config)
            case dv.DiscoverySourceDeregistered():
                self.s = SourceSnapshot(source_id=s.source_id)
            case dv.ProviderDiscovered():
                s.quarantined.pop(e.name, None)
                s.pending[e.name] = Pending(candidate=e.candidate, fingerprint=e.fingerprint)
            case dv.ProviderQuarantined():
                s.pending.pop(e.name, None)
                s.quarantined[e.name] = Quarantined(
                    candidate=e.candidate, fingerprint=e.fingerprint, reasons=list(e.reasons),
                )
            case dv.ProviderApproved():
                s.pending.pop(e.name, None)
                s.quarantined.pop(e.name, None)
                s.rejected.pop(e.name, None)
                s.owned[e.name] = e.fingerprint
            case dv.ProviderRejected():
                s.pending.pop(e.name, None)
                s.quarantined.pop(e.name, None)
                s.rejected[e.name] = e.fingerprint
            case dv.DiscoveredProviderLost():
                s.pending.pop(e.name, None)
                s.quarantined.pop(e.name, None)
                if e.deregistered:
                    s.owned.pop(e.name, None)
            case _:
                pass

    def snapshot(self) -> bytes:
        return msgspec.json.encode(self.s)

    @classmethod
    def from_snapshot(cls, source_id: str, version: int, state: bytes) -> DiscoverySource:
        agg = cls(source_id)
        agg.s = msgspec.json.decode(state, type=SourceSnapshot)
        agg.version = version
        return agg
