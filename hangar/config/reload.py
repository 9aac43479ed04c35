"""What a reload must do: the difference between the declared and the current configuration.

Pure functions; ``hangar.app.config_sync`` turns a plan into ordinary commands.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Generic, TypeVar

import msgspec

from hangar.config.schema import HangarConfig

T = TypeVar("T")

# Settings that the running process does not change under itself (listening socket, database,
# queues already allocated, runtime and auth components built at start): a reload keeps their
# running values and reports them, so the diff keeps showing them until a restart.
RESTART_SECTIONS = ("server", "event_store", "websocket", "runtime", "catalog")
# Single settings of sections that otherwise apply live (turning auth on or off needs a restart,
# so editing a file can never silently open the API).
RESTART_KEYS = (("auth", "enabled"),)


class SectionPlan(Generic[T]):
    __slots__ = ("added", "changed", "removed", "unchanged")

    def __init__(self) -> None:
        self.added: dict[str, T] = {}
        self.changed: dict[str, T] = {}
        self.removed: list[str] = []
        self.unchanged: list[str] = []


def plan_section(desired: Mapping[str, T], current: Mapping[str, T], managed: Iterable[str]) -> SectionPlan[T]:
    """``managed`` are the ids the previous configuration declared: only those may be removed,
    so what was created through the API is never touched by a reload."""
    plan: SectionPlan[T] = SectionPlan()
    for key in sorted(desired):
        want = desired[key]
        if key not in current:
            plan.added[key] = want
        elif current[key] != want:
            plan.changed[key] = want
        else:
            plan.unchanged.append(key)
    plan.removed = sorted(k for k in set(managed) if k not in desired and k in current)
    return plan


def restart_required(old: HangarConfig, new: HangarConfig) -> list[str]:
    out = [s for s in RESTART_SECTIONS if hasattr(new, s) and getattr(old, s) != getattr(new, s)]
    for section, key in RESTART_KEYS:
        if getattr(getattr(old, section), key) != getattr(getattr(new, section), key):
            out.append(f"{section}.{key}")
    return out


def effective(old: HangarConfig, new: HangarConfig) -> HangarConfig:
    """``new`` with the running values of what needs a restart."""
    keep: dict[str, Any] = {}
    for name in restart_required(old, new):
        section, _, key = name.partition(".")
        if key:
            base = keep.get(section, getattr(new, section))
            keep[section] = msgspec.structs.replace(base, **{key: getattr(getattr(old, section), key)})
        else:
            keep[section] = getattr(old, section)
    return msgspec.structs.replace(new, **keep) if keep else new


class ReloadResult(msgspec.Struct, kw_only=True):
    """The ``result`` of ``POST /api/config/reload``: the peer's flat provider lists, plus the
    same per section (providers, groups, …)."""

    success: bool
    config_path: str | None
    trigger: str
    graceful: bool
    providers_added: list[str]
    providers_removed: list[str]
    providers_updated: list[str]
    providers_unchanged: list[str]
    added: dict[str, list[str]]
    removed: dict[str, list[str]]
    changed: dict[str, list[str]]
    unchanged: dict[str, list[str]]
    restart_required: list[str]
    errors: list[str]
    duration_ms: float


def empty_lists(sections: Iterable[str]) -> dict[str, list[str]]:
    return {s: [] for s in sections}


def as_plain(value: Any) -> Any:
    return msgspec.to_builtins(value)
