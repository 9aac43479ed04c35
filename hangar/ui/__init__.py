"""The dashboard at ``/ui`` (plain HTML, CSS and ES modules shipped in the package: no build step,
nothing fetched from elsewhere) and the local assets of the schema pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Response, get
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

STATIC_DIR = Path(__file__).parent / "static"
SWAGGER_ASSETS = "/ui/vendor/swagger"


@get("/", include_in_schema=False, sync_to_thread=False)
def root_redirect() -> Response[None]:
    return Response(None, status_code=307, headers={"Location": "/ui/"})


def ui_route_handlers() -> list[Any]:
    return [
        root_redirect,
        create_static_files_router(path=SWAGGER_ASSETS, directories=[swagger_ui_path],
                                   include_in_schema=False, name="swagger-assets"),
        create_static_files_router(path="/ui", directories=[STATIC_DIR], html_mode=True,
                                   include_in_schema=False, name="ui"),
    ]


def schema_render_plugins() -> list[Any]:
    """Swagger UI from the ``swagger-ui-bundle`` distribution's files, served by Hangar itself, so
    ``/schema/swagger`` works offline (the CDN-backed viewers are not offered)."""
    return [SwaggerRenderPlugin(
        js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
        css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{SWAGGER_ASSETS}/swagger-ui-standalone-preset.js",
        path=["/swagger", "/"],
        favicon=f'<link rel="icon" type="image/png" href="{SWAGGER_ASSETS}/favicon-32x32.png">',
    )]
