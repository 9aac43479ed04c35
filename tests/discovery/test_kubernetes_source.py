"""Kubernetes source end to end.

No Kubernetes API server can run here, so these tests run a small local HTTP server that
answers the real core/v1 list endpoints (``/api/v1/pods``, ``/api/v1/services`` and their
namespaced forms) with the API's own JSON (PodList / ServiceList, and a ``Status`` object for
errors). Hangar talks to it through the real ``kubernetes_asyncio`` client, as it would to a
cluster. Watch is not used: the source lists on its schedule.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.discovery.conftest import assert_envelope, pending_names, register

ANN = "mcp-hangar.io/"


def pod(name: str, ns: str, ip: str | None, annotations: dict[str, str], phase: str = "Running") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}", "annotations": annotations},
        "spec": {"containers": [{"name": "srv", "image": "srv:1", "ports": [{"containerPort": 8080}]}]},
        "status": {"phase": phase, **({"podIP": ip} if ip else {})},
    }


def service(name: str, ns: str, cluster_ip: str, annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}", "annotations": annotations},
        "spec": {"clusterIP": cluster_ip, "ports": [{"port": 9090, "protocol": "TCP"}]},
    }


class FakeApi:
    def __init__(self) -> None:
        self.pods: list[dict[str, Any]] = []
        self.services: list[dict[str, Any]] = []
        self.auth_headers: list[str] = []

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        parts = path.split("?")[0].strip("/").split("/")
        ns = None
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) == 5:
            ns, resource = parts[3], parts[4]
        elif parts[:2] == ["api", "v1"] and len(parts) == 3:
            resource = parts[2]
        else:
            return 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}
        if ns == "forbidden":
            return 403, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden",
                         "message": "pods is forbidden", "code": 403}
        items = {"pods": self.pods, "services": self.services}.get(resource)
        if items is None:
            return 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404}
        kind = "PodList" if resource == "pods" else "ServiceList"
        chosen = [i for i in items if ns is None or i["metadata"]["namespace"] == ns]
        return 200, {"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": chosen}


@pytest.fixture(scope="module")
def fake_api() -> Iterator[tuple[FakeApi, str]]:
    state = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.auth_headers.append(self.headers.get("Authorization", ""))
            status, body = state.answer(self.path)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_annotated_pods_and_services_are_proposed_and_approved(
    api: httpx.Client, fake_api: tuple[FakeApi, str]
) -> None:
    state, url = fake_api
    state.pods[:] = [
        pod("k-pod", "default", "10.0.0.5", {ANN + "enabled": "true", ANN + "group": "search"}),
        pod("k-starting", "default", None, {ANN + "enabled": "true"}, phase="Pending"),
        pod("k-plain", "default", "10.0.0.6", {}),
    ]
    state.services[:] = [service("k-svc", "default", "10.96.0.10", {ANN + "enabled": "true", ANN + "name": "k-svc-mcp",
                                                                     ANN + "path": "/rpc"})]
    sid = register(api, "kubernetes", enabled=False, api_url=url, token="s3cret", namespace="default",
                   interval_s=3600)
    src = api.get(f"/api/discovery/sources/{sid}").json()
    assert src["require_approval"] is True and src["config"]["token"] == "***"
    r = api.post(f"/api/discovery/sources/{sid}/scan")
    assert r.status_code == 200 and r.json()["error"] is None and r.json()["providers_found"] == 2, r.text
    assert state.auth_headers[-1] == "Bearer s3cret"
    pending = {p["name"]: p for p in api.get("/api/discovery/pending").json()["pending"] if p["source_id"] == sid}
    assert set(pending) == {"k-pod", "k-svc-mcp"}
    assert pending["k-pod"]["connection_info"]["endpoint"] == "http://10.0.0.5:8080/mcp"
    assert pending["k-pod"]["metadata"]["group"] == "search" and pending["k-pod"]["origin"] == "pod default/k-pod"
    assert pending["k-svc-mcp"]["connection_info"]["endpoint"] == "http://10.96.0.10:9090/rpc"

    assert api.post("/api/discovery/approve/k-pod").status_code == 200
    detail = api.get("/api/providers/k-pod").json()
    assert detail["mode"] == "remote" and detail["config"]["endpoint"] == "http://10.0.0.5:8080/mcp"
    assert api.post("/api/discovery/reject/k-svc-mcp").status_code == 200
    api.post(f"/api/discovery/sources/{sid}/scan")
    assert pending_names(api, sid) == set()


def test_authoritative_namespace_source_follows_the_cluster(api: httpx.Client, fake_api: tuple[FakeApi, str]) -> None:
    state, url = fake_api
    state.pods.append(pod("k-team", "team", "10.0.1.1", {ANN + "enabled": "true", ANN + "port": "7000"}))
    sid = register(api, "kubernetes", "authoritative", enabled=False, api_url=url, namespace="team",
                   kinds=["pods"], require_approval=False, interval_s=3600)
    r = api.post(f"/api/discovery/sources/{sid}/scan").json()
    assert r["registered"] == ["k-team"]
    assert api.get("/api/providers/k-team").json()["config"]["endpoint"] == "http://10.0.1.1:7000/mcp"
    state.pods[:] = [p for p in state.pods if p["metadata"]["name"] != "k-team"]
    r = api.post(f"/api/discovery/sources/{sid}/scan").json()
    assert r["deregistered"] == ["k-team"] and r["error"] is None
    assert_envelope(api.get("/api/providers/k-team"), 404)


def test_api_errors_are_recorded_on_the_source(api: httpx.Client, fake_api: tuple[FakeApi, str]) -> None:
    _, url = fake_api
    sid = register(api, "kubernetes", enabled=False, api_url=url, namespace="forbidden", interval_s=3600)
    r = api.post(f"/api/discovery/sources/{sid}/scan").json()
    assert r["providers_found"] == 0 and "Kubernetes API error 403" in r["error"]
    src = api.get(f"/api/discovery/sources/{sid}").json()
    assert src["is_healthy"] is False and "403" in src["last_error"]
