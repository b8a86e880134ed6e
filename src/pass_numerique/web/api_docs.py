"""The API's documentation pages under ``/schema``: the OpenAPI document and Swagger UI, nothing
loaded from elsewhere.

Litestar's renderers load their scripts from a CDN by default, without integrity checks. Only
two are kept: ``/schema/openapi.json`` and Swagger UI (``/schema`` and ``/schema/swagger``),
whose script and style come from the ``swagger-ui-py`` package (Swagger UI's own ``dist`` files,
Apache-2.0) and are served here under ``/schema/assets``; the favicon link is left out. ReDoc,
Stoplight Elements, RapiDoc and the YAML document are not served.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin, SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from pass_numerique.http import guards
from pass_numerique.http.static_files import StaticFileSystem

ASSETS_URL = "/schema/assets"
_SWAGGER_UI_DIST = Path(str(resources.files("swagger_ui") / "static"))

RENDER_PLUGINS: list[OpenAPIRenderPlugin] = [
    SwaggerRenderPlugin(
        path=["/", "/swagger"],
        js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_URL}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_URL}/swagger-ui-standalone-preset.js",
        favicon="",
    ),
    JsonRenderPlugin(),  # /schema/openapi.json
]
"""For ``OpenAPIConfig(render_plugins=…)``."""

ASSETS: ControllerRouterHandler = create_static_files_router(
    path=ASSETS_URL,
    directories=[_SWAGGER_UI_DIST],
    file_system=StaticFileSystem(),
    guards=[guards.public],
    include_in_schema=False,
    cache_control=CacheControlHeader(max_age=86400),
)
"""Swagger UI's files, from the installed package."""
