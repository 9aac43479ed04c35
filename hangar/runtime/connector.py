"""The runtime side of the application's ``ProviderConnector`` port.

Builds the right client for a provider definition and translates the runtime's own errors into
domain errors, so the application layer never needs to know which transport failed.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from hangar.app.call_relay import CURRENT_RELAY, CallRelay, RelayRefused
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
from hangar.runtime.client import BaseMcpClient, McpClient
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
METHOD_NOT_FOUND = -32601
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
    """A runtime client behind the application's ``ProviderConnection`` port.

    Calls made while a ``CallRelay`` is current (``/mcp``) carry a progress token of Hangar's;
    the provider's progress and log messages during such calls, and its requests to its client,
    go to that relay (``hangar.app.call_relay``)."""

    def __init__(self, provider_id: str, client: McpClient, on_event: Callable[[str], None] | None = None) -> None:
        self.provider_id = provider_id
        self.client = client
        self._on_event = on_event
        self._relays: dict[str, CallRelay] = {}
        self._tokens = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self.task_status: Callable[[dict[str, Any]], None] | None = None
        """Told of the provider's ``notifications/tasks/status`` (MCP tasks it runs)."""
        if isinstance(client, BaseMcpClient):
            client.server_request_handler = self._server_request

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
        return [ToolSpec(name=t.name, description=t.description, input_schema=t.input_schema, title=t.title,
                         output_schema=t.output_schema, annotations=t.annotations, execution=t.execution)
                for t in tools]

    async def call_tool(self, name: str, arguments: dict[str, Any], timeout_s: float) -> CallOutcome:
        relay = CURRENT_RELAY.get()
        if relay is None or not isinstance(self.client, BaseMcpClient):
            with tool_call_span(self.provider_id, name):
                r = await self._guard(self.client.call_tool(name, arguments, timeout_s))
            return CallOutcome(content=r.content, is_error=r.is_error, structured_content=r.structured_content)
        token = f"hangar-{next(self._tokens)}"
        self._relays[token] = relay
        try:
            params = {"name": name, "arguments": arguments, "_meta": {"progressToken": token}}
            with tool_call_span(self.provider_id, name):
                res = await self._guard(self.client.request("tools/call", params, timeout_s))
        finally:
            self._relays.pop(token, None)
        if not isinstance(res, dict):
            raise ProviderError(f"Provider '{self.provider_id}' broke the MCP protocol: tools/call result is no object")
        structured = res.get("structuredContent")
        return CallOutcome(content=list(res.get("content") or []), is_error=bool(res.get("isError")),
                           structured_content=structured if isinstance(structured, dict) else None)

    async def request(self, method: str, params: Any, timeout_s: float) -> Any:
        """Any other MCP request (resources, prompts, completions), its result decoded."""
        if not isinstance(self.client, BaseMcpClient):
            raise ProviderError(f"Provider '{self.provider_id}' cannot relay {method}")
        return await self._guard(self.client.request(method, params, timeout_s))

    @property
    def capabilities(self) -> dict[str, Any]:
        info = self.client.server_info
        return dict(info.capabilities) if info is not None else {}

    async def ping(self, timeout_s: float) -> float:
        return await self._guard(self.client.ping(timeout_s))

    async def close(self) -> None:
        await self.client.close()

    # --- what the provider sends on its own ------------------------------------------------------

    def on_notification(self, method: str, params: Any) -> None:
        if method == "notifications/progress" and isinstance(params, dict):
            relay = self._relays.get(str(params.get("progressToken")))
            if relay is not None:
                body = {k: v for k, v in params.items() if k != "progressToken"}
                self._run(relay.progress(body))
        elif method == "notifications/message" and isinstance(params, dict):
            # Stdio carries no link from a log line to a request: every call in flight hears it.
            for relay in list(self._relays.values()):
                self._run(relay.log(params))
        elif method == "notifications/tasks/status" and isinstance(params, dict):
            if self.task_status is not None:
                self.task_status(params)
        elif self._on_event is not None and method in LIST_CHANGED:
            self._on_event(LIST_CHANGED[method])

    async def _server_request(self, method: str, params: Any) -> Any:
        relays = list(self._relays.values())
        if len(relays) != 1:
            why = "no call is in flight" if not relays else "several calls are in flight"
            raise RelayRefused(METHOD_NOT_FOUND, f"Hangar cannot relay {method}: {why}, so no client to ask")
        return await relays[0].server_request(method, params)

    def _run(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


LIST_CHANGED = {
    "notifications/tools/list_changed": "tools",
    "notifications/resources/list_changed": "resources",
    "notifications/prompts/list_changed": "prompts",
}


ClientBuilder = Callable[[str, ProviderSpec, LogBuffer, Callable[[str], None], Callable[[str, Any], None]], McpClient]


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
        self.on_offerings_changed: Callable[[str, str], None] | None = None
        """``(provider_id, "tools" | "resources" | "prompts")`` on a provider's list_changed."""
        self.on_task_status: Callable[[str, dict[str, Any]], None] | None = None
        """``(provider_id, params)`` for each ``notifications/tasks/status`` a provider sends."""

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
        offerings_changed = self.on_offerings_changed

        def on_event(kind: str) -> None:
            if kind == "tools":
                on_tools_changed()
            if offerings_changed is not None:
                offerings_changed(provider_id, kind)

        # The connection is made first so that the client can report to it from its first line.
        holder: list[Connection] = []
        client = builder(provider_id, spec, self.logs(provider_id), on_exit,
                         lambda method, params: holder[0].on_notification(method, params) if holder else None)
        conn = Connection(provider_id, client, on_event)
        conn.task_status = lambda params: self._task_status(provider_id, params)
        holder.append(conn)
        return conn

    def _task_status(self, provider_id: str, params: dict[str, Any]) -> None:
        hook = self.on_task_status  # read per notification: the front door hooks in after start
        if hook is not None:
            hook(provider_id, params)

    def _stdio(
        self, pid: str, spec: ProviderSpec, logs: LogBuffer,
        on_exit: Callable[[str], None], on_notification: Callable[[str, Any], None],
    ) -> McpClient:
        return StdioClient(
            pid,
            spec.command or [],
            env=spec.env,
            logs=logs,
            reaper=self._reaper,
            on_exit=lambda rc: on_exit(f"process exited with code {rc}"),
            on_notification=on_notification,
        )

    def _remote(
        self, pid: str, spec: ProviderSpec, logs: LogBuffer,
        on_exit: Callable[[str], None], on_notification: Callable[[str, Any], None],
    ) -> McpClient:
        from hangar.runtime.http import HttpClient

        return HttpClient(
            pid, spec.endpoint or "", on_notification=on_notification
        )

    def _docker(self) -> DockerEngine:
        if self._docker_engine is None:
            self._docker_engine = DockerEngine()
        return self._docker_engine

    def _docker_client(
        self, pid: str, spec: ProviderSpec, logs: LogBuffer,
        on_exit: Callable[[str], None], on_notification: Callable[[str, Any], None],
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
            on_notification=on_notification,
        )
