"""Workloads are providers: ToolHive's run configuration mapped onto a ``ProviderSpec`` and back,
the status derived from the provider state, and the bulk operations (run in the background, each
workload's outcome recorded as a ``WorkloadOperationCompleted`` event)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from typing import Any

import msgspec
import structlog

from hangar.app import codec
from hangar.app.bus import CommandBus, CommandContext
from hangar.app.codec import EventMetadata
from hangar.app.groups import AddGroupMember, RemoveGroupMember
from hangar.app.lifecycle import StartProvider, StopProvider
from hangar.app.ports import EventStore
from hangar.app.progress import Progress
from hangar.app.projections.groups import GroupsProjection
from hangar.app.projections.providers import ProvidersProjection, ProviderView
from hangar.app.providers import DeregisterProvider, RegisterProvider, UpdateProvider
from hangar.app.secrets import is_sealed, secret_names
from hangar.domain.catalog import deploy_spec
from hangar.domain.catalog_events import CatalogEntryData
from hangar.domain.errors import GroupNotFoundError, HangarError, ProviderNotFoundError, ValidationError
from hangar.domain.group_events import GroupMember
from hangar.domain.provider_spec import ProviderSpec
from hangar.domain.toolhive_events import WorkloadOperationCompleted, WorkloadOperationStarted

log = structlog.get_logger("hangar.workloads")

DEFAULT_GROUP = "default"
SCHEMES = {"uvx://": ["uvx"], "npx://": ["npx", "-y"], "go://": ["go", "run"], "cmd://": []}
"""Protocol-scheme images run as local processes; ``cmd://`` (Hangar's) names an executable."""

STATUS = {"cold": "stopped", "initializing": "starting", "ready": "running", "degraded": "unhealthy", "dead": "error"}
RUNNING = frozenset({"running", "starting", "unhealthy"})


class SecretParameter(msgspec.Struct, kw_only=True):
    name: str
    target: str


class WorkloadRequest(msgspec.Struct, kw_only=True):
    """ToolHive's ``createRequest``/``updateRequest``; also accepts the exported ``RunConfig``
    names (``cmd_args``, ``remote_url``, ``secrets`` as ``name,target=ENV``) so an export can be
    posted back. Unknown fields are ignored, as ToolHive does."""

    name: str = ""
    image: str = ""
    url: str = ""
    remote_url: str = ""
    transport: str = ""
    cmd_arguments: list[str] | None = None
    cmd_args: list[str] | None = None
    env_vars: dict[str, str] = {}
    secrets: list[SecretParameter | str] = []
    group: str = ""
    volumes: list[str] = []
    tools: list[str] = []
    tools_filter: list[str] = []
    registry: str = ""
    server: str = ""

    def args(self) -> list[str]:
        return list(self.cmd_arguments if self.cmd_arguments is not None else self.cmd_args or [])

    def secret_env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for s in self.secrets:
            if isinstance(s, str):
                name, _, rest = s.partition(",")
                target = rest.removeprefix("target=")
                if not name or not rest.startswith("target=") or not target:
                    raise ValidationError(f"secret '{s}' is not '<name>,target=<ENV>'")
                out[target] = f"${{secret:{name}}}"
            else:
                out[s.target] = f"${{secret:{s.name}}}"
        return out


def to_spec(req: WorkloadRequest, base: ProviderSpec | None = None) -> ProviderSpec:
    remote = req.url or req.remote_url
    env = {**req.env_vars, **req.secret_env()}
    fields: dict[str, Any] = {"env": env, "volumes": list(req.volumes)}
    if remote:
        fields |= {"mode": "remote", "endpoint": remote, "command": None, "image": None}
    elif not req.image:
        raise ValidationError("one of 'image' or 'url' is required")
    else:
        scheme = next((s for s in SCHEMES if req.image.startswith(s)), None)
        if scheme is None:
            fields |= {"mode": "docker", "image": req.image, "command": req.args() or None, "endpoint": None}
        else:
            target = req.image[len(scheme):]
            if not target:
                raise ValidationError(f"image '{req.image}' names no package")
            fields |= {"mode": "subprocess", "command": [*SCHEMES[scheme], target, *req.args()],
                       "image": None, "endpoint": None}
    merged = (msgspec.structs.asdict(base) if base is not None else {}) | fields
    try:
        return msgspec.convert(merged, ProviderSpec)
    except msgspec.ValidationError as exc:
        raise ValidationError(str(exc)) from None


def image_of(spec: ProviderSpec) -> str:
    if spec.mode == "docker":
        return spec.image or ""
    if spec.mode == "subprocess" and spec.command:
        for scheme, prefix in SCHEMES.items():
            if prefix and spec.command[: len(prefix)] == prefix and len(spec.command) > len(prefix):
                return scheme + spec.command[len(prefix)]
        return "cmd://" + spec.command[0]
    return ""


def args_of(spec: ProviderSpec) -> list[str]:
    if spec.mode == "docker":
        return list(spec.command or [])
    if spec.mode != "subprocess" or not spec.command:
        return []
    image = image_of(spec)
    skip = 1 + len(next((p for s, p in SCHEMES.items() if image.startswith(s)), []))
    return list(spec.command[skip:])


def status_of(view: ProviderView) -> str:
    return STATUS.get(view.state, "unknown")


def group_of(provider_id: str, groups: GroupsProjection) -> str:
    """ToolHive's one group: the first Hangar group (by name) holding the provider."""
    names = sorted(groups.groups_of(provider_id))
    return names[0] if names else DEFAULT_GROUP


def plain_env(spec: ProviderSpec) -> tuple[dict[str, str], list[str]]:
    """(env without secret values, secret references as ``name,target=ENV``)."""
    from hangar.app.toolhive.secrets import REFERENCE

    names = secret_names(spec)
    env: dict[str, str] = {}
    refs: list[str] = []
    for k, v in spec.env.items():
        m = REFERENCE.fullmatch(v)
        if m:
            refs.append(f"{m.group(1)},target={k}")
        elif k not in names and not is_sealed(v):
            env[k] = v
    return env, refs


class BulkRequest(msgspec.Struct, kw_only=True):
    names: list[str] | None = None
    group: str | None = None


class Workloads:
    def __init__(
        self, bus: CommandBus, store: EventStore, providers: ProvidersProjection, groups: GroupsProjection,
        metadata: Callable[[CommandContext], EventMetadata],
        find_server: Callable[[str, str], CatalogEntryData | None] = lambda registry, server: None,
    ) -> None:
        self.find_server = find_server
        """A registry's server by name (``default`` is the catalog)."""
        self.bus = bus
        self.store = store
        self.providers = providers
        self.groups = groups
        self._meta = metadata
        self._tasks: set[asyncio.Task[None]] = set()

    def view(self, name: str) -> ProviderView:
        v = self.providers.get(name)
        if v is None:
            raise ProviderNotFoundError(name)
        return v

    def require_group(self, group: str, *, in_body: bool = False) -> None:
        """A group named in a body is a bad request (400); one in the path or query is 404."""
        if group and group != DEFAULT_GROUP and self.groups.get(group) is None:
            if in_body:
                raise ValidationError(f"group '{group}' does not exist")
            raise GroupNotFoundError(group)

    def members(self, group: str) -> list[str]:
        self.require_group(group)
        return sorted(pid for pid in self.providers.views if group_of(pid, self.groups) == group)

    async def create(self, req: WorkloadRequest, ctx: CommandContext) -> str:
        if not req.name:
            raise ValidationError("'name' is required")
        self.require_group(req.group, in_body=True)
        await self.bus.execute(RegisterProvider(provider_id=req.name, spec=self._spec(req)), ctx)
        await self._move(req.name, req.group or DEFAULT_GROUP, ctx)
        return req.name

    def _spec(self, req: WorkloadRequest) -> ProviderSpec:
        """From the request, or (``registry`` + ``server``, no image or url) from that registry's
        entry, the request's env and secrets over its defaults."""
        if not req.server or req.image or req.url or req.remote_url:
            return to_spec(req)
        entry = self.find_server(req.registry or DEFAULT_GROUP, req.server)
        if entry is None:
            raise ValidationError(f"server '{req.server}' not found in registry '{req.registry or 'default'}'")
        overrides: dict[str, Any] = {"volumes": list(req.volumes)} if req.volumes else {}
        if req.args():
            entry = msgspec.structs.replace(entry, args=req.args())
        return deploy_spec(entry, {**req.env_vars, **req.secret_env()}, overrides)

    async def edit(self, name: str, req: WorkloadRequest, ctx: CommandContext) -> None:
        current = self.view(name).spec
        self.require_group(req.group, in_body=True)
        spec = to_spec(req, current)
        if spec.mode != current.mode:
            raise ValidationError(f"workload '{name}' cannot change from {current.mode} to {spec.mode}")
        changes = {f: getattr(spec, f) for f in ("command", "image", "endpoint", "env", "volumes")}
        await self.bus.execute(UpdateProvider(provider_id=name, changes=changes), ctx)
        if req.group:
            await self._move(name, req.group, ctx)

    async def _move(self, name: str, group: str, ctx: CommandContext) -> None:
        """Keep the workload in exactly one ToolHive group."""
        for gid in sorted(self.groups.groups_of(name)):
            if gid != group:
                await self.bus.execute(RemoveGroupMember(group_id=gid, provider_id=name, missing_ok=True), ctx)
        if group != DEFAULT_GROUP and group not in self.groups.groups_of(name):
            await self.bus.execute(AddGroupMember(group_id=group, member=GroupMember(provider_id=name)), ctx)

    async def run(self, operation: str, name: str, ctx: CommandContext) -> None:
        if operation == "delete":
            await self.bus.execute(DeregisterProvider(provider_id=name), ctx)
            return
        await self.bus.execute(StopProvider(provider_id=name, reason="user_request"), ctx)
        if operation == "restart":
            await self.bus.execute(StartProvider(provider_id=name), ctx)

    # --- bulk ------------------------------------------------------------------------------------

    def targets(self, req: BulkRequest) -> list[str]:
        if (req.names is None) == (req.group is None):
            raise ValidationError("give exactly one of 'names' or 'group'")
        if req.group is not None:
            self.require_group(req.group, in_body=True)
            return self.members(req.group)
        unknown = [n for n in req.names or [] if self.providers.get(n) is None]
        if unknown:
            raise ValidationError(f"unknown workloads: {', '.join(unknown)}")
        if not req.names:
            raise ValidationError("'names' must not be empty")
        return list(dict.fromkeys(req.names))

    async def start_bulk(self, operation: str, names: list[str], ctx: CommandContext) -> str:
        """Record the start, run it in the background; returns the operation's id (carried by its
        outcome events)."""
        operation_id = uuid.uuid4().hex
        started = WorkloadOperationStarted(operation_id=operation_id, operation=operation, workloads=names)
        await codec.append_one(self.store, f"bulk-ops:{operation_id}", started, self._meta(ctx))
        task = asyncio.create_task(self._bulk(operation, names, ctx, operation_id), name=f"hangar-bulk-{operation}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return operation_id

    async def _bulk(self, operation: str, names: list[str], ctx: CommandContext, operation_id: str = "") -> None:
        progress = Progress(f"workloads_{operation}", len(names), operation_id=operation_id)

        async def one(name: str) -> None:
            outcome, error = "done", ""
            try:
                await self.run(operation, name, ctx)
            except HangarError as exc:
                outcome, error = "failed", exc.message
            progress.advance(outcome=outcome, workload=name)
            event = WorkloadOperationCompleted(workload=name, operation=operation, outcome=outcome, error=error,
                                               operation_id=operation_id, done=progress.done, total=len(names))
            await codec.append_one(self.store, f"workload-ops:{name}", event, self._meta(ctx))

        results = await asyncio.gather(*(one(n) for n in names), return_exceptions=True)
        for r in results:
            if isinstance(r, Exception):
                log.error("bulk_operation_failed", operation=operation, error=str(r))
        progress.finish()

    async def close(self) -> None:
        for t in list(self._tasks):
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(t), 10)
