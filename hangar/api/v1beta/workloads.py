"""``/api/v1beta/workloads``: workloads are Hangar providers, in ToolHive's shapes."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, MediaType, Request, Response, delete, get, post
from litestar.params import Parameter

from hangar.api.deps import Services, command_context
from hangar.app.projections.providers import ProviderView
from hangar.app.toolhive.upgrade import check_upgrade, upgrade_image
from hangar.app.toolhive.workloads import (
    RUNNING,
    BulkRequest,
    WorkloadRequest,
    args_of,
    group_of,
    image_of,
    plain_env,
    status_of,
)
from hangar.domain.errors import NotFoundError

ALL = Annotated[bool, Parameter(query="all")]
GROUP = Annotated[str | None, Parameter(query="group")]


def accepted() -> Response[bytes]:
    """ToolHive's 202 body: a JSON string."""
    return Response(b'"accepted"', status_code=202, media_type=MediaType.JSON)


def base_url(request: Request, services: Services) -> str:
    return (services.config.clients.public_url or str(request.base_url)).rstrip("/")


def workload_url(base: str, name: str) -> str:
    return f"{base}/mcp/providers/{name}"


def port_of(request: Request) -> int:
    return int(request.url.port or (443 if request.url.scheme == "https" else 80))


def workload(services: Services, v: ProviderView, base: str, port: int) -> dict[str, Any]:
    remote = v.spec.mode == "remote"
    out: dict[str, Any] = {
        "name": v.provider_id, "package": image_of(v.spec), "url": workload_url(base, v.provider_id),
        "port": port, "status": status_of(v), "status_context": v.last_error or "",
        "transport_type": "streamable-http" if remote else "stdio", "proxy_mode": "streamable-http",
        "remote": remote, "group": group_of(v.provider_id, services.groups),
        "tools": [t.name for t in v.visible_tools], "created_at": v.created_at, "labels": {},
    }
    if v.last_started_at:
        out["started_at"] = v.last_started_at
    return out


def run_config(services: Services, v: ProviderView) -> dict[str, Any]:
    env, refs = plain_env(v.spec)
    out: dict[str, Any] = {
        "schema_version": "v0.1.0", "name": v.provider_id, "base_name": v.provider_id,
        "transport": "streamable-http" if v.spec.mode == "remote" else "stdio",
        "cmd_args": args_of(v.spec), "env_vars": env, "secrets": refs,
        "group": group_of(v.provider_id, services.groups), "volumes": list(v.spec.volumes),
    }
    if v.spec.mode == "remote":
        out["remote_url"] = v.spec.endpoint or ""
    else:
        out["image"] = image_of(v.spec)
    return out


class WorkloadsController(Controller):
    path = "/api/v1beta/workloads"
    tags = ["toolhive"]

    @get("/", summary="List workloads (running only unless ?all=true)")
    async def list_workloads(
        self, request: Request, services: Services, all_: ALL = False, group: GROUP = None
    ) -> dict[str, Any]:
        if group:
            services.toolhive.workloads.require_group(group)
        base, port = base_url(request, services), port_of(request)
        rows = [workload(services, v, base, port) for _, v in sorted(services.providers.views.items())]
        rows = [w for w in rows if (all_ or w["status"] in RUNNING) and (not group or w["group"] == group)]
        return {"workloads": rows}

    @post("/", status_code=201, summary="Create a workload (a provider)")
    async def create_workload(
        self, request: Request, services: Services, data: WorkloadRequest
    ) -> dict[str, Any]:
        name = await services.toolhive.workloads.create(data, command_context(request))
        return {"name": name, "port": port_of(request)}

    @get("/upgrade-check", summary="Compare every workload with its catalog entry (offline)")
    async def upgrade_check_all(self, services: Services, all_: ALL = False, group: GROUP = None) -> dict[str, Any]:
        names = services.toolhive.workloads.members(group) if group else sorted(services.providers.views)
        views = [services.toolhive.workloads.view(n) for n in names]
        views = [v for v in views if all_ or status_of(v) in RUNNING]
        return {"results": [check_upgrade(v, services.catalog_view) for v in views]}

    @post("/stop", status_code=202, summary="Stop workloads by names or group (background)")
    async def bulk_stop(self, request: Request, services: Services, data: BulkRequest) -> Response[bytes]:
        return await self._bulk(request, services, "stop", data)

    @post("/restart", status_code=202, summary="Restart workloads by names or group (background)")
    async def bulk_restart(self, request: Request, services: Services, data: BulkRequest) -> Response[bytes]:
        return await self._bulk(request, services, "restart", data)

    @post("/delete", status_code=202, summary="Delete workloads by names or group (background)")
    async def bulk_delete(self, request: Request, services: Services, data: BulkRequest) -> Response[bytes]:
        return await self._bulk(request, services, "delete", data)

    @staticmethod
    async def _bulk(request: Request, services: Services, operation: str, data: BulkRequest) -> Response[bytes]:
        w = services.toolhive.workloads
        operation_id = await w.start_bulk(operation, w.targets(data), command_context(request))
        # Its start and outcomes are events: any replica answers GET operations/{id}.
        response = accepted()
        response.headers["X-Hangar-Operation"] = operation_id
        response.headers["Location"] = f"/api/v1beta/workloads/operations/{operation_id}"
        return response

    @get("/operations/{operation_id:str}", summary="Progress of a bulk operation (Hangar's addition)")
    async def bulk_progress(self, services: Services, operation_id: str) -> dict[str, Any]:
        view = services.toolhive.view.operations.get(operation_id)
        if view is None:
            raise NotFoundError(f"operation '{operation_id}' not found")
        return {**msgspec.to_builtins(view), "state": view.state}

    @get("/{name:str}", summary="A workload's configuration (createRequest)")
    async def get_workload(self, services: Services, name: str) -> dict[str, Any]:
        v = services.toolhive.workloads.view(name)
        cfg = run_config(services, v)
        out: dict[str, Any] = {
            "name": name, "cmd_arguments": cfg["cmd_args"], "env_vars": cfg["env_vars"],
            "secrets": [{"name": s.split(",")[0], "target": s.split("target=")[1]} for s in cfg["secrets"]],
            "group": cfg["group"], "transport": cfg["transport"], "volumes": cfg["volumes"],
        }
        if "remote_url" in cfg:
            out["url"] = cfg["remote_url"]
        else:
            out["image"] = cfg["image"]
        return out

    @delete("/{name:str}", status_code=202, summary="Delete a workload")
    async def delete_workload(self, request: Request, services: Services, name: str) -> Response[bytes]:
        services.toolhive.workloads.view(name)
        await services.toolhive.workloads.run("delete", name, command_context(request))
        return accepted()

    @post("/{name:str}/edit", status_code=200, summary="Update a workload's configuration")
    async def edit_workload(
        self, request: Request, services: Services, name: str, data: WorkloadRequest
    ) -> dict[str, Any]:
        await services.toolhive.workloads.edit(name, data, command_context(request))
        return {"name": name, "port": port_of(request)}

    @post("/{name:str}/stop", status_code=202, summary="Stop a workload")
    async def stop_workload(self, request: Request, services: Services, name: str) -> Response[bytes]:
        await services.toolhive.workloads.run("stop", name, command_context(request))
        return accepted()

    @post("/{name:str}/restart", status_code=202, summary="Restart a workload")
    async def restart_workload(self, request: Request, services: Services, name: str) -> Response[bytes]:
        await services.toolhive.workloads.run("restart", name, command_context(request))
        return accepted()

    @get("/{name:str}/status", summary="A workload's status, derived from the provider state")
    async def workload_status(self, services: Services, name: str) -> dict[str, str]:
        return {"status": status_of(services.toolhive.workloads.view(name))}

    @get("/{name:str}/logs", media_type=MediaType.TEXT, summary="The last 1000 lines of the workload's stderr")
    async def workload_logs(self, services: Services, name: str) -> str:
        services.toolhive.workloads.view(name)
        return "".join(e.line.rstrip("\n") + "\n" for e in services.connector.logs(name).tail(1000))

    @get("/{name:str}/export", summary="The workload's run configuration (accepted back by POST)")
    async def export_workload(self, services: Services, name: str) -> dict[str, Any]:
        return run_config(services, services.toolhive.workloads.view(name))

    @get("/{name:str}/upgrade-check", summary="Compare the workload with its catalog entry (offline)")
    async def upgrade_check(self, services: Services, name: str) -> dict[str, Any]:
        return {"result": check_upgrade(services.toolhive.workloads.view(name), services.catalog_view)}

    @post("/{name:str}/upgrade", status_code=200, summary="Move the workload to its catalog entry's image")
    async def upgrade(self, request: Request, services: Services, name: str) -> dict[str, Any]:
        result = await upgrade_image(services.bus, services.toolhive.workloads.view(name), services.catalog_view,
                                     command_context(request))
        return {"result": result}
