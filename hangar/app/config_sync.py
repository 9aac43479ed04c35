"""Applying a configuration file to a running Hangar as ordinary commands.

A reload validates the whole file first (an invalid file changes nothing), then computes, per
section, what was added, changed and removed relative to the current state, and sends the
same commands an operator would: register, update (a running provider restarts), deregister.
Only ids that the previous file declared can be removed; that set is recorded in every
``ConfigurationReloaded`` event, so it survives restarts and API-created resources are safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import msgspec
import structlog

from hangar.app import codec
from hangar.app.bus import SYSTEM, CommandBus, CommandContext
from hangar.app.codec import EventMetadata
from hangar.app.offload import offload
from hangar.app.paths import allowed_roots, confine
from hangar.app.ports import EventStore
from hangar.app.progress import Progress
from hangar.app.projections.config import ConfigProjection
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.projector import Projector
from hangar.app.providers import DeregisterProvider, RegisterProvider
from hangar.app.runtime_facts import RuntimeStatus
from hangar.app.secrets import SecretBox, secret_names
from hangar.app.settings import LiveConfig
from hangar.config.backup import backup_dir, list_backups, write_backup
from hangar.config.export import build_tree, env_references, protect, to_yaml, unified_diff
from hangar.config.loader import ConfigError, parse_config, to_spec
from hangar.config.reload import ReloadResult, SectionPlan, effective, empty_lists, plan_section, restart_required
from hangar.config.schema import HangarConfig
from hangar.domain.errors import HangarError, ValidationError
from hangar.domain.events import Event
from hangar.domain.ops_events import ConfigurationBackedUp, ConfigurationReloaded, ConfigurationReloadFailed
from hangar.domain.provider_spec import ProviderSpec

log = structlog.get_logger("hangar.config")

CONFIG_STREAM = "system:config"
GRACEFUL_WAIT_MAX_S = 120.0


class ReloadConfig(msgspec.Struct, frozen=True, kw_only=True):
    config_path: str | None = None
    graceful: bool = True
    trigger: str = "api"


class BackupConfig(msgspec.Struct, frozen=True):
    pass


class BackupResult(msgspec.Struct, kw_only=True):
    backup_path: str
    created: bool
    path: str
    """The same path under the name mcp-hangar clients read."""
    source: str
    """``file`` (a copy of the config file) or ``memory`` (an export of the state: no file)."""
    kept: list[str]
    removed: list[str]


class Section(Protocol):
    """One resource section of the config file (providers, groups, …) and its commands."""

    name: str

    def desired(self, cfg: HangarConfig) -> dict[str, Any]: ...

    def current(self) -> dict[str, Any]: ...

    def export(self) -> dict[str, Any]:
        """The current resources in their config-file shape (providers are rendered apart)."""

    def declared(self, cfg: HangarConfig) -> dict[str, Any]:
        """``cfg``'s entries of this section in the same shape as ``export``."""

    async def add(self, key: str, value: Any, ctx: CommandContext) -> None: ...

    async def change(self, key: str, value: Any, ctx: CommandContext, graceful: bool) -> None: ...

    async def remove(self, key: str, ctx: CommandContext, graceful: bool) -> None: ...


class Drainable(RuntimeStatus, Protocol):
    async def wait_idle(self, provider_id: str, timeout_s: float) -> None: ...


class ProvidersSection:
    name = "providers"

    def __init__(
        self, bus: CommandBus, providers: ProvidersProjection, secrets: SecretBox, runtime: Drainable,
    ) -> None:
        self._bus = bus
        self._providers = providers
        self._secrets = secrets
        self._runtime = runtime

    def desired(self, cfg: HangarConfig) -> dict[str, Any]:
        return {name: to_spec(pc) for name, pc in cfg.providers.items()}

    def current(self) -> dict[str, Any]:
        # Secret values are sealed in the log and the read model: compare the opened ones.
        return opened_specs(self._providers, self._secrets)

    def export(self) -> dict[str, Any]:
        return {}

    def declared(self, cfg: HangarConfig) -> dict[str, Any]:
        return {}

    async def add(self, key: str, value: Any, ctx: CommandContext) -> None:
        await self._bus.execute(RegisterProvider(provider_id=key, spec=value, upsert=True), ctx)

    async def change(self, key: str, value: Any, ctx: CommandContext, graceful: bool) -> None:
        if graceful:
            await self.drain(key)
        # An upsert records ProviderUpdated; the lifecycle hook restarts a running provider.
        await self._bus.execute(RegisterProvider(provider_id=key, spec=value, upsert=True), ctx)

    async def remove(self, key: str, ctx: CommandContext, graceful: bool) -> None:
        if graceful:
            await self.drain(key)
        await self._bus.execute(DeregisterProvider(provider_id=key), ctx)

    async def drain(self, provider_id: str) -> None:
        """Wait until the provider has no call in flight (bounded by its call timeout)."""
        view = self._providers.get(provider_id)
        limit = min(GRACEFUL_WAIT_MAX_S, (view.spec.call_timeout_s if view else 30.0) + 1.0)
        await self._runtime.wait_idle(provider_id, limit)


SettingsHook = Callable[[HangarConfig], None]


class ConfigSync:
    def __init__(
        self, live: LiveConfig, bus: CommandBus, store: EventStore, projector: Projector,
        providers: ProvidersProjection, secrets: SecretBox, projection: ConfigProjection, instance_id: str,
    ) -> None:
        self.live = live
        self._bus = bus
        self._store = store
        self._projector = projector
        self._providers = providers
        self._secrets = secrets
        self._instance_id = instance_id
        self.projection = projection
        self.sections: list[Section] = []
        self.settings_hooks: list[SettingsHook] = []
        self.refs: dict[str, str] = {}
        self.applied_digest: str | None = None
        self._lock = asyncio.Lock()
        self._watcher: asyncio.Task[None] | None = None
        # Paths given over the API are confined to the startup file's directory (+ settings).
        self.startup_path = live.path

    def confine(self, path: str) -> str:
        """A ``config_path`` from a caller, checked against the allowed directories."""
        roots = allowed_roots(self.startup_path, self.live.current.config.allowed_dirs)
        return str(confine(path, roots, "config_path"))

    def add_section(self, section: Section) -> None:
        """Sections apply in order and are removed in reverse (groups after their members)."""
        self.sections.append(section)

    def register_with(self, bus: CommandBus) -> None:
        bus.register(ReloadConfig, self._handle_reload, multi_step=True)
        bus.register(BackupConfig, self._handle_backup)

    async def _handle_backup(self, cmd: BackupConfig, ctx: CommandContext, meta: EventMetadata) -> BackupResult:
        c = self.live.current.config
        path = self.live.path
        text = await _read(path)
        if text is not None and path:
            source, stem, content = "file", Path(path).stem or "config", text.encode()
        else:
            tree = protect(self.current_tree(), "reference", self.refs, secret_paths=self.secret_paths())
            source, stem, content = "memory", "hangar", to_yaml(tree).encode()
        directory = backup_dir(path, c.backup_dir)
        target, removed = write_backup(directory, stem, content, c.backup_keep)
        await self._record(ConfigurationBackedUp(backup_path=str(target), source=source), ctx)
        return BackupResult(
            backup_path=str(target), created=True, path=str(target), source=source,
            kept=[str(p) for p in list_backups(directory, stem)], removed=[str(p) for p in removed],
        )

    async def _handle_reload(self, cmd: ReloadConfig, ctx: CommandContext, meta: EventMetadata) -> ReloadResult:
        return await self.reload(cmd.config_path, ctx, graceful=cmd.graceful, trigger=cmd.trigger, meta=meta)

    # --- state ---------------------------------------------------------------------------------

    def current_tree(self) -> dict[str, Any]:
        """The running configuration as plain data (secrets still in it: protect before use)."""
        resources = {sec.name: sec.export() for sec in self.sections if sec.name != "providers"}
        return build_tree(self.live.current, opened_specs(self._providers, self._secrets), resources)

    def secret_paths(self, specs: Mapping[str, ProviderSpec] | None = None) -> frozenset[str]:
        """Env entries secret by the definition's ``secret_env`` (names that do not look it)."""
        found = specs if specs is not None else {pid: v.spec for pid, v in self._providers.views.items()}
        return frozenset(f"providers.{pid}.env.{name}" for pid, spec in found.items() for name in secret_names(spec))

    async def export_yaml(self) -> str:
        # The state is read here, on the event loop; rendering and secret masking (CPU work on
        # user text) run in a worker thread with a deadline.
        tree, refs, secret = self.current_tree(), dict(self.refs), self.secret_paths()
        return await offload(lambda: to_yaml(protect(tree, "reference", refs, secret_paths=secret)))

    async def diff(self, path: str | None) -> tuple[str, dict[str, Any], dict[str, Any], str | None]:
        if path is not None and path != self.startup_path:
            path = self.confine(path)
        current, secret = self.current_tree(), self.secret_paths()
        text = await _read(path)

        def render() -> tuple[str, dict[str, Any], dict[str, Any], str | None]:
            on_disk, error = self.file_tree(path, text)
            diff, disk, mem = unified_diff(on_disk, current, secret | self._file_secret_paths(path, text))
            return diff, disk, mem, error

        return await offload(render)

    def _file_secret_paths(self, path: str | None, text: str | None) -> frozenset[str]:
        try:
            cfg = parse_config(text, path) if path and text is not None else None
        except ConfigError:
            return frozenset()
        return self.secret_paths({n: to_spec(pc) for n, pc in cfg.providers.items()}) if cfg else frozenset()

    def file_tree(self, path: str | None, text: str | None) -> tuple[dict[str, Any], str | None]:
        """The file on disk (read by the caller) rendered like the current state, and why it
        could not be (if so)."""
        if not path:
            return {}, "no configuration file"
        if text is None:
            return {}, f"{path}: no such file"
        try:
            cfg = parse_config(text, path)
        except ConfigError as exc:
            return {}, exc.message
        providers = {name: to_spec(pc) for name, pc in cfg.providers.items()}
        resources = {sec.name: sec.declared(cfg) for sec in self.sections if sec.name != "providers"}
        return build_tree(cfg, providers, resources), None

    # --- applying ------------------------------------------------------------------------------

    async def apply_startup(self) -> None:
        """Apply the file Hangar started with; removes what an earlier run's file declared and
        this one no longer does."""
        path = self.live.path
        text = await _read(path)
        if text is not None:
            self.refs = env_references(text)
            self.applied_digest = _digest(text)
        async with self._lock:
            await self._apply(self.live.current, SYSTEM, False, "startup", path, record_if_unchanged=False)

    async def reload(
        self, path: str | None, ctx: CommandContext = SYSTEM, *, graceful: bool = True,
        trigger: str = "api", meta: EventMetadata | None = None,
    ) -> ReloadResult:
        if path is not None and path != self.startup_path:
            path = self.confine(path)
        async with self._lock:
            target = path or self.live.path
            if not target:
                raise ValidationError("No configuration file: start Hangar with --config or give config_path")
            text = await _read(target)
            try:
                if text is None:
                    raise ConfigError(f"cannot read config file {target}: no such file or not readable")
                cfg = parse_config(text, target)
            except ConfigError as exc:
                await self._record(
                    ConfigurationReloadFailed(config_path=target, trigger=trigger, error=exc.message), ctx
                )
                log.warning("config_reload_rejected", config_path=target, trigger=trigger, error=exc.message)
                raise
            result = await self._apply(cfg, ctx, graceful, trigger, target)
            self.refs = env_references(text)
            self.applied_digest = _digest(text)
            self.live.path = target
            return result

    async def reload_quietly(self, trigger: str) -> None:
        """A reload nobody waits for (signal): the outcome goes to the log and the events."""
        try:
            await self._bus.execute(ReloadConfig(trigger=trigger), SYSTEM)
        except HangarError as exc:
            log.error("config_reload_failed", trigger=trigger, error=exc.message)
        except Exception:
            log.exception("config_reload_crashed", trigger=trigger)

    async def _apply(
        self, cfg: HangarConfig, ctx: CommandContext, graceful: bool, trigger: str, path: str | None,
        record_if_unchanged: bool = True,
    ) -> ReloadResult:
        started = time.perf_counter()
        names = [sec.name for sec in self.sections]
        plans: dict[str, SectionPlan[Any]] = {}
        for sec in self.sections:
            plans[sec.name] = plan_section(
                sec.desired(cfg), sec.current(), self.projection.managed.get(sec.name, [])
            )
        errors: list[str] = []
        # Many providers take a while to apply: the log shows the course (throttled) and the end.
        work = sum(len(p.added) + len(p.changed) + len(p.removed) for p in plans.values())
        progress = Progress("config_apply", work, trigger=trigger) if work else None

        async def attempt(what: str, op: Awaitable[None]) -> None:
            outcome = "applied"
            try:
                await op
            except HangarError as exc:
                outcome = "failed"
                errors.append(f"{what}: {exc.message}")
                log.warning("config_apply_failed", item=what, error=exc.message)
            if progress is not None:
                progress.advance(outcome=outcome, item=what)

        for sec in self.sections:
            plan = plans[sec.name]
            for key, value in plan.added.items():
                await attempt(f"{sec.name}.{key}", sec.add(key, value, ctx))
            for key, value in plan.changed.items():
                await attempt(f"{sec.name}.{key}", sec.change(key, value, ctx, graceful))
        for sec in reversed(self.sections):
            for key in plans[sec.name].removed:
                await attempt(f"{sec.name}.{key}", sec.remove(key, ctx, graceful))

        if progress is not None:
            progress.finish()
        old = self.live.current
        restart = restart_required(old, cfg)
        cfg = effective(old, cfg)
        self.live.current = cfg
        for hook in self.settings_hooks:
            try:
                hook(cfg)
            except Exception:
                log.exception("config_settings_hook_failed")

        managed = {sec.name: sorted(sec.desired(cfg)) for sec in self.sections}
        added = {n: sorted(plans[n].added) for n in names}
        removed = {n: list(plans[n].removed) for n in names}
        changed = {n: sorted(plans[n].changed) for n in names}
        unchanged = {n: list(plans[n].unchanged) for n in names}
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        nothing = not any(added.values()) and not any(removed.values()) and not any(changed.values())
        if record_if_unchanged or not nothing or managed != self.projection.managed or errors:
            await self._record(ConfigurationReloaded(
                config_path=path, trigger=trigger, added=added, removed=removed, changed=changed,
                unchanged=unchanged, managed=managed, errors=errors, duration_ms=duration_ms,
            ), ctx)
        log.info("config_applied", trigger=trigger, config_path=path, added=added, removed=removed,
                 changed=changed, errors=len(errors))
        return ReloadResult(
            success=not errors, config_path=path, trigger=trigger, graceful=graceful,
            providers_added=added.get("providers", []), providers_removed=removed.get("providers", []),
            providers_updated=changed.get("providers", []), providers_unchanged=unchanged.get("providers", []),
            added=added or empty_lists(names), removed=removed, changed=changed, unchanged=unchanged,
            restart_required=restart, errors=errors, duration_ms=duration_ms,
        )

    async def _record(self, event: Event, ctx: CommandContext) -> None:
        meta = ctx.metadata(codec.new_id(), self._instance_id)
        _, position = await codec.append_one(self._store, CONFIG_STREAM, event, meta)
        await self._projector.wait_for(position)

    # --- watching the file --------------------------------------------------------------------

    def start_watching(self) -> None:
        self._watcher = asyncio.create_task(self._watch(), name="hangar-config-watch")

    async def stop_watching(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None

    async def _watch(self) -> None:
        """Poll the file: cheap, and unlike inotify it sees editors that replace the file."""
        while True:
            c = self.live.current.config
            await asyncio.sleep(c.watch_interval_s if c.watch else 1.0)
            path = self.live.path
            if not c.watch or not path:
                continue
            text = await _read(path)
            if text is None or _digest(text) == self.applied_digest or self._lock.locked():
                continue
            try:
                await self.reload(path, SYSTEM, graceful=True, trigger="watch")
            except HangarError as exc:
                # Remember the rejected content so it is reported once, not on every poll.
                self.applied_digest = _digest(text)
                log.error("config_watch_reload_failed", error=exc.message)
            except Exception:
                log.exception("config_watch_failed")


def opened_specs(providers: ProvidersProjection, secrets: SecretBox) -> dict[str, ProviderSpec]:
    out: dict[str, ProviderSpec] = {}
    for pid, v in providers.views.items():
        try:
            out[pid] = secrets.open_spec(v.spec)
        except HangarError:
            out[pid] = v.spec  # sealed with another key: compared and rendered sealed (still secret)
    return out


async def _read(path: str | None) -> str | None:
    """The file's text, read off the event loop; None when there is none to read."""
    if not path:
        return None
    try:
        return await asyncio.to_thread(Path(path).read_text)
    except OSError:
        return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
