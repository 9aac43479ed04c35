"""``/api/providers/{id}/…``: start, stop, tools, health, logs and tool invocation."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, WebSocket, get, post, websocket
from litestar.params import Parameter

from hangar.api import views
from hangar.api.deps import ConnectorPort, command_context
from hangar.api.guard import accepted_subprotocol
from hangar.app.bus import CommandBus
from hangar.app.invoke import InvokeResult, InvokeTool
from hangar.app.lifecycle import StartProvider, StopProvider
from hangar.app.projections.providers import ProvidersProjection, ProviderView
from hangar.domain.errors import ProviderNotFoundError

ToolName = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class StopRequest(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] = "user_request"


class InvokeRequest(msgspec.Struct, forbid_unknown_fields=True):
    arguments: dict[str, Any] = {}
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] | None = None


class StartResult(msgspec.Struct):
    provider: str
    provider_id: str
    state: str
    tools: list[str]
    tools_count: int
    startup_duration_ms: float | None


class StopResult(msgspec.Struct):
    stopped: str
    provider_id: str
    reason: str
    state: str


class ToolsBody(msgspec.Struct):
    tools: list[views.ToolBody]


class LogEntryBody(msgspec.Struct):
    timestamp: str
    line: str
    provider_id: str
    stream: str


class LogsBody(msgspec.Struct):
    logs: list[LogEntryBody]
    provider_id: str
    count: int


def _view(providers: ProvidersProjection, provider_id: str) -> ProviderView:
    view = providers.get(provider_id)
    if view is None:
        raise ProviderNotFoundError(provider_id)
    return view


class ProviderRuntimeController(Controller):
    path = "/api/providers/{provider_id:str}"
    tags = ["providers"]

    @post("/start", status_code=200, summary="Start the provider (no-op when it is running)")
    async def start(
        self, request: Request, bus: CommandBus, providers: ProvidersProjection, provider_id: str
    ) -> StartResult:
        await bus.execute(StartProvider(provider_id), command_context(request))
        v = _view(providers, provider_id)
        names = [t.name for t in v.visible_tools]
        return StartResult(provider_id, provider_id, v.state, names, len(names), v.startup_duration_ms)

    @post("/stop", status_code=200, summary="Stop the provider")
    async def stop(
        self, request: Request, bus: CommandBus, providers: ProvidersProjection, provider_id: str,
        data: StopRequest | None = None,
    ) -> StopResult:
        reason = data.reason if data is not None else "user_request"
        await bus.execute(StopProvider(provider_id, reason), command_context(request))
        return StopResult(provider_id, provider_id, reason, _view(providers, provider_id).state)

    @get("/tools", summary="Tools of the provider (predefined ones while it has never started)")
    async def tools(self, providers: ProvidersProjection, provider_id: str) -> ToolsBody:
        return ToolsBody(views.tools_body(_view(providers, provider_id)))

    @get("/health", summary="Health status with recent check history")
    async def health(self, providers: ProvidersProjection, provider_id: str) -> views.HealthBody:
        return views.health_body(_view(providers, provider_id))

    @get("/logs", summary="Recent stderr lines of the provider")
    async def logs(
        self, providers: ProvidersProjection, connector: ConnectorPort, provider_id: str,
        lines: Annotated[int, Parameter(ge=1, le=1000)] = 100,
    ) -> LogsBody:
        _view(providers, provider_id)
        entries = connector.logs(provider_id).tail(lines)
        out = [LogEntryBody(e.timestamp, e.line, e.provider_id, e.stream) for e in entries]
        return LogsBody(out, provider_id, len(out))

    @post("/tools/{tool_name:str}/invoke", status_code=200, summary="Call a tool (starts the provider if cold)")
    async def invoke(
        self, request: Request, bus: CommandBus, provider_id: str, tool_name: str, data: InvokeRequest
    ) -> InvokeResult:
        result: InvokeResult = await bus.execute(
            InvokeTool(provider_id=provider_id, tool=tool_name, arguments=data.arguments,
                       timeout_s=data.timeout_s),
            command_context(request),
        )
        return result


LOG_BACKLOG = 100


@websocket("/api/ws/providers/{provider_id:str}/logs")
async def provider_logs_stream(
    socket: WebSocket, providers: ProvidersProjection, connector: ConnectorPort, provider_id: str
) -> None:
    """The last lines, then live lines; each frame has the keys of a REST log entry."""
    await socket.accept(subprotocols=accepted_subprotocol(socket.scope))
    if providers.get(provider_id) is None:
        await socket.send_json({"error": "ProviderNotFoundError",
                                "message": f"Provider '{provider_id}' not found", "status_code": 404})
        await socket.close(code=1008, reason="provider not found")
        return
    source = connector.logs(provider_id)
    sub = source.subscribe()
    encoder = msgspec.json.Encoder()

    def frame(e: Any) -> str:
        return encoder.encode(LogEntryBody(e.timestamp, e.line, e.provider_id, e.stream)).decode()

    async def send_lines() -> None:
        for e in source.tail(LOG_BACKLOG):
            await socket.send_data(frame(e))
        async for e in sub:
            await socket.send_data(frame(e))
        # The subscription ended: the client fell behind and was dropped.
        await socket.close(code=1013, reason="client too slow")

    async def until_client_leaves() -> None:
        # A quiet provider writes nothing for hours: without reading, a client that left would
        # only be noticed at the next line, and its task would block a clean shutdown.
        while True:
            await socket.receive_data(mode="text")

    tasks = [asyncio.create_task(send_lines()), asyncio.create_task(until_client_leaves())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        close = getattr(sub, "close", None)
        if close is not None:
            close()
