"""``POST /api/config/export?format=dir|bundle`` and ``POST /api/config/import``: definitions as
one YAML file per resource (see ``hangar/app/definitions.py``).

The server only ever reads and writes under its definitions directory, ``definitions/`` next
to its config file (or an optional ``dir`` *name* inside it); a client with files elsewhere
uploads them as a bundle (``{"files": {"providers/x.yaml": "..."}}``), which is what
``hangar import`` does.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, post
from litestar.params import Parameter

from hangar.api.deps import command_context
from hangar.app.bus import CommandBus
from hangar.app.definitions import MAX_FILE_BYTES, MAX_FILES, Importer, export_files
from hangar.app.projections.catalog import CatalogProjection
from hangar.app.projections.groups import GroupsProjection
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.settings import LiveConfig
from hangar.app.skills import SkillsProjection
from hangar.domain.errors import ValidationError

DirName = Annotated[str | None, Parameter(query="dir", max_length=64)]
_DIR_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class Bundle(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    files: dict[str, str]


def definitions_root(live: LiveConfig, name: str | None) -> Path:
    base = (Path(live.path).resolve().parent if live.path else Path.cwd()) / "definitions"
    if name is None:
        return base
    if not _DIR_NAME.match(name) or ".." in name:
        raise ValidationError("dir: a directory name inside the definitions directory (letters, digits, . _ -)")
    return base / name


def _safe_relative(rel: str) -> str:
    parts = Path(rel).parts
    if not rel or Path(rel).is_absolute() or ".." in parts or not rel.endswith((".yaml", ".yml")):
        raise ValidationError(f"files: '{rel}' must be a relative .yaml path without '..'")
    return rel


def read_dir(root: Path) -> dict[str, str]:
    if not root.is_dir():
        raise ValidationError(f"dir: {root.name} is not a directory of definitions")
    out: dict[str, str] = {}
    for p in sorted(root.rglob("*")):
        if p.is_symlink() or not p.is_file() or p.suffix not in (".yaml", ".yml"):
            continue  # symlinks could lead outside the confined directory
        if len(out) >= MAX_FILES:
            raise ValidationError(f"more than {MAX_FILES} files")
        if p.stat().st_size > MAX_FILE_BYTES:
            raise ValidationError(f"{p.relative_to(root)}: larger than {MAX_FILE_BYTES} bytes")
        try:
            out[str(p.relative_to(root))] = p.read_text()
        except UnicodeDecodeError:
            raise ValidationError(f"{p.relative_to(root)}: not UTF-8 text") from None
    return out


def write_dir(root: Path, files: dict[str, str]) -> None:
    """Replace the directory's YAML files with ``files`` (a resource deleted since the last
    export loses its file)."""
    root.mkdir(parents=True, exist_ok=True)
    for old in root.rglob("*.yaml"):
        if str(old.relative_to(root)) not in files and not old.is_symlink():
            old.unlink()
    for rel, text in files.items():
        target = root / _safe_relative(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(text)
        tmp.replace(target)


def current_files(
    providers: ProvidersProjection, groups: GroupsProjection, catalog_view: CatalogProjection,
    skills_view: SkillsProjection,
) -> dict[str, str]:
    return export_files(providers, groups, catalog_view, skills_view)


async def export_definitions(
    providers: ProvidersProjection, groups: GroupsProjection, catalog_view: CatalogProjection,
    skills_view: SkillsProjection, live: LiveConfig, fmt: str, name: str | None,
) -> dict[str, Any]:
    files = current_files(providers, groups, catalog_view, skills_view)
    if fmt == "bundle":
        return {"format": "bundle", "files": files, "count": len(files)}
    root = definitions_root(live, name)
    await asyncio.to_thread(write_dir, root, files)
    return {"format": "dir", "directory": str(root), "files": sorted(files), "count": len(files)}


class DefinitionsController(Controller):
    path = "/api/config"
    tags = ["config"]

    @post("/import", status_code=200, summary="Import definitions from the definitions directory or a bundle")
    async def import_definitions(
        self, request: Request, bus: CommandBus, providers: ProvidersProjection, groups: GroupsProjection,
        catalog_view: CatalogProjection, skills_view: SkillsProjection, live: LiveConfig,
        strategy: Annotated[Literal["seed_only", "overwrite_conflicts"], Parameter(query="strategy")] = "seed_only",
        dir_name: DirName = None, data: Bundle | None = None,
    ) -> dict[str, Any]:
        if data is not None:
            files = {_safe_relative(k): v for k, v in data.files.items()}
        else:
            files = await asyncio.to_thread(read_dir, definitions_root(live, dir_name))
        importer = Importer(bus, providers, groups, catalog_view,
                            skills_view)
        plans = importer.plan(files, strategy)
        report = await importer.apply(plans, strategy, command_context(request))
        return dict(msgspec.to_builtins(report))
