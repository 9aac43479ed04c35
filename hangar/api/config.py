"""``/api/config``: the running configuration, reload, export, backup and diff."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import Parameter

from hangar.api.definitions import export_definitions
from hangar.api.deps import command_context
from hangar.app.bus import CommandBus
from hangar.app.config_sync import BackupConfig, BackupResult, ConfigSync, ReloadConfig
from hangar.app.offload import offload
from hangar.app.projections.catalog import CatalogProjection
from hangar.app.projections.groups import GroupsProjection
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.secrets import redact_env
from hangar.app.settings import LiveConfig
from hangar.app.skills import SkillsProjection
from hangar.config.export import protect
from hangar.config.reload import ReloadResult

ConfigPath = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]


class ReloadRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    config_path: ConfigPath | None = None
    graceful: bool = True


class ReloadBody(msgspec.Struct):
    status: str
    result: ReloadResult


class ExportBody(msgspec.Struct):
    yaml: str


class DiffBody(msgspec.Struct, kw_only=True):
    diff: str
    has_changes: bool
    has_diff: bool
    """The same flag under the name mcp-hangar clients read."""
    config_path: str | None
    on_disk: dict[str, Any]
    in_memory: dict[str, Any]
    on_disk_error: str | None = None


async def running_config(providers: ProvidersProjection, config_sync: ConfigSync, live: LiveConfig) -> dict[str, Any]:
    """Every setting in effect plus the current providers and groups as lists; secrets redacted."""
    sync = config_sync
    plain: dict[str, Any] = msgspec.to_builtins(live.current)
    managed = sync.projection.managed
    out: dict[str, Any] = {k: v for k, v in plain.items() if k not in ("providers", "groups")}
    out["providers"] = [
        {"provider_id": pid, **msgspec.to_builtins(v.spec), "env": redact_env(v.spec),
         "managed_by": "config" if pid in managed.get("providers", ()) else "api"}
        for pid, v in sorted(providers.views.items())
    ]
    tree = sync.current_tree()
    for section in (s.name for s in sync.sections if s.name != "providers"):
        if section == "groups":
            out[section] = [
                {"group_id": gid, **entry, "managed_by": "config" if gid in managed.get(section, ()) else "api"}
                for gid, entry in tree.get(section, {}).items()
            ]
        else:  # sections nested in settings (discovery.sources) keep their file shape
            out[section] = {**out.get(section, {}), **tree.get(section, {})}
    protected: dict[str, Any] = await offload(lambda: protect(out, "redact"))
    return protected


class ConfigController(Controller):
    path = "/api/config"
    tags = ["config"]

    @get("/", summary="The running configuration, secrets stripped")
    async def get_config(
        self, providers: ProvidersProjection, config_sync: ConfigSync, live: LiveConfig
    ) -> dict[str, Any]:
        sync = config_sync
        last = sync.projection.last
        return {
            "config": await running_config(providers, config_sync, live),
            "config_path": live.path,
            "managed": sync.projection.managed,
            "last_reload": msgspec.to_builtins(last) if last is not None else None,
        }

    @post("/reload", status_code=200, summary="Validate a config file and apply its differences")
    async def reload(self, request: Request, bus: CommandBus, data: ReloadRequest | None = None) -> ReloadBody:
        body = data or ReloadRequest()
        result: ReloadResult = await bus.execute(
            ReloadConfig(config_path=body.config_path, graceful=body.graceful, trigger="api"),
            command_context(request),
        )
        return ReloadBody("reloaded", result)

    @post("/export", status_code=200, summary="The current state as a config file, or one YAML file per definition")
    async def export(
        self, providers: ProvidersProjection, groups: GroupsProjection, catalog_view: CatalogProjection,
        skills_view: SkillsProjection, config_sync: ConfigSync, live: LiveConfig,
        export_format: Annotated[Literal["dir", "bundle"] | None, Parameter(query="format")] = None,
        dir_name: Annotated[str | None, Parameter(query="dir", max_length=64)] = None,
    ) -> ExportBody | dict[str, Any]:
        if export_format is not None:  # see hangar/api/definitions.py
            return await export_definitions(providers, groups, catalog_view, skills_view, live, export_format, dir_name)
        return ExportBody(await config_sync.export_yaml())

    @post("/backup", status_code=200, summary="A rotating backup of the configuration")
    async def backup(self, request: Request, bus: CommandBus) -> BackupResult:
        result: BackupResult = await bus.execute(BackupConfig(), command_context(request))
        return result

    @get("/diff", summary="On-disk configuration compared with the in-memory state")
    async def diff(
        self, config_sync: ConfigSync, live: LiveConfig,
        config_path: Annotated[str | None, Parameter(query="config_path", min_length=1, max_length=4096)] = None,
    ) -> DiffBody:
        path = config_path or live.path
        text, disk, mem, error = await config_sync.diff(path)
        return DiffBody(diff=text, has_changes=bool(text), has_diff=bool(text), config_path=path,
                        on_disk=disk, in_memory=mem, on_disk_error=error)
