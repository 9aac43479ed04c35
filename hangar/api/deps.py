"""Dependency wiring and small request helpers shared by the controllers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request

from hangar.app.bus import CommandContext
from hangar.app.ports import EventStore, ProviderConnector
from hangar.domain.errors import PreconditionFailedError

# Each component a controller uses is its own Litestar dependency, named as the parameter that
# receives it (``bus: CommandBus``, ``providers: ProvidersProjection``, ...): the app factory
# (``hangar.asgi``) registers them once, from the composition root. The two ports are Protocols,
# which Litestar's signature model cannot check with ``isinstance``: at run time it sees ``Any``,
# the type checker sees the port.
if TYPE_CHECKING:
    StorePort = EventStore
    ConnectorPort = ProviderConnector
else:
    StorePort = ConnectorPort = Any


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
    # Read from the ASGI scope directly: building the framework's header and state views for
    # three values cost about 20 us per command. Header names are lower case in ASGI; the
    # first of repeated headers counts, as with ``request.headers.get``.
    scope = request.scope
    state = scope.get("state")
    principal = state.get("principal") if isinstance(state, dict) else None
    correlation = if_match = None
    for name, value in scope["headers"]:
        if name == b"x-correlation-id":
            if correlation is None:
                correlation = value.decode("latin-1")
        elif name == b"if-match" and if_match is None:
            if_match = value.decode("latin-1")
    return CommandContext(
        principal=principal or "anonymous",
        correlation_id=correlation or "",
        if_match=parse_if_match(if_match),
    )
