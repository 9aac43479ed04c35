"""Errors raised by the runtime's MCP clients.

The application layer maps these onto domain facts (a failed start, a crash, a timed-out call), so
each one says what happened to the *provider*, not which transport noticed it.
"""

from __future__ import annotations

from typing import Any


class RuntimeClientError(Exception):
    """Base class of every error raised by a runtime client."""


class ProviderUnavailable(RuntimeClientError):
    """The provider cannot be started or reached, or the client is not (or no longer) running."""


class ProviderCrashed(RuntimeClientError):
    """The process died or the connection was lost while calls were in flight."""

    def __init__(self, message: str, *, returncode: int | None = None, last_stderr: str | None = None):
        super().__init__(message)
        self.returncode = returncode
        self.last_stderr = last_stderr

    def again(self) -> ProviderCrashed:
        """A fresh copy to raise for each caller (re-raising one instance piles up tracebacks)."""
        return ProviderCrashed(str(self), returncode=self.returncode, last_stderr=self.last_stderr)


class CallTimeout(RuntimeClientError):
    """A request got no answer in time; a cancellation was sent to the provider."""

    def __init__(self, method: str, timeout_s: float):
        super().__init__(f"{method} timed out after {timeout_s:g}s")
        self.method = method
        self.timeout_s = timeout_s


class ProtocolError(RuntimeClientError):
    """The provider broke the MCP/JSON-RPC contract (malformed answer, unsupported version...)."""


class ToolCallError(RuntimeClientError):
    """The provider answered a request with a JSON-RPC error response."""

    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(f"JSON-RPC error {code}: {message}")
        self.code = code
        self.message = message
        self.data = data
