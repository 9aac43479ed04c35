"""The client interface the application layer drives, and the MCP logic shared by transports.

Transports (stdio, Streamable HTTP, legacy SSE) only move JSON-RPC messages; the handshake,
pagination and result decoding live once in :class:`BaseMcpClient`.
"""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar, runtime_checkable

import msgspec

from hangar.observability.tracing import trace_headers

from .errors import ProtocolError

log = logging.getLogger("hangar.runtime")

PROTOCOL_VERSION = "2025-06-18"
# Handshake-era revisions whose tools/* surface is the same as far as Hangar is concerned.
SUPPORTED_PROTOCOL_VERSIONS = frozenset({"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"})
MAX_TOOL_PAGES = 1000

NotificationHandler = Callable[[str, Any], None]
"""``(method, params)`` for every notification the provider sends, e.g. tools/list_changed."""
ServerRequestHandler = Callable[[str, Any], Awaitable[Any]]
"""Answers a request the provider sends (sampling, elicitation, roots): returns the result or
raises ``RelayRefused``; set on a client to relay them instead of refusing them."""
RELAYED_CAPABILITIES: dict[str, Any] = {"sampling": {}, "elicitation": {"form": {}, "url": {}}, "roots": {}}


class ServerInfo(msgspec.Struct, frozen=True):
    name: str
    version: str
    protocol_version: str
    capabilities: dict[str, Any] = {}
    instructions: str | None = None


class ToolInfo(msgspec.Struct, frozen=True):
    name: str
    description: str = ""
    input_schema: dict[str, Any] = {}
    title: str | None = None
    output_schema: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None
    execution: dict[str, Any] | None = None


class ToolResult(msgspec.Struct, frozen=True):
    content: list[dict[str, Any]]
    """Content blocks as plain JSON objects (``{"type": "text", "text": ...}``...)."""
    is_error: bool = False
    structured_content: dict[str, Any] | None = None


@runtime_checkable
class McpClient(Protocol):
    """One live connection to one provider."""

    provider_id: str

    @property
    def alive(self) -> bool: ...

    @property
    def server_info(self) -> ServerInfo | None: ...

    async def start(self) -> ServerInfo: ...

    async def list_tools(self, timeout_s: float = ...) -> list[ToolInfo]: ...

    async def call_tool(
        self, name: str, arguments: Mapping[str, Any] | None = None, timeout_s: float = ...
    ) -> ToolResult: ...

    async def ping(self, timeout_s: float = ...) -> float: ...

    async def close(self) -> None: ...


# --- wire shapes (camelCase on the wire, snake_case in Hangar) --------------------------------


class _Implementation(msgspec.Struct):
    name: str = ""
    version: str = ""


class _InitializeResult(msgspec.Struct, rename="camel"):
    protocol_version: str
    server_info: _Implementation = msgspec.field(default_factory=_Implementation)
    capabilities: dict[str, Any] = {}
    instructions: str | None = None


class _Tool(msgspec.Struct, rename="camel"):
    name: str
    description: str | None = None
    input_schema: dict[str, Any] = {}
    title: str | None = None
    output_schema: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None
    execution: dict[str, Any] | None = None


class _ListToolsResult(msgspec.Struct, rename="camel"):
    tools: list[_Tool] = []
    next_cursor: str | None = None


class _CallToolResult(msgspec.Struct, rename="camel"):
    content: list[dict[str, Any]] = []
    is_error: bool = False
    structured_content: dict[str, Any] | None = None


_T = TypeVar("_T")
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def decode_result(raw: msgspec.Raw | bytes, into: type[_T], method: str) -> _T:
    decoder = _decoders.get(into)
    if decoder is None:
        decoder = _decoders[into] = msgspec.json.Decoder(into)
    try:
        result: _T = decoder.decode(raw)
        return result
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"malformed {method} result: {exc}") from exc


class BaseMcpClient(abc.ABC):
    """MCP semantics on top of two transport primitives: ``_request`` and ``_notify``."""

    def __init__(
        self,
        provider_id: str,
        *,
        protocol_version: str = PROTOCOL_VERSION,
        client_name: str = "hangar",
        client_version: str = "0.1.0",
        on_notification: NotificationHandler | None = None,
    ) -> None:
        self.provider_id = provider_id
        self._protocol_version = protocol_version
        self._client_info = {"name": client_name, "version": client_version}
        self._on_notification = on_notification
        self._server_info: ServerInfo | None = None
        self.server_request_handler: ServerRequestHandler | None = None

    @abc.abstractmethod
    async def _request(self, method: str, params: Any, timeout_s: float) -> msgspec.Raw:
        """Send one request and return its raw ``result``; raise a runtime error otherwise."""

    @abc.abstractmethod
    async def _notify(self, method: str, params: Any = None) -> None: ...

    @property
    def server_info(self) -> ServerInfo | None:
        return self._server_info

    @property
    def protocol_version(self) -> str | None:
        return self._server_info.protocol_version if self._server_info else None

    async def _handshake(self, timeout_s: float) -> ServerInfo:
        params = {
            "protocolVersion": self._protocol_version,
            # Only what can be relayed to a calling client is advertised.
            "capabilities": RELAYED_CAPABILITIES if self.server_request_handler is not None else {},
            "clientInfo": self._client_info,
        }
        raw = await self._request("initialize", params, timeout_s)
        res = decode_result(raw, _InitializeResult, "initialize")
        if res.protocol_version not in SUPPORTED_PROTOCOL_VERSIONS:
            raise ProtocolError(f"provider speaks unsupported protocol version {res.protocol_version!r}")
        info = ServerInfo(
            name=res.server_info.name,
            version=res.server_info.version,
            protocol_version=res.protocol_version,
            capabilities=res.capabilities,
            instructions=res.instructions,
        )
        self._server_info = info
        await self._notify("notifications/initialized")
        return info

    async def request(self, method: str, params: Any = None, timeout_s: float = 30.0) -> Any:
        """Escape hatch for methods without a typed wrapper; returns the decoded ``result``."""
        return msgspec.json.decode(await self._request(method, params, timeout_s))

    async def list_tools(self, timeout_s: float = 30.0) -> list[ToolInfo]:
        tools: list[ToolInfo] = []
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_TOOL_PAGES):
            raw = await self._request("tools/list", {"cursor": cursor} if cursor else None, timeout_s)
            page = decode_result(raw, _ListToolsResult, "tools/list")
            tools.extend(
                ToolInfo(
                    name=t.name,
                    description=t.description or "",
                    input_schema=t.input_schema,
                    title=t.title,
                    output_schema=t.output_schema,
                    annotations=t.annotations,
                    execution=t.execution,
                )
                for t in page.tools
            )
            cursor = page.next_cursor
            if not cursor:
                return tools
            if cursor in seen:
                raise ProtocolError(f"tools/list cursor {cursor!r} repeats; refusing to loop")
            seen.add(cursor)
        raise ProtocolError(f"tools/list did not finish within {MAX_TOOL_PAGES} pages")

    async def call_tool(
        self, name: str, arguments: Mapping[str, Any] | None = None, timeout_s: float = 60.0
    ) -> ToolResult:
        params: dict[str, Any] = {"name": name, "arguments": arguments if arguments is not None else {}}
        trace_context = trace_headers()
        if trace_context:
            # W3C trace context in the request's _meta, where MCP servers look for it.
            params["_meta"] = trace_context
        raw = await self._request("tools/call", params, timeout_s)
        res = decode_result(raw, _CallToolResult, "tools/call")
        return ToolResult(res.content, res.is_error, res.structured_content)

    async def ping(self, timeout_s: float = 5.0) -> float:
        """Round-trip time in seconds."""
        started = time.perf_counter()
        await self._request("ping", None, timeout_s)
        return time.perf_counter() - started

    def _dispatch_notification(self, method: str, params: Any) -> None:
        handler = self._on_notification
        if handler is None:
            return
        try:
            handler(method, params)
        except Exception:
            # A broken observer must not take the connection down with it.
            log.exception("notification handler failed for %s (provider %s)", method, self.provider_id)
