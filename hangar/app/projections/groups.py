"""The groups read model: what ``/api/groups`` answers from.

Members' live health is not copied here: it is read from the providers read model when a
response is built, so a group's members always show the same state as ``/api/providers``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from hangar.app.codec import iso
from hangar.app.ports import RecordedEvent
from hangar.domain import group_events as ge
from hangar.domain.event_base import Event
from hangar.domain.group import STREAM_PREFIX
from hangar.domain.group_events import GroupMember, GroupSpec


class GroupView(msgspec.Struct, kw_only=True):
    group_id: str
    spec: GroupSpec
    members: list[GroupMember] = []
    version: int = 0
    recorded_state: str = "inactive"
    """The state last recorded by ``GroupStateChanged`` (responses derive it live)."""
    breaker_state: str = "closed"
    breaker_failures: int = 0
    created_at: str = ""
    updated_at: str = ""
    last_rebalanced_at: str | None = None


class GroupsProjection:
    def __init__(self) -> None:
        self.views: dict[str, GroupView] = {}
        self.by_provider: dict[str, set[str]] = {}
        """provider id → ids of the groups it belongs to."""

    def get(self, group_id: str) -> GroupView | None:
        return self.views.get(group_id)

    def groups_of(self, provider_id: str) -> set[str]:
        return set(self.by_provider.get(provider_id, ()))

    def apply(self, rec: RecordedEvent, event: Event) -> None:
        # Every tool call passes through here: leave other streams with one string check.
        if not rec.stream_id.startswith(STREAM_PREFIX):
            return
        gid: str | None = getattr(event, "group_id", None)
        if gid is None:
            return
        when = iso(rec.recorded_at)
        if isinstance(event, ge.GroupCreated):
            self.views[gid] = GroupView(group_id=gid, spec=event.spec, version=rec.stream_version,
                                        created_at=when, updated_at=when)
            return
        v = self.views.get(gid)
        if v is None:
            return
        v.version = rec.stream_version
        match event:
            case ge.GroupUpdated(spec=spec):
                v.spec = spec
                v.updated_at = when
            case ge.GroupDeleted():
                for m in v.members:
                    self._unlink(m.provider_id, gid)
                del self.views[gid]
            case ge.GroupMemberAdded(provider_id=pid, weight=w, priority=p):
                v.members = [*v.members, GroupMember(provider_id=pid, weight=w, priority=p)]
                self.by_provider.setdefault(pid, set()).add(gid)
                v.updated_at = when
            case ge.GroupMemberUpdated(provider_id=pid, weight=w, priority=p):
                v.members = [GroupMember(provider_id=pid, weight=w, priority=p) if m.provider_id == pid else m
                             for m in v.members]
                v.updated_at = when
            case ge.GroupMemberRemoved(provider_id=pid):
                v.members = [m for m in v.members if m.provider_id != pid]
                self._unlink(pid, gid)
                v.updated_at = when
            case ge.GroupStateChanged(new_state=new):
                v.recorded_state = new
            case ge.GroupCircuitOpened(failures=n):
                v.breaker_state = "open"
                v.breaker_failures = n
            case ge.GroupCircuitHalfOpened():
                v.breaker_state = "half_open"
            case ge.GroupCircuitClosed():
                v.breaker_state = "closed"
                v.breaker_failures = 0
            case ge.GroupRebalanced():
                v.last_rebalanced_at = when
            case _:
                pass

    def _unlink(self, provider_id: str, group_id: str) -> None:
        groups = self.by_provider.get(provider_id)
        if groups is not None:
            groups.discard(group_id)
            if not groups:
                del self.by_provider[provider_id]

    def dump(self) -> Any:
        return {
            "views": {k: msgspec.to_builtins(v) for k, v in sorted(self.views.items())},
            "by_provider": {k: sorted(v) for k, v in sorted(self.by_provider.items())},
        }
