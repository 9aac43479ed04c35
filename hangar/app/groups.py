"""Commands and handlers that define groups, the reactions that keep them consistent with their
members, and the wiring of the group module into the services."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec
import structlog

from hangar.app.bus import SYSTEM, CommandBus, CommandContext
from hangar.app.codec import EventMetadata, new_id
from hangar.app.group_invoke import GroupRouter
from hangar.app.ports import RecordedEvent
from hangar.app.projections.groups import GroupsProjection
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.repository import Repository, RepositoryFactory
from hangar.config.schema import GroupConfig, HangarConfig
from hangar.domain import events as ev
from hangar.domain.errors import AlreadyExistsError, HangarError, ProviderNotFoundError, ValidationError
from hangar.domain.event_base import Event
from hangar.domain.group import STREAM_PREFIX, Group, MemberStatus, check_group_id
from hangar.domain.group_events import GroupMember, GroupSpec

log = structlog.get_logger("hangar.groups")

GroupRepository = Repository[Group]
StatusesFn = Callable[[Iterable[str]], Mapping[str, MemberStatus]]


group_repository = RepositoryFactory("Group", STREAM_PREFIX, Group, Group.from_snapshot)


# --- commands ---------------------------------------------------------------------------------


class CreateGroup(msgspec.Struct, frozen=True, kw_only=True):
    group_id: str
    spec: GroupSpec
    upsert: bool = False
    """Create, or update when it exists with another definition (configuration)."""


class UpdateGroup(msgspec.Struct, frozen=True, kw_only=True):
    group_id: str
    changes: dict[str, Any]


class DeleteGroup(msgspec.Struct, frozen=True, kw_only=True):
    group_id: str


class AddGroupMember(msgspec.Struct, frozen=True, kw_only=True):
    group_id: str
    member: GroupMember
    upsert: bool = False


class RemoveGroupMember(msgspec.Struct, frozen=True, kw_only=True):
    group_id: str
    provider_id: str
    reason: str = "user_request"
    missing_ok: bool = False


class RefreshGroupState(msgspec.Struct, frozen=True, kw_only=True):
    group_id: str


def apply_changes(spec: GroupSpec, changes: Mapping[str, Any]) -> GroupSpec:
    unknown = set(changes) - set(GroupSpec.__struct_fields__)
    if unknown:
        raise ValidationError(f"Fields cannot be updated: {', '.join(sorted(unknown))}")
    try:
        return msgspec.convert(msgspec.structs.asdict(spec) | dict(changes), GroupSpec)
    except msgspec.ValidationError as exc:
        raise ValidationError(str(exc)) from None


class GroupCommands:
    def __init__(
        self, repo: GroupRepository, providers: ProvidersProjection, statuses: StatusesFn,
        forget: Callable[[str], None],
    ) -> None:
        self.repo = repo
        self._providers = providers
        self._statuses = statuses
        self._forget = forget

    def register_with(self, bus: CommandBus) -> None:
        bus.register(CreateGroup, self.create)
        bus.register(UpdateGroup, self.update)
        bus.register(DeleteGroup, self.delete)
        bus.register(AddGroupMember, self.add_member)
        bus.register(RemoveGroupMember, self.remove_member)
        bus.register(RefreshGroupState, self.refresh)

    def _member_statuses(self, g: Group, extra: str | None = None) -> Mapping[str, MemberStatus]:
        ids = [m.provider_id for m in g.members]
        return self._statuses([*ids, extra] if extra else ids)

    async def create(self, cmd: CreateGroup, ctx: CommandContext, meta: EventMetadata) -> bool:
        check_group_id(cmd.group_id)
        if self._providers.get(cmd.group_id) is not None:
            raise AlreadyExistsError(
                f"A provider named '{cmd.group_id}' exists: groups and providers share one namespace "
                "(MCP tools are named '{provider_or_group}.{tool}')"
            )

        def decide(g: Group) -> list[Event]:
            if cmd.upsert and g.exists:
                return g.update(cmd.spec, self._member_statuses(g))
            return g.create(cmd.spec)

        res = await self.repo.execute(cmd.group_id, decide, meta, if_match=ctx.if_match)
        return bool(res.events)

    async def update(self, cmd: UpdateGroup, ctx: CommandContext, meta: EventMetadata) -> int:
        res = await self.repo.execute(
            cmd.group_id,
            lambda g: g.update(apply_changes(g.spec, cmd.changes), self._member_statuses(g)),
            meta, if_match=ctx.if_match,
        )
        return res.aggregate.version

    async def delete(self, cmd: DeleteGroup, ctx: CommandContext, meta: EventMetadata) -> None:
        await self.repo.execute(cmd.group_id, lambda g: g.delete(), meta, if_match=ctx.if_match)
        self._forget(cmd.group_id)

    async def add_member(self, cmd: AddGroupMember, ctx: CommandContext, meta: EventMetadata) -> bool:
        # An unknown group answers before an unknown provider, whatever the body says.
        (await self.repo.load(cmd.group_id)).require()
        pid = cmd.member.provider_id
        if self._providers.get(pid) is None:
            raise ProviderNotFoundError(pid)
        res = await self.repo.execute(
            cmd.group_id,
            lambda g: g.add_member(cmd.member, self._member_statuses(g, pid), upsert=cmd.upsert),
            meta, if_match=ctx.if_match,
        )
        return bool(res.events)

    async def remove_member(self, cmd: RemoveGroupMember, ctx: CommandContext, meta: EventMetadata) -> bool:
        res = await self.repo.execute(
            cmd.group_id,
            lambda g: g.remove_member(cmd.provider_id, cmd.reason, self._member_statuses(g),
                                      missing_ok=cmd.missing_ok),
            meta, if_match=ctx.if_match,
        )
        return bool(res.events)

    async def refresh(self, cmd: RefreshGroupState, ctx: CommandContext, meta: EventMetadata) -> None:
        await self.repo.execute(cmd.group_id, lambda g: g.record_state(self._member_statuses(g)), meta)


# --- reactions --------------------------------------------------------------------------------

# Provider facts that can change a member's health, hence its group's state.
_HEALTH_EVENTS = (ev.ProviderStateChanged, ev.CircuitBreakerStateChanged, ev.ProviderRegistered)


class GroupReactions:
    """Projector listener: a deleted provider leaves its groups (``GroupMemberRemoved``, never a
    dangling reference), and a member's health change re-derives its groups' state.

    Listeners must not block, so work is queued and one task drains it with ordinary commands.
    """

    def __init__(self, bus: CommandBus, groups: GroupsProjection) -> None:
        self._bus = bus
        self._groups = groups
        self._removals: list[tuple[str, str]] = []
        self._dirty: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def __call__(self, rec: RecordedEvent, event: Event) -> None:
        if isinstance(event, ev.ProviderDeregistered):
            for gid in sorted(self._groups.groups_of(event.provider_id)):
                self._removals.append((gid, event.provider_id))
        elif isinstance(event, _HEALTH_EVENTS):
            self._dirty |= self._groups.groups_of(event.provider_id)
        else:
            return
        self._kick()

    def queue_removal(self, group_id: str, provider_id: str) -> None:
        self._removals.append((group_id, provider_id))
        self._kick()

    def mark(self, group_ids: Iterable[str]) -> None:
        self._dirty.update(group_ids)
        self._kick()

    def _kick(self) -> None:
        if self._closing or (not self._removals and not self._dirty):
            return
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain(), name="hangar-group-reactions")

    async def _drain(self) -> None:
        while self._removals or self._dirty:
            if self._removals:
                gid, pid = self._removals.pop(0)
                cmd: Any = RemoveGroupMember(group_id=gid, provider_id=pid, reason="provider_deleted",
                                             missing_ok=True)
            else:
                cmd = RefreshGroupState(group_id=self._dirty.pop())
            try:
                await self._bus.execute(cmd, SYSTEM)
            except HangarError as exc:
                log.debug("group_reaction_skipped", command=type(cmd).__name__, error=exc.message)
            except Exception:
                log.exception("group_reaction_failed", command=type(cmd).__name__)

    async def idle(self) -> None:
        """Wait until queued work is done (start-up sweep, tests)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# --- configuration ----------------------------------------------------------------------------


class GroupDecl(msgspec.Struct, frozen=True, kw_only=True):
    """A group as the configuration declares it: comparable with the running one."""

    spec: GroupSpec
    members: tuple[GroupMember, ...]


def group_decl(gc: GroupConfig) -> GroupDecl:
    spec = GroupSpec(
        strategy=gc.strategy, min_healthy=gc.min_healthy, description=gc.description,
        failure_threshold=gc.circuit_breaker.failure_threshold,
        reset_timeout_s=gc.circuit_breaker.reset_timeout_s,
    )
    members = tuple(GroupMember(provider_id=m.id, weight=m.weight, priority=m.priority) for m in gc.members)
    return GroupDecl(spec=spec, members=members)


def config_entry(decl: GroupDecl) -> dict[str, Any]:
    """A group in its config-file shape (export, diff)."""
    s = decl.spec
    entry: dict[str, Any] = {"strategy": s.strategy, "min_healthy": s.min_healthy}
    if s.description is not None:
        entry["description"] = s.description
    breaker = {k: v for k, v in (("failure_threshold", s.failure_threshold),
                                 ("reset_timeout_s", s.reset_timeout_s)) if v is not None}
    if breaker:
        entry["circuit_breaker"] = breaker
    entry["members"] = [{"id": m.provider_id, "weight": m.weight, "priority": m.priority} for m in decl.members]
    return entry


class GroupsSection:
    """The ``groups:`` section for the configuration sync (add, change, remove as commands).

    Config-declared members are authoritative for a config-declared group: a change adds,
    updates and removes members to match the file."""

    name = "groups"

    def __init__(self, bus: CommandBus, groups: GroupsProjection) -> None:
        self._bus = bus
        self._groups = groups

    def desired(self, cfg: HangarConfig) -> dict[str, Any]:
        return {name: group_decl(gc) for name, gc in cfg.groups.items()}

    def current(self) -> dict[str, Any]:
        return {gid: GroupDecl(spec=v.spec, members=tuple(v.members)) for gid, v in self._groups.views.items()}

    def export(self) -> dict[str, Any]:
        return {gid: config_entry(d) for gid, d in self.current().items()}

    def declared(self, cfg: HangarConfig) -> dict[str, Any]:
        return {gid: config_entry(d) for gid, d in self.desired(cfg).items()}

    async def add(self, key: str, value: Any, ctx: CommandContext) -> None:
        await self.change(key, value, ctx, graceful=False)

    async def change(self, key: str, value: Any, ctx: CommandContext, graceful: bool) -> None:
        decl: GroupDecl = value
        await self._bus.execute(CreateGroup(group_id=key, spec=decl.spec, upsert=True), ctx)
        wanted = {m.provider_id for m in decl.members}
        view = self._groups.get(key)
        for m in list(view.members if view else []):
            if m.provider_id not in wanted:
                await self._bus.execute(RemoveGroupMember(group_id=key, provider_id=m.provider_id,
                                                          reason="configuration", missing_ok=True), ctx)
        for member in decl.members:
            try:
                await self._bus.execute(AddGroupMember(group_id=key, member=member, upsert=True), ctx)
            except ProviderNotFoundError:
                # A member may be a provider created later through the API: skip it, loudly.
                log.error("config_group_member_missing", group_id=key, provider_id=member.provider_id)

    async def remove(self, key: str, ctx: CommandContext, graceful: bool) -> None:
        await self._bus.execute(DeleteGroup(group_id=key), ctx)


# --- start-up -------------------------------------------------------------------------------


class GroupStartup:
    """What groups need once the log is replayed and the providers reconciled."""

    def __init__(
        self, repo: GroupRepository, projection: GroupsProjection, providers: ProvidersProjection,
        router: GroupRouter, reactions: GroupReactions, instance_id: str,
    ) -> None:
        self.repo = repo
        self.projection = projection
        self.providers = providers
        self.router = router
        self.reactions = reactions
        self._instance_id = instance_id

    async def reconcile_after_restart(self) -> None:
        """Breakers are runtime state: an open breaker in the log did not survive the restart."""
        for gid, view in list(self.projection.views.items()):
            if view.breaker_state != "closed":
                await self.repo.execute(
                    gid, lambda g: g.record_circuit("closed", reason="hangar_restart"),
                    SYSTEM.metadata(new_id(), self._instance_id),
                )

    async def sweep(self) -> None:
        """Providers deleted while Hangar was down (or between the deletion and its reaction)
        leave their groups; every group's state is re-derived. Needs the reactions listening."""
        for gid, view in list(self.projection.views.items()):
            for m in view.members:
                if self.providers.get(m.provider_id) is None:
                    self.reactions.queue_removal(gid, m.provider_id)
        self.reactions.mark(list(self.projection.views))
        await self.reactions.idle()

    def warm(self, cfg: HangarConfig) -> None:
        """Start the members of ``auto_start`` groups in the background."""
        for gc in cfg.groups.values():
            if gc.auto_start:
                for m in gc.members:
                    self.router.warm(m.id)

    async def close(self) -> None:
        await self.reactions.close()
        await self.router.close()
