"""Keys, roles, assignments, tool policies and security events: domain events, registered in EVENT_TYPES.

Streams: ``auth:key:{key_id}``, ``auth:role:{role_id}``, ``auth:principal:{principal_id}``,
``auth:policy:{provider_id}:{tool_name}`` (decisions, version-checked), ``auth:security``
(security facts, appended without a version check) and ``audit:commands`` (the audit trail).
"""

from __future__ import annotations

from hangar.domain.event_base import Event

# --- API keys (stream ``auth:key:{key_id}``) --------------------------------------------------


class ApiKeyCreated(Event, frozen=True):
    key_id: str
    principal_id: str
    name: str
    key_hash: str
    """SHA-256 hex digest of the raw key; the raw key itself is never recorded anywhere."""
    created_by: str
    expires_at: float | None = None
    """Unix time after which the key is refused; None: never expires."""
    created_at: float | None = None


class ApiKeyRevoked(Event, frozen=True):
    key_id: str
    principal_id: str
    revoked_by: str
    reason: str = ""
    revoked_at: float | None = None


# --- roles and assignments -----------------------------------------------------------------


class RoleCreated(Event, frozen=True):
    role_id: str
    description: str
    permissions: list[str]
    created_by: str


class RoleUpdated(Event, frozen=True):
    role_id: str
    description: str
    permissions: list[str]
    updated_by: str


class RoleDeleted(Event, frozen=True):
    role_id: str
    deleted_by: str


class RoleAssigned(Event, frozen=True):
    principal_id: str
    role_id: str
    assigned_by: str


class RoleUnassigned(Event, frozen=True):
    principal_id: str
    role_id: str
    revoked_by: str


# --- tool access policies ------------------------------------------------------------------


class ToolPolicySet(Event, frozen=True):
    provider_id: str
    tool_name: str
    """A tool name, or ``*`` for every tool of the provider."""
    principal_id: str
    """A principal, or ``*`` for everyone."""
    effect: str
    set_by: str


class ToolPolicyCleared(Event, frozen=True):
    provider_id: str
    tool_name: str
    principal_ids: list[str]
    cleared_by: str


# --- security facts (stream ``auth:security``) ---------------------------------------------


class AuthenticationFailed(Event, frozen=True):
    client: str
    reason: str
    """``invalid``, ``expired`` or ``revoked``; the presented key is never recorded."""
    path: str
    key_id: str | None = None
    principal_id: str | None = None


class PermissionDenied(Event, frozen=True):
    principal_id: str
    permission: str
    method: str
    path: str
    client: str


class ToolAccessDenied(Event, frozen=True):
    principal_id: str
    provider_id: str
    tool_name: str
    reason: str
    group_id: str | None = None


class ClientLockedOut(Event, frozen=True):
    client: str
    failures: int
    lockout_s: float
    lockouts: int
    """How many times this client has been locked out in a row (the period doubles each time)."""


# --- audit trail (stream ``audit:commands``) -----------------------------------------------


class CommandAudited(Event, frozen=True):
    command: str
    principal: str
    outcome: str
    """``success`` or ``failure``."""
    command_id: str
    correlation_id: str
    target_type: str | None = None
    target_id: str | None = None
    subject_provider_id: str | None = None
    """The provider the command concerned. Deliberately not ``provider_id``: live streams filtered
    by provider carry the provider's own events, not the audit trail about them."""
    events: list[str] = []
    """Types of the events the command recorded (those seen before it returned)."""
    error_type: str | None = None
    error: str | None = None
    duration_ms: float | None = None


AUTH_EVENTS: tuple[type[Event], ...] = (
    ApiKeyCreated,
    ApiKeyRevoked,
    RoleCreated,
    RoleUpdated,
    RoleDeleted,
    RoleAssigned,
    RoleUnassigned,
    ToolPolicySet,
    ToolPolicyCleared,
    AuthenticationFailed,
    PermissionDenied,
    ToolAccessDenied,
    ClientLockedOut,
    CommandAudited,
)

SECURITY_EVENTS: tuple[type[Event], ...] = (
    AuthenticationFailed,
    PermissionDenied,
    ToolAccessDenied,
    ClientLockedOut,
    ApiKeyCreated,
    ApiKeyRevoked,
    RoleAssigned,
    RoleUnassigned,
)
"""What ``/api/observability/security`` serves: refusals, lockouts and credential/privilege changes."""
