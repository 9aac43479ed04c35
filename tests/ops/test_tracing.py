"""Traces over real OTLP/HTTP: one REST tool call yields request → command → tool-call spans in
one trace, continuing the caller's ``traceparent``, and the provider receives the tool-call
span as its parent in ``_meta``. The trace id is also in the log lines and the event metadata."""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPO, HangarProcess, free_port

pb = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


class Receiver:
    """A minimal OTLP/HTTP traces endpoint: decodes each protobuf export into plain dicts."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        spans = self.spans

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                req = pb.ExportTraceServiceRequest.FromString(body)
                for rs in req.resource_spans:
                    service = {a.key: a.value.string_value for a in rs.resource.attributes}.get("service.name")
                    for ss in rs.scope_spans:
                        for s in ss.spans:
                            spans.append({
                                "service": service, "name": s.name, "kind": s.kind,
                                "trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(),
                                "parent": s.parent_span_id.hex(),
                                "attributes": {a.key: a.value.string_value or a.value.int_value
                                               for a in s.attributes},
                            })
                out = pb.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


@pytest.fixture(scope="module")
def hangar(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[HangarProcess]:
    work = Path(tmp_path_factory.mktemp("tracing"))
    cfg = work / "hangar.yaml"
    cfg.write_text(f"providers:\n  traced:\n    mode: subprocess\n"
                   f"    command: [{sys.executable}, {REPO / 'tests' / 'fixtures' / 'traced_server.py'}]\n")
    env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "100",
           "OTEL_SERVICE_NAME": "hangar-under-test"}
    proc = HangarProcess(work, config=cfg, env=env).start()
    try:
        yield proc
    finally:
        proc.stop()


def test_one_rest_tool_call_is_one_trace_down_to_the_provider(hangar: HangarProcess, receiver: Receiver) -> None:
    with hangar.client() as api:
        r = api.post("/api/providers/traced/tools/show_meta/invoke", json={"arguments": {}},
                     headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"})
    assert r.status_code == 200, r.text
    meta = json.loads(r.json()["result"][0]["text"])
    version, trace_id, provider_parent, flags = meta["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", CALLER_TRACE, "01")

    def chain() -> dict[str, dict[str, Any]] | None:
        mine = [s for s in receiver.spans if s["trace_id"] == CALLER_TRACE]
        by_name = {s["name"]: s for s in mine}
        wanted = ("POST /api/providers/{provider_id}/tools/{tool_name}/invoke", "command InvokeTool",
                  "tools/call show_meta")
        return {n: by_name[n] for n in wanted} if all(n in by_name for n in wanted) else None

    deadline = time.monotonic() + 15
    spans = chain()
    while spans is None and time.monotonic() < deadline:
        time.sleep(0.1)
        spans = chain()
    assert spans is not None, [(s["name"], s["trace_id"]) for s in receiver.spans]
    request, command, tool = spans.values()
    assert request["parent"] == CALLER_SPAN and request["kind"] == 2  # SERVER
    assert request["attributes"]["http.route"] == "/api/providers/{provider_id}/tools/{tool_name}/invoke"
    assert request["attributes"]["http.response.status_code"] == 200
    assert command["parent"] == request["span_id"]
    assert tool["parent"] == command["span_id"] and tool["kind"] == 3  # CLIENT
    assert tool["attributes"]["gen_ai.tool.name"] == "show_meta"
    assert tool["attributes"]["mcp.method.name"] == "tools/call"
    assert provider_parent == tool["span_id"]  # the provider's request is a child of the tool span
    assert request["service"] == "hangar-under-test"
    # Starting the cold provider on the way is part of the same command.
    init = next(s for s in receiver.spans if s["name"] == "initialize traced" and s["trace_id"] == CALLER_TRACE)
    assert init["parent"] == command["span_id"] and init["attributes"]["mcp.method.name"] == "initialize"

    # The trace id beside the correlation id in the events' metadata.
    db = sqlite3.connect(hangar.db_url.split("///", 1)[1])
    try:
        rows = db.execute("SELECT metadata FROM events WHERE event_type = 'ToolInvocationCompleted'").fetchall()
    finally:
        db.close()
    metas = [json.loads(m) for (m,) in rows]
    assert [m["trace_id"] for m in metas] == [CALLER_TRACE] and metas[0]["correlation_id"]


def test_log_lines_carry_the_trace_and_span_ids() -> None:
    import structlog
    from opentelemetry.sdk.trace import TracerProvider

    from hangar.observability.logging import configure_logging
    from hangar.observability.tracing import add_trace_ids

    configure_logging("info", json=True)
    assert add_trace_ids in structlog.get_config()["processors"]
    assert add_trace_ids(None, "info", {}) == {}  # outside any span: nothing added
    with TracerProvider().get_tracer("test").start_as_current_span("work") as span:
        ctx = span.get_span_context()
        fields = add_trace_ids(None, "info", {"correlation_id": "c-1"})
    assert fields == {"correlation_id": "c-1", "trace_id": format(ctx.trace_id, "032x"),
                      "span_id": format(ctx.span_id, "016x")}
