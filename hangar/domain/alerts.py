"""The alert book: which alert conditions are active, one aggregate on ``system:alerts``.

Raising an alert that is already active, or resolving one that is not, decides nothing, so the
rules can report every relevant event without keeping their own bookkeeping consistent with the
log: the aggregate is the single judge.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from hangar.domain.event_base import Event
from hangar.domain.ops_events import AlertRaised, AlertResolved

ALERTS_ID = "alerts"


class AlertLevel(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class ActiveAlert(msgspec.Struct, kw_only=True):
    alert_id: str
    rule: str
    level: str
    target: str
    message: str
    provider_id: str | None = None
    group_id: str | None = None


class AlertBookState(msgspec.Struct, kw_only=True):
    active: dict[str, ActiveAlert] = {}


class AlertBook:
    def __init__(self, book_id: str = ALERTS_ID) -> None:
        self.book_id = book_id
        self.s = AlertBookState()
        self.version = 0

    def require(self) -> None:
        """The book always exists (it starts empty)."""

    def is_active(self, key: str) -> bool:
        return key in self.s.active

    def raise_alert(
        self, *, alert_id: str, rule: str, level: AlertLevel, target: str, message: str,
        provider_id: str | None = None, group_id: str | None = None,
    ) -> list[Event]:
        key = f"{rule}:{target}"
        if key in self.s.active:
            return []
        return [AlertRaised(
            alert_id=alert_id, key=key, rule=rule, level=level.value, target=target, message=message,
            provider_id=provider_id, group_id=group_id,
        )]

    def resolve(self, rule: str, target: str, message: str) -> list[Event]:
        key = f"{rule}:{target}"
        a = self.s.active.get(key)
        if a is None:
            return []
        return [AlertResolved(
            alert_id=a.alert_id, key=key, rule=a.rule, level=a.level, target=a.target, message=message,
            provider_id=a.provider_id, group_id=a.group_id,
        )]

    def resolve_target(self, target: str, message: str) -> list[Event]:
        """Everything active about ``target`` (it was deleted)."""
        out: list[Event] = []
        for a in self.s.active.values():
            if a.target == target:
                out += self.resolve(a.rule, target, message)
        return out

    def apply(self, e: Event) -> None:
        match e:
            case AlertRaised():
                self.s.active[e.key] = ActiveAlert(
                    alert_id=e.alert_id, rule=e.rule, level=e.level, target=e.target, message=e.message,
                    provider_id=e.provider_id, group_id=e.group_id,
                )
            case AlertResolved():
                self.s.active.pop(e.key, None)
            case _:
                pass

    def snapshot(self) -> bytes:
        return msgspec.json.encode(self.s)

    @classmethod
    def from_snapshot(cls, book_id: str, version: int, state: bytes) -> AlertBook:
        book = cls(book_id)
        book.s = msgspec.json.decode(state, type=AlertBookState)
        book.version = version
        return book
