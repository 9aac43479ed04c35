"""``/registry/{registryName}/v0.1``: Hangar as a registry.

- ``/x/dev.toolhive/skills[...]``: the ToolHive Registry skills extension, exactly its fields,
  ranges and codes; errors are ``{"error": "..."}`` (shaped in ``hangar/api/errors.py``).
- ``/servers[...]``: the catalog as MCP Registry ``server.json`` documents.

Query parameters are parsed here rather than by the framework so that a bad one answers the
registry's 400 instead of the ``/api`` contract's 422.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post

from hangar.api.deps import command_context
from hangar.api.paging import Pager
from hangar.api.registry_servers import server_json
from hangar.app.bus import CommandBus
from hangar.app.projections.catalog import CatalogProjection, EntryView
from hangar.app.skills import DeleteSkillVersion, MirrorSkills, PublishSkill, SkillsProjection
from hangar.domain.errors import NotFoundError, ValidationError
from hangar.domain.skill_events import SkillData
from hangar.domain.skills import (
    STATUSES,
    SkillNotFoundError,
    SkillRegistryNotFoundError,
    SkillValidationError,
    parse_skill,
)

SKILLS = "/x/dev.toolhive/skills"


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SkillValidationError(f"{name} must be an integer between {low} and {high}") from None
    if not low <= value <= high:
        raise SkillValidationError(f"{name} must be between {low} and {high}")
    return value


def skill_body(s: SkillData) -> dict[str, Any]:
    return dict(msgspec.to_builtins(s))


def _registry(skills_view: SkillsProjection, name: str) -> None:
    if not skills_view.registry_exists(name):
        raise SkillRegistryNotFoundError(name)


class SkillsController(Controller):
    path = "/registry/{registry_name:str}/v0.1" + SKILLS
    tags = ["registry"]

    @get("/", summary="List skills (latest version of each)")
    async def list_skills(
        self, request: Request, skills_view: SkillsProjection, pager: Pager, registry_name: str
    ) -> dict[str, Any]:
        _registry(skills_view, registry_name)
        limit = int_param(request, "limit", 50, 1, 100)
        status = request.query_params.get("status")
        if status is not None and status not in STATUSES:
            raise SkillValidationError(f"status must be one of {', '.join(STATUSES)}")
        search = request.query_params.get("search") or request.query_params.get("q")
        rows = skills_view.listing(registry_name, search, status)
        scope = f"skills:{registry_name}:{search or ''}:{status or ''}"
        page = pager.page(scope, rows, lambda s: (s.namespace, s.name), limit,
                                   request.query_params.get("cursor") or None)
        return {"skills": [skill_body(s) for s in page.items],
                "metadata": {"count": len(page.items), "nextCursor": page.next_cursor or ""}}

    @post("/", status_code=201, summary="Publish a skill version to a managed registry")
    async def publish(
        self, request: Request, bus: CommandBus, skills_view: SkillsProjection, registry_name: str
    ) -> Response[dict[str, Any]]:
        _registry(skills_view, registry_name)
        try:
            doc = msgspec.json.decode(await request.body())
        except msgspec.DecodeError:
            raise SkillValidationError("the body must be a JSON object") from None
        skill = await bus.execute(
            PublishSkill(registry=registry_name, skill=parse_skill(doc)), command_context(request)
        )
        return Response(skill_body(skill), status_code=201)

    @get("/{namespace:str}/{name:str}", summary="The latest version of a skill (never an archived one)")
    async def latest(
        self, skills_view: SkillsProjection, registry_name: str, namespace: str, name: str
    ) -> dict[str, Any]:
        _registry(skills_view, registry_name)
        found = skills_view.latest(registry_name, namespace, name)
        if found is None:
            raise SkillNotFoundError(f"Skill '{namespace}/{name}' not found")
        return skill_body(found)

    @get("/{namespace:str}/{name:str}/versions", summary="Every version of a skill, newest first")
    async def versions(
        self, skills_view: SkillsProjection, registry_name: str, namespace: str, name: str
    ) -> dict[str, Any]:
        _registry(skills_view, registry_name)
        found = skills_view.all_versions(registry_name, namespace, name)
        if not found:
            raise SkillNotFoundError(f"Skill '{namespace}/{name}' not found")
        return {"skills": [skill_body(s) for s in found], "metadata": {"count": len(found), "nextCursor": ""}}

    @get("/{namespace:str}/{name:str}/versions/{version:str}", summary="One version of a skill")
    async def version(
        self, skills_view: SkillsProjection, registry_name: str, namespace: str, name: str, version: str
    ) -> dict[str, Any]:
        _registry(skills_view, registry_name)
        found = skills_view.versions_of(registry_name, namespace, name).get(version)
        if found is None:
            raise SkillNotFoundError(f"Version {version} of skill '{namespace}/{name}' not found")
        return skill_body(found)

    @delete("/{namespace:str}/{name:str}/versions/{version:str}", status_code=204,
            summary="Delete a skill version from a managed registry")
    async def delete_version(
        self, request: Request, bus: CommandBus, skills_view: SkillsProjection, registry_name: str, namespace: str,
        name: str, version: str,
    ) -> None:
        _registry(skills_view, registry_name)
        await bus.execute(
            DeleteSkillVersion(registry=registry_name, namespace=namespace, name=name, version=version),
            command_context(request),
        )


def _catalog_rows(catalog_view: CatalogProjection, q: str | None) -> list[EntryView]:
    return catalog_view.search(q)


class ServersController(Controller):
    path = "/registry/{registry_name:str}/v0.1/servers"
    tags = ["registry"]

    @get("/", summary="The catalog as MCP Registry server.json documents")
    async def list_servers(
        self, request: Request, catalog_view: CatalogProjection, skills_view: SkillsProjection, pager: Pager,
        registry_name: str,
    ) -> dict[str, Any]:
        _registry(skills_view, registry_name)
        limit = int_param(request, "limit", 50, 1, 200)
        page_no = int_param(request, "page", 1, 1, 1_000_000)
        q = request.query_params.get("q") or None
        rows = _catalog_rows(catalog_view, q) if registry_name == "default" else []
        cursor = request.query_params.get("cursor") or None
        total = len(rows)
        if cursor is None:  # the reference's page numbers; the cursors it answers are key-based
            rows = rows[(page_no - 1) * limit:]
        page = pager.page(f"servers:{registry_name}:{q or ''}", rows, _key, limit, cursor)
        return {
            "servers": [server_json(v.entry) for v in page.items],
            "metadata": {"limit": limit, "page": page_no, "total": total, "count": len(page.items),
                         "nextCursor": page.next_cursor or ""},
        }

    @get("/{rest:path}", summary="One server: {serverName}/versions/latest (name URL-encoded)")
    async def latest_server(
        self, catalog_view: CatalogProjection, skills_view: SkillsProjection, registry_name: str, rest: str
    ) -> dict[str, Any]:
        _registry(skills_view, registry_name)
        name, sep, tail = rest.strip("/").rpartition("/versions/")
        if not sep or not name:
            raise NotFoundError(f"No route under servers: {rest}")
        entry_id = catalog_view.by_name.get(name) if registry_name == "default" else None
        view = catalog_view.get(entry_id) if entry_id else None
        if view is None or (tail != "latest" and tail != (view.entry.version or "0.0.0")):
            raise NotFoundError(f"Server '{name}' not found")
        return server_json(view.entry)


def _key(v: EntryView) -> tuple[str, str]:
    return (v.entry.name.lower(), v.entry_id)


class MirrorRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    source: str
    """Where the document came from (a URL or a name); recorded with the mirror."""
    document: dict[str, Any]
    """A skills list as this registry answers it: ``{"skills": [...]}``."""


class RegistryAdminController(Controller):
    path = "/api/registries"
    tags = ["registry"]

    @post("/{registry_name:str}/skills/import", status_code=200,
          summary="Make a registry a read-only mirror of a skills document")
    async def mirror(
        self, request: Request, bus: CommandBus, registry_name: str, data: MirrorRequest
    ) -> dict[str, Any]:
        items = data.document.get("skills")
        if not isinstance(items, list):
            raise ValidationError("document.skills must be a list")
        problems: list[str] = []
        skills: list[SkillData] = []
        for i, item in enumerate(items):
            try:
                skills.append(parse_skill(item))
            except SkillValidationError as exc:
                problems.append(f"skills[{i}]: {exc.message}")
        if problems:
            raise ValidationError("; ".join(problems))
        res = await bus.execute(
            MirrorSkills(registry=registry_name, source=data.source, skills=skills), command_context(request)
        )
        return dict(msgspec.to_builtins(res))
