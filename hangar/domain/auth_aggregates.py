"""Auth aggregates: API key, custom role, principal (its role assignments) and tool policy.

Each decides on its own stream and returns events; ``apply`` is the only place state changes.
"""

from __future__ import annotations

import msgspec

from hangar.domain import auth_events as ae
from hangar.domain.auth import BUILTIN_ROLES
from hangar.domain.errors import (
    AlreadyExistsError,
    ApiKeyNotFoundError,
    BuiltinRoleError,
    RoleNotFoundError,
    ValidationError,
)
from hangar.domain.event_base import Event

KEY_STREAM = "auth:key:"
ROLE_STREAM = "auth:role:"
PRINCIPAL_STREAM = "auth:principal:"
POLICY_STREAM = "auth:policy:"
SECURITY_STREAM = "auth:security"
AUDIT_STREAM = "audit:commands"

EFFECTS = ("allow", "deny")


class _State(msgspec.Struct, kw_only=True):
    pass


class _Base:
    """Snapshot plumbing shared by the four aggregates."""

    state_type: type[msgspec.Struct]
    s: msgspec.Struct
    version: int

    def __init__(self, aggregate_id: str) -> None:
        raise NotImplementedError

    def snapshot(self) -> bytes:
        return msgspec.json.encode(self.s)

    @classmethod
    def from_snapshot(cls, aggregate_id: str, version: int, state: bytes) -> _Base:
        agg = cls(aggregate_id)
        agg.s = msgspec.json.decode(state, type=cls.state_type)
        agg.version = version
        return agg


# --- API key -----------------------------------------------------------------------------------


class ApiKeyState(_State):
    """Everything the read model needs, so a compacted key stream can be seeded from its snapshot."""

    key_id: str = ""
    exists: bool = False
    principal_id: str = ""
    name: str = ""
    key_hash: str = ""
    created_by: str = ""
    created_at: float | None = None
    expires_at: float | None = None
    revoked: bool = False
    revoked_by: str = ""
    reason: str = ""
    revoked_at: float | None = None


class ApiKey(_Base):
    state_type = ApiKeyState

    def __init__(self, key_id: str) -> None:
        self.s: ApiKeyState = ApiKeyState(key_id=key_id)
        self.version = 0

    def require(self) -> None:
        if not self.s.exists:
            raise ApiKeyNotFoundError(self.s.key_id)

    def create(
        self, principal_id: str, name: str, key_hash: str, created_by: str, expires_at: float | None, now: float
    ) -> list[Event]:
        if self.s.exists:
            raise AlreadyExistsError(f"API key '{self.s.key_id}' already exists")
        return [ae.ApiKeyCreated(
            key_id=self.s.key_id, principal_id=principal_id, name=name, key_hash=key_hash,
            created_by=created_by, expires_at=expires_at, created_at=now,
        )]

    def revoke(self, revoked_by: str, reason: str, now: float) -> list[Event]:
        self.require()
        if self.s.revoked:  # revoking twice changes nothing and records nothing
            return []
        return [ae.ApiKeyRevoked(
            key_id=self.s.key_id, principal_id=self.s.principal_id, revoked_by=revoked_by, reason=reason,
            revoked_at=now,
        )]

    def apply(self, e: Event) -> None:
        if isinstance(e, ae.ApiKeyCreated):
            self.s.exists = True
            self.s.principal_id, self.s.name, self.s.key_hash = e.principal_id, e.name, e.key_hash
            self.s.created_by, self.s.created_at, self.s.expires_at = e.created_by, e.created_at, e.expires_at
        elif isinstance(e, ae.ApiKeyRevoked):
            self.s.revoked = True
            self.s.revoked_by, self.s.reason, self.s.revoked_at = e.revoked_by, e.reason, e.revoked_at


# --- custom role -------------------------------------------------------------------------------


class RoleState(_State):
    role_id: str = ""
    exists: bool = False
    description: str = ""
    permissions: list[str] = []


class Role(_Base):
    state_type = RoleState

    def __init__(self, role_id: str) -> None:
        self.s: RoleState = RoleState(role_id=role_id)
        self.version = 0

    def _not_builtin(self, verb: str) -> None:
        if self.s.role_id in BUILTIN_ROLES:
            raise BuiltinRoleError(f"Built-in role '{self.s.role_id}' cannot be {verb}")

    def require(self) -> None:
        if not self.s.exists:
            raise RoleNotFoundError(self.s.role_id)

    def create(self, description: str, permissions: list[str], by: str) -> list[Event]:
        self._not_builtin("redefined")
        if self.s.exists:
            raise AlreadyExistsError(f"Role '{self.s.role_id}' already exists")
        return [ae.RoleCreated(role_id=self.s.role_id, description=description, permissions=permissions,
                               created_by=by)]

    def update(self, description: str | None, permissions: list[str] | None, by: str) -> list[Event]:
        self._not_builtin("modified")
        self.require()
        new_desc = self.s.description if description is None else description
        new_perms = self.s.permissions if permissions is None else permissions
        if new_desc == self.s.description and new_perms == self.s.permissions:
            return []
        return [ae.RoleUpdated(role_id=self.s.role_id, description=new_desc, permissions=new_perms,
                               updated_by=by)]

    def delete(self, by: str) -> list[Event]:
        self._not_builtin("deleted")
        self.require()
        return [ae.RoleDeleted(role_id=self.s.role_id, deleted_by=by)]

    def apply(self, e: Event) -> None:
        if isinstance(e, ae.RoleCreated | ae.RoleUpdated):
            self.s.exists = True
            self.s.description = e.description
            self.s.permissions = list(e.permissions)
        elif isinstance(e, ae.RoleDeleted):
            self.s.exists = False
            self.s.description = ""
            self.s.permissions = []


# --- principal (role assignments) --------------------------------------------------------------


class PrincipalState(_State):
    principal_id: str = ""
    roles: list[str] = []


class Principal(_Base):
    """Principals are implicit: one exists as soon as a key or a role names it."""

    state_type = PrincipalState

    def __init__(self, principal_id: str) -> None:
        self.s: PrincipalState = PrincipalState(principal_id=principal_id)
        self.version = 0

    def require(self) -> None:
        return None

    @property
    def roles(self) -> list[str]:
        return list(self.s.roles)

    def assign(self, role_id: str, by: str) -> list[Event]:
        if role_id in self.s.roles:
            return []
        return [ae.RoleAssigned(principal_id=self.s.principal_id, role_id=role_id, assigned_by=by)]

    def unassign(self, role_id: str, by: str) -> list[Event]:
        if role_id not in self.s.roles:
            return []
        return [ae.RoleUnassigned(principal_id=self.s.principal_id, role_id=role_id, revoked_by=by)]

    def apply(self, e: Event) -> None:
        if isinstance(e, ae.RoleAssigned):
            if e.role_id not in self.s.roles:
                self.s.roles = [*self.s.roles, e.role_id]
        elif isinstance(e, ae.RoleUnassigned):
            self.s.roles = [r for r in self.s.roles if r != e.role_id]


# --- tool policy -------------------------------------------------------------------------------


def policy_id(provider_id: str, tool_name: str) -> str:
    # Provider ids cannot contain ':', so the first ':' always separates the two parts.
    return f"{provider_id}:{tool_name}"


class ToolPolicyState(_State):
    policy_id: str = ""
    entries: dict[str, str] = {}
    """principal_id (or ``*``) → ``allow`` | ``deny``."""


class ToolPolicy(_Base):
    state_type = ToolPolicyState

    def __init__(self, pid: str) -> None:
        self.s: ToolPolicyState = ToolPolicyState(policy_id=pid)
        self.version = 0

    @property
    def provider_id(self) -> str:
        return self.s.policy_id.split(":", 1)[0]

    @property
    def tool_name(self) -> str:
        return self.s.policy_id.split(":", 1)[1]

    def require(self) -> None:
        return None

    def set(self, principal_id: str, effect: str, by: str) -> list[Event]:
        if effect not in EFFECTS:
            raise ValidationError(f"effect must be 'allow' or 'deny', not '{effect}'")
        if self.s.entries.get(principal_id) == effect:
            return []
        return [ae.ToolPolicySet(provider_id=self.provider_id, tool_name=self.tool_name,
                                 principal_id=principal_id, effect=effect, set_by=by)]

    def clear(self, principal_id: str | None, by: str) -> list[Event]:
        if principal_id is None:
            targets = sorted(self.s.entries)
        else:
            targets = [principal_id] if principal_id in self.s.entries else []
        if not targets:
            return []
        return [ae.ToolPolicyCleared(provider_id=self.provider_id, tool_name=self.tool_name,
                                     principal_ids=targets, cleared_by=by)]

    def apply(self, e: Event) -> None:
        if isinstance(e, ae.ToolPolicySet):
            self.s.entries = {**self.s.entries, e.principal_id: e.effect}
        elif isinstance(e, ae.ToolPolicyCleared):
            self.s.entries = {p: eff for p, eff in self.s.entries.items() if p not in e.principal_ids}
