"""Asynchronous REST calls: 202 with a task id, then poll it, watch it on the WebSocket, or
cancel it."""

from __future__ import annotations

import json
import time
import uuid

import httpx
from websockets.sync.client import connect

from tests.support import HangarProcess, fixture_provider


def provider(api: httpx.Client) -> str:
    pid = f"t-{uuid.uuid4().hex[:6]}"
    assert api.post("/api/providers", json=fixture_provider(pid, uuid.uuid4().hex)).status_code == 201
    return pid


def wait_done(api: httpx.Client, task_id: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = api.get(f"/api/tasks/{task_id}").json()
        if body["status"] != "working":
            return body
        time.sleep(0.05)
    raise AssertionError("task did not finish")


def test_accept_poll_and_watch(api: httpx.Client, hangar: HangarProcess) -> None:
    pid = provider(api)
    ws_url = hangar.base.replace("http", "ws") + "/api/ws/events"
    with connect(ws_url) as ws:
        ws.send(json.dumps({"event_types": ["ToolInvocationCompleted"], "provider_ids": [pid]}))
        assert "filter" in json.loads(ws.recv(timeout=30))  # applied before the call is made
        r = api.post(f"/api/providers/{pid}/tools/slow/invoke-async", json={"arguments": {"seconds": 0.3}})
        assert r.status_code == 202, r.text
        task = r.json()
        assert task["status"] == "working" and task["provider_id"] == pid and task["tool"] == "slow"
        frame = json.loads(ws.recv(timeout=30))
        assert frame["event_type"] == "ToolInvocationCompleted" and frame["call_id"] == task["task_id"]
    done = wait_done(api, task["task_id"])
    assert done["status"] == "completed" and done["result"]["result"][0]["text"] == "slept 0.3"


def test_failures_and_cancel(api: httpx.Client) -> None:
    pid = provider(api)
    r = api.post("/api/providers/nope/tools/x/invoke-async", json={})
    assert r.status_code == 404 and r.json()["error"] == "ProviderNotFoundError"
    r = api.get("/api/tasks/unknown")
    assert r.status_code == 404 and set(r.json()) == {"error", "message", "status_code"}
    r = api.post(f"/api/providers/{pid}/tools/add/invoke-async", json={"arguments": {"a": "x", "b": 1}})
    failed = wait_done(api, r.json()["task_id"])
    assert failed["status"] == "failed" and failed["error"]["status_code"] == 422

    task = api.post(f"/api/providers/{pid}/tools/slow/invoke-async", json={"arguments": {"seconds": 10}}).json()
    time.sleep(1.0)
    cancelled = api.post(f"/api/tasks/{task['task_id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    history = api.get(f"/api/providers/{pid}/tools/history").json()["history"]
    assert any(h.get("call_id") == task["task_id"] and h["event_type"] == "ToolInvocationFailed"
               and h.get("error_type") == "Cancelled" for h in history)
