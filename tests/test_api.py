"""The JSON API over real HTTP: the newcomer's flow, errors, tokens and the role × route matrix."""

from __future__ import annotations

import uuid

import pytest

from conftest import PASSWORD, World, bearer, run
from pass_numerique.domain.issuance import beneficiaries, lifecycle
from pass_numerique.domain.tables import StaffUser


def test_newcomer_flow_issue_then_redeem_then_already_redeemed(client, world: World) -> None:
    issuer = bearer(client, world.issuer)
    issued = client.post(
        "/api/v1/booklets/issue",
        headers=issuer,
        json={
            "programme_id": world.programme.id,
            "beneficiary": {"territory_id": world.north.id, "rsa": True},
        },
    )
    assert issued.status_code == 201, issued.text
    serial = issued.json()["serial"]
    codes = client.get(f"/api/v1/booklets/{serial}/codes", headers=issuer).json()
    assert codes[0]["url"].startswith("http://testserver/v/")
    agent = bearer(client, world.agent)
    body = {"codes": [codes[0]["short_code"]], "theme": "email", "request_id": str(uuid.uuid4())}
    first = client.post("/api/v1/redemptions", headers=agent, json=body)
    assert first.status_code == 200 and first.json()["remaining"] == 9
    second = client.post("/api/v1/redemptions", headers=agent, json={**body, "request_id": str(uuid.uuid4())})
    assert second.status_code == 409
    assert second.json()["code"] == "already_redeemed"
    assert "Médiathèque Nord" in second.json()["message"]
    replay = client.post("/api/v1/redemptions", headers=agent, json=body)
    assert replay.status_code == 200 and replay.json()["replayed"] is True


def test_login_errors_and_token_lifecycle(client, world: World) -> None:
    wrong = client.post("/api/v1/auth/login", json={"email": world.agent.email, "password": "nope-nope-nope"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
    unknown = client.post("/api/v1/auth/login", json={"email": "ghost@test.fr", "password": PASSWORD})
    assert unknown.json()["code"] == "invalid_credentials"  # no account enumeration
    headers = bearer(client, world.agent)
    me = client.get("/api/v1/auth/me", headers=headers).json()
    assert me["role"] == "site_agent" and me["site_id"] == world.site.id
    created = client.post("/api/v1/auth/tokens", headers=headers, json={"label": "tablette"}).json()
    other = {"Authorization": f"Bearer {created['token']}"}
    assert client.get("/api/v1/auth/me", headers=other).status_code == 200
    listed = client.get("/api/v1/auth/tokens", headers=headers).json()
    assert all("token" not in t for t in listed)  # shown once, never listed
    assert client.delete(f"/api/v1/auth/tokens/{created['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=other).status_code == 401


def test_passwords_are_stored_with_argon2id(world: World) -> None:
    hashes = [r["password_hash"] for r in run(StaffUser.select(StaffUser.password_hash))]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert not any(PASSWORD in h for h in hashes)


def test_deactivated_account_loses_access(client, world: World) -> None:
    headers = bearer(client, world.agent)
    admin = bearer(client, world.admin)
    response = client.post(
        f"/api/v1/users/{world.agent.user_id}/active", headers=admin, json={"active": False}
    )
    assert response.status_code == 200
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    again = client.post("/api/v1/auth/login", json={"email": world.agent.email, "password": PASSWORD})
    assert again.status_code == 401


@pytest.mark.parametrize(
    "body",
    ["not json", {"codes": 5}, {"codes": ["x"], "theme": "email", "request_id": "abc", "extra": 1}, []],
)
def test_malformed_bodies_get_a_422_with_a_stable_code(client, world: World, body) -> None:
    headers = bearer(client, world.agent)
    kwargs = {"content": body} if isinstance(body, str) else {"json": body}
    response = client.post(
        "/api/v1/redemptions", headers={**headers, "content-type": "application/json"}, **kwargs
    )
    assert response.status_code == 422  # the status of invalid_input, however the value was refused
    assert response.json()["code"] == "invalid_input"


def test_business_validation_errors_are_422_with_field(client, world: World) -> None:
    headers = bearer(client, world.agent)
    body = {"codes": ["ABCD"], "theme": "email", "request_id": "x"}
    response = client.post("/api/v1/redemptions", headers=headers, json=body)
    assert response.status_code == 422 and response.json()["details"]["field"] == "request_id"


def test_scope_never_leaks_another_territory(client, world: World) -> None:
    south_person = run(
        beneficiaries.create_beneficiary(
            world.issuer_south, beneficiaries.BeneficiaryCreate(territory_id=world.south.id)
        )
    )
    booklet = run(
        lifecycle.issue_booklet(
            world.issuer_south,
            lifecycle.IssueRequest(programme_id=world.programme.id, beneficiary_id=south_person.id),
        )
    )
    north = bearer(client, world.issuer)
    for path in (
        f"/api/v1/booklets/{booklet.serial}",
        f"/api/v1/booklets/{booklet.serial}/codes",
        f"/api/v1/beneficiaries/{south_person.id}",
    ):
        assert client.get(path, headers=north).status_code == 404, path
    coordinator = bearer(client, world.coordinator)  # north only
    assert client.get(f"/api/v1/booklets/{booklet.serial}", headers=coordinator).status_code == 404
    sites = client.get("/api/v1/sites", headers=bearer(client, world.agent)).json()
    assert [s["id"] for s in sites] == [world.site.id]


ROLES = ("admin", "coordinator", "issuer", "site_agent", "viewer")
EVERYONE = set(ROLES)
MANAGERS = {"admin", "coordinator"}
ISSUERS = {"admin", "coordinator", "issuer"}

# The access design, route by route: who may call it (None = public).
MATRIX: list[tuple[str, str, set[str] | None]] = [
    ("POST", "/api/v1/auth/login", None),
    ("GET", "/api/v1/keys", None),
    ("GET", "/healthz", None),
    ("GET", "/api/v1/auth/me", EVERYONE),
    ("GET", "/api/v1/auth/tokens", EVERYONE),
    ("POST", "/api/v1/auth/tokens", EVERYONE),
    ("DELETE", "/api/v1/auth/tokens/999", EVERYONE),
    ("GET", "/api/v1/territories", EVERYONE),
    ("POST", "/api/v1/territories", {"admin"}),
    ("GET", "/api/v1/programmes", EVERYONE),
    ("POST", "/api/v1/programmes", {"admin"}),
    ("POST", "/api/v1/programmes/1/extend-validity", {"admin"}),
    ("GET", "/api/v1/sites", EVERYONE),
    ("POST", "/api/v1/sites", MANAGERS),
    ("POST", "/api/v1/sites/1/accreditation", MANAGERS),
    ("POST", "/api/v1/sites/import?territory_id=1&dry_run=true", MANAGERS),
    ("GET", "/api/v1/sites/export", MANAGERS),
    ("GET", "/api/v1/structures", EVERYONE),
    ("POST", "/api/v1/structures", MANAGERS),
    ("GET", "/api/v1/users", {"admin"}),
    ("POST", "/api/v1/users", {"admin"}),
    ("POST", "/api/v1/users/1", {"admin"}),
    ("POST", "/api/v1/users/1/active", {"admin"}),
    ("POST", "/api/v1/beneficiaries", ISSUERS),
    ("POST", "/api/v1/beneficiaries/find", ISSUERS),
    ("GET", "/api/v1/beneficiaries/B-XXXX", ISSUERS),
    ("GET", "/api/v1/beneficiaries/B-XXXX/export", ISSUERS),
    ("POST", "/api/v1/beneficiaries/B-XXXX/erase", ISSUERS),
    ("POST", "/api/v1/booklets/issue", ISSUERS),
    ("GET", "/api/v1/booklets/16-2026-000001", ISSUERS),
    ("GET", "/api/v1/booklets/16-2026-000001/codes", ISSUERS),
    ("POST", "/api/v1/booklets/16-2026-000001/assign", ISSUERS),
    ("POST", "/api/v1/booklets/16-2026-000001/cancel", ISSUERS),
    ("POST", "/api/v1/print-runs", MANAGERS),
    ("GET", "/api/v1/print-runs/1", MANAGERS),
    ("POST", "/api/v1/allocations", MANAGERS),
    ("GET", "/api/v1/stock/expiry?print_run_id=1", MANAGERS),
    ("POST", "/api/v1/stock/revalidate", MANAGERS),
    ("POST", "/api/v1/vouchers/lookup", {"site_agent", "issuer", "coordinator", "admin"}),
    ("POST", "/api/v1/redemptions", {"site_agent"}),
    ("GET", "/api/v1/redemptions", {"site_agent", "coordinator", "admin"}),
    ("POST", "/api/v1/redemptions/1/undo", {"site_agent", "coordinator", "admin"}),
    ("GET", "/api/v1/scanner/context", {"site_agent"}),
    ("GET", "/api/v1/scanner/offline-bundle", {"site_agent"}),
    ("POST", "/api/v1/scanner/sync", {"site_agent"}),
    ("GET", "/api/v1/scanner/conflicts", {"site_agent", "coordinator", "admin"}),
    ("GET", "/api/v1/audit", MANAGERS),
    ("GET", "/api/v1/booklets/16-2026-000001/pdf", ISSUERS),
    ("POST", "/api/v1/print-runs/1/pdf", MANAGERS),
    ("GET", "/api/v1/print-runs/1/pdf", MANAGERS),
    ("GET", "/api/v1/print-runs/1/pdf/file", MANAGERS),
    ("GET", "/api/v1/print-runs/1/pdf/manifest.csv", MANAGERS),
    ("GET", "/api/v1/scanner/context", {"site_agent"}),
    ("GET", "/api/v1/scanner/offline-bundle", {"site_agent"}),
    ("POST", "/api/v1/scanner/sync", {"site_agent"}),
    ("GET", "/api/v1/scanner/conflicts", {"site_agent", "coordinator", "admin"}),
    ("GET", "/api/v1/reports", EVERYONE),
    ("GET", "/api/v1/reports/export", EVERYONE),
    ("GET", "/api/v1/public/statistics", None),
    ("GET", "/api/v1/statements", {"site_agent", "coordinator", "admin"}),
    ("GET", "/api/v1/statements/1/2026-10", {"site_agent", "coordinator", "admin"}),
    ("GET", "/api/v1/statements/1/2026-10/export", {"site_agent", "coordinator", "admin"}),
    ("POST", "/api/v1/statements/1/2026-10/paid", MANAGERS),
    ("GET", "/api/v1/periods", MANAGERS),
    ("POST", "/api/v1/periods/2026-10/close", MANAGERS),
    ("POST", "/api/v1/auth/password", EVERYONE),
    ("POST", "/api/v1/auth/logout", EVERYONE),  # last: it revokes each role's token
]


def test_role_route_matrix(client, world: World) -> None:
    headers = {role: bearer(client, world.by_role(role)) for role in ROLES}
    failures = []
    for method, path, allowed in MATRIX:
        body = {} if method == "POST" else None
        anonymous = client.request(method, path, json=body)
        if allowed is None:
            if anonymous.status_code in (401, 403):
                failures.append(f"anonymous {method} {path} -> {anonymous.status_code}")
            continue
        if anonymous.status_code != 401:
            failures.append(f"anonymous {method} {path} -> {anonymous.status_code}")
        for role in ROLES:
            status = client.request(method, path, json=body, headers=headers[role]).status_code
            expected_denied = role not in allowed
            if expected_denied and status != 403:
                failures.append(f"{role} {method} {path} -> {status}, expected 403")
            if not expected_denied and status in (401, 403, 405, 500):
                failures.append(f"{role} {method} {path} -> {status}, expected access")
    assert not failures, "\n".join(failures)


def test_every_route_declares_a_guard(client) -> None:
    unguarded = [
        f"{sorted(handler.http_methods)} {route.path}"
        for route in client.app.routes
        for handler in getattr(route, "route_handlers", [])
        if not route.path.startswith("/schema")
        and handler.http_methods != {"OPTIONS"}
        and not handler.resolve_guards()
    ]
    assert not unguarded, unguarded


def test_matrix_covers_every_api_route(client) -> None:
    import re

    declared = {
        (method, route.path)
        for route in client.app.routes
        if route.path.startswith("/api/v1/")
        for handler in getattr(route, "route_handlers", [])
        for method in handler.http_methods
        if method not in ("HEAD", "OPTIONS")
    }

    def pattern(path: str) -> str:
        return re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"

    tested = {(m, p.split("?")[0]) for m, p, _ in MATRIX}
    missing = [
        f"{m} {p}" for m, p in declared if not any(tm == m and re.match(pattern(p), tp) for tm, tp in tested)
    ]
    assert not missing, f"routes missing from the role matrix: {missing}"


def test_booklet_edge_rules_over_the_api(client, world: World) -> None:
    """Expired stock, a second valid booklet, nothing to replace, another territory's print run: each
    a 409 with its code and French message; expiring stock is listed and re-validated."""
    from datetime import timedelta

    from pass_numerique.domain.clock import local_date, utcnow
    from pass_numerique.domain.issuance import stock

    old = run(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(territory_id=world.north.id, programme_id=world.programme.id, quantity=2),
            now=utcnow() - timedelta(days=367),
        )
    )
    issuer, coordinator, admin = (bearer(client, a) for a in (world.issuer, world.coordinator, world.admin))
    person = client.post(
        "/api/v1/beneficiaries/", headers=issuer, json={"territory_id": world.north.id}
    ).json()
    expired = client.post(
        f"/api/v1/booklets/{old.first_serial}/assign", headers=issuer, json={"beneficiary_id": person["id"]}
    )
    assert expired.status_code == 409 and expired.json()["code"] == "booklet_expired"
    assert "a expiré le" in expired.json()["message"]

    listed = client.get(f"/api/v1/stock/expiry?print_run_id={old.id}", headers=coordinator)
    assert listed.status_code == 200 and listed.json()["expired"] == 2
    assert client.get(f"/api/v1/stock/expiry?print_run_id={old.id}", headers=issuer).status_code == 403
    new_end = (local_date(utcnow()) + timedelta(days=90)).isoformat()
    revalidated = client.post(
        "/api/v1/stock/revalidate", headers=coordinator, json={"print_run_id": old.id, "valid_until": new_end}
    )
    assert revalidated.status_code == 200 and revalidated.json()["revalidated"] == 2

    wrong = client.post(
        "/api/v1/allocations",
        headers=admin,
        json={"structure_id": world.structure_south.id, "print_run_id": old.id, "count": 1},
    )
    assert wrong.status_code == 409 and wrong.json()["code"] == "wrong_territory"
    assert wrong.json()["details"]["structure_territory_id"] == world.south.id

    assigned = client.post(
        f"/api/v1/booklets/{old.first_serial}/assign", headers=issuer, json={"beneficiary_id": person["id"]}
    )
    assert assigned.status_code == 200, assigned.text
    second = {"programme_id": world.programme.id, "beneficiary_id": person["id"]}
    warned = client.post("/api/v1/booklets/issue", headers=issuer, json=second)
    assert warned.status_code == 409 and warned.json()["code"] == "beneficiary_has_valid_booklet"
    assert old.first_serial in warned.json()["details"]["booklets"]
    reasoned = client.post(
        "/api/v1/booklets/issue", headers=issuer, json={**second, "second_booklet_reason": "Carnet abîmé"}
    )
    assert reasoned.status_code == 201, reasoned.text

    lapsed = run(
        lifecycle.issue_booklet(
            world.issuer,
            lifecycle.IssueRequest(
                programme_id=world.programme.id,
                beneficiary=beneficiaries.BeneficiaryCreate(territory_id=world.north.id),
            ),
            now=utcnow() - timedelta(days=367),
        )
    )
    nothing = client.post(
        f"/api/v1/booklets/{lapsed.serial}/cancel", headers=issuer, json={"reason": "perdu", "replace": True}
    )
    assert nothing.status_code == 409 and nothing.json()["code"] == "nothing_to_replace"


def test_a_new_programme_offers_every_national_theme_unless_it_narrows_them(client, world: World) -> None:
    from pass_numerique.domain.scheme import value_lists

    headers = bearer(client, world.admin)
    created = client.post("/api/v1/programmes", json={"name": "Pass 2027"}, headers=headers)
    assert created.status_code == 201, created.text
    national = list(value_lists.value_lists()["thematique"])
    assert created.json()["themes"] == national and len(national) == 30
    narrowed = client.post(
        "/api/v1/programmes", json={"name": "Pass seniors", "themes": ["email", "sante"]}, headers=headers
    )
    assert narrowed.json()["themes"] == ["email", "sante"]
