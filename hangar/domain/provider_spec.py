"""The definition of a provider: what to run and how, as the contract's create body describes."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec

from hangar.domain.errors import ValidationError

ProviderMode = Literal["subprocess", "docker", "remote"]

# Dots are reserved: the MCP front door may join names as ``{provider}.{tool}`` (mcp.name_separator).
PROVIDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
_PROVIDER_ID_RE = re.compile(PROVIDER_ID_PATTERN)

PositiveSeconds = Annotated[int, msgspec.Meta(ge=1, le=604_800)]
IdleSeconds = Annotated[int, msgspec.Meta(ge=0, le=604_800)]


class ToolSpec(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    description: str = ""
    input_schema: dict[str, Any] = {}
    # What MCP clients need besides the above, passed through from the provider's tools/list.
    title: str | None = None
    output_schema: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None
    execution: dict[str, Any] | None = None
    """e.g. ``{"taskSupport": "required"}`` (MCP tasks)."""


class ProviderSpec(msgspec.Struct, frozen=True, kw_only=True):
    mode: ProviderMode
    command: list[str] | None = None
    image: str | None = None
    endpoint: str | None = None
    env: dict[str, str] = {}
    idle_ttl_s: IdleSeconds = 300
    """0 disables idle shutdown."""
    health_check_interval_s: PositiveSeconds = 60
    description: str | None = None
    volumes: list[str] = []
    network: str = "none"
    read_only: bool = True
    tools: list[ToolSpec] | None = None
    """Predefined tools, listed before the provider has ever started."""
    call_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 30.0
    secret_env: list[str] = []
    """Env names whose values are secret even if their names do not look it."""
    discover_on_register: bool = True
    """Start once in the background when registered, so its tools are known before first use."""


def definition_of(source: ProviderSpec, **overrides: Any) -> ProviderSpec:
    """The plain definition inside a struct that extends it (a create body, a config entry)."""
    fields = {f: getattr(source, f) for f in ProviderSpec.__struct_fields__} | overrides
    return ProviderSpec(**fields)


def check_provider_id(provider_id: str) -> None:
    if not _PROVIDER_ID_RE.match(provider_id):
        raise ValidationError(
            f"Invalid provider_id '{provider_id}': use 1-64 letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )


def check_spec(spec: ProviderSpec) -> None:
    """Mode-specific invariants that a schema alone cannot express."""
    if spec.mode == "subprocess":
        if not spec.command or not all(isinstance(p, str) and p for p in spec.command):
            raise ValidationError("mode 'subprocess' requires a non-empty 'command' list")
    elif spec.mode == "docker":
        if not spec.image:
            raise ValidationError("mode 'docker' requires 'image'")
    elif spec.mode == "remote":
        if not spec.endpoint or not spec.endpoint.startswith(("http://", "https://")):
            raise ValidationError("mode 'remote' requires an http(s) 'endpoint'")
    if spec.tools is not None:
        names = [t.name for t in spec.tools]
        if len(names) != len(set(names)):
            raise ValidationError("predefined tools must have unique names")
