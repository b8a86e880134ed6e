"""The API's documentation pages (web/api_docs.py): Swagger UI from our own server, nothing else."""

from __future__ import annotations

import re


def test_swagger_loads_every_script_and_style_from_this_server(client) -> None:
    for path in ("/schema", "/schema/swagger"):
        page = client.get(path)
        assert page.status_code == 200 and "SwaggerUIBundle(" in page.text
        linked = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page.text)
        assert len(linked) == 3, linked  # the bundle, its preset and its style; no favicon from a CDN
        for url in linked:
            assert url.startswith("/schema/assets/"), url
            asset = client.get(url)
            assert asset.status_code == 200 and len(asset.content) > 1000, url
            assert asset.headers["cache-control"] == "max-age=86400"


def test_only_the_openapi_document_and_swagger_are_served(client) -> None:
    schema = client.get("/schema/openapi.json")
    assert schema.status_code == 200 and "/api/v1/auth/me" in schema.json()["paths"]
    for other in ("/schema/redoc", "/schema/rapidoc", "/schema/elements", "/schema/openapi.yaml"):
        assert client.get(other).status_code == 404, other
