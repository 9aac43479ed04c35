"""The skills registry: commands that publish, delete and mirror skills, and its read model.

A skill version is published to a ``Skill`` stream (``skill:{registry}/{namespace}/{name}``);
a registry other than ``default`` comes to exist by mirroring an imported document, recorded on
``skillregistry:{name}``. Whether a registry accepts publishing is the ``SkillRegistry``
aggregate's rule; the handlers only load, decide and append.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any

import msgspec

from hangar.app.bus import CommandBus, CommandContext
from hangar.app.codec import EventMetadata
from hangar.app.ports import EventStore, RecordedEvent, Snapshot
from hangar.app.repository import Repository
from hangar.domain import skill_events as se
from hangar.domain.event_base import Event
from hangar.domain.skill_events import SkillData
from hangar.domain.skills import (
    DEFAULT_REGISTRY,
    REGISTRY_STREAM,
    SKILL_STREAM,
    RegistrySnapshot,
    Skill,
    SkillRegistry,
    SkillSnapshot,
    latest_of,
    newest_first,
    skill_id,
)

SkillKey = tuple[str, str]
"""(namespace, name): a skill's identity inside one registry, and its list order."""


class PublishSkill(msgspec.Struct, frozen=True, kw_only=True):
    registry: str
    skill: SkillData


class DeleteSkillVersion(msgspec.Struct, frozen=True, kw_only=True):
    registry: str
    namespace: str
    name: str
    version: str


class MirrorSkills(msgspec.Struct, frozen=True, kw_only=True):
    """Make ``registry`` a read-only mirror holding exactly ``skills``."""

    registry: str
    source: str
    skills: list[SkillData]


class MirrorResult(msgspec.Struct):
    registry: str
    published: int
    deleted: int
    unchanged: int


class SkillsProjection:
    """Every registry's skills, versions by number; keys kept sorted for cursor paging."""

    def __init__(self) -> None:
        self.mirrors: dict[str, str] = {}
        self.skills: dict[str, dict[SkillKey, dict[str, SkillData]]] = {}
        self.keys: dict[str, list[SkillKey]] = {}
        self.versions: dict[str, int] = {}
        """Stream version per skill id: its ETag."""

    def registry_exists(self, registry: str) -> bool:
        return registry == DEFAULT_REGISTRY or registry in self.mirrors

    def versions_of(self, registry: str, namespace: str, name: str) -> dict[str, SkillData]:
        return self.skills.get(registry, {}).get((namespace, name), {})

    def latest(self, registry: str, namespace: str, name: str) -> SkillData | None:
        return latest_of(self.versions_of(registry, namespace, name))

    def all_versions(self, registry: str, namespace: str, name: str) -> list[SkillData]:
        return newest_first(self.versions_of(registry, namespace, name))

    def listing(self, registry: str, search: str | None, status: str | None) -> list[SkillData]:
        """The representative version of each skill in key order: its latest, or for a skill
        whose every version is archived its highest (shown only when asking for archived)."""
        needle = (search or "").strip().lower()
        out = []
        by_key = self.skills.get(registry, {})
        for key in self.keys.get(registry, []):
            versions = by_key[key]
            rep = latest_of(versions) or newest_first(versions)[0]
            if status is None and rep.status == "archived":
                continue
            if status is not None and rep.status != status:
                continue
            if needle and not any(needle in (f or "").lower() for f in (rep.name, rep.title, rep.description)):
                continue
            out.append(rep)
        return out

    def apply(self, rec: RecordedEvent, event: Event) -> None:
        match event:
            case se.SkillVersionPublished(registry=reg, skill=skill):
                key = (skill.namespace, skill.name)
                by_key = self.skills.setdefault(reg, {})
                if key not in by_key:
                    bisect.insort(self.keys.setdefault(reg, []), key)
                by_key.setdefault(key, {})[skill.version] = skill
                self.versions[skill_id(reg, *key)] = rec.stream_version
            case se.SkillVersionDeleted(registry=reg, namespace=ns, name=name, version=version):
                key = (ns, name)
                versions = self.skills.get(reg, {}).get(key)
                if versions is not None:
                    versions.pop(version, None)
                    if not versions:
                        del self.skills[reg][key]
                        keys = self.keys[reg]
                        del keys[bisect.bisect_left(keys, key)]
                self.versions[skill_id(reg, *key)] = rec.stream_version
            case se.SkillRegistryMirrored(registry=reg, source=source):
                self.mirrors[reg] = source
            case _:
                pass

    def seed(self, snap: Snapshot) -> None:
        """A compacted stream starts from its snapshot (see ``Projector``)."""
        if snap.stream_id.startswith(SKILL_STREAM):
            reg, ns, name = snap.stream_id[len(SKILL_STREAM):].split("/", 2)
            versions = msgspec.json.decode(snap.state, type=SkillSnapshot).versions
            if versions:
                if (ns, name) not in self.skills.setdefault(reg, {}):
                    bisect.insort(self.keys.setdefault(reg, []), (ns, name))
                self.skills[reg][(ns, name)] = dict(versions)
            self.versions[snap.stream_id[len(SKILL_STREAM):]] = snap.version
        elif snap.stream_id.startswith(REGISTRY_STREAM):
            mirror_of = msgspec.json.decode(snap.state, type=RegistrySnapshot).mirror_of
            if mirror_of is not None:
                self.mirrors[snap.stream_id[len(REGISTRY_STREAM):]] = mirror_of

    def dump(self) -> Any:
        return {
            "mirrors": dict(sorted(self.mirrors.items())),
            "skills": {reg: {f"{k[0]}/{k[1]}": {v: msgspec.to_builtins(s) for v, s in sorted(vs.items())}
                             for k, vs in sorted(by_key.items())}
                       for reg, by_key in sorted(self.skills.items())},
        }


class SkillsRegistry:
    def __init__(self, skills: Repository[Skill], registries: Repository[SkillRegistry],
                 view: SkillsProjection) -> None:
        self.skills = skills
        self.registries = registries
        self.view = view

    def register_with(self, bus: CommandBus) -> None:
        bus.register(PublishSkill, self.publish)
        bus.register(DeleteSkillVersion, self.delete)
        bus.register(MirrorSkills, self.mirror, multi_step=True)

    async def publish(self, cmd: PublishSkill, ctx: CommandContext, meta: EventMetadata) -> SkillData:
        (await self.registries.load(cmd.registry)).require_managed()
        sid = skill_id(cmd.registry, cmd.skill.namespace, cmd.skill.name)
        await self.skills.execute(sid, lambda s: s.publish(cmd.registry, cmd.skill), meta)
        return cmd.skill

    async def delete(self, cmd: DeleteSkillVersion, ctx: CommandContext, meta: EventMetadata) -> None:
        (await self.registries.load(cmd.registry)).require_managed()
        sid = skill_id(cmd.registry, cmd.namespace, cmd.name)
        await self.skills.execute(sid, lambda s: s.delete(cmd.registry, cmd.version), meta,
                                  if_match=ctx.if_match)

    async def mirror(self, cmd: MirrorSkills, ctx: CommandContext, meta: EventMetadata) -> MirrorResult:
        await self.registries.execute(cmd.registry, lambda r: r.mirror(cmd.source), meta)
        wanted: dict[SkillKey, dict[str, SkillData]] = {}
        for s in cmd.skills:
            wanted.setdefault((s.namespace, s.name), {})[s.version] = s
        published = deleted = unchanged = 0
        for key in sorted(set(wanted) | set(self.view.skills.get(cmd.registry, {}))):
            have = dict(self.view.versions_of(cmd.registry, *key))  # the view changes as we append
            want = wanted.get(key, {})
            sid = skill_id(cmd.registry, *key)
            for version, skill in have.items():
                if want.get(version) != skill:
                    await self.skills.execute(sid, lambda a, v=version: a.delete(cmd.registry, v), meta)  # type: ignore[misc]
                    deleted += 1
            for version, skill in want.items():
                if have.get(version) == skill:
                    unchanged += 1
                    continue
                await self.skills.execute(sid, lambda a, s=skill: a.publish(cmd.registry, s), meta)  # type: ignore[misc]
                published += 1
        return MirrorResult(cmd.registry, published, deleted, unchanged)


def skills_registry(
    store: EventStore, wait_for: Callable[[int], Any], view: SkillsProjection, snapshot_every: int = 100,
) -> SkillsRegistry:
    skills: Repository[Skill] = Repository(
        store, wait_for, kind="Skill", stream_prefix=SKILL_STREAM, new=Skill,
        from_snapshot=Skill.from_snapshot, snapshot_every=snapshot_every,
    )
    registries: Repository[SkillRegistry] = Repository(
        store, wait_for, kind="SkillRegistry", stream_prefix=REGISTRY_STREAM, new=SkillRegistry,
        from_snapshot=SkillRegistry.from_snapshot, snapshot_every=snapshot_every,
    )
    return SkillsRegistry(skills, registries, view)
