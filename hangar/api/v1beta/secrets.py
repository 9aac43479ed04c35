"""``/api/v1beta/secrets``: the secrets vault; values go in, never out."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put

from hangar.api.deps import command_context
from hangar.app.bus import CommandBus
from hangar.app.toolhive.module import ToolhiveModule
from hangar.app.toolhive.secrets import CreateSecret, DeleteSecret, SetUpSecrets, UpdateSecret
from hangar.domain.errors import ValidationError


class SetupRequest(msgspec.Struct, kw_only=True):
    provider_type: str = ""
    password: str = ""


class CreateSecretRequest(msgspec.Struct, kw_only=True):
    key: str = ""
    value: str = ""


class UpdateSecretRequest(msgspec.Struct, kw_only=True):
    value: str = ""


class SecretsController(Controller):
    path = "/api/v1beta/secrets"
    tags = ["toolhive"]

    @post("/", status_code=201, summary="Set up the secrets provider (encrypted or environment)")
    async def set_up(self, request: Request, bus: CommandBus, data: SetupRequest) -> dict[str, str]:
        # The encrypted provider uses Hangar's own key (HANGAR_SECRET_KEY); a password is not needed.
        await bus.execute(SetUpSecrets(data.provider_type), command_context(request))
        return {"provider_type": data.provider_type, "message": "secrets provider set up"}

    @get("/default", summary="The secrets provider and what it can do")
    async def provider(self, toolhive: ToolhiveModule) -> dict[str, Any]:
        kind = toolhive.secrets.require()
        writable = kind == "encrypted"
        return {"name": "default", "provider_type": kind, "capabilities": {
            "can_read": True, "can_write": writable, "can_delete": writable, "can_list": writable,
            "can_cleanup": writable}}

    @get("/default/keys", summary="Secret keys (never values)")
    async def keys(self, toolhive: ToolhiveModule) -> dict[str, Any]:
        return {"keys": [{"key": k} for k in toolhive.secrets.keys()]}

    @post("/default/keys", status_code=201, summary="Create a secret (sealed before it is recorded)")
    async def create(self, request: Request, bus: CommandBus, data: CreateSecretRequest) -> dict[str, str]:
        if not data.key:
            raise ValidationError("'key' is required")
        await bus.execute(CreateSecret(data.key, data.value), command_context(request))
        return {"key": data.key, "message": "secret created"}

    @put("/default/keys/{key:str}", summary="Rotate a secret (restarts the running providers using it)")
    async def update(
        self, request: Request, bus: CommandBus, key: str, data: UpdateSecretRequest
    ) -> dict[str, str]:
        await bus.execute(UpdateSecret(key, data.value), command_context(request))
        return {"key": key, "message": "secret updated"}

    @delete("/default/keys/{key:str}", status_code=204, summary="Delete a secret")
    async def remove(self, request: Request, bus: CommandBus, key: str) -> Response[None]:
        await bus.execute(DeleteSecret(key), command_context(request))
        return Response(None, status_code=204)
