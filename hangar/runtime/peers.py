"""The client side of ``POST /internal/cluster/commands``: a runtime op sent to another replica.

The request carries the cluster token; the owner answers the op's result, or the REST error
envelope of the ``HangarError`` it raised, which is raised here again with the same status,
type and message, so a caller cannot tell a forwarded failure from a local one.
"""

from __future__ import annotations

import httpx
import msgspec

from hangar.app.cluster_runtime import (
    CLUSTER_TOKEN_HEADER,
    INTERNAL_COMMANDS_PATH,
    OpResult,
    PeerUnreachableError,
    RuntimeOp,
)
from hangar.app.tls import shared_tls_context
from hangar.domain.errors import HangarError

_decode_result = msgspec.json.Decoder(OpResult)


class _Envelope(msgspec.Struct):
    error: str
    message: str
    status_code: int


_decode_error = msgspec.json.Decoder(_Envelope)


class PeerError(HangarError):
    """A ``HangarError`` raised on another replica, with its status and type kept."""

    def __init__(self, error_type: str, message: str, status_code: int) -> None:
        super().__init__(message)
        self._error_type = error_type
        self.status_code = status_code

    @property
    def error_type(self) -> str:
        return self._error_type


class PeerClient:
    def __init__(self, token: str, instance_id: str, *, connect_timeout_s: float = 2.0) -> None:
        self._headers = {CLUSTER_TOKEN_HEADER: token, "x-hangar-forwarded-by": instance_id}
        # The op's own deadline bounds a call; the read timeout only adds a margin to it.
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=connect_timeout_s),
                                         limits=httpx.Limits(max_keepalive_connections=32),
                                         verify=shared_tls_context())

    async def send(self, address: str, op: RuntimeOp) -> OpResult:
        url = address.rstrip("/") + INTERNAL_COMMANDS_PATH
        try:
            response = await self._client.post(
                url, content=msgspec.json.encode(op), headers={**self._headers, "content-type": "application/json"},
                timeout=httpx.Timeout(op.timeout_s + 30.0, connect=2.0),
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
            raise PeerUnreachableError(f"replica at {address} did not answer: {type(exc).__name__}") from None
        except httpx.HTTPError as exc:
            raise PeerUnreachableError(f"replica at {address} failed: {exc}") from None
        if response.status_code < 400:
            return _decode_result.decode(response.content)
        try:
            env = _decode_error.decode(response.content)
        except msgspec.DecodeError:
            raise PeerUnreachableError(
                f"replica at {address} answered {response.status_code} without an error envelope") from None
        raise PeerError(env.error, env.message, env.status_code)

    async def close(self) -> None:
        await self._client.aclose()
