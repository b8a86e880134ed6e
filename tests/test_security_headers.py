"""Response headers (http/security_headers.py): on every response, set in one place."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from conftest import World, bearer
from pass_numerique.security import signing_keys
from pass_numerique.settings import get_settings
from test_staff_pages import login


def test_api_answers_are_never_stored_nor_sniffed(client, world: World) -> None:
    headers = bearer(client, world.coordinator)
    for answer in (
        client.get("/api/v1/sites", headers=headers),
        client.get("/api/v1/sites"),  # refused: 401 carries them too
        client.get("/api/v1/no-such-route", headers=headers),
        client.get("/schema/openapi.json"),
    ):
        assert answer.headers["x-content-type-options"] == "nosniff", answer.url
        assert answer.headers["cache-control"] == "no-store", answer.url
        assert answer.headers["x-frame-options"] == "DENY", answer.url
        assert "strict-transport-security" not in answer.headers  # not in production


def test_staff_pages_keep_their_policy_and_get_the_common_headers(client, world: World) -> None:
    login(client, world.coordinator)
    for answer in (client.get("/staff/"), client.get("/staff/print-runs/999")):
        assert answer.status_code in (200, 404), answer.url
        assert answer.headers["x-content-type-options"] == "nosniff", answer.url
        assert answer.headers["cache-control"] == "no-store", answer.url
        assert answer.headers["referrer-policy"] == "same-origin", answer.url
    assert "frame-ancestors 'none'" in client.get("/staff/").headers["content-security-policy"]


def test_static_assets_keep_caching_and_the_scanner_shell_keeps_its_own(client) -> None:
    asset = client.get("/static/scan/app.js")
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "max-age=3600"
    assert asset.headers["x-content-type-options"] == "nosniff"
    shell = client.get("/scan")
    assert shell.headers["cache-control"] == "no-cache"  # holds no data; the API answers carry it
    assert shell.headers["referrer-policy"] == "no-referrer"
    assert shell.headers["x-content-type-options"] == "nosniff"
    # A voucher's URL answers a site agent and anyone else differently, and names the voucher.
    voucher = client.get("/v/some-token")
    assert voucher.headers["cache-control"] == "no-store"
    assert voucher.headers["referrer-policy"] == "no-referrer"
    assert voucher.headers["x-content-type-options"] == "nosniff"


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    signing_keys.ensure_key()  # production never creates one
    monkeypatch.setenv("PN_PRODUCTION", "true")
    monkeypatch.setenv("PN_PUBLIC_URL", "https://pass.example.fr")
    monkeypatch.setenv("PN_ARGON2_PROFILE", "rfc_9106_low_memory")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_production_sends_strict_transport_security(production: Any) -> None:
    from pass_numerique.asgi import create_app

    with TestClient(app=create_app()) as client:
        for path in ("/api/v1/sites", "/staff/login", "/static/scan/app.js", "/scan"):
            assert client.get(path).headers["strict-transport-security"] == "max-age=31536000", path


def test_a_static_path_with_a_nul_is_a_french_404_not_a_500(client) -> None:
    """``os.stat`` raised ValueError on the NUL, which Litestar's static router let through."""
    for path in ("/static/%00", "/static/scan/app.js%00", "/schema/assets/%00.css"):
        response = client.get(path)
        assert response.status_code == 404, (path, response.status_code)
        assert response.headers["content-type"].startswith("text/html")
    assert client.get("/static/scan/app.js").status_code == 200
