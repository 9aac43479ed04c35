"""Events of the state the ToolHive vocabulary adds to Hangar: secrets, client registrations,
registry sources, installed skills and the outcome of bulk workload operations.

Registered in ``hangar.domain.events.EVENT_TYPES`` through ``TOOLHIVE_EVENTS``. Secret values
appear here only sealed (``enc:v1:`` Fernet tokens); registry servers are catalog entries.
"""

from __future__ import annotations

import msgspec

from hangar.domain.catalog_events import CatalogEntryData
from hangar.domain.event_base import Event

# --- secrets (stream ``secrets:default``) -----------------------------------------------------


class SecretsProviderSetUp(Event, frozen=True):
    provider_type: str


class SecretStored(Event, frozen=True):
    key: str
    sealed: str
    """The value sealed before the event was built; never the plaintext."""
    rotated: bool = False


class SecretDeleted(Event, frozen=True):
    key: str


# --- clients (stream ``clients:{client}``) ---------------------------------------------------


class ClientRegistered(Event, frozen=True):
    client: str
    groups: list[str]
    config_path: str


class ClientUnregistered(Event, frozen=True):
    client: str
    groups: list[str]
    """The groups removed; the registration ends when none are left."""
    config_path: str


# --- registry sources (stream ``registry:{name}``) -------------------------------------------


class RegistrySourceSaved(Event, frozen=True):
    name: str
    kind: str
    """``url`` or ``file``."""
    source: str


class RegistrySourceRefreshed(Event, frozen=True):
    name: str
    format: str
    version: str
    servers: list[CatalogEntryData]


class RegistrySourceRefreshFailed(Event, frozen=True):
    name: str
    error: str


class RegistrySourceRemoved(Event, frozen=True):
    name: str


# --- installed skills (stream ``skill:{name}``) ----------------------------------------------


class SkillMeta(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    description: str = ""
    version: str = ""
    author: str = ""
    tags: list[str] = []


class SkillInstalled(Event, frozen=True):
    name: str
    metadata: SkillMeta
    clients: list[str]
    source: str
    digest: str


class SkillRemoved(Event, frozen=True):
    name: str


# --- bulk workload operations (stream ``workload-ops:{name}``, appended unversioned) ---------


class WorkloadOperationStarted(Event, frozen=True):
    """A bulk operation was accepted (stream ``bulk-ops:{operation_id}``): with the outcomes
    that follow, every replica can report its progress, not only the one running it."""

    operation_id: str
    operation: str
    workloads: list[str]


class WorkloadOperationCompleted(Event, frozen=True):
    workload: str
    operation: str
    """``stop``, ``restart`` or ``delete``."""
    outcome: str
    """``done`` or ``failed``."""
    error: str = ""
    operation_id: str = ""
    """The bulk operation this outcome belongs to (empty: recorded before ids existed)."""
    done: int = 0
    total: int = 0
    """Outcomes of the operation recorded so far (this one included) of its total: any replica
    reading the log can tell how far a bulk operation another replica runs has come."""


TOOLHIVE_EVENTS: tuple[type[Event], ...] = (
    SecretsProviderSetUp, SecretStored, SecretDeleted,
    ClientRegistered, ClientUnregistered,
    RegistrySourceSaved, RegistrySourceRefreshed, RegistrySourceRefreshFailed, RegistrySourceRemoved,
    SkillInstalled, SkillRemoved,
    WorkloadOperationStarted, WorkloadOperationCompleted,
)
