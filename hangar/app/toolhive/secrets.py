"""The secrets vault: ToolHive's ``encrypted`` provider built on Hangar's ``SecretBox``, and its
read-only ``environment`` provider.

Values are sealed in the command handler, before any event exists. Provider env may reference a
secret as ``${secret:NAME}``; the reference is what the log keeps, and ``resolve`` swaps in the
value only when the process starts. Rotating a secret restarts the running providers using it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import msgspec
import structlog

from hangar.app.bus import CommandBus, CommandContext
from hangar.app.codec import EventMetadata
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.repository import Repository
from hangar.app.runtime_facts import ProviderRuntime
from hangar.app.secrets import SECRET_REFERENCE, SecretBox
from hangar.app.toolhive.projection import ToolhiveProjection
from hangar.domain.errors import NotFoundError, ValidationError
from hangar.domain.provider import RUNNING_STATES
from hangar.domain.provider_spec import ProviderSpec
from hangar.domain.toolhive import NotWritableError, SecretsVault

log = structlog.get_logger("hangar.secrets")

REFERENCE = SECRET_REFERENCE
VAULT_ID = "default"
ENV_PREFIX = "TOOLHIVE_SECRET_"


class SetUpSecrets(msgspec.Struct, frozen=True):
    provider_type: str


class CreateSecret(msgspec.Struct, frozen=True):
    key: str
    value: str

    def __repr__(self) -> str:  # the audit trail and logs must never see the value
        return f"CreateSecret(key={self.key!r})"


class UpdateSecret(msgspec.Struct, frozen=True):
    key: str
    value: str

    def __repr__(self) -> str:
        return f"UpdateSecret(key={self.key!r})"


class DeleteSecret(msgspec.Struct, frozen=True):
    key: str


def references(spec: ProviderSpec) -> set[str]:
    return {m for v in spec.env.values() for m in REFERENCE.findall(v)}


class SecretVault:
    def __init__(
        self, repo: Repository[SecretsVault], box: SecretBox, view: ToolhiveProjection,
        providers: ProvidersProjection, lifecycle: ProviderRuntime, environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.repo = repo
        self.box = box
        self.view = view
        self.providers = providers
        self.lifecycle = lifecycle
        self.environ = environ

    def register_with(self, bus: CommandBus) -> None:
        bus.register(SetUpSecrets, self.set_up)
        bus.register(CreateSecret, self.create)
        bus.register(UpdateSecret, self.update, multi_step=True)  # restarts the providers using it
        bus.register(DeleteSecret, self.delete)

    async def set_up(self, cmd: SetUpSecrets, ctx: CommandContext, meta: EventMetadata) -> None:
        await self.repo.execute(VAULT_ID, lambda v: v.set_up(cmd.provider_type), meta)

    async def create(self, cmd: CreateSecret, ctx: CommandContext, meta: EventMetadata) -> None:
        _check_value(cmd.value)
        sealed = self.box.seal(cmd.value)
        await self.repo.execute(VAULT_ID, lambda v: v.create(cmd.key, sealed), meta)

    async def update(self, cmd: UpdateSecret, ctx: CommandContext, meta: EventMetadata) -> list[str]:
        """Returns the providers restarted because they use the secret."""
        _check_value(cmd.value)
        sealed = self.box.seal(cmd.value)
        await self.repo.execute(VAULT_ID, lambda v: v.update(cmd.key, sealed), meta)
        users = [v.provider_id for v in list(self.providers.views.values())
                 if v.state in RUNNING_STATES and cmd.key in references(v.spec)]
        for pid in users:
            # The stop event's reason names the secret (never its value), so the log says why.
            await self.lifecycle.stop(pid, f"secret_rotated:{cmd.key}", ctx)
            await self.lifecycle.ensure_started(pid, ctx)
        return users

    async def delete(self, cmd: DeleteSecret, ctx: CommandContext, meta: EventMetadata) -> None:
        await self.repo.execute(VAULT_ID, lambda v: v.delete(cmd.key), meta)

    # --- reading ---------------------------------------------------------------------------------

    def require(self) -> str:
        if not self.view.secrets_provider:
            raise NotFoundError("secrets provider is not set up")
        return self.view.secrets_provider

    def keys(self) -> list[str]:
        if self.require() != "encrypted":
            raise NotWritableError("the environment secrets provider cannot list secrets")
        return sorted(self.view.secrets)

    def resolve(self, spec: ProviderSpec) -> ProviderSpec:
        """The spec with every ``${secret:NAME}`` replaced by its value, for the process only.
        A missing secret fails naming the secret; values never reach a message."""
        if not any("${secret:" in v for v in spec.env.values()):
            return spec
        missing = sorted(n for n in references(spec) if self._value(n) is None)
        if missing:
            raise ValidationError(f"secret not found: {', '.join(missing)}")
        env = {k: REFERENCE.sub(lambda m: self._value(m.group(1)) or "", v) for k, v in spec.env.items()}
        return msgspec.structs.replace(spec, env=env)

    def _value(self, name: str) -> str | None:
        if self.view.secrets_provider == "environment":
            return self.environ.get(ENV_PREFIX + name)
        sealed = self.view.secrets.get(name)
        return None if sealed is None else self.box.open(sealed)


def _check_value(value: str) -> None:
    if not value:
        raise ValidationError("secret value must not be empty")
