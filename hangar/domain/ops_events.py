"""Operations: configuration reloads, alerts: domain events, registered in EVENT_TYPES."""

from __future__ import annotations

from hangar.domain.event_base import Event

# --- configuration (stream ``system:config``) -------------------------------------------------


class ConfigurationReloaded(Event, frozen=True):
    """A configuration file was applied. ``managed`` lists, per section (``providers``,
    ``groups``, …), the ids that the file declares: only those may be removed by a later
    reload, so resources created through the API survive every reload."""

    config_path: str | None
    trigger: str
    """``startup``, ``api``, ``sighup`` or ``watch``."""
    added: dict[str, list[str]]
    removed: dict[str, list[str]]
    changed: dict[str, list[str]]
    unchanged: dict[str, list[str]]
    managed: dict[str, list[str]]
    errors: list[str] = []
    duration_ms: float = 0.0


class ConfigurationReloadFailed(Event, frozen=True):
    """The file was rejected before anything was applied."""

    config_path: str | None
    trigger: str
    error: str


class ConfigurationBackedUp(Event, frozen=True):
    backup_path: str
    source: str
    """``file`` (a copy of the config file) or ``memory`` (an export of the current state)."""


# --- alerts (stream ``system:alerts``) ---------------------------------------------------------


class AlertRaised(Event, frozen=True):
    alert_id: str
    key: str
    """``{rule}:{target}``: one condition, active at most once at a time."""
    rule: str
    level: str
    target: str
    message: str
    provider_id: str | None = None
    group_id: str | None = None


class AlertResolved(Event, frozen=True):
    alert_id: str
    key: str
    rule: str
    level: str
    target: str
    message: str
    provider_id: str | None = None
    group_id: str | None = None


OPS_EVENTS: tuple[type[Event], ...] = (
    ConfigurationReloaded,
    ConfigurationReloadFailed,
    ConfigurationBackedUp,
    AlertRaised,
    AlertResolved,
)
