"""The skills registry's rules: what a publishable skill is, and the ``Skill`` and
``SkillRegistry`` aggregates. Pure: no I/O.

A ``Skill`` is one ``namespace/name`` in one registry; each published version is an event and a
deleted version is an event, so ``latest`` (the highest semantic version that is not
``archived``) is always derived, never stored. A registry is ``managed`` (publish and delete
allowed) unless it mirrors an imported document, which makes it read-only.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from hangar.domain import semver
from hangar.domain import skill_events as se
from hangar.domain.errors import AlreadyExistsError, HangarError, NotFoundError
from hangar.domain.event_base import Event
from hangar.domain.skill_events import SkillData

DEFAULT_REGISTRY = "default"
SKILL_STREAM = "skill:"
REGISTRY_STREAM = "skillregistry:"
STATUSES = ("active", "deprecated", "archived")
PACKAGE_TYPES = ("oci", "git")
REQUIRED = ("namespace", "name", "description", "version")
STRING_FIELDS = ("title", "license", "compatibility")

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_NAMESPACE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})+$")
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_REGISTRY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


class SkillValidationError(HangarError):
    """A skill or a query the registry refuses; the message lists every problem found."""

    status_code = 400


class SkillNotFoundError(NotFoundError):
    pass


class SkillRegistryNotFoundError(NotFoundError):
    def __init__(self, registry: str) -> None:
        super().__init__(f"Registry '{registry}' not found")


class RegistryNotManagedError(HangarError):
    status_code = 403

    def __init__(self, registry: str) -> None:
        super().__init__(f"Registry '{registry}' is not a managed registry")


class SkillVersionExistsError(AlreadyExistsError):
    pass


def check_registry_name(name: str) -> None:
    if not _REGISTRY_NAME.match(name):
        raise SkillValidationError(f"registry name '{name}' must be 1-63 letters, digits, '.', '_' or '-'")


def skill_id(registry: str, namespace: str, name: str) -> str:
    return f"{registry}/{namespace}/{name}"


def _problems_of_package(i: int, pkg: Any) -> list[str]:
    where = f"packages[{i}]"
    if not isinstance(pkg, dict):
        return [f"{where}: must be an object"]
    kind = pkg.get("registryType")
    if kind not in PACKAGE_TYPES:
        return [f"{where}.registryType: must be one of {', '.join(PACKAGE_TYPES)}"]
    out = []
    required = "identifier" if kind == "oci" else "url"
    if not isinstance(pkg.get(required), str) or not pkg[required].strip():
        out.append(f"{where}.{required}: required for a {kind} package")
    allowed = ("registryType", "identifier", "digest", "mediaType") if kind == "oci" else (
        "registryType", "url", "ref", "commit", "subfolder")
    for key, value in pkg.items():
        if key not in allowed:
            out.append(f"{where}.{key}: not a field of a {kind} package")
        elif key != required and not isinstance(value, str):
            out.append(f"{where}.{key}: must be a string")
    return out


def _problems_of_optional(doc: dict[str, Any]) -> list[str]:
    out = []
    for key in STRING_FIELDS:
        if key in doc and not isinstance(doc[key], str):
            out.append(f"{key}: must be a string")
    if "status" in doc and doc["status"] not in STATUSES:
        out.append(f"status: must be one of {', '.join(STATUSES)}")
    tools = doc.get("allowedTools")
    if "allowedTools" in doc and not (isinstance(tools, list) and all(isinstance(t, str) for t in tools)):
        out.append("allowedTools: must be a list of strings")
    repo = doc.get("repository")
    if "repository" in doc and not (isinstance(repo, dict) and isinstance(repo.get("url"), str) and repo["url"]):
        out.append("repository: must be an object with a 'url'")
    icons = doc.get("icons")
    if "icons" in doc:
        if not isinstance(icons, list):
            out.append("icons: must be a list")
        else:
            out += [f"icons[{i}]: must be an object with a 'src'" for i, icon in enumerate(icons)
                    if not (isinstance(icon, dict) and isinstance(icon.get("src"), str) and icon["src"])]
    packages = doc.get("packages")
    if "packages" in doc:
        if not isinstance(packages, list):
            out.append("packages: must be a list")
        else:
            for i, pkg in enumerate(packages):
                out += _problems_of_package(i, pkg)
    for key in ("metadata", "_meta"):
        if key in doc and not isinstance(doc[key], dict):
            out.append(f"{key}: must be an object")
    return out


def skill_problems(doc: Any) -> list[str]:
    """Every reason ``doc`` cannot be published, in field order (empty when it can)."""
    if not isinstance(doc, dict):
        return ["the body must be a JSON object"]
    out = []
    for key in REQUIRED:
        value = doc.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            out.append(f"{key}: required")
        elif not isinstance(value, str):
            out.append(f"{key}: must be a string")
    ns, name, version = doc.get("namespace"), doc.get("name"), doc.get("version")
    if isinstance(ns, str) and ns.strip() and (len(ns) > 255 or not _NAMESPACE.match(ns)):
        out.append(f"namespace: '{ns}' is not in reverse-DNS form (e.g. io.github.acme)")
    if isinstance(name, str) and name.strip() and not _NAME.match(name):
        out.append(f"name: '{name}' must be 1-64 lowercase letters, digits or '-' (not at either end)")
    if isinstance(version, str) and version.strip() and not semver.is_semver(version):
        out.append(f"version: '{version}' is not a semantic version (e.g. 1.2.0)")
    desc = doc.get("description")
    if isinstance(desc, str) and len(desc) > 1024:
        out.append("description: at most 1024 characters")
    return out + _problems_of_optional(doc)


def parse_skill(doc: Any) -> SkillData:
    """The skill in ``doc``, or one ``SkillValidationError`` naming every problem."""
    problems = skill_problems(doc)
    if problems:
        raise SkillValidationError("; ".join(problems))
    known = {k: v for k, v in doc.items() if k in _WIRE_FIELDS}
    known.setdefault("status", "active")
    return msgspec.convert(known, SkillData)


_WIRE_FIELDS = frozenset(
    ("namespace", "name", "description", "version", "status", "title", "license", "compatibility",
     "allowedTools", "repository", "icons", "packages", "metadata", "_meta")
)


def latest_of(versions: dict[str, SkillData]) -> SkillData | None:
    """The highest semantic version that is not archived."""
    live = [v for v in versions.values() if v.status != "archived"]
    return max(live, key=lambda s: semver.sort_key(s.version)) if live else None


def newest_first(versions: dict[str, SkillData]) -> list[SkillData]:
    return sorted(versions.values(), key=lambda s: semver.sort_key(s.version), reverse=True)


class SkillSnapshot(msgspec.Struct, kw_only=True):
    versions: dict[str, SkillData] = {}


class Skill:
    """One ``namespace/name`` in one registry; its id is ``registry/namespace/name``."""

    def __init__(self, skill_key: str) -> None:
        self.skill_key = skill_key
        self.s = SkillSnapshot()
        self.version = 0

    def require(self) -> None:
        if not self.s.versions:
            raise SkillNotFoundError(f"Skill '{self.skill_key}' not found")

    def publish(self, registry: str, skill: SkillData) -> list[Event]:
        if skill.version in self.s.versions:
            raise SkillVersionExistsError(
                f"Version {skill.version} of skill {skill.namespace}/{skill.name} already exists"
            )
        return [se.SkillVersionPublished(registry=registry, skill=skill)]

    def delete(self, registry: str, version: str) -> list[Event]:
        found = self.s.versions.get(version)
        if found is None:
            raise SkillNotFoundError(f"Version {version} of skill '{self.skill_key}' not found")
        return [se.SkillVersionDeleted(registry=registry, namespace=found.namespace, name=found.name,
                                       version=version)]

    def apply(self, e: Event) -> None:
        match e:
            case se.SkillVersionPublished(skill=skill):
                self.s.versions = {**self.s.versions, skill.version: skill}
            case se.SkillVersionDeleted(version=version):
                self.s.versions = {k: v for k, v in self.s.versions.items() if k != version}
            case _:
                pass

    def snapshot(self) -> bytes:
        return msgspec.json.encode(self.s)

    @classmethod
    def from_snapshot(cls, skill_key: str, version: int, state: bytes) -> Skill:
        agg = cls(skill_key)
        agg.s = msgspec.json.decode(state, type=SkillSnapshot)
        agg.version = version
        return agg


class RegistrySnapshot(msgspec.Struct, kw_only=True):
    mirror_of: str | None = None


class SkillRegistry:
    """A named registry. ``default`` always exists and is managed; any other name exists once
    a document was imported into it, and is then a read-only mirror of that document."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.s = RegistrySnapshot()
        self.version = 0

    @property
    def exists(self) -> bool:
        return self.name == DEFAULT_REGISTRY or self.s.mirror_of is not None

    @property
    def managed(self) -> bool:
        return self.name == DEFAULT_REGISTRY

    def require(self) -> None:
        if not self.exists:
            raise SkillRegistryNotFoundError(self.name)

    def require_managed(self) -> None:
        self.require()
        if not self.managed:
            raise RegistryNotManagedError(self.name)

    def mirror(self, source: str) -> list[Event]:
        check_registry_name(self.name)
        if self.managed:
            raise SkillValidationError(f"registry '{self.name}' is managed; a mirror needs another name")
        if self.s.mirror_of == source:
            return []
        return [se.SkillRegistryMirrored(registry=self.name, source=source)]

    def apply(self, e: Event) -> None:
        if isinstance(e, se.SkillRegistryMirrored):
            self.s.mirror_of = e.source

    def snapshot(self) -> bytes:
        return msgspec.json.encode(self.s)

    @classmethod
    def from_snapshot(cls, name: str, version: int, state: bytes) -> SkillRegistry:
        agg = cls(name)
        agg.s = msgspec.json.decode(state, type=RegistrySnapshot)
        agg.version = version
        return agg
