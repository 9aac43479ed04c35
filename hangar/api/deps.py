"""Dependency wiring and small request helpers shared by the controllers."""

from __future__ import annotations

from litestar import Request
from litestar.datastructures import State

from hangar.app.bus import CommandContext
from hangar.app.services import Services
from hangar.domain.errors import PreconditionFailedError


def provide_services(state: State) -> Services:
    services: Services = state.services
    return services


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(value: str | None) -> int | None:
    """``If-Match`` carries the version from an earlier ``ETag``; ``*`` means any version."""
    if value is None or value.strip() == "*":
        return None
    tag = value.strip()
    if tag.startswith("W/"):
        # A weak tag never matches under If-Match's strong comparison (RFC 9110 13.1.1).
        raise PreconditionFailedError("If-Match requires a strong ETag")
    tag = tag.strip('"')
    if not tag.isdigit():
        raise PreconditionFailedError(f"If-Match value {value!r} matches no version")
    return int(tag)


def command_context(request: Request) -> CommandContext:
    return CommandContext(
        principal=getattr(request.state, "principal", None) or "anonymous",
        correlation_id=request.headers.get("x-correlation-id", ""),
        if_match=parse_if_match(request.headers.get("if-match")),
    )
