"""Every input bounded before the database (domain/bounds.py, http/parameters.py): the same
``invalid_input`` (422) with the field named on SQLite and PostgreSQL, never a 500.

The values come from fuzzing a real server (issue 16): NUL characters, which PostgreSQL cannot
store; integers past PostgreSQL's ``integer`` (2**31) and SQLite's (2**63); text longer than its
column; a blank serial.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import PASSWORD, World, bearer, issue, run
from pass_numerique.domain import bounds
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.partners import sites
from pass_numerique.domain.tables import PartnerSite
from test_staff_pages import login, post

BIG = [2**31, 2**63 + 1]


def refused(response: Any, field: str) -> None:
    """A 422 ``invalid_input`` naming ``field``, in the API's error body."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_input", body
    assert body["details"]["field"] == field, body
    assert body["message"]


def test_nul_in_the_login_is_refused_before_any_query(client, world: World) -> None:
    response = client.post("/api/v1/auth/login", json={"email": "a\u0000b", "password": "x"})
    refused(response, "email")
    response = client.post("/api/v1/auth/login", json={"email": world.admin.email, "password": "x\u0000"})
    refused(response, "password")
    # The account is not locked out by refused requests: the right password still works.
    ok = client.post("/api/v1/auth/login", json={"email": world.admin.email, "password": PASSWORD})
    assert ok.status_code == 200


def test_nul_in_a_path_parameter_is_refused(client, world: World) -> None:
    headers = bearer(client, world.admin)
    refused(client.get("/api/v1/booklets/a%00b", headers=headers), "serial")
    refused(client.get("/api/v1/beneficiaries/a%00b", headers=headers), "public_id")
    refused(client.get("/api/v1/statements/1/2026-0%00", headers=bearer(client, world.coordinator)), "month")


def test_nul_in_scanned_codes_is_refused_by_lookup_and_redemption(client, world: World) -> None:
    _, codes = issue(world)
    agent = bearer(client, world.agent)
    refused(client.post("/api/v1/vouchers/lookup", headers=agent, json={"code": "AB\u0000CD"}), "code")
    body = {"codes": [codes[0].url + "\u0000"], "theme": "email", "request_id": "nul-request-1"}
    refused(client.post("/api/v1/redemptions", headers=agent, json=body), "codes[0]")
    refused(client.post("/api/v1/scanner/sync", headers=agent, json=body), "codes[0]")
    body = {"codes": [codes[0].url], "theme": "em\u0000ail", "request_id": "nul-request-2"}
    refused(client.post("/api/v1/redemptions", headers=agent, json=body), "theme")
    # The voucher was not touched: it redeems normally afterwards.
    body = {"codes": [codes[0].url], "theme": "email", "request_id": "nul-request-3"}
    assert client.post("/api/v1/redemptions", headers=agent, json=body).status_code == 200


@pytest.mark.parametrize("number", BIG)
def test_integers_past_the_columns_are_refused_in_query_path_and_body(client, world: World, number) -> None:
    agent = bearer(client, world.agent)
    admin = bearer(client, world.admin)
    refused(client.get(f"/api/v1/redemptions?site_id={number}", headers=agent), "site_id")
    refused(client.get(f"/api/v1/redemptions?offset={number}", headers=agent), "offset")
    refused(
        client.post(f"/api/v1/redemptions/{number}/undo", headers=agent, json={"reason": "x"}),
        "redemption_id",
    )
    refused(client.get(f"/api/v1/print-runs/{number}", headers=admin), "run_id")
    refused(client.get(f"/api/v1/print-runs/{number}/pdf", headers=admin), "run_id")
    refused(client.get(f"/api/v1/audit/?offset={number}", headers=admin), "offset")
    refused(client.get(f"/api/v1/audit/?actor_id={number}", headers=admin), "actor_id")
    refused(client.get(f"/api/v1/reports?site_limit={number}", headers=admin), "site_limit")
    refused(client.get(f"/api/v1/reports?site_id={number}", headers=admin), "site_id")
    refused(client.delete(f"/api/v1/auth/tokens/{number}", headers=admin), "token_id")
    refused(
        client.post("/api/v1/sites", headers=admin, json={"name": "Lieu", "territory_id": number}),
        "territory_id",
    )
    refused(
        client.post("/api/v1/allocations", headers=admin, json={"structure_id": number, "count": 1}),
        "structure_id",
    )
    refused(client.get(f"/api/v1/stock/expiry?print_run_id={number}", headers=admin), "print_run_id")
    refused(client.get(f"/api/v1/stock/expiry?structure_id={number}", headers=admin), "structure_id")
    revalidate = {"print_run_id": number, "valid_until": "2026-12-31"}
    refused(client.post("/api/v1/stock/revalidate", headers=admin, json=revalidate), "print_run_id")


def test_a_token_living_past_year_9999_is_refused(client, world: World) -> None:
    headers = bearer(client, world.admin)
    body = {"label": "robot", "expires_in_days": 3_000_000}
    refused(client.post("/api/v1/auth/tokens", headers=headers, json=body), "expires_in_days")


def test_a_site_name_longer_than_its_column_is_refused_and_nothing_is_written(client, world: World) -> None:
    headers = bearer(client, world.admin)
    before = run(PartnerSite.count())
    body = {"name": "x" * 100_000, "territory_id": world.north.id}
    refused(client.post("/api/v1/sites", headers=headers, json=body), "name")
    assert run(PartnerSite.count()) == before
    # At the bound itself the site is created.
    body = {"name": "x" * bounds.NAME_LENGTH, "territory_id": world.north.id}
    assert client.post("/api/v1/sites", headers=headers, json=body).status_code == 201


@pytest.mark.parametrize("serials", [[""], ["   "], ["A" * 33]])
def test_a_blank_or_oversized_serial_in_an_allocation_is_refused(client, world: World, serials) -> None:
    headers = bearer(client, world.admin)
    response = client.post(
        "/api/v1/allocations", headers=headers, json={"structure_id": world.structure.id, "serials": serials}
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_input"
    assert response.json()["details"]["field"].startswith("serials")


def test_a_staff_form_with_nul_gets_a_french_page_and_writes_nothing(client, world: World) -> None:
    login(client, world.coordinator)
    response = post(
        client,
        "/staff/structures",
        {"name": "MDS\u0000Ouest", "territory_id": str(world.north.id), "kind": "mds"},
        form_page="/staff/structures",
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "caractère interdit" in response.text


def test_a_staff_form_value_longer_than_its_column_is_shown_again_with_the_field(
    client, world: World
) -> None:
    login(client, world.coordinator)
    response = post(
        client,
        "/staff/structures",
        {"name": "M" * 5000, "territory_id": str(world.north.id), "kind": "mds"},
        form_page="/staff/structures",
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert bounds.INVALID_MESSAGE.replace("'", "&#39;") in response.text


def test_a_territory_renamed_past_its_column_is_refused_and_keeps_its_name(client, world: World) -> None:
    login(client, world.admin)
    response = post(
        client,
        f"/staff/territories/{world.north.id}",
        {"name": "N" * 100_000},
        form_page="/staff/territories",
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert bounds.INVALID_MESSAGE.replace("'", "&#39;") in response.text
    assert world.north.name in client.get("/staff/territories").text


@pytest.mark.parametrize(
    "path",
    [
        "/lieux/T%00X",
        "/v/a%00b",
        "/staff/booklets/a%00b",
        f"/staff/sites/{2**63 + 1}",
        f"/staff/users/{2**31}",
    ],
)
def test_a_page_path_with_nul_or_a_huge_id_gets_a_french_4xx_page(client, world: World, path: str) -> None:
    login(client, world.admin)
    response = client.get(path)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "invalide" in response.text


def test_page_query_parameters_are_bounded(client, world: World) -> None:
    login(client, world.admin)
    for path in (
        f"/staff/sites?page_number={2**63 + 1}",
        "/staff/audit?objet=a%00b",
        "/staff/sites?recherche=a%00",
        f"/staff/sites?territoire={2**31}",
        f"/staff/print-runs?territoire={2**63 + 1}",
        f"/staff/audit?compte={2**31}",
    ):
        response = client.get(path)
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"].startswith("text/html")


# ---------------------------------------------------------------------------
# the bounds themselves


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_checked_accepts_exactly_what_decoding_accepts(name: str) -> None:
    """``bounds.checked`` (forms, CSV lines) and request decoding refuse the same values."""
    data = sites.SiteCreate(name=name, territory_id=1)
    try:
        msgspec.json.decode(msgspec.json.encode(data), type=sites.SiteCreate)
        decodes = True
    except msgspec.ValidationError:
        decodes = False
    try:
        bounds.checked(data)
        checks = True
    except DomainError as exc:
        assert exc.code == "invalid_input" and exc.details["field"] == "name"
        checks = False
    assert decodes == checks == (len(name) <= bounds.NAME_LENGTH and "\x00" not in name)


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_days_out_of_bounds_are_refused_where_a_month_or_a_validity_is_added_to_them(
    client, world: World, day: str
) -> None:
    """A date at the ends of the calendar made an overflow in date arithmetic: 500 before."""
    admin = bearer(client, world.admin)
    refused(client.get(f"/api/v1/reports?end={day}", headers=admin), "end")
    refused(client.get(f"/api/v1/reports/export?format=csv&start={day}", headers=admin), "start")
    refused(client.get(f"/api/v1/public/statistics?end={day}"), "end")
    refused(client.get(f"/api/v1/audit/?start={day}", headers=admin), "start")
    refused(client.get(f"/api/v1/redemptions?day={day}", headers=bearer(client, world.agent)), "day")
    body = {
        "territory_id": world.north.id,
        "programme_id": world.programme.id,
        "quantity": 1,
        "valid_from": day,
    }
    refused(client.post("/api/v1/print-runs", headers=admin, json=body), "valid_from")
    extend = f"/api/v1/programmes/{world.programme.id}/extend-validity"
    refused(client.post(extend, headers=admin, json={"valid_until": day}), "valid_until")


def test_a_public_page_with_a_day_out_of_bounds_gets_a_french_page(client, world: World) -> None:
    response = client.get("/statistiques?end=0001-01-01")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "Date hors limites" in response.text


@pytest.mark.parametrize("month", ["0000-01", "0001-01", "9999-12"])
def test_months_out_of_bounds_are_refused_by_statements_and_periods(client, world: World, month: str) -> None:
    """Year 1 closed a reimbursement period (200) and year 0 read a statement before."""
    admin = bearer(client, world.admin)
    refused(client.post(f"/api/v1/periods/{month}/close", headers=admin), "month")
    refused(client.get(f"/api/v1/statements/{world.site.id}/{month}", headers=admin), "month")
    refused(client.get(f"/api/v1/statements?month={month}", headers=admin), "month")
