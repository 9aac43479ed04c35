"""The auth read model: keys by digest, roles, assignments and tool policies.

Answers the hot-path questions (who is this key? may this principal do that? may it call this
tool?) from memory with dictionary lookups; the permission set of a principal is cached and
invalidated by the events that can change it.
"""

from __future__ import annotations

import hmac
from typing import Any

import msgspec

from hangar.app.ports import RecordedEvent, Snapshot
from hangar.domain import auth_aggregates as ag
from hangar.domain import auth_events as ae
from hangar.domain.auth import BUILTIN_ROLES, EVERYONE, Grant, allows, grants, parse_permission
from hangar.domain.events import Event


class KeyView(msgspec.Struct, kw_only=True):
    key_id: str
    principal_id: str
    name: str
    created_at: float
    created_by: str
    expires_at: float | None = None
    revoked: bool = False
    revoked_at: float | None = None
    revoked_by: str | None = None
    reason: str | None = None

    def status(self, now: float) -> str:
        if self.revoked:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"


class RoleView(msgspec.Struct, kw_only=True):
    role_id: str
    description: str
    permissions: list[str]
    builtin: bool


BUILTIN_VIEWS: dict[str, RoleView] = {
    rid: RoleView(role_id=rid, description=desc, permissions=list(perms), builtin=True)
    for rid, (desc, perms) in BUILTIN_ROLES.items()
}


class AuthProjection:
    def __init__(self) -> None:
        self.keys: dict[str, KeyView] = {}
        self._digests: dict[str, str] = {}  # digest → key_id
        self._key_digest: dict[str, str] = {}  # key_id → digest
        self.custom_roles: dict[str, RoleView] = {}
        self.assignments: dict[str, list[str]] = {}
        self.policies: dict[tuple[str, str], dict[str, str]] = {}
        self._grants: dict[str, tuple[tuple[str, frozenset[Grant]], ...]] = {}
        self._flat: dict[str, frozenset[Grant]] = {}

    # --- folding events ------------------------------------------------------------------------

    def apply(self, rec: RecordedEvent, event: Event) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, rec, event)

    def _key_created(self, rec: RecordedEvent, e: ae.ApiKeyCreated) -> None:
        self.keys[e.key_id] = KeyView(
            key_id=e.key_id, principal_id=e.principal_id, name=e.name, created_at=e.created_at or rec.recorded_at,
            created_by=e.created_by, expires_at=e.expires_at,
        )
        self._digests[e.key_hash] = e.key_id
        self._key_digest[e.key_id] = e.key_hash

    def _key_revoked(self, rec: RecordedEvent, e: ae.ApiKeyRevoked) -> None:
        k = self.keys.get(e.key_id)
        if k is not None:
            k.revoked, k.revoked_by, k.reason = True, e.revoked_by, e.reason
            k.revoked_at = e.revoked_at or rec.recorded_at

    def _role_changed(self, rec: RecordedEvent, e: ae.RoleCreated | ae.RoleUpdated) -> None:
        self.custom_roles[e.role_id] = RoleView(
            role_id=e.role_id, description=e.description, permissions=list(e.permissions), builtin=False
        )
        self._invalidate()

    def _role_deleted(self, rec: RecordedEvent, e: ae.RoleDeleted) -> None:
        self.custom_roles.pop(e.role_id, None)
        self._invalidate()

    def _assigned(self, rec: RecordedEvent, e: ae.RoleAssigned) -> None:
        roles = self.assignments.setdefault(e.principal_id, [])
        if e.role_id not in roles:
            roles.append(e.role_id)
        self._invalidate(e.principal_id)

    def _unassigned(self, rec: RecordedEvent, e: ae.RoleUnassigned) -> None:
        roles = self.assignments.get(e.principal_id, [])
        if e.role_id in roles:
            roles.remove(e.role_id)
        self._invalidate(e.principal_id)

    def _policy_set(self, rec: RecordedEvent, e: ae.ToolPolicySet) -> None:
        self.policies.setdefault((e.provider_id, e.tool_name), {})[e.principal_id] = e.effect

    def _policy_cleared(self, rec: RecordedEvent, e: ae.ToolPolicyCleared) -> None:
        entries = self.policies.get((e.provider_id, e.tool_name))
        if entries is None:
            return
        for p in e.principal_ids:
            entries.pop(p, None)
        if not entries:
            del self.policies[(e.provider_id, e.tool_name)]

    def seed(self, snap: Snapshot) -> None:
        """Start a compacted auth stream from its aggregate's snapshot (see ``Projector``)."""
        sid = snap.stream_id
        if sid.startswith(ag.KEY_STREAM):
            k = msgspec.json.decode(snap.state, type=ag.ApiKeyState)
            if k.exists:
                self.keys[k.key_id] = KeyView(
                    key_id=k.key_id, principal_id=k.principal_id, name=k.name, created_at=k.created_at or 0.0,
                    created_by=k.created_by, expires_at=k.expires_at, revoked=k.revoked,
                    revoked_at=k.revoked_at, revoked_by=k.revoked_by or None, reason=k.reason or None,
                )
                self._digests[k.key_hash] = k.key_id
                self._key_digest[k.key_id] = k.key_hash
        elif sid.startswith(ag.ROLE_STREAM):
            r = msgspec.json.decode(snap.state, type=ag.RoleState)
            if r.exists:
                self.custom_roles[r.role_id] = RoleView(
                    role_id=r.role_id, description=r.description, permissions=list(r.permissions), builtin=False
                )
            else:
                self.custom_roles.pop(r.role_id, None)
        elif sid.startswith(ag.PRINCIPAL_STREAM):
            p = msgspec.json.decode(snap.state, type=ag.PrincipalState)
            self.assignments[p.principal_id] = list(p.roles)
        elif sid.startswith(ag.POLICY_STREAM):
            t = msgspec.json.decode(snap.state, type=ag.ToolPolicyState)
            provider_id, tool = t.policy_id.split(":", 1)
            if t.entries:
                self.policies[(provider_id, tool)] = dict(t.entries)
            else:
                self.policies.pop((provider_id, tool), None)
        self._invalidate()

    def _invalidate(self, principal_id: str | None = None) -> None:
        if principal_id is None:
            self._grants.clear()
            self._flat.clear()
        else:
            self._grants.pop(principal_id, None)
            self._flat.pop(principal_id, None)

    # --- queries -------------------------------------------------------------------------------

    def key_for_digest(self, digest: str) -> KeyView | None:
        key_id = self._digests.get(digest)
        if key_id is None:
            return None
        # The dict lookup found a candidate; the comparison that decides is constant-time.
        if not hmac.compare_digest(self._key_digest[key_id], digest):
            return None
        return self.keys.get(key_id)

    def role(self, role_id: str) -> RoleView | None:
        return BUILTIN_VIEWS.get(role_id) or self.custom_roles.get(role_id)

    def all_roles(self) -> list[RoleView]:
        return [*BUILTIN_VIEWS.values(), *sorted(self.custom_roles.values(), key=lambda r: r.role_id)]

    def roles_of(self, principal_id: str) -> list[RoleView]:
        out = []
        for rid in self.assignments.get(principal_id, []):
            role = self.role(rid)
            if role is not None:
                out.append(role)
        return out

    def principals(self) -> list[str]:
        ids = {k.principal_id for k in self.keys.values()}
        ids.update(p for p, roles in self.assignments.items() if roles)
        return sorted(ids)

    def _role_grants(self, principal_id: str) -> tuple[tuple[str, frozenset[Grant]], ...]:
        cached = self._grants.get(principal_id)
        if cached is None:
            cached = tuple((r.role_id, grants(r.permissions)) for r in self.roles_of(principal_id))
            self._grants[principal_id] = cached
        return cached

    def granted(self, principal_id: str) -> frozenset[Grant]:
        flat = self._flat.get(principal_id)
        if flat is None:
            flat = frozenset(g for _, gs in self._role_grants(principal_id) for g in gs)
            self._flat[principal_id] = flat
        return flat

    def may(self, principal_id: str, needed: Grant) -> bool:
        return allows(self.granted(principal_id), needed)

    def explain(self, principal_id: str, permission: str) -> tuple[bool, str | None]:
        """(allowed, the first role that grants it)."""
        needed = parse_permission(permission)
        for role_id, gs in self._role_grants(principal_id):
            if allows(gs, needed):
                return True, role_id
        return False, None

    def tool_decision(self, principal_id: str, provider_id: str, tool: str) -> str | None:
        """None when the call is allowed, else why not.

        A deny entry for the principal (or everyone) on the tool or on the whole provider wins.
        Allow entries make an allow-list: the most specific level that has any (the tool, else
        the provider's ``*``) admits only the principals it names.
        """
        if not self.policies:
            return None
        exact = self.policies.get((provider_id, tool))
        broad = self.policies.get((provider_id, EVERYONE))
        for entries in (exact, broad):
            if entries and (entries.get(principal_id) == "deny" or entries.get(EVERYONE) == "deny"):
                return "denied by policy"
        for entries in (exact, broad):
            if entries and any(eff == "allow" for eff in entries.values()):
                if entries.get(principal_id) == "allow" or entries.get(EVERYONE) == "allow":
                    return None
                return "not on the policy's allow list"
        return None

    def dump(self) -> Any:
        return {
            "keys": {k: msgspec.to_builtins(v) for k, v in sorted(self.keys.items())},
            "digests": dict(sorted(self._digests.items())),
            "roles": {k: msgspec.to_builtins(v) for k, v in sorted(self.custom_roles.items())},
            "assignments": {p: list(r) for p, r in sorted(self.assignments.items()) if r},
            "policies": {f"{p}:{t}": dict(sorted(e.items())) for (p, t), e in sorted(self.policies.items())},
        }


_HANDLERS: dict[type, Any] = {
    ae.ApiKeyCreated: AuthProjection._key_created,
    ae.ApiKeyRevoked: AuthProjection._key_revoked,
    ae.RoleCreated: AuthProjection._role_changed,
    ae.RoleUpdated: AuthProjection._role_changed,
    ae.RoleDeleted: AuthProjection._role_deleted,
    ae.RoleAssigned: AuthProjection._assigned,
    ae.RoleUnassigned: AuthProjection._unassigned,
    ae.ToolPolicySet: AuthProjection._policy_set,
    ae.ToolPolicyCleared: AuthProjection._policy_cleared,
}
