"""Installed skills: a skill is a folder with a ``SKILL.md`` whose YAML front matter names and
describes it. Installing copies it into each chosen client's skills directory under
``clients.home`` from a local path or a git URL (a ``file://`` repository works offline)."""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import msgspec
import yaml

from hangar.app.bus import CommandBus, CommandContext
from hangar.app.codec import EventMetadata
from hangar.app.repository import Repository
from hangar.app.toolhive.clients import CLIENTS
from hangar.domain.errors import HangarError, NotFoundError, ValidationError
from hangar.domain.toolhive import InstalledSkill, check_name
from hangar.domain.toolhive_events import SkillMeta

SKILL_FILE = "SKILL.md"
SKILL_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
MAX_DESCRIPTION = 1024
SKILL_CLIENTS = tuple(c for c, f in CLIENTS.items() if f.skills_dir)
GIT_TIMEOUT_S = 60.0


class ValidationReport(msgspec.Struct, kw_only=True):
    valid: bool
    errors: list[str]
    warnings: list[str]


def front_matter(text: str) -> tuple[dict[str, Any] | None, str]:
    """(front matter or None, error) of a SKILL.md."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None, "SKILL.md must start with YAML front matter between '---' lines"
    try:
        end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == "---")
    except StopIteration:
        return None, "SKILL.md front matter is not closed by a '---' line"
    try:
        data = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        return None, f"SKILL.md front matter is not valid YAML: {str(exc).splitlines()[0]}"
    if not isinstance(data, dict):
        return None, "SKILL.md front matter must be a mapping"
    return data, ""


def validate_dir(path: Path) -> tuple[ValidationReport, SkillMeta | None]:
    """Every problem at once."""
    errors: list[str] = []
    warnings: list[str] = []
    skill_md = path / SKILL_FILE
    if not path.is_dir():
        return ValidationReport(valid=False, errors=[f"{path} is not a directory"], warnings=[]), None
    if not skill_md.is_file():
        return ValidationReport(valid=False, errors=[f"{SKILL_FILE} not found in {path.name}"], warnings=[]), None
    data, error = front_matter(skill_md.read_text(errors="replace"))
    if data is None:
        return ValidationReport(valid=False, errors=[error], warnings=[]), None
    name, description = data.get("name"), data.get("description")
    if not isinstance(name, str) or not name:
        errors.append("front matter: 'name' is required")
    elif not SKILL_NAME.match(name):
        errors.append(f"front matter: name '{name}' must be 1-64 lowercase letters, digits or '-'")
    elif name != path.name:
        warnings.append(f"name '{name}' differs from the directory name '{path.name}'")
    if not isinstance(description, str) or not description.strip():
        errors.append("front matter: 'description' is required")
    elif len(description) > MAX_DESCRIPTION:
        errors.append(f"front matter: 'description' is longer than {MAX_DESCRIPTION} characters")
    tags = data.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        errors.append("front matter: 'tags' must be a list of strings")
    for key in ("version", "author"):
        if key in data and not isinstance(data[key], (str, int, float)):
            errors.append(f"front matter: '{key}' must be a string")
    if errors:
        return ValidationReport(valid=False, errors=errors, warnings=warnings), None
    meta = SkillMeta(name=str(name), description=str(description), version=str(data.get("version", "")),
                     author=str(data.get("author", "")), tags=list(tags))
    return ValidationReport(valid=True, errors=[], warnings=warnings), meta


def digest_of(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and ".git" not in p.relative_to(path).parts):
        h.update(str(f.relative_to(path)).encode() + b"\0" + f.read_bytes())
    return "sha256:" + h.hexdigest()


class InstallSkill(msgspec.Struct, frozen=True, kw_only=True):
    source: str
    clients: list[str] = []
    force: bool = False
    version: str = ""


class GitSource(msgspec.Struct, frozen=True):
    """Where a skill published in Hangar's skills registry lives."""

    url: str
    ref: str = ""
    subfolder: str = ""


SkillLookup = Callable[[str, str], GitSource | None]
"""``(name, version)`` → the git package of that skill in Hangar's skills registry."""


class RemoveSkill(msgspec.Struct, frozen=True, kw_only=True):
    name: str


class Skills:
    def __init__(
        self, repo: Repository[InstalledSkill], home: Callable[[], Path], lookup: SkillLookup = lambda n, v: None,
    ) -> None:
        self.repo = repo
        self.home = home
        self.lookup = lookup

    def register_with(self, bus: CommandBus) -> None:
        bus.register(InstallSkill, self.install)
        bus.register(RemoveSkill, self.remove)

    def target(self, client: str, name: str) -> Path:
        fmt = CLIENTS.get(client)
        if fmt is None or fmt.skills_dir is None:
            raise ValidationError(f"client '{client}' does not support skills (supported: {', '.join(SKILL_CLIENTS)})")
        return self.home() / fmt.skills_dir / name

    async def install(self, cmd: InstallSkill, ctx: CommandContext, meta: EventMetadata) -> str:
        clients = list(SKILL_CLIENTS) if not cmd.clients or cmd.clients == ["all"] else list(dict.fromkeys(cmd.clients))
        for c in clients:
            self.target(c, "x")
        with tempfile.TemporaryDirectory(prefix="hangar-skill-") as tmp:
            folder = await fetch_source(cmd.source, Path(tmp), lambda name: self.lookup(name, cmd.version))
            report, skill = validate_dir(folder)
            if skill is None:
                raise ValidationError("invalid skill: " + "; ".join(report.errors))
            check_name("skill", skill.name)
            agg = await self.repo.load(skill.name)
            if agg.s.installed and not cmd.force:
                agg.install(skill, clients, cmd.source, "", False)  # raises the conflict
            digest = digest_of(folder)
            for c in clients:
                dest = self.target(c, skill.name)
                if dest.exists() and not agg.s.installed and not cmd.force:
                    raise ValidationError(f"{dest} exists and was not installed by Hangar (use force)")
            for c in clients:
                dest = self.target(c, skill.name)
                staged = dest.with_name(f".{skill.name}.staging")
                shutil.rmtree(staged, ignore_errors=True)
                shutil.copytree(folder, staged, ignore=shutil.ignore_patterns(".git"))
                shutil.rmtree(dest, ignore_errors=True)
                staged.rename(dest)
        await self.repo.execute(skill.name, lambda s: s.install(skill, clients, cmd.source, digest, True), meta)
        return skill.name

    async def remove(self, cmd: RemoveSkill, ctx: CommandContext, meta: EventMetadata) -> None:
        check_name("skill", cmd.name)
        agg = await self.repo.check(cmd.name, None)
        for c in agg.s.clients:
            with_dir = self.target(c, cmd.name)
            shutil.rmtree(with_dir, ignore_errors=True)
        await self.repo.execute(cmd.name, lambda s: s.remove(), meta)


def _is_git_url(source: str) -> bool:
    return source.startswith(("file://", "https://", "http://", "git@", "ssh://")) or source.endswith(".git")


async def fetch_source(source: str, tmp: Path, lookup: Callable[[str], GitSource | None]) -> Path:
    """The skill folder named by a local path, a git URL (cloned into ``tmp``) or a name
    published in Hangar's skills registry (its git package is cloned)."""
    if _is_git_url(source):
        return await clone(source, "", tmp)
    path = Path(source)
    if path.is_absolute():
        return path
    found = lookup(source)
    if found is None:
        raise NotFoundError(f"skill '{source}' not found (give a registry name, an absolute path or a git URL)")
    sub = PurePosixPath(found.subfolder)
    if sub.is_absolute() or ".." in sub.parts:
        raise ValidationError(f"skill '{source}' names a subfolder outside its repository")
    return (await clone(found.url, found.ref, tmp)) / sub


async def clone(source: str, ref: str, tmp: Path) -> Path:
    dest = tmp / "repo"
    branch = ["--branch", ref] if ref else []
    proc = await asyncio.create_subprocess_exec(
        "git", "clone", "--quiet", "--depth", "1", *branch, source, str(dest),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin:/usr/local/bin"},
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), GIT_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise ValidationError(f"cloning {source} timed out") from None
    if proc.returncode != 0:
        first = err.decode(errors="replace").strip().splitlines()
        raise ValidationError(f"cannot clone {source}: {first[-1] if first else 'git failed'}")
    return dest


__all__ = ["SKILL_CLIENTS", "HangarError", "InstallSkill", "RemoveSkill", "Skills", "validate_dir"]
