"""Task ids Hangar shows MCP clients for tasks its providers run (MCP tasks, 2025-11-25).

A provider's task id is only unique within that provider, and anyone who learns it could ask
the provider about it. The id Hangar hands out names the provider and the provider's task id
reversibly and carries a MAC over the creating principal, so:

- ``tasks/get``/``result``/``cancel`` find the owning provider from the id alone, on any replica
  and after a restart (the key is derived from the shared sealing key);
- another principal presenting the id gets "not found": the MAC does not verify for them, and
  nothing tells them the task exists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from hangar.domain.errors import NotFoundError

PREFIX = "ht1"
_MAC_BYTES = 12


class UnknownTaskError(NotFoundError):
    def __init__(self, task_id: str) -> None:
        super().__init__(f"Task '{task_id}' not found")


def _b64(data: str) -> str:
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def _unb64(data: str) -> str:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode()


class TaskIds:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, principal: str, provider: str, provider_task_id: str) -> str:
        msg = "\n".join((principal, provider, provider_task_id)).encode()
        digest = hmac.new(self._key, msg, hashlib.sha256).digest()[:_MAC_BYTES]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def expose(self, principal: str, provider: str, provider_task_id: str) -> str:
        mac = self._mac(principal, provider, provider_task_id)
        return f"{PREFIX}.{_b64(provider)}.{_b64(provider_task_id)}.{mac}"

    def resolve(self, principal: str, task_id: str) -> tuple[str, str]:
        """``(provider, provider_task_id)``; ``UnknownTaskError`` for a malformed id or one another
        principal created."""
        parts = task_id.split(".")
        if len(parts) != 4 or parts[0] != PREFIX:
            raise UnknownTaskError(task_id)
        try:
            provider, ptid = _unb64(parts[1]), _unb64(parts[2])
        except (ValueError, UnicodeDecodeError):
            raise UnknownTaskError(task_id) from None
        if not hmac.compare_digest(parts[3], self._mac(principal, provider, ptid)):
            raise UnknownTaskError(task_id)
        return provider, ptid
