"""Commands and handlers that change provider definitions."""

from __future__ import annotations

from typing import Any, Protocol

import msgspec

from hangar.app.bus import CommandBus, CommandContext
from hangar.app.codec import EventMetadata
from hangar.app.repository import ProviderRepository
from hangar.app.secrets import SecretBox
from hangar.domain.errors import ValidationError
from hangar.domain.events import Event
from hangar.domain.provider import Provider
from hangar.domain.provider_spec import ProviderSpec, check_provider_id, check_spec


class RegisterProvider(msgspec.Struct, frozen=True, kw_only=True):
    provider_id: str
    spec: ProviderSpec
    upsert: bool = False
    """Register, or update when it exists with another definition (config sync at start)."""


class UpdateProvider(msgspec.Struct, frozen=True, kw_only=True):
    provider_id: str
    changes: dict[str, Any]


class DeregisterProvider(msgspec.Struct, frozen=True, kw_only=True):
    provider_id: str


class DefinitionHooks(Protocol):
    """What the runtime must do around a definition change (restart, stop)."""

    async def before_deregister(self, provider_id: str, ctx: CommandContext) -> None: ...

    async def after_update(self, provider_id: str, ctx: CommandContext) -> None: ...


class NoHooks:
    async def before_deregister(self, provider_id: str, ctx: CommandContext) -> None:
        return None

    async def after_update(self, provider_id: str, ctx: CommandContext) -> None:
        return None


UPDATABLE_FIELDS = frozenset(ProviderSpec.__struct_fields__) - {"mode"}


def apply_changes(spec: ProviderSpec, changes: dict[str, Any]) -> ProviderSpec:
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise ValidationError(f"Fields cannot be updated: {', '.join(sorted(unknown))}")
    merged = msgspec.structs.asdict(spec) | changes
    try:
        new = msgspec.convert(merged, ProviderSpec)
    except msgspec.ValidationError as exc:
        raise ValidationError(str(exc)) from None
    check_spec(new)
    return new


class ProviderDefinitions:
    def __init__(
        self, repo: ProviderRepository, hooks: DefinitionHooks | None = None, secrets: SecretBox | None = None
    ) -> None:
        self.repo = repo
        self.hooks: DefinitionHooks = hooks or NoHooks()
        self.secrets = secrets

    def register_with(self, bus: CommandBus) -> None:
        # An update restarts a running provider afterwards, and that may fail.
        bus.register(RegisterProvider, self.register, multi_step=lambda cmd: bool(cmd.upsert))
        bus.register(UpdateProvider, self.update, multi_step=True)
        bus.register(DeregisterProvider, self.deregister)

    async def register(self, cmd: RegisterProvider, ctx: CommandContext, meta: EventMetadata) -> bool:
        """Returns whether anything was recorded."""
        check_provider_id(cmd.provider_id)
        check_spec(cmd.spec)

        def decide(p: Provider) -> list[Event]:
            if cmd.upsert and p.exists:
                return p.update(self._seal(cmd.spec, p.spec))
            return p.register(self._seal(cmd.spec, None))

        res = await self.repo.execute(cmd.provider_id, decide, meta, if_match=ctx.if_match)
        if cmd.upsert and res.events and type(res.events[0]).__name__ == "ProviderUpdated":
            await self.hooks.after_update(cmd.provider_id, ctx)
        return bool(res.events)

    async def update(self, cmd: UpdateProvider, ctx: CommandContext, meta: EventMetadata) -> int:
        """Returns the aggregate version after the update."""
        res = await self.repo.execute(
            cmd.provider_id, lambda p: p.update(self._seal(apply_changes(p.spec, cmd.changes), p.spec)), meta,
            if_match=ctx.if_match,
        )
        if res.events:
            await self.hooks.after_update(cmd.provider_id, ctx)
        return res.aggregate.version

    def _seal(self, spec: ProviderSpec, previous: ProviderSpec | None) -> ProviderSpec:
        # Secret values never reach an event in clear (see hangar.app.secrets).
        return self.secrets.seal_spec(spec, previous) if self.secrets is not None else spec

    async def deregister(
        self, cmd: DeregisterProvider, ctx: CommandContext, meta: EventMetadata
    ) -> None:
        # Check the precondition before stopping anything: a stale If-Match must change nothing.
        await self.repo.check(cmd.provider_id, ctx.if_match)
        await self.hooks.before_deregister(cmd.provider_id, ctx)
        await self.repo.execute(cmd.provider_id, lambda p: p.deregister(), meta)
