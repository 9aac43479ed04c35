"""One read model for the state the ToolHive vocabulary adds (rebuilt from the log at start)."""

from __future__ import annotations

from typing import Any

import msgspec

from hangar.app.codec import iso
from hangar.app.ports import RecordedEvent
from hangar.domain import toolhive_events as te
from hangar.domain.catalog_events import CatalogEntryData
from hangar.domain.event_base import Event


class SourceView(msgspec.Struct, kw_only=True):
    name: str
    kind: str
    source: str
    format: str = ""
    version: str = ""
    servers: list[CatalogEntryData] = []
    last_updated: str = ""
    last_error: str = ""


class SkillView(msgspec.Struct, kw_only=True):
    name: str
    metadata: te.SkillMeta
    clients: list[str]
    source: str
    digest: str
    installed_at: str


class OperationView(msgspec.Struct, kw_only=True):
    """A bulk workload operation as the log tells it: any replica answers the same."""

    operation_id: str
    operation: str
    workloads: list[str]
    started_at: str
    total: int
    done: int = 0
    failed: int = 0
    finished_at: str | None = None
    outcomes: dict[str, str] = {}
    """workload → ``done``, or ``failed: <error>``."""

    @property
    def state(self) -> str:
        return "completed" if self.done >= self.total else "running"


MAX_OPERATIONS = 200
"""Operations kept for progress queries (the oldest are forgotten; their events stay)."""


class ToolhiveProjection:
    def __init__(self) -> None:
        self.secrets_provider = ""
        self.secrets: dict[str, str] = {}
        """Key → sealed value (opened only to start a process)."""
        self.clients: dict[str, list[str]] = {}
        self.sources: dict[str, SourceView] = {}
        self.skills: dict[str, SkillView] = {}
        self.operations: dict[str, OperationView] = {}

    def apply(self, rec: RecordedEvent, event: Event) -> None:
        when = iso(rec.recorded_at)
        match event:
            case te.SecretsProviderSetUp(provider_type=t):
                self.secrets_provider = t
            case te.SecretStored(key=k, sealed=v):
                self.secrets[k] = v
            case te.SecretDeleted(key=k):
                self.secrets.pop(k, None)
            case te.ClientRegistered(client=c, groups=g):
                self.clients[c] = list(g)
            case te.ClientUnregistered(client=c, groups=g):
                left = [x for x in self.clients.get(c, []) if g and x not in g]
                if left:
                    self.clients[c] = left
                else:
                    self.clients.pop(c, None)
            case te.RegistrySourceSaved(name=n, kind=k, source=s):
                old = self.sources.get(n)
                if old is None or (old.kind, old.source) != (k, s):
                    self.sources[n] = SourceView(name=n, kind=k, source=s)
            case te.RegistrySourceRefreshed(name=n, format=f, version=v, servers=servers):
                src = self.sources.get(n)
                if src is not None:
                    src.format, src.version, src.servers = f, v, list(servers)
                    src.last_updated, src.last_error = when, ""
            case te.RegistrySourceRefreshFailed(name=n, error=err):
                src = self.sources.get(n)
                if src is not None:
                    src.last_error = err
            case te.RegistrySourceRemoved(name=n):
                self.sources.pop(n, None)
            case te.SkillInstalled(name=n, metadata=m, clients=c, source=s, digest=d):
                self.skills[n] = SkillView(name=n, metadata=m, clients=list(c), source=s, digest=d, installed_at=when)
            case te.SkillRemoved(name=n):
                self.skills.pop(n, None)
            case te.WorkloadOperationStarted(operation_id=op, operation=kind, workloads=names):
                self.operations[op] = OperationView(operation_id=op, operation=kind, workloads=list(names),
                                                   started_at=when, total=len(names))
                while len(self.operations) > MAX_OPERATIONS:
                    self.operations.pop(next(iter(self.operations)))
            case te.WorkloadOperationCompleted(operation_id=op, workload=name, outcome=outcome, error=err) if op:
                view = self.operations.get(op)
                if view is not None and name not in view.outcomes:
                    view.done += 1
                    view.failed += outcome == "failed"
                    view.outcomes[name] = f"{outcome}: {err}" if err else outcome
                    if view.done >= view.total:
                        view.finished_at = when
            case _:
                pass

    def dump(self) -> Any:
        return {
            "secrets_provider": self.secrets_provider,
            "secrets": sorted(self.secrets),
            "clients": dict(sorted(self.clients.items())),
            "sources": {k: msgspec.to_builtins(v) for k, v in sorted(self.sources.items())},
            "skills": {k: msgspec.to_builtins(v) for k, v in sorted(self.skills.items())},
        }
