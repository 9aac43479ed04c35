"""Domain and application errors.

Each error carries the HTTP status it maps to in exactly one place: ``hangar.api.errors``
turns any ``HangarError`` into the contract's envelope ``{"error", "message", "status_code"}``.
"""

from __future__ import annotations

import math


class HangarError(Exception):
    """Base of every error Hangar raises on purpose."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def error_type(self) -> str:
        return type(self).__name__


class ValidationError(HangarError):
    status_code = 422


class NotFoundError(HangarError):
    status_code = 404


class ProviderNotFoundError(NotFoundError):
    def __init__(self, provider_id: str) -> None:
        super().__init__(f"Provider '{provider_id}' not found")
        self.provider_id = provider_id


class AlreadyExistsError(HangarError):
    status_code = 409


class InvalidTransitionError(HangarError):
    status_code = 409


class ConcurrencyError(HangarError):
    """The stream moved on since the caller read it (optimistic concurrency)."""

    status_code = 409

    def __init__(self, stream_id: str, expected: int | None, actual: int) -> None:
        super().__init__(
            f"Stream '{stream_id}' is at version {actual}, expected {expected}"
        )
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class PreconditionFailedError(HangarError):
    """``If-Match`` named a version the resource no longer has."""

    status_code = 412


class NoSnapshotError(HangarError):
    # The contract documents this one case as a 500.
    status_code = 500

    def __init__(self, stream_id: str) -> None:
        super().__init__(f"No snapshot exists for stream '{stream_id}'")
        self.stream_id = stream_id


class ToolNotFoundError(NotFoundError):
    def __init__(self, provider_id: str, tool: str) -> None:
        super().__init__(f"Tool '{tool}' not found on provider '{provider_id}'")


class ProviderUnavailableError(HangarError):
    """The provider cannot be started or reached right now."""

    status_code = 503


class CircuitOpenError(ProviderUnavailableError):
    def __init__(self, target: str, retry_after_s: float) -> None:
        super().__init__(f"Circuit breaker for '{target}' is open; retry in {retry_after_s:.1f}s")
        self.headers = {"Retry-After": str(max(1, round(retry_after_s)))}


class ProviderError(HangarError):
    """The provider failed while serving a call (crashed, protocol error, JSON-RPC error)."""

    status_code = 502


class ProviderTimeoutError(HangarError):
    status_code = 504


class DiscoverySourceNotFoundError(NotFoundError):
    def __init__(self, source_id: str) -> None:
        super().__init__(f"Discovery source '{source_id}' not found")


class CandidateNotFoundError(NotFoundError):
    """No discovered provider of that name waits for a decision."""

    def __init__(self, name: str) -> None:
        super().__init__(f"No pending or quarantined provider named '{name}'")


class CatalogEntryNotFoundError(NotFoundError):
    def __init__(self, entry_id: str) -> None:
        super().__init__(f"Catalog entry '{entry_id}' not found")


class GroupNotFoundError(NotFoundError):
    def __init__(self, group_id: str) -> None:
        super().__init__(f"Group '{group_id}' not found")
        self.group_id = group_id


class GroupMemberNotFoundError(NotFoundError):
    def __init__(self, group_id: str, provider_id: str) -> None:
        super().__init__(f"Provider '{provider_id}' is not a member of group '{group_id}'")


class GroupToolNotFoundError(ToolNotFoundError):
    def __init__(self, group_id: str, tool: str) -> None:
        NotFoundError.__init__(self, f"Tool '{tool}' not found on any member of group '{group_id}'")


class GroupUnavailableError(ProviderUnavailableError):
    """No member of the group could serve the call."""


# --- auth (issue 6) -------------------------------------------------------------------------


class AuthenticationError(HangarError):
    """No key, or a key that is unknown, expired or revoked."""

    status_code = 401

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.headers = {"WWW-Authenticate": 'Bearer realm="hangar", ApiKey header="X-API-Key"'}


class PermissionDeniedError(HangarError):
    status_code = 403


class ToolAccessDeniedError(PermissionDeniedError):
    def __init__(self, principal_id: str, provider_id: str, tool: str) -> None:
        super().__init__(f"Principal '{principal_id}' may not call tool '{tool}' on '{provider_id}'")


class RateLimitExceeded(HangarError):
    status_code = 429

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.headers = {"Retry-After": str(max(1, math.ceil(retry_after_s)))}


class ClientLockedOutError(RateLimitExceeded):
    """Too many failed authentications from one client: refused whatever it presents."""


class RoleNotFoundError(NotFoundError):
    def __init__(self, role_id: str) -> None:
        super().__init__(f"Role '{role_id}' not found")


class BuiltinRoleError(HangarError):
    """Built-in roles cannot be created, changed or deleted."""

    status_code = 409


class ApiKeyNotFoundError(NotFoundError):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"API key '{key_id}' not found")


class PathNotAllowedError(HangarError):
    """A file path given over the API lies outside the directories the operator configured.
    The message never quotes the file: its existence is not even confirmed."""

    status_code = 403

