"""``/metrics`` (parsed with prometheus-client's own parser) after real tool calls, the JSON
metrics view, the metrics history and the correlation id of requests."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from tests.ops.conftest import error_of, new_mark, write_yaml
from tests.support import HangarProcess, fixture_provider, wait_until

INVOKE_ROUTE = "/api/providers/{provider_id}/tools/{tool_name}/invoke"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HangarProcess]:
    work = Path(tmp_path_factory.mktemp("metrics"))
    cfg = write_yaml(work / "hangar.yaml", {"observability": {"history_interval_s": 0.2}})
    proc = HangarProcess(work, config=cfg).start(timeout=60)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def api(server: HangarProcess) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def scrape(api: httpx.Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    r = api.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(r.text) for s in fam.samples}


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def invoke(api: httpx.Client, pid: str, tool: str, **arguments: object) -> httpx.Response:
    return api.post(f"/api/providers/{pid}/tools/{tool}/invoke", json={"arguments": arguments})


def test_metrics_after_real_tool_calls(api: httpx.Client, server: HangarProcess) -> None:
    pid = "met1"
    body = fixture_provider(pid, new_mark(), health_check_interval_s=1)
    assert api.post("/api/providers", json=body).status_code == 201
    for i in range(3):
        assert invoke(api, pid, "add", a=i, b=1).status_code == 200
    for _ in range(2):
        assert invoke(api, pid, "echo", text="hi").status_code == 200
    assert invoke(api, pid, "fail", message="no").json()["is_error"] is True
    assert invoke(api, pid, "add", a="x", b=1).status_code == 422  # rejected before any call
    assert api.get("/api/nothing-here").status_code == 404

    m = scrape(api)
    calls = "mcp_hangar_tool_calls_total"
    assert value(m, calls, provider=pid, tool="add", outcome="success") == 3
    assert value(m, calls, provider=pid, tool="echo", outcome="success") == 2
    assert value(m, calls, provider=pid, tool="fail", outcome="error") == 1
    assert value(m, "mcp_hangar_tool_call_duration_seconds_count", provider=pid, tool="add") == 3
    assert value(m, "mcp_hangar_provider_state", provider=pid, state="ready") == 1
    assert value(m, "mcp_hangar_provider_state", provider=pid, state="cold") == 0
    assert value(m, "mcp_hangar_provider_up", provider=pid) == 1
    assert value(m, "mcp_hangar_cold_starts_total", provider=pid) == 1
    assert value(m, "mcp_hangar_cold_start_duration_seconds_count", provider=pid) == 1
    assert value(m, "mcp_hangar_circuit_breaker_state", kind="provider", target=pid, state="closed") == 1
    assert value(m, "mcp_hangar_events_appended_total", stream_type="calls") == 12  # requested + finished
    assert value(m, "mcp_hangar_store_append_duration_seconds_count") > 0
    assert value(m, "mcp_hangar_projection_lag_events") == 0
    http = "mcp_hangar_http_requests_total"
    assert value(m, http, method="POST", route=INVOKE_ROUTE, status="200") == 6
    assert value(m, http, method="POST", route=INVOKE_ROUTE, status="422") == 1
    assert value(m, http, method="GET", route="unmatched", status="404") == 1
    assert value(m, "mcp_hangar_http_request_duration_seconds_count", method="POST", route=INVOKE_ROUTE) == 7

    # Health checks run every second for this provider.
    assert wait_until(lambda: value(scrape(api), "mcp_hangar_health_checks_total",
                                    provider=pid, result="passed") >= 1, 10)

    body = api.get("/api/observability/metrics").json()
    assert set(body) == {"prometheus_text", "summary"}
    assert body["summary"]["tool_calls_total"] == 6.0 and body["summary"]["tool_call_errors_total"] == 1.0
    assert body["summary"]["health_checks_total"] >= 1 and body["summary"]["providers_up"] == 1.0
    names = {f.name for f in text_string_to_metric_families(body["prometheus_text"])}
    assert {"mcp_hangar_tool_calls", "mcp_hangar_http_requests", "mcp_hangar_group_state"} <= names
    per = api.get("/api/observability/metrics/per-provider").json()["providers"]
    assert {"provider_id": pid, "tool_calls_total": 6.0, "tool_call_errors": 1.0} .items() <= next(
        p for p in per if p["provider_id"] == pid).items()

    # A deleted provider's gauges go; its counters stay.
    assert api.delete(f"/api/providers/{pid}").status_code == 200
    m = scrape(api)
    assert ("mcp_hangar_provider_up", frozenset({("provider", pid)})) not in m
    assert value(m, calls, provider=pid, tool="add", outcome="success") == 3


def test_websocket_clients_gauge(api: httpx.Client, server: HangarProcess) -> None:
    async def scenario() -> None:
        url = server.base.replace("http://", "ws://") + "/api/ws/events"
        async with websockets.connect(url):
            assert await asyncio.to_thread(
                wait_until, lambda: value(scrape(api), "mcp_hangar_websocket_clients") == 1, 5)
        assert await asyncio.to_thread(wait_until, lambda: value(scrape(api), "mcp_hangar_websocket_clients") == 0, 5)

    asyncio.run(scenario())


def test_metrics_history(api: httpx.Client) -> None:
    assert api.post("/api/providers", json=fixture_provider("hist1", new_mark())).status_code == 201
    assert invoke(api, "hist1", "add", a=1, b=2).status_code == 200

    def after_call() -> bool:
        snaps = api.get("/api/observability/metrics/history", params={"minutes": 5}).json()["snapshots"]
        return bool(snaps) and snaps[-1]["metrics"]["tool_calls_total"] >= 7

    assert wait_until(after_call, 5)
    body = api.get("/api/observability/metrics/history", params={"minutes": 5}).json()
    assert body["minutes"] == 5 and body["interval_s"] == 0.2 and body["snapshots_count"] >= 2
    series = body["series"]["tool_calls_total"]
    assert [p[0] for p in series] == sorted(p[0] for p in series)
    assert series[0][1] <= series[-1][1]
    one = api.get("/api/observability/metrics/history",
                  params={"minutes": 1, "metric": "tool_calls_total", "provider": "hist1"}).json()
    assert one["points"] and all(p["provider_id"] == "hist1" and p["metric_name"] == "tool_calls_total"
                                 for p in one["points"])
    assert one["count"] == len(one["points"])
    for bad in ("0", "1441", "abc", "-5"):
        error_of(api.get("/api/observability/metrics/history", params={"minutes": bad}), 422)


def test_correlation_id_in_and_out(api: httpx.Client, server: HangarProcess) -> None:
    r = api.get("/api/providers", headers={"X-Correlation-ID": "ops-test-42"})
    assert r.headers["x-correlation-id"] == "ops-test-42"
    made = api.get("/api/providers").headers["x-correlation-id"]
    assert made and made != api.get("/api/providers").headers["x-correlation-id"]
    # An id unsafe to log is replaced, not echoed.
    assert api.get("/api/providers", headers={"X-Correlation-ID": "a b\tc"}).headers["x-correlation-id"] != "a b\tc"

    # Commands stamp it into the metadata of the events they record.
    made_here = fixture_provider("corr1", new_mark())
    assert api.post("/api/providers", json=made_here, headers={"X-Correlation-ID": "ops-corr-9"}).status_code == 201
    with sqlite3.connect(server.workdir / "hangar.db") as db:
        (meta,) = db.execute("select metadata from events where stream_id = 'provider:corr1'").fetchone()
    assert json.loads(meta)["correlation_id"] == "ops-corr-9"

    # The id is bound into every log line of the request (JSON, since stderr is not a terminal).
    r = api.post("/api/config/reload", headers={"X-Correlation-ID": "ops-reload-7"})
    assert r.status_code == 200 and r.headers["x-correlation-id"] == "ops-reload-7"
    lines = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]
    assert any(rec.get("correlation_id") == "ops-reload-7" and rec["event"] == "config_applied" for rec in lines)
