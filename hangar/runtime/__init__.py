"""Runtime: MCP clients for providers (stdio subprocesses, Streamable HTTP / SSE remotes).

A self-contained library: it reports what happens through callbacks its caller passes in and
never imports the application, API or store layers.
"""

from .client import (
    PROTOCOL_VERSION,
    BaseMcpClient,
    McpClient,
    ServerInfo,
    ToolInfo,
    ToolResult,
)
from .errors import (
    CallTimeout,
    ProtocolError,
    ProviderCrashed,
    ProviderUnavailable,
    RuntimeClientError,
    ToolCallError,
)
from .http import HttpClient
from .logs import LogBuffer, LogEntry, LogSubscription
from .process import build_env, group_alive, group_members
from .reaper import ProcessReaper
from .sse import LegacySseSession
from .stdio import StdioClient

__all__ = [
    "PROTOCOL_VERSION",
    "BaseMcpClient",
    "CallTimeout",
    "HttpClient",
    "LegacySseSession",
    "LogBuffer",
    "LogEntry",
    "LogSubscription",
    "McpClient",
    "ProcessReaper",
    "ProtocolError",
    "ProviderCrashed",
    "ProviderUnavailable",
    "RuntimeClientError",
    "ServerInfo",
    "StdioClient",
    "ToolCallError",
    "ToolInfo",
    "ToolResult",
    "build_env",
    "group_alive",
    "group_members",
]
