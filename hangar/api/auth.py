"""``/api/auth``: API keys, roles, role assignments, principals, permission checks, tool policies."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import Parameter

from hangar.api import as_of as as_of_views
from hangar.api.deps import command_context
from hangar.api.preconditions import create_guarded, create_only, refuse_existing, stream_etag
from hangar.app.auth import commands as ac
from hangar.app.auth.projection import KeyView, RoleView
from hangar.app.auth.service import AuthService
from hangar.app.bus import CommandBus
from hangar.app.codec import iso
from hangar.app.log.wiring import LogFeatures
from hangar.app.projections.streams import StreamIndex
from hangar.domain.auth import check_principal_id, parse_permission
from hangar.domain.auth_aggregates import POLICY_STREAM, ROLE_STREAM, policy_id
from hangar.domain.errors import RoleNotFoundError, ValidationError
from hangar.domain.provider_spec import check_provider_id

Text200 = Annotated[str, msgspec.Meta(max_length=200)]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class CreateKeyRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    principal_id: Id
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    created_by: Id | None = None
    expires_at: str | None = None


class RevokeKeyRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    revoked_by: Id | None = None
    reason: Annotated[str, msgspec.Meta(max_length=500)] = ""


class CreateRoleRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    role_id: Id | None = None
    role_name: Id | None = None
    """The peer's spelling of ``role_id``."""
    description: Annotated[str, msgspec.Meta(max_length=500)] = ""
    permissions: list[str] = []


class UpdateRoleRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    description: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    permissions: list[str] | None = None


class AssignRoleRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    role_id: Id | None = None
    role_name: Id | None = None
    assigned_by: Id | None = None


class CheckPermissionRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    principal_id: Id
    permission: str | None = None
    action: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None


class PolicyRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    principal_id: Id
    effect: Literal["allow", "deny"]


def parse_expiry(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(f"expires_at '{value}' is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    ts = moment.timestamp()
    if ts <= time.time():
        raise ValidationError(f"expires_at '{value}' is in the past")
    return ts


def key_body(k: KeyView, now: float) -> dict[str, Any]:
    return {
        "key_id": k.key_id, "principal_id": k.principal_id, "name": k.name,
        "created_at": iso(k.created_at), "created_by": k.created_by,
        "expires_at": iso(k.expires_at) if k.expires_at is not None else None,
        "revoked": k.revoked, "revoked_at": iso(k.revoked_at) if k.revoked_at is not None else None,
        "revoked_by": k.revoked_by, "reason": k.reason, "status": k.status(now),
    }


def role_body(r: RoleView) -> dict[str, Any]:
    return {
        "role_id": r.role_id, "name": r.role_id, "description": r.description,
        "permissions": list(r.permissions), "permissions_count": len(r.permissions),
        "builtin": r.builtin, "is_builtin": r.builtin,
    }


def roles_body(views: list[RoleView]) -> dict[str, Any]:
    roles = [role_body(r) for r in views]
    builtin = sum(1 for r in roles if r["builtin"])
    return {"roles": roles, "total": len(roles), "count": len(roles),
            "builtin_count": builtin, "custom_count": len(roles) - builtin}


def _role_id(role_id: str | None, role_name: str | None) -> str:
    value = role_id or role_name
    if not value:
        raise ValidationError("role_id is required")
    return value


def _policy_etag(streams: StreamIndex, provider_id: str, tool_name: str) -> str:
    return stream_etag(streams, POLICY_STREAM + policy_id(provider_id, tool_name))


def _policy_body(auth: AuthService, provider_id: str, tool_name: str) -> dict[str, Any]:
    entries = auth.view.policies.get((provider_id, tool_name), {})
    items = [{"principal_id": p, "effect": e} for p, e in sorted(entries.items())]
    return {
        "provider_id": provider_id, "tool_name": tool_name, "found": bool(items), "entries": items,
        "total": len(items),
        "allow_list": [i["principal_id"] for i in items if i["effect"] == "allow"],
        "deny_list": [i["principal_id"] for i in items if i["effect"] == "deny"],
    }


def _check_policy_target(provider_id: str, tool_name: str) -> None:
    check_provider_id(provider_id)
    ac.check_tool_name(tool_name)


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    # --- keys ----------------------------------------------------------------------------------

    @post("/keys", status_code=201, summary="Create an API key (the raw key is returned only now)")
    async def create_key(self, request: Request, bus: CommandBus, data: CreateKeyRequest) -> dict[str, Any]:
        created: ac.CreatedKey = await bus.execute(
            ac.CreateApiKey(principal_id=data.principal_id, name=data.name, created_by=data.created_by,
                            expires_at=parse_expiry(data.expires_at)),
            command_context(request),
        )
        return {
            "key_id": created.key_id, "raw_key": created.raw_key, "principal_id": created.principal_id,
            "name": created.name, "created_by": created.created_by,
            "expires_at": iso(created.expires_at) if created.expires_at is not None else None,
            "warning": "The raw_key is shown only once. Store it securely.",
        }

    @delete("/keys/{key_id:str}", status_code=200, summary="Revoke an API key")
    async def revoke_key(
        self, request: Request, bus: CommandBus, auth: AuthService, key_id: str, data: RevokeKeyRequest | None = None
    ) -> dict[str, Any]:
        body = data or RevokeKeyRequest()
        changed = await bus.execute(
            ac.RevokeApiKey(key_id=key_id, revoked_by=body.revoked_by, reason=body.reason),
            command_context(request),
        )
        k = auth.view.keys[key_id]
        return {"key_id": key_id, "revoked": True, "already_revoked": not changed,
                "revoked_by": k.revoked_by, "reason": k.reason, "principal_id": k.principal_id}

    @get("/keys/{principal_id:str}", summary="List a principal's keys (never the keys themselves)")
    async def list_keys(
        self, auth: AuthService, principal_id: str, include_revoked: bool = True
    ) -> dict[str, Any]:
        now = time.time()
        keys = [k for k in auth.view.keys.values() if k.principal_id == principal_id]
        keys.sort(key=lambda k: k.created_at, reverse=True)
        active = sum(1 for k in keys if k.status(now) == "active")
        shown = keys if include_revoked else [k for k in keys if not k.revoked]
        return {"principal_id": principal_id, "keys": [key_body(k, now) for k in shown],
                "total": len(shown), "active": active}

    # --- roles ---------------------------------------------------------------------------------

    @get("/roles", summary="All roles, built-in and custom")
    async def list_roles(
        self, auth: AuthService, log: LogFeatures,
        as_of: Annotated[str | None, Parameter(max_length=64, description="a position or RFC 3339 time")] = None,
    ) -> dict[str, Any] | Response[dict[str, Any]]:
        if as_of is not None:
            return await as_of_views.roles(log, as_of, roles_body)
        return roles_body(auth.view.all_roles())

    @get("/roles/builtin", summary="The built-in roles")
    async def builtin_roles(self, auth: AuthService) -> dict[str, Any]:
        roles = [role_body(r) for r in auth.view.all_roles() if r.builtin]
        return {"roles": roles, "total": len(roles), "count": len(roles)}

    @get("/roles/{role_id:str}", summary="One role")
    async def get_role(self, streams: StreamIndex, auth: AuthService, role_id: str) -> Response[dict[str, Any]]:
        role = auth.view.role(role_id)
        if role is None:
            raise RoleNotFoundError(role_id)
        body = role_body(role)
        return Response({**body, "found": True, "role": dict(body)},
                        headers={"ETag": stream_etag(streams, ROLE_STREAM + role_id)})

    @post("/roles", status_code=201, summary="Create a custom role")
    async def create_role(
        self, request: Request, bus: CommandBus, auth: AuthService, data: CreateRoleRequest
    ) -> dict[str, Any]:
        role_id = _role_id(data.role_id, data.role_name)
        await bus.execute(
            ac.CreateRole(role_id=role_id, description=data.description, permissions=data.permissions),
            command_context(request),
        )
        role = auth.view.role(role_id)
        assert role is not None
        return {**role_body(role), "created": True}

    @put("/roles/{role_id:str}", summary="Change a custom role's description and/or permissions")
    async def update_role(
        self, request: Request, bus: CommandBus, streams: StreamIndex, auth: AuthService, role_id: str,
        data: UpdateRoleRequest,
    ) -> Response[dict[str, Any]]:
        exists = auth.view.role(role_id) is not None
        refuse_existing(request, exists, f"Role '{role_id}'")
        if not exists and create_only(request):  # a create-only PUT may create a custom role
            await create_guarded(request, f"Role '{role_id}'", lambda: bus.execute(
                ac.CreateRole(role_id=role_id, description=data.description or "",
                              permissions=data.permissions or []),
                command_context(request)))
        else:  # a plain PUT of a missing role stays the contract's 404
            await bus.execute(
                ac.UpdateRole(role_id=role_id, description=data.description, permissions=data.permissions),
                command_context(request),
            )
        role = auth.view.role(role_id)
        assert role is not None
        body = {**role_body(role), "updated": exists, "created": not exists}
        return Response(body, status_code=200 if exists else 201,
                        headers={"ETag": stream_etag(streams, ROLE_STREAM + role_id)})

    @delete("/roles/{role_id:str}", status_code=200, summary="Delete a custom role (revoked from its holders)")
    async def delete_role(self, request: Request, bus: CommandBus, role_id: str) -> dict[str, Any]:
        holders = await bus.execute(ac.DeleteRole(role_id=role_id), command_context(request))
        return {"role_id": role_id, "deleted": True, "revoked_from": holders}

    # --- principals ----------------------------------------------------------------------------

    @get("/principals", summary="Principals that hold keys or roles")
    async def list_principals(self, auth: AuthService) -> dict[str, Any]:
        view, now = auth.view, time.time()
        out = []
        for p in view.principals():
            keys = [k for k in view.keys.values() if k.principal_id == p]
            out.append({"principal_id": p, "roles": list(view.assignments.get(p, [])),
                        "keys": len(keys), "active_keys": sum(1 for k in keys if k.status(now) == "active")})
        return {"principals": out, "total": len(out)}

    @get("/principals/{principal_id:str}/roles", summary="Roles of one principal")
    async def principal_roles(self, auth: AuthService, principal_id: str) -> dict[str, Any]:
        roles = [role_body(r) for r in auth.view.roles_of(principal_id)]
        return {"principal_id": principal_id, "roles": roles, "total": len(roles), "count": len(roles)}

    @post("/principals/{principal_id:str}/roles", status_code=200, summary="Assign a role to a principal")
    async def assign_role(
        self, request: Request, bus: CommandBus, auth: AuthService, principal_id: str, data: AssignRoleRequest
    ) -> dict[str, Any]:
        role_id = _role_id(data.role_id, data.role_name)
        changed = await bus.execute(
            ac.AssignRole(principal_id=principal_id, role_id=role_id, assigned_by=data.assigned_by),
            command_context(request),
        )
        return {"principal_id": principal_id, "role_id": role_id, "role_name": role_id, "assigned": True,
                "already_assigned": not changed,
                "roles": list(auth.view.assignments.get(principal_id, []))}

    @delete("/principals/{principal_id:str}/roles/{role_id:str}", status_code=200,
            summary="Revoke a role from a principal")
    async def revoke_role(
        self, request: Request, bus: CommandBus, auth: AuthService, principal_id: str, role_id: str
    ) -> dict[str, Any]:
        changed = await bus.execute(
            ac.UnassignRole(principal_id=principal_id, role_id=role_id), command_context(request)
        )
        return {"principal_id": principal_id, "role_id": role_id, "role_name": role_id, "revoked": changed,
                "roles": list(auth.view.assignments.get(principal_id, []))}

    @post("/check-permission", status_code=200, summary="Would this principal be allowed?")
    async def check_permission(self, auth: AuthService, data: CheckPermissionRequest) -> dict[str, Any]:
        check_principal_id(data.principal_id)
        if data.permission is not None:
            permission = data.permission
        elif data.action and data.resource_type:
            permission = f"{data.resource_type}:{data.action}"
        else:
            raise ValidationError("give 'permission' ('resource:action'), or 'resource_type' and 'action'")
        resource, action = parse_permission(permission)
        view = auth.view
        allowed, role = view.explain(data.principal_id, permission)
        roles = [r.role_id for r in view.roles_of(data.principal_id)]
        if allowed:
            reason = f"granted by role '{role}'"
        elif not roles:
            reason = f"principal '{data.principal_id}' holds no roles"
        else:
            reason = f"none of the roles {roles} grants '{resource}:{action}'"
        return {"principal_id": data.principal_id, "permission": f"{resource}:{action}",
                "resource_type": resource, "action": action, "resource_id": data.resource_id or "*",
                "allowed": allowed, "granted_by_role": role, "reason": reason, "roles": roles,
                "auth_enabled": auth.enabled}

    # --- tool access policies ------------------------------------------------------------------

    @get("/policies/{provider_id:str}/{tool_name:str}", summary="Tool access policy entries")
    async def get_policy(
        self, streams: StreamIndex, auth: AuthService, provider_id: str, tool_name: str
    ) -> Response[dict[str, Any]]:
        _check_policy_target(provider_id, tool_name)
        return Response(_policy_body(auth, provider_id, tool_name),
                        headers={"ETag": _policy_etag(streams, provider_id, tool_name)})

    @put("/policies/{provider_id:str}/{tool_name:str}", summary="Allow or deny a principal ('*': everyone)")
    async def set_policy(
        self, request: Request, bus: CommandBus, streams: StreamIndex, auth: AuthService, provider_id: str,
        tool_name: str, data: PolicyRequest,
    ) -> Response[dict[str, Any]]:
        _check_policy_target(provider_id, tool_name)
        refuse_existing(request, bool(auth.view.policies.get((provider_id, tool_name))),
                        f"Policy for '{provider_id}/{tool_name}'")
        changed = await bus.execute(
            ac.SetToolPolicy(provider_id=provider_id, tool_name=tool_name, principal_id=data.principal_id,
                             effect=data.effect),
            command_context(request),
        )
        return Response({**_policy_body(auth, provider_id, tool_name), "principal_id": data.principal_id,
                         "effect": data.effect, "set": True, "changed": changed},
                        headers={"ETag": _policy_etag(streams, provider_id, tool_name)})

    @delete("/policies/{provider_id:str}/{tool_name:str}", status_code=200,
            summary="Clear the entries (or only one principal's with ?principal_id=)")
    async def clear_policy(
        self, request: Request, bus: CommandBus, auth: AuthService, provider_id: str, tool_name: str,
        principal_id: Annotated[str | None, Parameter(query="principal_id")] = None,
    ) -> Response[dict[str, Any]]:
        cleared = await bus.execute(
            ac.ClearToolPolicy(provider_id=provider_id, tool_name=tool_name, principal_id=principal_id),
            command_context(request),
        )
        return Response({**_policy_body(auth, provider_id, tool_name), "cleared": cleared})
