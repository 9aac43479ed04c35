"""Kubernetes source: pods and services annotated ``mcp-hangar.io/*``, through the Kubernetes API.

Uses the ``kubernetes_asyncio`` client (list calls on the core/v1 API). Annotations:

- ``mcp-hangar.io/enabled: "true"``: required; others are ignored
- ``mcp-hangar.io/name``: provider name (default: the object's name)
- ``mcp-hangar.io/mode``: default ``remote``
- ``mcp-hangar.io/port`` (default: the first declared port), ``mcp-hangar.io/path`` (default
  ``/mcp``) or ``mcp-hangar.io/endpoint``: where it serves MCP over HTTP; a pod is reached at its
  IP, a service at its cluster IP (else its DNS name)
- ``mcp-hangar.io/group``, ``mcp-hangar.io/description``, ``mcp-hangar.io/command``,
  ``mcp-hangar.io/image``

Pods that are not running (no IP yet) are left out until they are.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from typing import Any

from hangar.config.discovery_sources import KubernetesConfig
from hangar.discovery.definition import SourceUnavailableError, parse_definition
from hangar.domain.discovery_events import Candidate

PREFIX = "mcp-hangar.io/"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _first_port(obj: dict[str, Any], kind: str) -> int | None:
    spec = obj.get("spec") or {}
    if kind == "Service":
        for p in spec.get("ports") or []:
            if p.get("port"):
                return int(p["port"])
        return None
    for c in spec.get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("containerPort"):
                return int(p["containerPort"])
    return None


def object_candidate(obj: dict[str, Any], kind: str) -> Candidate | None:
    """The candidate a Pod or Service (its API JSON) describes, or None when not opted in."""
    meta = obj.get("metadata") or {}
    ann: dict[str, str] = meta.get("annotations") or {}
    if not _truthy(ann.get(PREFIX + "enabled")):
        return None
    name, ns = str(meta.get("name", "")), str(meta.get("namespace", "default"))
    mode = ann.get(PREFIX + "mode") or "remote"
    conn: dict[str, Any] = {}
    if ann.get(PREFIX + "endpoint"):
        conn["endpoint"] = ann[PREFIX + "endpoint"]
    elif mode == "remote":
        if kind == "Pod":
            status = obj.get("status") or {}
            if status.get("phase") not in (None, "Running") or not status.get("podIP"):
                return None
            host = status["podIP"]
        else:
            ip = (obj.get("spec") or {}).get("clusterIP")
            host = ip if ip and ip != "None" else f"{name}.{ns}.svc"
        port = ann.get(PREFIX + "port") or _first_port(obj, kind)
        conn.update(host=host, port=port, path=ann.get(PREFIX + "path", "/mcp"))
    if ann.get(PREFIX + "command"):
        conn["command"] = ann[PREFIX + "command"]
    if ann.get(PREFIX + "image"):
        conn["image"] = ann[PREFIX + "image"]
    data: dict[str, Any] = {
        "name": ann.get(PREFIX + "name") or name,
        "mode": mode,
        "connection": conn,
        "metadata": {
            "kind": kind, "namespace": ns, "uid": meta.get("uid"),
            **({"group": ann[PREFIX + "group"]} if ann.get(PREFIX + "group") else {}),
        },
    }
    if ann.get(PREFIX + "description"):
        data["description"] = ann[PREFIX + "description"]
    return parse_definition(data, name, f"{kind.lower()} {ns}/{name}")


async def _api_client(cfg: KubernetesConfig) -> Any:
    from kubernetes_asyncio import client
    from kubernetes_asyncio import config as kconfig

    conf = client.Configuration()
    if cfg.api_url:
        conf.host = cfg.api_url
    elif os.environ.get("KUBERNETES_SERVICE_HOST"):
        kconfig.load_incluster_config(client_configuration=conf)
    else:
        await kconfig.load_kube_config(
            config_file=cfg.kubeconfig, context=cfg.context, client_configuration=conf
        )
    conf.verify_ssl = cfg.verify_tls
    if cfg.token:
        conf.api_key = {"BearerToken": cfg.token}
        conf.api_key_prefix = {"BearerToken": "Bearer"}
    return client.ApiClient(configuration=conf)


class KubernetesScanner:
    async def scan(self, config: KubernetesConfig) -> list[Candidate]:
        # The client package is large: importing it on the event loop would stall every request.
        await asyncio.to_thread(importlib.import_module, "kubernetes_asyncio.client")
        import aiohttp
        from kubernetes_asyncio import client
        from kubernetes_asyncio.client.exceptions import ApiException

        try:
            api = await _api_client(config)
        except Exception as exc:  # missing kubeconfig, bad in-cluster files
            raise SourceUnavailableError(f"Kubernetes client not configured: {exc}") from None
        out: list[Candidate] = []
        try:
            async with api:
                v1 = client.CoreV1Api(api)
                ns, timeout = config.namespace, config.timeout_s
                for kind in config.kinds:
                    res: Any
                    if kind == "pods":
                        res = await (v1.list_namespaced_pod(ns, _request_timeout=timeout) if ns
                                     else v1.list_pod_for_all_namespaces(_request_timeout=timeout))
                    else:
                        res = await (v1.list_namespaced_service(ns, _request_timeout=timeout) if ns
                                     else v1.list_service_for_all_namespaces(_request_timeout=timeout))
                    # Back to the API's own JSON, so parsing does not depend on model classes.
                    body = api.sanitize_for_serialization(res)
                    k = "Pod" if kind == "pods" else "Service"
                    for item in body.get("items") or []:
                        cand = object_candidate(item, k)
                        if cand is not None:
                            out.append(cand)
        except ApiException as exc:
            raise SourceUnavailableError(f"Kubernetes API error {exc.status}: {exc.reason}") from None
        except (OSError, TimeoutError, aiohttp.ClientError) as exc:
            raise SourceUnavailableError(f"Kubernetes API not reachable: {exc!r}") from None
        return sorted(out, key=lambda c: (c.name, c.origin))

    def signature(self, config: KubernetesConfig) -> None:
        return None
