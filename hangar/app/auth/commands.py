"""Auth commands and their handlers: keys, roles, assignments, tool policies."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any, cast

import msgspec

from hangar.app.auth.projection import AuthProjection
from hangar.app.bus import CommandBus, CommandContext
from hangar.app.codec import EventMetadata
from hangar.app.ports import EventStore
from hangar.app.repository import Repository, WaitFor
from hangar.domain import auth_aggregates as ag
from hangar.domain.auth import (
    KEY_PREFIX,
    check_principal_id,
    check_role_id,
    key_digest,
    normalize_permissions,
)
from hangar.domain.errors import RoleNotFoundError, ValidationError
from hangar.domain.provider_spec import check_provider_id

KEY_RANDOM_BYTES = 32


def new_raw_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(KEY_RANDOM_BYTES)


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)


def _actor(explicit: str | None, ctx: CommandContext) -> str:
    if explicit:
        return explicit
    return ctx.principal if ctx.principal not in ("", "anonymous") else "system"


class CreateApiKey(msgspec.Struct, frozen=True, kw_only=True):
    principal_id: str
    name: str
    created_by: str | None = None
    expires_at: float | None = None
    raw_key: str | None = None
    """Only for seeding a key an operator chose (HANGAR_ADMIN_KEY); normally generated here."""


class CreatedKey(msgspec.Struct, kw_only=True):
    key_id: str
    raw_key: str
    principal_id: str
    name: str
    created_by: str
    expires_at: float | None


class RevokeApiKey(msgspec.Struct, frozen=True, kw_only=True):
    key_id: str
    revoked_by: str | None = None
    reason: str = ""


class CreateRole(msgspec.Struct, frozen=True, kw_only=True):
    role_id: str
    description: str = ""
    permissions: list[str] = []


class UpdateRole(msgspec.Struct, frozen=True, kw_only=True):
    role_id: str
    description: str | None = None
    permissions: list[str] | None = None


class DeleteRole(msgspec.Struct, frozen=True, kw_only=True):
    role_id: str


class AssignRole(msgspec.Struct, frozen=True, kw_only=True):
    principal_id: str
    role_id: str
    assigned_by: str | None = None


class UnassignRole(msgspec.Struct, frozen=True, kw_only=True):
    principal_id: str
    role_id: str


class SetToolPolicy(msgspec.Struct, frozen=True, kw_only=True):
    provider_id: str
    tool_name: str
    principal_id: str
    effect: str


class ClearToolPolicy(msgspec.Struct, frozen=True, kw_only=True):
    provider_id: str
    tool_name: str
    principal_id: str | None = None


def _repo(store: EventStore, wait_for: WaitFor, kind: str, prefix: str, cls: type[Any],
          snapshot_every: int) -> Repository[Any]:
    return Repository(
        store, wait_for, kind=kind, stream_prefix=prefix, new=cls,
        from_snapshot=cast(Callable[[str, int, bytes], Any], cls.from_snapshot), snapshot_every=snapshot_every,
    )


def check_tool_name(tool_name: str) -> None:
    if not tool_name or len(tool_name) > 128:
        raise ValidationError("tool_name must be 1-128 characters ('*' for every tool)")


class AuthCommands:
    def __init__(self, store: EventStore, wait_for: WaitFor, projection: AuthProjection,
                 snapshot_every: int = 100) -> None:
        self.view = projection
        self.keys = _repo(store, wait_for, "ApiKey", ag.KEY_STREAM, ag.ApiKey, snapshot_every)
        self.roles = _repo(store, wait_for, "Role", ag.ROLE_STREAM, ag.Role, snapshot_every)
        self.principals = _repo(store, wait_for, "Principal", ag.PRINCIPAL_STREAM, ag.Principal, snapshot_every)
        self.policies = _repo(store, wait_for, "ToolPolicy", ag.POLICY_STREAM, ag.ToolPolicy, snapshot_every)

    def register_with(self, bus: CommandBus) -> None:
        bus.register(CreateApiKey, self.create_key)
        bus.register(RevokeApiKey, self.revoke_key)
        bus.register(CreateRole, self.create_role)
        bus.register(UpdateRole, self.update_role)
        bus.register(DeleteRole, self.delete_role)
        bus.register(AssignRole, self.assign)
        bus.register(UnassignRole, self.unassign)
        bus.register(SetToolPolicy, self.set_policy)
        bus.register(ClearToolPolicy, self.clear_policy)

    # --- keys ----------------------------------------------------------------------------------

    async def create_key(self, cmd: CreateApiKey, ctx: CommandContext, meta: EventMetadata) -> CreatedKey:
        check_principal_id(cmd.principal_id)
        name = cmd.name.strip()
        if not name or len(name) > 200:
            raise ValidationError("name must be 1-200 characters")
        raw = cmd.raw_key or new_raw_key()
        key_id = new_key_id()
        by = _actor(cmd.created_by, ctx)
        digest = key_digest(raw)
        now = time.time()
        await self.keys.execute(
            key_id, lambda k: k.create(cmd.principal_id, name, digest, by, cmd.expires_at, now), meta
        )
        return CreatedKey(key_id=key_id, raw_key=raw, principal_id=cmd.principal_id, name=name,
                          created_by=by, expires_at=cmd.expires_at)

    async def revoke_key(self, cmd: RevokeApiKey, ctx: CommandContext, meta: EventMetadata) -> bool:
        """Returns whether the key was active until now."""
        by = _actor(cmd.revoked_by, ctx)
        now = time.time()
        res = await self.keys.execute(cmd.key_id, lambda k: k.revoke(by, cmd.reason, now), meta)
        return bool(res.events)

    # --- roles ---------------------------------------------------------------------------------

    async def create_role(self, cmd: CreateRole, ctx: CommandContext, meta: EventMetadata) -> None:
        check_role_id(cmd.role_id)
        perms = normalize_permissions(cmd.permissions)
        by = _actor(None, ctx)
        await self.roles.execute(cmd.role_id, lambda r: r.create(cmd.description, perms, by), meta,
                                 if_match=ctx.if_match)

    async def update_role(self, cmd: UpdateRole, ctx: CommandContext, meta: EventMetadata) -> None:
        if cmd.description is None and cmd.permissions is None:
            raise ValidationError("give 'description' and/or 'permissions'")
        perms = normalize_permissions(cmd.permissions) if cmd.permissions is not None else None
        by = _actor(None, ctx)
        await self.roles.execute(cmd.role_id, lambda r: r.update(cmd.description, perms, by), meta,
                                 if_match=ctx.if_match)

    async def delete_role(self, cmd: DeleteRole, ctx: CommandContext, meta: EventMetadata) -> int:
        """Deletes the role after revoking it from every holder; returns how many lost it."""
        by = _actor(None, ctx)
        role = await self.roles.load(cmd.role_id)
        role.delete(by)  # a built-in or missing role is refused before anything changes
        await self.roles.check(cmd.role_id, ctx.if_match)
        holders = [p for p, roles in self.view.assignments.items() if cmd.role_id in roles]
        for principal_id in holders:
            await self.principals.execute(principal_id, lambda p: p.unassign(cmd.role_id, by), meta)
        await self.roles.execute(cmd.role_id, lambda r: r.delete(by), meta)
        return len(holders)

    # --- assignments ---------------------------------------------------------------------------

    async def assign(self, cmd: AssignRole, ctx: CommandContext, meta: EventMetadata) -> bool:
        check_principal_id(cmd.principal_id)
        if self.view.role(cmd.role_id) is None:
            raise RoleNotFoundError(cmd.role_id)
        by = _actor(cmd.assigned_by, ctx)
        res = await self.principals.execute(cmd.principal_id, lambda p: p.assign(cmd.role_id, by), meta)
        return bool(res.events)

    async def unassign(self, cmd: UnassignRole, ctx: CommandContext, meta: EventMetadata) -> bool:
        check_principal_id(cmd.principal_id)
        held = cmd.role_id in self.view.assignments.get(cmd.principal_id, [])
        if not held and self.view.role(cmd.role_id) is None:
            raise RoleNotFoundError(cmd.role_id)
        by = _actor(None, ctx)
        res = await self.principals.execute(cmd.principal_id, lambda p: p.unassign(cmd.role_id, by), meta)
        return bool(res.events)

    # --- tool policies -------------------------------------------------------------------------

    async def set_policy(self, cmd: SetToolPolicy, ctx: CommandContext, meta: EventMetadata) -> bool:
        check_provider_id(cmd.provider_id)
        check_tool_name(cmd.tool_name)
        check_principal_id(cmd.principal_id, allow_everyone=True)
        by = _actor(None, ctx)
        res = await self.policies.execute(
            ag.policy_id(cmd.provider_id, cmd.tool_name), lambda p: p.set(cmd.principal_id, cmd.effect, by), meta,
            if_match=ctx.if_match,
        )
        return bool(res.events)

    async def clear_policy(self, cmd: ClearToolPolicy, ctx: CommandContext, meta: EventMetadata) -> int:
        check_provider_id(cmd.provider_id)
        check_tool_name(cmd.tool_name)
        by = _actor(None, ctx)
        res = await self.policies.execute(
            ag.policy_id(cmd.provider_id, cmd.tool_name), lambda p: p.clear(cmd.principal_id, by), meta,
            if_match=ctx.if_match,
        )
        return sum(len(e.principal_ids) for e in res.events if isinstance(e, ag.ae.ToolPolicyCleared))
