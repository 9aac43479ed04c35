"""OpenTelemetry traces: one span per HTTP request, per command and per tool call, the W3C
``traceparent`` handed on to providers, and the trace id in log lines and event metadata.

Spans are exported over OTLP/HTTP only when an endpoint is configured (``observability.
otlp_endpoint`` or the standard ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` /
``OTEL_EXPORTER_OTLP_ENDPOINT``); without one the API's no-op tracer is used and an incoming
``traceparent`` is still passed on to providers. Attribute names follow the OpenTelemetry HTTP
and GenAI/MCP semantic conventions (``mcp.method.name``, ``gen_ai.tool.name``,
``gen_ai.operation.name``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, MutableMapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

TRACER_NAME = "hangar"


def _tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def otlp_endpoint(configured: str | None) -> str | None:
    """The traces URL: the config file's, else the standard OTel environment variables."""
    if configured:
        return configured
    if os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    return base.rstrip("/") + "/v1/traces" if base else None


class Tracing:
    """The SDK's provider and exporter when an endpoint is configured; shut down with the app."""

    def __init__(self, endpoint: str | None, version: str) -> None:
        self.endpoint = endpoint
        self._provider: Any = None
        if not endpoint:
            return
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "hangar"),
                                    "service.version": version})
        self._provider = TracerProvider(resource=resource)
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        # The OTel API has one process-wide provider; it can be set once, so a second app in the
        # same process (tests) keeps exporting through the first.
        trace.set_tracer_provider(self._provider)

    @property
    def enabled(self) -> bool:
        return self._provider is not None

    def shutdown(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()  # flushes what is still queued


# ``get_tracer_provider()`` looks ``OTEL_PYTHON_TRACER_PROVIDER`` up in ``os.environ`` on every
# call until a provider is set (about 2 us; up to three times per request). The environment
# variable is read once here; whether a provider has been set is one attribute read.
_PROVIDER_FROM_ENV = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ


def _exporting() -> bool:
    if getattr(trace, "_TRACER_PROVIDER", True) is None and not _PROVIDER_FROM_ENV:
        return False  # nothing set yet: the proxy provider, which exports nothing
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def _traced() -> bool:
    """Spans are worth making: an SDK exports them, or a caller's trace must be passed on.
    Otherwise the hot paths skip the API entirely (tens of microseconds per call)."""
    return _exporting() or trace.get_current_span().get_span_context().is_valid


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def add_trace_ids(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the trace and span ids beside the correlation id."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event_dict.setdefault("span_id", format(ctx.span_id, "016x"))
    return event_dict


@contextmanager
def command_span(command: str) -> Iterator[str | None]:
    """A span around one command; yields its trace id for the events' metadata."""
    if not _traced():
        yield None
        return
    with _tracer().start_as_current_span(f"command {command}", attributes={"hangar.command": command}) as span:
        try:
            yield current_trace_id()
        except Exception as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


def tool_call_span(provider_id: str, tool: str) -> AbstractContextManager[None]:
    """A client span around one MCP ``tools/call`` to a provider."""
    return mcp_client_span(provider_id, "tools/call", tool)


@contextmanager
def mcp_client_span(provider_id: str, method: str, tool: str | None = None) -> Iterator[None]:
    """A client span around one MCP request to a provider (``initialize``, ``tools/call``, ...)."""
    if not _traced():
        yield
        return
    attributes = {"mcp.method.name": method, "hangar.provider_id": provider_id, "rpc.system": "jsonrpc"}
    if tool is not None:
        attributes |= {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool}
    name = f"{method} {tool}" if tool else f"{method} {provider_id}"
    with _tracer().start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes) as span:
        try:
            yield
        except Exception as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            span.set_attribute("error.type", type(exc).__name__)
            raise


def trace_headers() -> dict[str, str]:
    """``traceparent`` (and ``tracestate``) of the current span, for a provider's request."""
    carrier: dict[str, str] = {}
    if trace.get_current_span().get_span_context().is_valid:
        propagate.inject(carrier)
    return carrier


class RequestTracing:
    """ASGI wrapper: a server span per HTTP request, continuing an incoming ``traceparent``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not _exporting() and not any(k == b"traceparent" for k, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        method = scope.get("method", "GET")
        attributes = {"http.request.method": method, "url.path": scope.get("path", "")}
        status = 500
        with _tracer().start_as_current_span(method, context=propagate.extract(carrier), kind=SpanKind.SERVER,
                                             attributes=attributes) as span:

            async def send_wrapper(message: Any) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                route = scope.get("path_template")
                if route:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
