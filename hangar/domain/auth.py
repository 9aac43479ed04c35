"""Permissions, built-in roles and the identifiers of the auth model (pure: no I/O).

A permission is ``resource:action``; either part may be ``*``. A role grants a list of them, and
a principal holds roles. ``PERMISSION_CATALOGUE`` names every resource and action the API
checks: a role naming anything else is a typo and is refused (422) rather than silently
granting nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from hangar.domain.errors import ValidationError

# Every permission the route table (hangar/api/permissions.py) and the invokers check.
PERMISSION_CATALOGUE: dict[str, tuple[str, ...]] = {
    "providers": ("read", "write", "start", "stop"),
    "tools": ("invoke",),
    "groups": ("read", "write"),
    "discovery": ("read", "write", "scan", "approve"),
    "catalog": ("read", "write", "deploy"),
    "config": ("read", "reload", "write"),
    "auth": ("read", "admin"),
    "audit": ("read",),
    "metrics": ("read",),
    "system": ("read",),
    "events": ("read",),
    "maintenance": ("write",),
    "skills": ("read", "publish", "write"),
    # the ToolHive vocabulary (/api/v1beta)
    "secrets": ("read", "write"),
    "clients": ("read", "write"),
}

ALL_ACTIONS = frozenset(a for actions in PERMISSION_CATALOGUE.values() for a in actions)

Grant = tuple[str, str]
"""A parsed permission: (resource, action), either may be ``*``."""

_PART = re.compile(r"^(\*|[a-z][a-z0-9_-]{0,31})$")


def parse_permission(text: str) -> Grant:
    """``providers:read`` → ("providers", "read"); ``*`` alone means every permission."""
    if not isinstance(text, str):
        raise ValidationError("a permission must be a string 'resource:action'")
    value = text.strip()
    if value == "*":
        return ("*", "*")
    parts = value.split(":")
    if len(parts) != 2 or not all(_PART.match(p) for p in parts):
        raise ValidationError(f"Invalid permission '{text}': expected 'resource:action' (either may be '*')")
    resource, action = parts
    if resource != "*" and resource not in PERMISSION_CATALOGUE:
        known = ", ".join(sorted(PERMISSION_CATALOGUE))
        raise ValidationError(f"Invalid permission '{text}': unknown resource '{resource}' (known: {known})")
    if action != "*":
        allowed = PERMISSION_CATALOGUE[resource] if resource != "*" else tuple(sorted(ALL_ACTIONS))
        if action not in allowed:
            raise ValidationError(
                f"Invalid permission '{text}': unknown action '{action}' (known: {', '.join(allowed)})"
            )
    return (resource, action)


def normalize_permissions(perms: Iterable[str]) -> list[str]:
    """Validated, de-duplicated, order kept; ``*`` is spelled ``*:*``."""
    out: list[str] = []
    for p in perms:
        r, a = parse_permission(p)
        text = f"{r}:{a}"
        if text not in out:
            out.append(text)
    return out


def grants(perms: Iterable[str]) -> frozenset[Grant]:
    return frozenset(parse_permission(p) for p in perms)


def allows(granted: frozenset[Grant], needed: Grant) -> bool:
    r, a = needed
    return (r, a) in granted or (r, "*") in granted or ("*", a) in granted or ("*", "*") in granted


# --- built-in roles --------------------------------------------------------------------------

_READ_ALL = ["providers:read", "groups:read", "discovery:read", "catalog:read", "system:read", "metrics:read"]

BUILTIN_ROLES: dict[str, tuple[str, list[str]]] = {
    "admin": ("Full administrative access to all resources", ["*:*"]),
    "provider-admin": (
        "Manages providers, groups, discovery and the catalog; may invoke tools",
        ["providers:*", "tools:invoke", "groups:*", "discovery:*", "catalog:*", "config:read",
         "system:read", "metrics:read", "events:read"],
    ),
    "developer": (
        "Uses providers: reads them, starts them and invokes their tools",
        ["providers:read", "providers:start", "tools:invoke", "groups:read", "discovery:read",
         "catalog:read", "system:read", "metrics:read", "events:read"],
    ),
    "viewer": ("Read-only access to providers, groups, discovery and the catalog", [*_READ_ALL, "events:read"]),
    "auditor": (
        "Reads the audit log, security events and the auth configuration",
        ["audit:read", "auth:read", *_READ_ALL, "events:read"],
    ),
    "service-account": (
        "Machine principal that invokes tools",
        ["providers:read", "groups:read", "tools:invoke"],
    ),
}

for _rid, (_d, _perms) in BUILTIN_ROLES.items():
    normalize_permissions(_perms)  # a typo in the table above fails at import, not at runtime

# --- identifiers -----------------------------------------------------------------------------

ROLE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
PRINCIPAL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:+-]{0,127}$")
EVERYONE = "*"
"""In a tool policy: every principal."""

KEY_PREFIX = "mcp_"


def check_role_id(role_id: str) -> None:
    if not ROLE_ID_RE.match(role_id):
        raise ValidationError(
            f"Invalid role_id '{role_id}': use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )


RESERVED_PRINCIPALS = frozenset({"system", "anonymous"})
"""Hangar acts as ``system`` itself and calls unauthenticated requests ``anonymous``: no key,
role or policy may name them, or a key could pass for Hangar's own internal actions."""


def check_principal_id(principal_id: str, *, allow_everyone: bool = False) -> None:
    if allow_everyone and principal_id == EVERYONE:
        return
    if principal_id.lower() in RESERVED_PRINCIPALS:
        raise ValidationError(f"principal_id '{principal_id}' is reserved")
    if not PRINCIPAL_ID_RE.match(principal_id):
        raise ValidationError(
            f"Invalid principal_id '{principal_id}': use 1-128 letters, digits or '_.@:+-', "
            "starting with a letter or digit"
        )


def key_digest(raw_key: str) -> str:
    """SHA-256 hex: a key carries 256 bits of randomness, so a slow password hash adds nothing."""
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()
