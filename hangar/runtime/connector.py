"""The runtime side of the application's ``ProviderConnector`` port.

Builds the right client for a provider definition and translates the runtime's own errors into
domain errors, so the application layer never needs to know which transport failed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from hangar.app.ports import CallOutcome, ProviderConnection, ServerIdentity
from hangar.domain.errors import (
    HangarError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    ValidationError,
)
from hangar.domain.provider_spec import ProviderSpec, ToolSpec
from hangar.observability.tracing import mcp_client_span, tool_call_span
from hangar.runtime.client import McpClient
from hangar.runtime.docker_engine import DockerEngine, engine_configured
from hangar.runtime.errors import (
    CallTimeout,
    ProtocolError,
    ProviderCrashed,
    ProviderUnavailable,
    RuntimeClientError,
    ToolCallError,
)
from hangar.runtime.logs import LogBuffer
from hangar.runtime.reaper import ProcessReaper
from hangar.runtime.stdio import StdioClient

T = TypeVar("T")

INVALID_PARAMS = -32602
DOCKER_SWEEP_DELAY_S = 5.0


def translate(provider_id: str, exc: RuntimeClientError) -> HangarError:
    if isinstance(exc, CallTimeout):
        return ProviderTimeoutError(f"Provider '{provider_id}': {exc}")
    if isinstance(exc, ProviderUnavailable):
        return ProviderUnavailableError(str(exc))
    if isinstance(exc, ProviderCrashed):
        return ProviderError(f"Provider '{provider_id}' crashed: {exc}")
    if isinstance(exc, ToolCallError):
        if exc.code == INVALID_PARAMS:
            return ValidationError(f"Provider '{provider_id}' rejected the arguments: {exc.message}")
        return ProviderError(f"Provider '{provider_id}' answered with an error: {exc}")
    if isinstance(exc, ProtocolError):
        return ProviderError(f"Provider '{provider_id}' broke the MCP protocol: {exc}")
    return ProviderError(f"Provider '{provider_id}': {exc}")


class Connection:
    """A runtime client behind the application's ``ProviderConnection`` port."""

    def __init__(self, provider_id: str, client: McpClient) -> None:
        self.provider_id = provider_id
        self.client = client

    @property
    def alive(self) -> bool:
        return self.client.alive

    async def _guard(self, op: Awaitable[T]) -> T:
        try:
            return await op
        except RuntimeClientError as exc:
            raise translate(self.provider_id, exc) from exc
        except OSError as exc:
            raise ProviderUnavailableError(f"Provider '{self.provider_id}' is unavailable: {exc}") from exc

    async def start(self) -> ServerIdentity:
        with mcp_client_span(self.provider_id, "initialize"):
            info = await self._guard(self.client.start())
        return ServerIdentity(name=info.name, version=info.version)

    async def list_tools(self) -> list[ToolSpec]:
        tools = await self._guard(self.client.list_tools())
        return [ToolSpec(name=t.name, description=t.description, input_schema=t.input_schema) for t in tools]

    async def call_tool(self, name: str, arguments: dict[str, Any], timeout_s: float) -> CallOutcome:
        with tool_call_span(self.provider_id, name):
            r = await self._guard(self.client.call_tool(name, arguments, timeout_s))
        return CallOutcome(content=r.content, is_error=r.is_error, structured_content=r.structured_content)

    async def ping(self, timeout_s: float) -> float:
        return await self._guard(self.client.ping(timeout_s))

    async def close(self) -> None:
        await self.client.close()


ClientBuilder = Callable[[str, ProviderSpec, LogBuffer, Callable[[str], None], Callable[[], None]], McpClient]


class RuntimeConnector:
    """Makes connections for every provider mode; owns the per-provider log buffers and the
    reaper that cleans up process groups if Hangar itself is killed."""

    def __init__(self, *, use_reaper: bool = True, extra_builders: dict[str, ClientBuilder] | None = None) -> None:
        self._logs: dict[str, LogBuffer] = {}
        self._reaper = ProcessReaper() if use_reaper else None
        self._builders: dict[str, ClientBuilder] = {"subprocess": self._stdio, "remote": self._remote}
        # Made on first need; it connects to the engine lazily, in its own threads.
        self._docker_engine: DockerEngine | None = None
        self._builders["docker"] = self._docker_client
        self._builders.update(extra_builders or {})

    async def start(self) -> None:
        if self._reaper is not None:
            await self._reaper.start()
        if engine_configured():
            # Containers a killed Hangar left behind; delayed so startup does not pay for it.
            self._docker().sweep_later(DOCKER_SWEEP_DELAY_S)

    async def close(self) -> None:
        if self._reaper is not None:
            await self._reaper.close()
        if self._docker_engine is not None:
            await self._docker_engine.close()

    def logs(self, provider_id: str) -> LogBuffer:
        buf = self._logs.get(provider_id)
        if buf is None:
            buf = self._logs[provider_id] = LogBuffer(provider_id)
        return buf

    def forget(self, provider_id: str) -> None:
        self._logs.pop(provider_id, None)

    def connect(
        self,
        provider_id: str,
        spec: ProviderSpec,
        on_exit: Callable[[str], None],
        on_tools_changed: Callable[[], None],
    ) -> ProviderConnection:
        builder = self._builders.get(spec.mode)
        if builder is None:
            raise ProviderUnavailableError(f"Provider mode '{spec.mode}' is not available on this host")
        client = builder(provider_id, spec, self.logs(provider_id), on_exit, on_tools_changed)
        return Connection(provider_id, client)

    def _stdio(
        self, pid: str, spec: ProviderSpec, logs: LogBuffer,
        on_exit: Callable[[str], None], on_tools_changed: Callable[[], None],
    ) -> McpClient:
        return StdioClient(
            pid,
            spec.command or [],
            env=spec.env,
            logs=logs,
            reaper=self._reaper,
            on_exit=lambda rc: on_exit(f"process exited with code {rc}"),
            on_notification=_tools_changed_filter(on_tools_changed),
        )

    def _remote(
        self, pid: str, spec: ProviderSpec, logs: LogBuffer,
        on_exit: Callable[[str], None], on_tools_changed: Callable[[], None],
    ) -> McpClient:
        from hangar.runtime.http import HttpClient

        return HttpClient(
            pid, spec.endpoint or "", on_notification=_tools_changed_filter(on_tools_changed)
        )

    def _docker(self) -> DockerEngine:
        if self._docker_engine is None:
            self._docker_engine = DockerEngine()
        return self._docker_engine

    def _docker_client(
        self, pid: str, spec: ProviderSpec, logs: LogBuffer,
        on_exit: Callable[[str], None], on_tools_changed: Callable[[], None],
    ) -> McpClient:
        from hangar.runtime.docker import DockerClient
        from hangar.runtime.docker_engine import ContainerSpec

        container = ContainerSpec(
            image=spec.image or "", command=spec.command, env=spec.env, volumes=spec.volumes,
            network=spec.network, read_only=spec.read_only,
        )
        return DockerClient(
            pid, container, engine=self._docker(), logs=logs,
            on_exit=lambda rc: on_exit(f"container exited with code {rc}" if rc is not None
                                       else "container stopped answering"),
            on_notification=_tools_changed_filter(on_tools_changed),
        )


def _tools_changed_filter(callback: Callable[[], None]) -> Callable[[str, Any], None]:
    def on_notification(method: str, params: Any) -> None:
        if method == "notifications/tools/list_changed":
            callback()

    return on_notification
