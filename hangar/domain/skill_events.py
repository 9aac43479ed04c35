"""Skills registry: the skill document and its domain events (registered in ``EVENT_TYPES``).

Field names on the wire are the ToolHive Registry skills extension's (``allowedTools``,
``registryType``, ``_meta``); a field a publisher left out stays out of every answer.
"""

from __future__ import annotations

from typing import Any

import msgspec

from hangar.domain.event_base import Event


class SkillRepository(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    url: str
    type: str | None = None


class SkillIcon(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    src: str
    size: str | None = None
    type: str | None = None
    label: str | None = None


class SkillPackage(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, rename={"registry_type": "registryType",
                                                                         "media_type": "mediaType"}
):
    registry_type: str
    identifier: str | None = None
    digest: str | None = None
    media_type: str | None = None
    url: str | None = None
    ref: str | None = None
    commit: str | None = None
    subfolder: str | None = None


class SkillData(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True,
    rename={"allowed_tools": "allowedTools", "meta": "_meta"},
):
    """One published version of a skill, exactly the extension's skill object."""

    namespace: str
    name: str
    description: str
    version: str
    status: str
    """Always present in answers: ``active`` unless the publisher said otherwise."""
    title: str | None = None
    license: str | None = None
    compatibility: str | None = None
    allowed_tools: list[str] | None = None
    repository: SkillRepository | None = None
    icons: list[SkillIcon] | None = None
    packages: list[SkillPackage] | None = None
    metadata: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None


class SkillVersionPublished(Event, frozen=True):
    registry: str
    skill: SkillData


class SkillVersionDeleted(Event, frozen=True):
    registry: str
    namespace: str
    name: str
    version: str


class SkillRegistryMirrored(Event, frozen=True):
    """A read-only registry now mirrors an imported document (its skills follow as versions)."""

    registry: str
    source: str


SKILL_EVENTS: tuple[type[Event], ...] = (SkillVersionPublished, SkillVersionDeleted, SkillRegistryMirrored)
