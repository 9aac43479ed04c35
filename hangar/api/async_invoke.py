"""Asynchronous tool calls: ``202`` with a task id, then poll ``/api/tasks/{id}`` or watch the
``ToolInvocation*`` frames whose ``call_id`` is the task id on ``/api/ws/events``. Tasks are in
the log (``hangar.app.async_invoke``): any replica answers for them, after restarts too; only
the principal that submitted a task sees it."""

from __future__ import annotations

from litestar import Controller, Request, get, post

from hangar.api.deps import Services, command_context
from hangar.api.provider_runtime import InvokeRequest
from hangar.app.projections.async_tasks import TaskView
from hangar.domain.errors import ProviderNotFoundError


class AsyncInvokeController(Controller):
    path = "/api"
    tags = ["tasks"]

    @post("/providers/{provider_id:str}/tools/{tool_name:str}/invoke-async", status_code=202,
          summary="Call a tool in the background; answers at once with a task id")
    async def submit(
        self, request: Request, services: Services, provider_id: str, tool_name: str, data: InvokeRequest
    ) -> TaskView:
        if services.providers.get(provider_id) is None:
            raise ProviderNotFoundError(provider_id)
        return await services.async_invocations.submit(
            provider_id, tool_name, data.arguments, data.timeout_s, command_context(request)
        )

    @get("/tasks/{task_id:str}", summary="An asynchronous call: working, completed, failed or cancelled")
    async def task(self, request: Request, services: Services, task_id: str) -> TaskView:
        return services.async_invocations.get(task_id, command_context(request).principal)

    @post("/tasks/{task_id:str}/cancel", status_code=200, summary="Cancel an asynchronous call")
    async def cancel(self, request: Request, services: Services, task_id: str) -> TaskView:
        return await services.async_invocations.cancel(task_id, command_context(request))
