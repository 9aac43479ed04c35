"""The definition of a provider: what to run and how, as the contract's create body describes."""

from __future__ import annotations

import re
from collections.abc import Sized
from typing import Annotated, Any, Literal

import msgspec

from hangar.domain import limits as lim
from hangar.domain.errors import ValidationError

ProviderMode = Literal["subprocess", "docker", "remote"]

# Dots are reserved: the MCP front door may join names as ``{provider}.{tool}`` (mcp.name_separator).
# Ids are checked with ``fullmatch``: ``$`` alone also matches before a trailing newline.
PROVIDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
_PROVIDER_ID_RE = re.compile(PROVIDER_ID_PATTERN)
ProviderId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=PROVIDER_ID_PATTERN)]

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
    if not _PROVIDER_ID_RE.fullmatch(provider_id):
        raise ValidationError(
            f"Invalid provider_id '{provider_id}': use 1-64 letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )


def check_env(env: dict[str, str], where: str = "env") -> None:
    """What ``execve`` would refuse (or silently misread) is refused when it is defined, not
    later as an unexplained failure to start."""
    for name, value in env.items():
        if not name:
            raise ValidationError(f"{where}: a variable name must not be empty")
        if "=" in name or "\0" in name:
            raise ValidationError(f"{where}: variable name {name!r} must not contain '=' or NUL")
        if "\0" in value:
            raise ValidationError(f"{where}.{name}: the value must not contain NUL")


def check_command(command: list[str] | None, where: str = "command") -> None:
    for i, part in enumerate(command or []):
        if "\0" in part:
            raise ValidationError(f"{where}[{i}] must not contain NUL")


def check_lengths(spec: ProviderSpec) -> None:
    """The documented size limits (``hangar.domain.limits``) of every free-text field."""
    def bounded(value: str | None, limit: int, where: str) -> None:
        if value is not None and len(value) > limit:
            raise ValidationError(f"{where}: at most {limit} characters")

    def counted(items: Sized, limit: int, where: str) -> None:
        if len(items) > limit:
            raise ValidationError(f"{where}: at most {limit} items")

    for field, limit in lim.PROVIDER_TEXT_LIMITS.items():
        bounded(getattr(spec, field), limit, field)
    for field, limit in lim.PROVIDER_LIST_LIMITS.items():
        counted(getattr(spec, field) or [], limit, field)
    for i, arg in enumerate(spec.command or []):
        bounded(arg, lim.MAX_ARG, f"command[{i}]")
    for name, value in spec.env.items():
        bounded(name, lim.MAX_ENV_NAME, "env name")
        bounded(value, lim.MAX_ENV_VALUE, f"env.{name[:64]}")
    for i, volume in enumerate(spec.volumes):
        bounded(volume, lim.MAX_TEXT, f"volumes[{i}]")
    for name in spec.secret_env:
        bounded(name, lim.MAX_NAME, "secret_env")
    for i, tool in enumerate(spec.tools or []):
        bounded(tool.name, lim.MAX_NAME, f"tools[{i}].name")
        bounded(tool.description, lim.MAX_DESCRIPTION, f"tools[{i}].description")


def check_spec(spec: ProviderSpec) -> None:
    """Mode-specific invariants that a schema alone cannot express."""
    check_lengths(spec)
    check_command(spec.command)
    check_env(spec.env)
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
