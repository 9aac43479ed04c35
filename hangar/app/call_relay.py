"""The calling MCP client, as seen by the provider call made on its behalf.

A front door that can reach its caller during a call (``/mcp``) sets ``CURRENT_RELAY`` around the
command it executes; the runtime connection picks it up (context variables follow the call into
the command handler), tags the provider call with its own progress token and hands the
provider's progress, log messages and server-to-client requests (sampling, elicitation, roots)
to it. REST calls set nothing, and providers' requests are then refused with a JSON-RPC error.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Protocol


class RelayRefused(Exception):
    """The caller cannot take a server-to-client request; ``code``/``message`` go back as the
    JSON-RPC error the provider receives."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class CallRelay(Protocol):
    async def progress(self, params: dict[str, Any]) -> None:
        """The provider's progress params (its token already replaced by nothing: add yours)."""

    async def log(self, params: dict[str, Any]) -> None:
        """A ``notifications/message`` the provider sent while this call was in flight."""

    async def server_request(self, method: str, params: Any) -> Any:
        """Relay a provider's request to the caller; return its result or raise ``RelayRefused``."""


CURRENT_RELAY: ContextVar[CallRelay | None] = ContextVar("hangar_call_relay", default=None)
