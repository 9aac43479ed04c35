"""``/api/v1beta/skills``: installed skills (folders with a ``SKILL.md``) per client."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import Parameter

from hangar.api.deps import command_context
from hangar.app.bus import CommandBus
from hangar.app.toolhive.module import ToolhiveModule
from hangar.app.toolhive.projection import SkillView
from hangar.app.toolhive.skills import InstallSkill, RemoveSkill, validate_dir
from hangar.domain.errors import NotFoundError, ValidationError
from hangar.domain.toolhive import check_name


class InstallRequest(msgspec.Struct, kw_only=True):
    name: str = ""
    clients: list[str] = []
    force: bool = False
    scope: str = "user"
    version: str = ""
    group: str = ""


class ValidateRequest(msgspec.Struct, kw_only=True):
    path: str = ""


def installed(v: SkillView) -> dict[str, Any]:
    return {"metadata": msgspec.to_builtins(v.metadata), "scope": "user", "status": "installed",
            "installed_at": v.installed_at, "clients": list(v.clients), "reference": v.source,
            "digest": v.digest, "managed": False}


def view(toolhive: ToolhiveModule, name: str) -> SkillView:
    check_name("skill", name)
    v = toolhive.view.skills.get(name)
    if v is None:
        raise NotFoundError(f"skill '{name}' is not installed")
    return v


class SkillsController(Controller):
    path = "/api/v1beta/skills"
    tags = ["toolhive"]

    @get("/", summary="Installed skills")
    async def list_skills(
        self, toolhive: ToolhiveModule, client: Annotated[str | None, Parameter(query="client")] = None,
    ) -> dict[str, Any]:
        skills = sorted(toolhive.view.skills.values(), key=lambda v: v.name)
        return {"skills": [installed(v) for v in skills if client is None or client in v.clients]}

    @post("/", status_code=201, summary="Install a skill from a local path or a git URL")
    async def install(
        self, request: Request, bus: CommandBus, toolhive: ToolhiveModule, data: InstallRequest
    ) -> dict[str, Any]:
        if not data.name:
            raise ValidationError("'name' is required")
        if data.scope != "user":
            raise ValidationError("only user-scoped installs are served")
        cmd = InstallSkill(source=data.name, clients=data.clients, force=data.force, version=data.version)
        name = await bus.execute(cmd, command_context(request))
        return {"skill": installed(view(toolhive, name))}

    @post("/validate", status_code=200, summary="Report every problem of a skill's SKILL.md at once")
    async def validate(self, data: ValidateRequest) -> dict[str, Any]:
        if not data.path or not Path(data.path).is_absolute():
            raise ValidationError("'path' must be an absolute path")
        report, _ = validate_dir(Path(data.path))
        return msgspec.to_builtins(report)

    @get("/{name:str}", summary="One installed skill")
    async def get_skill(self, toolhive: ToolhiveModule, name: str) -> dict[str, Any]:
        v = view(toolhive, name)
        return {"metadata": msgspec.to_builtins(v.metadata), "installed_skill": installed(v)}

    @delete("/{name:str}", status_code=204, summary="Uninstall a skill from every client")
    async def remove(self, request: Request, bus: CommandBus, toolhive: ToolhiveModule, name: str) -> Response[None]:
        view(toolhive, name)
        await bus.execute(RemoveSkill(name=name), command_context(request))
        return Response(None, status_code=204)
