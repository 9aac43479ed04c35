"""The auth façade the edges use: authenticate a key, authorize a permission, gate tool calls,
record security facts, and seed the bootstrap admin key."""

from __future__ import annotations

import os
import time
from typing import Protocol

import structlog

from hangar.app import codec
from hangar.app.auth.audit import AuditLog, AuditRecorder, SecurityLog
from hangar.app.auth.commands import AssignRole, AuthCommands, CreateApiKey
from hangar.app.auth.limits import Lockouts, TokenBuckets
from hangar.app.auth.projection import AuthProjection
from hangar.app.bus import SYSTEM, CommandBus
from hangar.app.ports import EventStore
from hangar.app.projector import Projector
from hangar.config.schema import AuthConfig
from hangar.domain import auth_events as ae
from hangar.domain.auth import Grant, key_digest
from hangar.domain.auth_aggregates import SECURITY_STREAM
from hangar.domain.errors import (
    AuthenticationError,
    ClientLockedOutError,
    PermissionDeniedError,
    RateLimitExceeded,
    ToolAccessDeniedError,
    ValidationError,
)
from hangar.domain.event_base import Event

log = structlog.get_logger("hangar.auth")


class SharedLimits(Protocol):
    """Rate limits and lockouts counted across replicas (``hangar.app.cluster``)."""

    @property
    def rate(self) -> SharedRate: ...
    @property
    def lockouts(self) -> SharedLockoutCounter: ...


class SharedRate(Protocol):
    async def take(self, principal: str, now: float | None = None) -> float: ...


class SharedLockoutCounter(Protocol):
    async def retry_after(self, client: str, now: float | None = None) -> float: ...
    async def failure(self, client: str, now: float | None = None) -> float | None: ...

MIN_SEEDED_KEY_LENGTH = 32


class AuthService:
    def __init__(
        self, store: EventStore, projector: Projector, bus: CommandBus, config: AuthConfig, instance: str,
        snapshot_every: int = 100,
    ) -> None:
        self.config = config
        self.enabled = config.enabled
        self._store = store
        self._bus = bus
        self._instance = instance
        self.view = AuthProjection()
        self.audit_log = AuditLog(config.audit_retention)
        self.security_log = SecurityLog(config.audit_retention)
        projector.projections.extend([self.view, self.audit_log, self.security_log])
        self.audit = AuditRecorder(store, projector, instance)
        projector.add_listener(self.audit.listener)
        bus.observe(self.audit.observe)
        bus.carry(self.audit.rider)
        self.commands = AuthCommands(store, projector.wait_for, self.view, snapshot_every)
        self.commands.register_with(bus)
        self.buckets: TokenBuckets | None = None
        self.lockouts: Lockouts | None = None
        self.shared: SharedLimits | None = None
        """Set in a cluster: limits and lockouts counted across replicas instead of here."""
        self._limits(config)

    def _limits(self, config: AuthConfig) -> None:
        rl, lo = config.rate_limit, config.lockout
        self.buckets = TokenBuckets(rl.requests_per_second, rl.burst) if rl.enabled else None
        self.lockouts = Lockouts(lo.max_failures, lo.window_s, lo.lockout_s, lo.max_lockout_s) if lo.enabled else None

    def reconfigure(self, config: AuthConfig) -> None:
        """A config reload: new rate-limit and lockout settings apply at once. Turning auth on or
        off only takes effect at a restart, so editing a file can never silently open the API."""
        if config.rate_limit != self.config.rate_limit or config.lockout != self.config.lockout:
            self._limits(config)
            log.info("auth_limits_reconfigured")
        if config.enabled != self.enabled:
            log.warning("auth_restart_required", configured=config.enabled, effective=self.enabled)
        self.config = config

    async def start(self) -> None:
        await self.seed_admin_key()

    async def close(self) -> None:
        await self.audit.close()

    # --- bootstrap ---------------------------------------------------------------------------------

    async def seed_admin_key(self) -> str | None:
        """Record the key in ``$HANGAR_ADMIN_KEY`` (hashed, like any other) with the admin role."""
        raw = os.environ.get(self.config.admin_key_env, "").strip()
        if not raw:
            return None
        if len(raw) < MIN_SEEDED_KEY_LENGTH:
            raise ValidationError(
                f"{self.config.admin_key_env} must be at least {MIN_SEEDED_KEY_LENGTH} characters "
                "(generate one with `hangar auth create-key` or `python -c 'import secrets; "
                "print(\"mcp_\" + secrets.token_urlsafe(32))'`)"
            )
        existing = self.view.key_for_digest(key_digest(raw))
        if existing is not None:
            if existing.revoked:
                log.warning("admin_key_revoked", key_id=existing.key_id,
                            message=f"{self.config.admin_key_env} names a revoked key; not re-seeding it")
            return existing.key_id
        principal = self.config.admin_principal
        created = await self._bus.execute(
            CreateApiKey(principal_id=principal, name=self.config.admin_key_env, raw_key=raw,
                         created_by="system"), SYSTEM,
        )
        await self._bus.execute(AssignRole(principal_id=principal, role_id="admin"), SYSTEM)
        log.info("admin_key_seeded", key_id=created.key_id, principal_id=principal)
        return str(created.key_id)

    # --- the request path --------------------------------------------------------------------------

    async def authenticate(self, raw_key: str | None, client: str, path: str) -> str:
        """The principal of a valid key; raises 401 (or 429 for a locked-out client)."""
        now = time.monotonic()
        if self.shared is not None and self.lockouts is not None:
            wait = await self.shared.lockouts.retry_after(client)
            if wait > 0:
                raise ClientLockedOutError(
                    "Too many failed authentication attempts from this client; try again later", wait
                )
        elif self.lockouts is not None:
            wait = self.lockouts.retry_after(client, now)
            if wait > 0:
                raise ClientLockedOutError(
                    "Too many failed authentication attempts from this client; try again later", wait
                )
        if not raw_key:
            raise AuthenticationError("An API key is required (X-API-Key or Authorization: Bearer)")
        key = self.view.key_for_digest(key_digest(raw_key))
        reason = "invalid" if key is None else key.status(time.time())
        if reason == "active" and key is not None:
            return key.principal_id
        await self.record(ae.AuthenticationFailed(
            client=client, reason=reason, path=path,
            key_id=key.key_id if key else None, principal_id=key.principal_id if key else None,
        ))
        if self.shared is not None and self.lockouts is not None:
            period_s = await self.shared.lockouts.failure(client)
            if period_s is not None:
                await self.record(ae.ClientLockedOut(
                    client=client, failures=self.lockouts.max_failures, lockout_s=period_s, lockouts=1,
                ))
        elif self.lockouts is not None:
            locked = self.lockouts.failure(client, now)
            if locked is not None:
                count, period = locked
                await self.record(ae.ClientLockedOut(
                    client=client, failures=self.lockouts.max_failures, lockout_s=period, lockouts=count,
                ))
        message = {"invalid": "Invalid API key", "expired": "API key has expired",
                   "revoked": "API key has been revoked"}[reason]
        raise AuthenticationError(message)

    async def throttle(self, principal: str) -> None:
        if self.buckets is None:
            return
        if self.shared is not None:
            wait = await self.shared.rate.take(principal)
        else:
            wait = self.buckets.take(principal, time.monotonic())
        if wait > 0:
            raise RateLimitExceeded(f"Rate limit exceeded for principal '{principal}'", wait)

    async def authorize(self, principal: str, needed: Grant, method: str, path: str, client: str) -> None:
        if self.view.may(principal, needed):
            return
        permission = f"{needed[0]}:{needed[1]}"
        await self.record(ae.PermissionDenied(
            principal_id=principal, permission=permission, method=method, path=path, client=client,
        ))
        raise PermissionDeniedError(f"Principal '{principal}' lacks permission '{permission}'")

    # --- tool policies (the Invoker's gate and the MCP front door's filter) ------------------------

    def tool_allowed(self, principal: str | None, provider_id: str, tool: str) -> bool:
        if not self.enabled or principal is None:
            return True
        return self.view.tool_decision(principal, provider_id, tool) is None

    async def check(self, principal: str, provider_id: str, tool: str, group_id: str | None = None) -> None:
        """Raises 403 (and records it) when a policy keeps ``principal`` from this tool."""
        if not self.enabled or principal in ("system", "anonymous"):
            return
        reason = self.view.tool_decision(principal, provider_id, tool)
        if reason is None and group_id is not None:
            reason = self.view.tool_decision(principal, group_id, tool)
        if reason is None:
            return
        await self.record(ae.ToolAccessDenied(
            principal_id=principal, provider_id=provider_id, tool_name=tool, reason=reason, group_id=group_id,
        ))
        raise ToolAccessDeniedError(principal, group_id or provider_id, tool)

    # --- security events ---------------------------------------------------------------------------

    async def record(self, event: Event, principal: str | None = None) -> None:
        """Security facts are durable before the refusal is answered."""
        meta = codec.EventMetadata(
            correlation_id=codec.new_id(), principal=principal or getattr(event, "principal_id", None),
            instance=self._instance,
        )
        try:
            await codec.append_one(self._store, SECURITY_STREAM, event, meta)
        except Exception:  # refusing the request matters more than recording that we did
            log.exception("security_event_failed", event_type=type(event).__name__)
