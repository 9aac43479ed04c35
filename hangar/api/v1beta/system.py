"""``GET /api/v1beta/version`` and ``GET /health``."""

from __future__ import annotations

from litestar import Controller, Response, get

from hangar.api.system import package_version


class VersionController(Controller):
    path = "/api/v1beta/version"
    tags = ["toolhive"]

    @get("/", summary="Server version (ToolHive versionResponse)")
    async def version(self) -> dict[str, str]:
        return {"version": package_version()}


@get("/health", status_code=204, tags=["toolhive"], summary="Health check (204, no body)")
async def health() -> Response[None]:
    return Response(None, status_code=204)
