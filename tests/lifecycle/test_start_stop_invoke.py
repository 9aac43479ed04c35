"""Real MCP servers (built with the SDK) started, called and stopped through Hangar's REST API."""

from __future__ import annotations

import concurrent.futures
import uuid

import httpx

from tests.support import fixture_provider, pid_alive, pids_with_mark, wait_until


def new(api: httpx.Client, **fields: object) -> tuple[str, str]:
    pid, mark = f"rt-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    r = api.post("/api/providers", json=fixture_provider(pid, mark, **fields))
    assert r.status_code == 201, r.text
    return pid, mark


def invoke(
    api: httpx.Client, pid: str, tool: str, timeout_s: float | None = None, **arguments: object
) -> httpx.Response:
    body: dict[str, object] = {"arguments": arguments}
    if timeout_s is not None:
        body["timeout_s"] = timeout_s
    return api.post(f"/api/providers/{pid}/tools/{tool}/invoke", json=body)


def test_start_tools_invoke_history_stop(api: httpx.Client) -> None:
    pid, mark = new(api)
    r = api.post(f"/api/providers/{pid}/start")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["provider"] == pid and body["state"] == "ready"
    assert {"add", "echo", "slow", "crash"} <= set(body["tools"])
    assert len(pids_with_mark(mark)) == 1

    tools = api.get(f"/api/providers/{pid}/tools").json()["tools"]
    add = next(t for t in tools if t["name"] == "add")
    assert add["description"] == "Add two numbers." and add["parameters"]["required"] == ["a", "b"]

    r = invoke(api, pid, "add", a=2, b=3)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["provider_id"] == pid and out["tool"] == "add" and out["is_error"] is False
    assert out["result"][0]["type"] == "text" and float(out["result"][0]["text"]) == 5
    assert out["duration_ms"] >= 0

    hist = api.get(f"/api/providers/{pid}/tools/history").json()
    assert hist["total"] == 2
    kinds = [h["event_type"] for h in hist["history"]]
    assert kinds == ["ToolInvocationRequested", "ToolInvocationCompleted"]
    assert hist["history"][1]["tool_name"] == "add"
    later = api.get(f"/api/providers/{pid}/tools/history", params={"from_position": 1}).json()
    assert later["total"] == 1 and later["history"][0]["event_type"] == "ToolInvocationCompleted"

    assert api.get("/api/system").json()["system"]["total_tool_calls"] >= 1
    detail = api.get(f"/api/providers/{pid}").json()
    assert detail["alive"] is True and detail["tools_count"] == len(tools)

    r = api.post(f"/api/providers/{pid}/stop", json={"reason": "maintenance"})
    assert r.status_code == 200
    assert r.json() == {"stopped": pid, "provider_id": pid, "reason": "maintenance", "state": "cold"}
    assert wait_until(lambda: not pids_with_mark(mark), 5)
    r = api.post(f"/api/providers/{pid}/stop")
    assert r.status_code == 200 and r.json()["reason"] == "user_request"


def test_lazy_start_on_first_call(api: httpx.Client) -> None:
    pid, mark = new(api)
    assert api.get(f"/api/providers/{pid}").json()["state"] == "cold"
    r = invoke(api, pid, "echo", text="hi")
    assert r.status_code == 200 and r.json()["result"][0]["text"] == "hi"
    assert api.get(f"/api/providers/{pid}").json()["state"] == "ready"
    api.delete(f"/api/providers/{pid}")
    assert wait_until(lambda: not pids_with_mark(mark), 5)


def test_concurrent_starts_spawn_one_process(api: httpx.Client, server: object) -> None:
    pid, mark = new(api)
    base = api.base_url

    def hit(i: int) -> int:
        with httpx.Client(base_url=base, timeout=30) as c:
            if i % 2:
                return c.post(f"/api/providers/{pid}/start").status_code
            return c.post(f"/api/providers/{pid}/tools/add/invoke", json={"arguments": {"a": i, "b": 1}}).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(hit, range(16)))
    assert codes == [200] * 16
    assert len(pids_with_mark(mark)) == 1
    api.delete(f"/api/providers/{pid}")


def test_invoke_errors(api: httpx.Client) -> None:
    pid, _ = new(api)
    api.post(f"/api/providers/{pid}/start")
    r = invoke(api, pid, "nosuch")
    assert r.status_code == 404 and r.json()["error"] == "ToolNotFoundError"
    r = invoke(api, pid, "add", a="two", b=3)
    assert r.status_code == 422 and "a" in r.json()["message"]
    r = invoke(api, pid, "add", a=1)
    assert r.status_code == 422 and "'b' is a required property" in r.json()["message"]
    r = invoke(api, f"missing-{uuid.uuid4().hex[:6]}", "add", a=1, b=2)
    assert r.status_code == 404 and r.json()["error"] == "ProviderNotFoundError"
    r = api.post(f"/api/providers/{pid}/tools/add/invoke", json={"arguments": [1, 2]})
    assert r.status_code == 422
    r = api.post(f"/api/providers/{pid}/tools/add/invoke", json={"arguments": {}, "timeout_s": -1})
    assert r.status_code == 422
    r = invoke(api, pid, "fail", message="nope")
    assert r.status_code == 200 and r.json()["is_error"] is True
    r = invoke(api, pid, "rpc_error", code=-32000, message="boom")
    assert r.status_code == 502 and r.json()["error"] == "ProviderError" and "boom" in r.json()["message"]
    hist = api.get(f"/api/providers/{pid}/tools/history").json()["history"]
    assert hist[-1]["event_type"] == "ToolInvocationFailed" and hist[-1]["error_type"] == "ProviderError"
    api.delete(f"/api/providers/{pid}")


def test_call_timeout_is_504_and_provider_keeps_working(api: httpx.Client) -> None:
    pid, _ = new(api)
    r = invoke(api, pid, "slow", timeout_s=0.3, seconds=5)
    assert r.status_code == 504 and r.json()["error"] == "ProviderTimeoutError"
    r = invoke(api, pid, "add", a=1, b=1)
    assert r.status_code == 200
    api.delete(f"/api/providers/{pid}")


def test_start_failure_is_503_and_dead(api: httpx.Client) -> None:
    pid = f"bad-{uuid.uuid4().hex[:6]}"
    api.post("/api/providers", json={"provider_id": pid, "mode": "subprocess",
                                     "command": ["/nonexistent/binary-xyz"]})
    r = api.post(f"/api/providers/{pid}/start")
    assert r.status_code == 503 and r.json()["error"] == "ProviderUnavailableError"
    d = api.get(f"/api/providers/{pid}").json()
    assert d["state"] == "dead" and d["health"]["last_error"]
    r = api.post(f"/api/providers/{pid}/stop")
    assert r.status_code == 200 and api.get(f"/api/providers/{pid}").json()["state"] == "cold"
    api.delete(f"/api/providers/{pid}")


def test_remote_unreachable_is_503(api: httpx.Client) -> None:
    pid = f"rem-{uuid.uuid4().hex[:6]}"
    api.post("/api/providers", json={"provider_id": pid, "mode": "remote", "endpoint": "http://127.0.0.1:9/mcp"})
    r = api.post(f"/api/providers/{pid}/start")
    assert r.status_code == 503, r.text
    api.delete(f"/api/providers/{pid}")


def test_runtime_routes_404_and_bad_params(api: httpx.Client) -> None:
    missing = f"missing-{uuid.uuid4().hex[:6]}"
    for method, path in [("POST", "start"), ("POST", "stop"), ("GET", "tools"), ("GET", "health"), ("GET", "logs")]:
        r = api.request(method, f"/api/providers/{missing}/{path}")
        assert r.status_code == 404 and r.json()["error"] == "ProviderNotFoundError", (path, r.text)
    pid, _ = new(api)
    for lines in (0, 1001, "x"):
        r = api.get(f"/api/providers/{pid}/logs", params={"lines": lines})
        assert r.status_code == 422, (lines, r.text)
    r = api.post(f"/api/providers/{pid}/stop", json={"reason": ""})
    assert r.status_code == 422
    r = api.post(f"/api/providers/{pid}/stop", json={"why": "x"})
    assert r.status_code == 422
    api.delete(f"/api/providers/{pid}")


def test_update_of_running_provider_restarts_it(api: httpx.Client) -> None:
    pid, mark = new(api)
    api.post(f"/api/providers/{pid}/start")
    first = pids_with_mark(mark)
    assert len(first) == 1
    r = api.put(f"/api/providers/{pid}", json={"env": {"HANGAR_TEST_MARK": mark, "FIXTURE_NAME": "renamed"}})
    assert r.status_code == 200
    assert api.get(f"/api/providers/{pid}").json()["state"] == "ready"
    assert wait_until(lambda: len(pids_with_mark(mark)) == 1 and pids_with_mark(mark) != first, 5)
    assert not pid_alive(first[0])
    api.delete(f"/api/providers/{pid}")
