"""Definitions as YAML files: export one file per provider, group, catalog entry and skill,
and import such files back with a strategy.

Layout (relative paths): ``providers/{id}.yaml``, ``groups/{id}.yaml``,
``catalog/{slug}.yaml`` and ``skills/{namespace}/{name}/{version}.yaml``, each
``{kind, id, spec}``. Secret values are written as ``${secret:NAME}``; on import such a
placeholder keeps the secret the resource already holds, or takes the server's environment
variable ``NAME`` for a new one.

Import is all or nothing at the planning stage: every file is parsed and checked first, and a
single problem (named by file and key) rejects the whole import before any command runs. Then
each change is an ordinary command through the bus; an unchanged resource runs none, so
importing the same files again appends no event.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

import msgspec
import yaml

from hangar.app.bus import CommandBus, CommandContext
from hangar.app.catalog import AddCatalogEntry, ImportCatalog
from hangar.app.groups import AddGroupMember, CreateGroup, RemoveGroupMember
from hangar.app.progress import Progress
from hangar.app.projections.catalog import CatalogProjection
from hangar.app.projections.groups import GroupsProjection
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.providers import RegisterProvider
from hangar.app.secrets import is_sealed, looks_secret, secret_names
from hangar.app.skills import DeleteSkillVersion, PublishSkill, SkillsProjection
from hangar.domain.catalog import check_entry
from hangar.domain.catalog_events import CatalogEntryData
from hangar.domain.errors import HangarError, ValidationError
from hangar.domain.group_events import GroupMember, GroupSpec
from hangar.domain.provider_spec import ProviderSpec, check_provider_id, check_spec
from hangar.domain.skills import DEFAULT_REGISTRY, SkillValidationError, parse_skill

Strategy = Literal["seed_only", "overwrite_conflicts"]
STRATEGIES = ("seed_only", "overwrite_conflicts")
KINDS = ("provider", "group", "catalog_entry", "skill")
_PLACEHOLDER = re.compile(r"^\$\{secret:([A-Za-z_][A-Za-z0-9_]*)\}$")
MAX_FILES = 5000
MAX_FILE_BYTES = 1024 * 1024


def placeholder(name: str) -> str:
    return "${secret:" + name + "}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "entry"


def _dump(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


# --- export -------------------------------------------------------------------------------------


def provider_doc(pid: str, spec: ProviderSpec) -> dict[str, Any]:
    secret = secret_names(spec)
    body: dict[str, Any] = msgspec.to_builtins(spec)
    body["env"] = {k: placeholder(k) if k in secret or is_sealed(v) else v for k, v in spec.env.items()}
    return {"kind": "provider", "id": pid, "spec": body}


def group_doc(gid: str, spec: GroupSpec, members: list[GroupMember]) -> dict[str, Any]:
    return {"kind": "group", "id": gid, "spec": {**msgspec.to_builtins(spec),
                                                   "members": msgspec.to_builtins(members)}}


def catalog_doc(e: CatalogEntryData) -> dict[str, Any]:
    secret = {v.name for v in e.env_vars if v.secret}
    body: dict[str, Any] = msgspec.to_builtins(e)
    body["env"] = {k: placeholder(k) if k in secret or looks_secret(k) else v for k, v in e.env.items()}
    body["env_vars"] = [{**v, "default": None} if v["secret"] else v for v in body["env_vars"]]
    return {"kind": "catalog_entry", "id": e.name, "spec": body}


def export_files(providers: ProvidersProjection, groups: GroupsProjection, catalog: CatalogProjection,
                 skills: SkillsProjection) -> dict[str, str]:
    """Relative path → YAML text, one file per resource."""
    files: dict[str, str] = {}
    for pid, pv in sorted(providers.views.items()):
        files[f"providers/{pid}.yaml"] = _dump(provider_doc(pid, pv.spec))
    for gid, gv in sorted(groups.views.items()):
        files[f"groups/{gid}.yaml"] = _dump(group_doc(gid, gv.spec, list(gv.members)))
    for v in catalog.search():
        path = f"catalog/{_slug(v.entry.name)}.yaml"
        n = 2
        while path in files:
            path, n = f"catalog/{_slug(v.entry.name)}-{n}.yaml", n + 1
        files[path] = _dump(catalog_doc(v.entry))
    for (ns, name) in skills.keys.get(DEFAULT_REGISTRY, []):
        for s in skills.all_versions(DEFAULT_REGISTRY, ns, name):
            files[f"skills/{ns}/{name}/{_slug(s.version)}.yaml"] = _dump(
                {"kind": "skill", "id": f"{ns}/{name}@{s.version}", "spec": msgspec.to_builtins(s)})
    return files


# --- import: planning (pure checks, nothing applied) -------------------------------------------


class Planned(msgspec.Struct, kw_only=True):
    kind: str
    id: str
    status: str
    """created, updated (under overwrite_conflicts), unchanged or conflicting."""
    apply: Any = None
    """What to run: a list of commands (empty for unchanged/conflicting under seed_only)."""
    path: str = ""


class ImportReport(msgspec.Struct, kw_only=True):
    strategy: str
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    conflicting: list[str]


class Problems(Exception):
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, key: str, message: str) -> None:
        self.items.append(f"{path}: {key}: {message}" if key else f"{path}: {message}")


def _msgspec_key(exc: msgspec.ValidationError) -> tuple[str, str]:
    """msgspec says '... - at `$.spec.mode`'; name the key the way a YAML author reads it."""
    text = str(exc)
    m = re.search(r" - at `\$\.?(.*)`$", text)
    return ("spec." + m.group(1) if m and m.group(1) else "spec"), (text[:m.start()] if m else text)


def _unknown_keys(spec: dict[str, Any], struct: type[msgspec.Struct], path: str, problems: Problems) -> bool:
    unknown = sorted(str(k) for k in spec if k not in struct.__struct_fields__)
    for k in unknown:
        problems.add(path, f"spec.{k}", "unknown key")
    return bool(unknown)


class Importer:
    def __init__(self, bus: CommandBus, providers: ProvidersProjection, groups: GroupsProjection,
                 catalog: CatalogProjection, skills: SkillsProjection,
                 environ: Callable[[], Mapping[str, str]] = lambda: os.environ) -> None:
        self.bus = bus
        self.providers = providers
        self.groups = groups
        self.catalog = catalog
        self.skills = skills
        self.environ = environ

    def plan(self, files: Mapping[str, str], strategy: str) -> list[Planned]:
        if strategy not in STRATEGIES:
            raise ValidationError(f"strategy must be one of {', '.join(STRATEGIES)}")
        if len(files) > MAX_FILES:
            raise ValidationError(f"at most {MAX_FILES} files per import")
        problems = Problems()
        plans: list[Planned] = []
        seen: dict[tuple[str, str], str] = {}
        for path in sorted(files):
            text = files[path]
            if not path.endswith((".yaml", ".yml")):
                continue
            if len(text) > MAX_FILE_BYTES:
                problems.add(path, "", f"larger than {MAX_FILE_BYTES} bytes")
                continue
            try:
                doc = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f"line {mark.line + 1}" if mark is not None else ""
                problems.add(path, where, f"not valid YAML: {getattr(exc, 'problem', None) or exc}")
                continue
            if not isinstance(doc, dict):
                problems.add(path, "", "must hold a mapping with 'kind', 'id' and 'spec'")
                continue
            unknown = sorted(set(doc) - {"kind", "id", "spec"})
            if unknown:
                problems.add(path, unknown[0], "unknown key (expected kind, id, spec)")
            kind, rid, spec = doc.get("kind"), doc.get("id"), doc.get("spec")
            if kind not in KINDS:
                problems.add(path, "kind", f"must be one of {', '.join(KINDS)}")
                continue
            if not isinstance(rid, str) or not rid:
                problems.add(path, "id", "required (a non-empty string)")
                continue
            if not isinstance(spec, dict):
                problems.add(path, "spec", "required (a mapping)")
                continue
            if (kind, rid) in seen:
                problems.add(path, "id", f"{kind} '{rid}' is also defined in {seen[(kind, rid)]}")
                continue
            seen[(kind, rid)] = path
            try:
                planner = {"provider": self._provider, "group": self._group,
                           "catalog_entry": self._catalog, "skill": self._skill}[kind]
                planned = planner(rid, spec, strategy, path, problems)
                planned.path = path
                plans.append(planned)
            except HangarError as exc:
                problems.add(path, "spec", exc.message)
        self._check_members(plans, files, problems)
        if problems.items:
            raise ValidationError("import rejected, nothing applied: " + "; ".join(problems.items))
        return plans

    def _resolve(self, path: str, env: dict[str, str], old: Mapping[str, str], problems: Problems,
                 where: str) -> dict[str, str]:
        out = {}
        for k, v in env.items():
            m = _PLACEHOLDER.match(v) if isinstance(v, str) else None
            if m is None:
                out[k] = v
            elif k in old:
                out[k] = old[k]
            elif m.group(1) in self.environ():
                out[k] = self.environ()[m.group(1)]
            else:
                problems.add(path, f"{where}.{k}",
                             f"{v} has no value: the resource does not hold it and the server has no "
                             f"environment variable {m.group(1)}")
        return out

    def _decide(self, kind: str, rid: str, exists: bool, same: bool, strategy: str,
                create: list[Any], overwrite: list[Any]) -> Planned:
        ident = f"{kind}:{rid}"
        if not exists:
            return Planned(kind=kind, id=ident, status="created", apply=create)
        if same:
            return Planned(kind=kind, id=ident, status="unchanged", apply=[])
        if strategy == "seed_only":
            return Planned(kind=kind, id=ident, status="conflicting", apply=[])
        return Planned(kind=kind, id=ident, status="updated", apply=overwrite)

    def _provider(self, rid: str, spec: dict[str, Any], strategy: str, path: str, problems: Problems) -> Planned:
        try:
            check_provider_id(rid)
        except ValidationError as exc:
            problems.add(path, "id", exc.message)
        current = self.providers.get(rid)
        if _unknown_keys(spec, ProviderSpec, path, problems):
            return Planned(kind="provider", id=rid, status="invalid")
        try:
            parsed = msgspec.convert(spec, ProviderSpec)
        except msgspec.ValidationError as exc:
            key, msg = _msgspec_key(exc)
            problems.add(path, key, msg)
            return Planned(kind="provider", id=rid, status="invalid")
        check_spec(parsed)
        same = current is not None and provider_doc(rid, current.spec)["spec"] == provider_doc(rid, parsed)["spec"]
        env = self._resolve(path, parsed.env, current.spec.env if current else {}, problems, "spec.env")
        final = msgspec.structs.replace(parsed, env=env)
        return self._decide("provider", rid, current is not None, same, strategy,
                            [RegisterProvider(provider_id=rid, spec=final)],
                            [RegisterProvider(provider_id=rid, spec=final, upsert=True)])

    def _group(self, rid: str, spec: dict[str, Any], strategy: str, path: str, problems: Problems) -> Planned:
        body = dict(spec)
        raw_members = body.pop("members", [])
        if _unknown_keys(body, GroupSpec, path, problems):
            return Planned(kind="group", id=rid, status="invalid")
        try:
            gspec = msgspec.convert(body, GroupSpec)
            members = msgspec.convert(raw_members, list[GroupMember])
        except msgspec.ValidationError as exc:
            key, msg = _msgspec_key(exc)
            problems.add(path, key, msg)
            return Planned(kind="group", id=rid, status="invalid")
        current = self.groups.get(rid)
        same = current is not None and current.spec == gspec and sorted(
            current.members, key=lambda m: m.provider_id) == sorted(members, key=lambda m: m.provider_id)
        cmds: list[Any] = [CreateGroup(group_id=rid, spec=gspec, upsert=True)]
        cmds += [AddGroupMember(group_id=rid, member=m, upsert=True) for m in members]
        wanted = {m.provider_id for m in members}
        if current is not None:
            cmds += [RemoveGroupMember(group_id=rid, provider_id=m.provider_id, missing_ok=True)
                     for m in current.members if m.provider_id not in wanted]
        return self._decide("group", rid, current is not None, same, strategy, cmds, cmds)

    def _catalog(self, rid: str, spec: dict[str, Any], strategy: str, path: str, problems: Problems) -> Planned:
        if _unknown_keys(spec, CatalogEntryData, path, problems):
            return Planned(kind="catalog_entry", id=rid, status="invalid")
        try:
            entry = msgspec.convert({**spec, "name": spec.get("name", rid)}, CatalogEntryData)
        except msgspec.ValidationError as exc:
            key, msg = _msgspec_key(exc)
            problems.add(path, key, msg)
            return Planned(kind="catalog_entry", id=rid, status="invalid")
        if entry.name != rid:
            problems.add(path, "spec.name", f"'{entry.name}' differs from id '{rid}'")
        check_entry(entry)
        eid = self.catalog.by_name.get(rid)
        current = self.catalog.get(eid) if eid else None
        same = current is not None and catalog_doc(current.entry)["spec"] == catalog_doc(entry)["spec"]
        env = self._resolve(path, entry.env, current.entry.env if current else {}, problems, "spec.env")
        final = msgspec.structs.replace(entry, env=env)
        return self._decide("catalog_entry", rid, current is not None, same, strategy,
                            [AddCatalogEntry(entry=final)],
                            [ImportCatalog(entries=[final], format="hangar", overwrite=True)])

    def _skill(self, rid: str, spec: dict[str, Any], strategy: str, path: str, problems: Problems) -> Planned:
        try:
            skill = parse_skill(spec)
        except SkillValidationError as exc:
            problems.add(path, "spec", exc.message)
            return Planned(kind="skill", id=rid, status="invalid")
        expected = f"{skill.namespace}/{skill.name}@{skill.version}"
        if rid != expected:
            problems.add(path, "id", f"'{rid}' differs from the skill's '{expected}'")
        current = self.skills.versions_of(DEFAULT_REGISTRY, skill.namespace, skill.name).get(skill.version)
        delete = DeleteSkillVersion(registry=DEFAULT_REGISTRY, namespace=skill.namespace, name=skill.name,
                                    version=skill.version)
        publish = PublishSkill(registry=DEFAULT_REGISTRY, skill=skill)
        return self._decide("skill", rid, current is not None, current == skill, strategy, [publish],
                            [delete, publish])

    def _check_members(self, plans: list[Planned], files: Mapping[str, str], problems: Problems) -> None:
        """A group may name providers that exist or that this import creates."""
        created = {p.id.split(":", 1)[1] for p in plans if p.kind == "provider" and p.status != "invalid"}
        for p in plans:
            for cmd in p.apply or []:
                if isinstance(cmd, AddGroupMember):
                    pid = cmd.member.provider_id
                    if pid not in created and self.providers.get(pid) is None:
                        problems.add(p.path, "spec.members",
                                     f"provider '{pid}' neither exists nor is imported")

    async def apply(self, plans: list[Planned], strategy: str, ctx: CommandContext) -> ImportReport:
        order = {k: i for i, k in enumerate(KINDS)}  # providers before the groups naming them
        ordered = sorted(plans, key=lambda p: (order[p.kind], p.id))
        progress = Progress("definitions_import", len(ordered), strategy=strategy)
        for p in ordered:
            for cmd in p.apply or []:
                await self.bus.execute(cmd, ctx)
            progress.advance(outcome=p.status)
        progress.finish()
        by = {s: [p.id for p in ordered if p.status == s] for s in ("created", "updated", "unchanged", "conflicting")}
        return ImportReport(strategy=strategy, **by)
