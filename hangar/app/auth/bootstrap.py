"""Getting the first key in: ``hangar auth create-key``, and the open-bind safety check."""

from __future__ import annotations

import ipaddress
import os
import socket

from hangar.app.auth.commands import AssignRole, CreateApiKey, CreatedKey
from hangar.app.auth.service import AuthService
from hangar.app.bus import CommandBus, CommandContext
from hangar.app.ports import EventStore
from hangar.app.projector import Projector
from hangar.config.schema import AuthConfig
from hangar.domain.errors import HangarError, RoleNotFoundError


async def create_key_offline(
    store: EventStore, principal_id: str, role_id: str | None, name: str, expires_at: float | None = None,
) -> CreatedKey:
    """Record a key (and a role assignment) straight into the event store, as the CLI does.

    A running Hangar on the same database picks the key up within its poll interval.
    """
    instance = f"{socket.gethostname()}:{os.getpid()}:cli"
    projector = Projector(store, [])
    bus = CommandBus(instance)
    auth = AuthService(store, projector, bus, AuthConfig(), instance)
    ctx = CommandContext(principal="cli")
    await store.start()
    try:
        await projector.start()
        if role_id is not None and auth.view.role(role_id) is None:
            raise RoleNotFoundError(role_id)
        created: CreatedKey = await bus.execute(
            CreateApiKey(principal_id=principal_id, name=name, created_by="cli", expires_at=expires_at), ctx
        )
        if role_id is not None:
            await bus.execute(AssignRole(principal_id=principal_id, role_id=role_id, assigned_by="cli"), ctx)
        await auth.close()
        return created
    finally:
        await projector.stop()
        await store.close()


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a hostname may resolve to anything: treat it as reachable from outside


class InsecureBindError(HangarError):
    pass


def refuse_open_bind(host: str, auth_enabled: bool, insecure: bool) -> None:
    """With auth off, only a loopback address is safe to serve on unless the operator insists."""
    if auth_enabled or insecure or is_loopback(host):
        return
    raise InsecureBindError(
        f"refusing to serve on non-loopback host '{host}' with auth disabled: anyone who can reach it "
        "could start processes and call tools. Enable auth (auth.enabled: true in the config) or pass "
        "--insecure to accept the risk."
    )
