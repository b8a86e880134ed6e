"""The staff pages over real HTTP: sessions, CSRF, the desk, cancellation, print runs, role × page matrix."""

from __future__ import annotations

import html
import re
import time
from datetime import timedelta
from typing import Any

import pytest

from conftest import PASSWORD, World, issue, run
from pass_numerique.domain.accounts import sessions
from pass_numerique.domain.actors import SYSTEM, Actor
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.issuance import beneficiaries, lifecycle, stock
from pass_numerique.domain.tables import Beneficiary, Booklet, StaffSession

TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')


def csrf(client: Any, path: str = "/staff/login") -> str:
    """The CSRF token of a page's forms (the matching cookie is now in the client)."""
    response = client.get(path)
    match = TOKEN.search(response.text)
    assert match, f"no CSRF field on {path} ({response.status_code})"
    return match.group(1)


def login(client: Any, actor: Actor) -> None:
    response = client.post(
        "/staff/login",
        data={"email": actor.email, "password": PASSWORD, "_csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert sessions.COOKIE_NAME in client.cookies


def post(client: Any, path: str, data: dict[str, Any], form_page: str = "/staff/") -> Any:
    return client.post(path, data={**data, "_csrf_token": csrf(client, form_page)}, follow_redirects=False)


def new_beneficiary_form(world: World, **extra: Any) -> dict[str, Any]:
    return {
        "territory_id": str(world.north.id),
        "age_band": "vingt_cinq_trente_neuf",
        "gender": "feminin",
        "social_status": "sans_emploi",
        "rsa": "oui",
        "needs": ["prendre_en_main_du_materiel", "diagnostic_numerique"],
        "programme_id": str(world.programme.id),
        **extra,
    }


# ---------------------------------------------------------------------------
# sessions


def test_login_sets_a_hashed_httponly_lax_session_and_logout_ends_it(client, world: World) -> None:
    anonymous = client.get("/staff/desk", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/staff/login?suite=/staff/desk"
    response = client.post(
        "/staff/login",
        data={
            "email": world.issuer.email,
            "password": PASSWORD,
            "suite": "/staff/desk",
            "_csrf_token": csrf(client),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/staff/desk"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("pn_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # development; PN_PRODUCTION=true adds it
    raw = client.cookies[sessions.COOKIE_NAME]
    stored = run(StaffSession.select())
    assert len(stored) == 1 and stored[0]["session_hash"] != raw and raw not in stored[0]["session_hash"]
    page = client.get("/staff/desk")
    assert page.status_code == 200 and "issuer · Référent" in page.text
    assert post(client, "/staff/logout", {}).headers["location"] == "/staff/login"
    assert run(StaffSession.count()) == 0
    client.cookies.set(sessions.COOKIE_NAME, raw)  # a stolen copy of the old cookie is worthless
    assert client.get("/staff/desk", follow_redirects=False).status_code == 303


def test_wrong_password_is_refused_in_french_keeping_the_email(client, world: World) -> None:
    response = client.post(
        "/staff/login",
        data={"email": world.issuer.email, "password": "nope-nope-nope", "_csrf_token": csrf(client)},
    )
    assert response.status_code == 401
    assert "Adresse e-mail ou mot de passe incorrect." in response.text
    assert f'value="{world.issuer.email}"' in response.text
    assert sessions.COOKIE_NAME not in client.cookies


def test_login_only_redirects_to_our_own_pages(client, world: World) -> None:
    response = client.post(
        "/staff/login",
        data={
            "email": world.issuer.email,
            "password": PASSWORD,
            "suite": "https://evil.example/staff/",
            "_csrf_token": csrf(client),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/staff/"


def test_sessions_expire_when_idle_or_too_old_and_with_the_account(world: World) -> None:
    now = utcnow()
    raw = run(sessions.open_session(world.issuer, now=now))
    assert run(sessions.authenticate_session(raw, now=now + timedelta(hours=7))) is not None
    # Seen at +7 h: still alive 7 h later, dead after 8 h of silence.
    assert run(sessions.authenticate_session(raw, now=now + timedelta(hours=14))) is not None
    assert run(sessions.authenticate_session(raw, now=now + timedelta(hours=23))) is None
    other = run(sessions.open_session(world.issuer, now=now))
    for hours in range(7, 7 * 24, 7):  # active all week long…
        assert run(sessions.authenticate_session(other, now=now + timedelta(hours=hours))) is not None
    assert (
        run(sessions.authenticate_session(other, now=now + timedelta(days=7, minutes=1))) is None
    )  # …not more
    third = run(sessions.open_session(world.agent, now=utcnow()))
    from pass_numerique.domain.accounts import users

    run(users.set_active(world.admin, world.agent.user_id, False))
    assert run(sessions.authenticate_session(third)) is None


def test_the_api_ignores_the_session_cookie(client, world: World) -> None:
    """A cross-site request carries the cookie but never a bearer token: the API sees nobody."""
    login(client, world.admin)
    assert client.get("/api/v1/auth/me").status_code == 401
    forged = client.post("/api/v1/booklets/issue", json={"programme_id": world.programme.id})
    assert forged.status_code == 401
    assert run(Booklet.count()) == 0


def test_a_form_post_without_the_csrf_token_is_refused_and_changes_nothing(client, world: World) -> None:
    login(client, world.issuer)
    response = client.post("/staff/desk/create", data=new_beneficiary_form(world, action="issue"))
    assert response.status_code == 403
    assert "Formulaire refusé" in response.text and response.headers["content-type"].startswith("text/html")
    wrong = client.post(
        "/staff/desk/create", data={**new_beneficiary_form(world, action="issue"), "_csrf_token": "x" * 128}
    )
    assert wrong.status_code == 403
    assert run(Beneficiary.count()) == 0 and run(Booklet.count()) == 0
    client.cookies.delete("pn_csrf")
    assert client.post("/staff/login", data={"email": "a@b.fr", "password": "x"}).status_code == 403


def test_change_password_checks_the_old_one_and_closes_other_sessions(client, world: World) -> None:
    other = run(sessions.open_session(world.issuer))
    login(client, world.issuer)
    wrong = post(
        client,
        "/staff/password",
        {"old_password": "nope-nope-nope", "new_password": "un-nouveau-secret", "confirm_password": "x"},
    )
    assert wrong.status_code == 422 and "Les deux saisies" in wrong.text
    wrong = post(
        client,
        "/staff/password",
        {
            "old_password": "nope-nope-nope",
            "new_password": "un-nouveau-secret",
            "confirm_password": "un-nouveau-secret",
        },
    )
    assert wrong.status_code == 422 and 'id="old_password-erreur"' in wrong.text
    done = post(
        client,
        "/staff/password",
        {
            "old_password": PASSWORD,
            "new_password": "un-nouveau-secret",
            "confirm_password": "un-nouveau-secret",
        },
    )
    assert done.status_code == 303
    assert run(sessions.authenticate_session(other)) is None
    assert client.get("/staff/desk").status_code == 200  # this session stays
    from pass_numerique.domain.accounts import authentication

    assert (
        run(authentication.verify_credentials(world.issuer.email, "un-nouveau-secret")).user_id
        == world.issuer.user_id
    )


# ---------------------------------------------------------------------------
# the desk


def test_desk_creates_a_beneficiary_issues_a_booklet_and_its_pdf_prints(client, world: World) -> None:
    login(client, world.issuer)
    desk = client.get("/staff/desk")
    assert f'<option value="{world.north.id}" selected' in desk.text  # the issuer's territory
    assert "Prendre en main du matériel" in desk.text  # national value lists, French labels
    response = post(client, "/staff/desk/create", new_beneficiary_form(world, action="issue"), "/staff/desk")
    assert response.status_code == 303
    serial = re.fullmatch(r"/staff/booklets/([0-9-]+)\?fait=issued", response.headers["location"]).group(1)
    page = client.get(response.headers["location"])
    assert "Le carnet a été remis" in page.text and "Remis" in page.text
    assert f'href="/staff/booklets/{serial}/pdf"' in page.text
    assert "Carnet remis (neuf)" in page.text and "par issuer" in page.text  # history from the audit log
    pdf = client.get(f"/staff/booklets/{serial}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    person = run(Beneficiary.select().first())
    assert person["rsa"] is True and person["age_band"] == "vingt_cinq_trente_neuf"


def test_returning_beneficiary_is_found_by_reference_in_the_body_never_the_url(client, world: World) -> None:
    login(client, world.issuer)
    created = post(
        client, "/staff/desk/create", new_beneficiary_form(world, external_ref="CAF 123 456", action="create")
    )
    assert created.status_code == 303 and "123" not in created.headers["location"]
    missing = post(client, "/staff/desk/find", {"find_ref": "CAF 999"})
    assert missing.status_code == 404 and "Aucun bénéficiaire avec cette référence" in missing.text
    assert 'value="CAF 999"' in missing.text  # kept, for the creation form too
    found = post(client, "/staff/desk/find", {"find_ref": "caf123456"})
    assert found.status_code == 303 and "123" not in found.headers["location"]
    assert found.headers["location"] == created.headers["location"].split("?")[0]
    person_url = found.headers["location"]
    issued = post(client, person_url + "/issue", {"programme_id": str(world.programme.id)}, person_url)
    assert issued.status_code == 303 and issued.headers["location"].endswith("?fait=issued")
    # a pre-printed booklet, typed (or scanned) by its serial
    pre = run(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(territory_id=world.north.id, programme_id=world.programme.id, quantity=1),
        )
    )
    typo = post(client, person_url + "/assign", {"serial": "16-2026-999999"}, person_url)
    assert typo.status_code == 404 and 'value="16-2026-999999"' in typo.text
    assert 'id="serial-erreur"' in typo.text
    # a second valid booklet: with a reason (docs/architecture.md, "Booklet lifecycle")
    assigned = post(
        client,
        person_url + "/assign",
        {"serial": f" {pre.first_serial} ", "second_booklet_reason": "Carnet du conjoint"},
        person_url,
    )
    assert assigned.headers["location"] == f"/staff/booklets/{pre.first_serial}?fait=assigned"
    page = client.get(person_url)
    assert page.text.count("/staff/booklets/16-") == 2


def test_refused_desk_form_shows_the_error_next_to_the_field_keeping_what_was_typed(
    client, world: World
) -> None:
    login(client, world.issuer)
    response = post(
        client,
        "/staff/desk/create",
        new_beneficiary_form(world, territory_id=str(world.south.id), external_ref="REF-1", action="create"),
    )
    assert response.status_code == 403 and "Vous n'avez pas les droits" in html.unescape(response.text)
    assert 'value="REF-1"' in response.text and 'value="diagnostic_numerique" checked' in response.text
    response = post(
        client, "/staff/desk/create", new_beneficiary_form(world, territory_id="", action="create")
    )
    assert response.status_code == 422 and 'id="territory_id-erreur"' in response.text
    assert run(Beneficiary.count()) == 0


def test_the_desk_asks_for_the_booklet_first_and_groups_the_needs(client, world: World) -> None:
    login(client, world.issuer)
    desk = client.get("/staff/desk").text
    form = desk[desk.index('id="formulaire-remise"') :]
    # The choices a booklet needs come before everything optional.
    assert form.index('id="programme_id"') < form.index('id="territory_id"') < form.index('id="external_ref"')
    assert form.index('id="territory_id"') < form.index('name="needs"')
    # The needs in La Coop's two national groups, each theme once.
    legends = re.findall(r'id="besoins-\w+-legende">([^<]+)<', form)
    assert legends == [
        "Besoins exprimés : usages du numérique ",
        "Besoins exprimés : démarches administratives ",
    ]
    numerique = form[form.index('id="besoins-numerique"') : form.index('id="besoins-demarches"')]
    assert 'value="sante"' in numerique and 'value="social_sante"' not in numerique
    needs = re.findall(r'name="needs" value="([^"]+)"', form)
    assert len(needs) == len(set(needs)) == 30


def test_a_refused_desk_form_lists_every_error_at_the_top_with_links_to_the_fields(
    client, world: World
) -> None:
    login(client, world.admin)  # several territories and no preselection
    response = post(
        client,
        "/staff/desk/create",
        new_beneficiary_form(world, territory_id="", programme_id="", action="issue"),
        "/staff/desk",
    )
    assert response.status_code == 422
    text = html.unescape(response.text)
    summary = text[text.index('id="erreurs"') : text.index("</div>", text.index('id="erreurs"'))]
    assert text.index('id="erreurs"') < text.index('id="formulaire-remise"')  # above the form
    assert 'role="alert" id="erreurs" tabindex="-1" autofocus' in text
    assert "2 erreurs empêchent l'enregistrement" in summary
    assert re.findall(r'<a href="#(\w+)">', summary) == ["programme_id", "territory_id"]
    assert 'id="programme_id-erreur"' in text and 'id="territory_id-erreur"' in text
    assert "<title>Erreur – Guichet de remise" in text
    assert 'value="diagnostic_numerique" checked' in text  # what was ticked is kept
    assert run(Beneficiary.count()) == 0


def test_lost_booklet_is_cancelled_after_confirmation_and_replaced(client, world: World) -> None:
    booklet, _ = issue(world)
    login(client, world.issuer)
    url = f"/staff/booklets/{booklet.serial}"
    empty = post(client, url + "/cancel", {"reason": " ", "replace": "oui"}, url)
    assert empty.status_code == 422 and 'id="reason-erreur"' in empty.text
    ask = post(client, url + "/cancel", {"reason": "perdu", "replace": "oui"}, url)
    assert ask.status_code == 200 and "Confirmez l'annulation" in html.unescape(ask.text)
    assert run(lifecycle.get_booklet(SYSTEM, booklet.serial)).status == "issued"  # nothing yet
    done = post(client, url + "/cancel", {"reason": "perdu", "replace": "oui", "confirm": "oui"}, url)
    assert done.status_code == 303 and done.headers["location"].endswith("?fait=replaced")
    replacement = client.get(done.headers["location"])
    assert "annulé et remplacé" in replacement.text
    old = client.get(url)
    assert "Annulé le" in old.text and "motif : perdu" in old.text
    assert run(lifecycle.get_booklet(SYSTEM, booklet.serial)).status == "cancelled"


def test_replacement_and_original_link_to_each_other_with_both_histories(client, world: World) -> None:
    booklet, _ = issue(world)
    login(client, world.issuer)
    url = f"/staff/booklets/{booklet.serial}"
    done = post(client, url + "/cancel", {"reason": "volé", "replace": "oui", "confirm": "oui"}, url)
    replacement = html.unescape(client.get(done.headers["location"]).text)
    assert f'href="/staff/booklets/{booklet.serial}"' in replacement and "remplace le" in replacement
    # Its history tells the original's story too: issued, then cancelled (with its motive).
    assert f"carnet {booklet.serial} : Carnet remis (neuf)" in replacement
    assert f"carnet {booklet.serial} : Carnet annulé" in replacement and "motif : volé" in replacement
    original = html.unescape(client.get(url).text)
    serial = run(lifecycle.get_booklet(SYSTEM, booklet.serial)).replaced_by
    assert f'href="/staff/booklets/{serial}"' in original


def test_an_expired_booklet_offers_no_replacement_and_is_not_replaced(client, world: World) -> None:
    person = run(
        beneficiaries.create_beneficiary(
            world.issuer, beneficiaries.BeneficiaryCreate(territory_id=world.north.id)
        )
    )
    lapsed = run(
        lifecycle.issue_booklet(
            world.issuer,
            lifecycle.IssueRequest(programme_id=world.programme.id, beneficiary_id=person.id),
            now=utcnow() - timedelta(days=367),
        )
    )
    login(client, world.issuer)
    url = f"/staff/booklets/{lapsed.serial}"
    shown = html.unescape(client.get(url).text)
    assert "il n'y a rien à remplacer" in shown and 'name="replace"' not in shown
    forced = post(client, url + "/cancel", {"reason": "perdu", "replace": "oui", "confirm": "oui"}, url)
    assert forced.status_code == 409 and "rien à remplacer" in html.unescape(forced.text)
    assert run(Booklet.count()) == 1


def test_a_second_valid_booklet_asks_for_a_reason_at_the_desk(client, world: World) -> None:
    booklet, _ = issue(world)
    printed = run(
        stock.create_print_run(
            world.coordinator,
            stock.PrintRunCreate(territory_id=world.north.id, programme_id=world.programme.id, quantity=1),
        )
    )
    login(client, world.issuer)
    url = f"/staff/beneficiaries/{booklet.beneficiary_id}"
    warned = post(client, url + "/issue", {"programme_id": str(world.programme.id)}, url)
    text = html.unescape(warned.text)
    assert warned.status_code == 409 and 'id="second_booklet_reason"' in text
    assert f"déjà un carnet valable ({booklet.serial})" in text
    assigned = post(client, url + "/assign", {"serial": printed.first_serial}, url)
    assert assigned.status_code == 409 and 'id="second_booklet_reason-erreur"' in assigned.text
    assert f'value="{printed.first_serial}"' in assigned.text  # kept for the second try
    done = post(
        client,
        url + "/assign",
        {"serial": printed.first_serial, "second_booklet_reason": "Carnet précédent abîmé"},
        url,
    )
    assert done.status_code == 303 and done.headers["location"].endswith("?fait=assigned")
    again = post(
        client,
        url + "/issue",
        {"programme_id": str(world.programme.id), "second_booklet_reason": "Conjoint"},
        url,
    )
    assert again.status_code == 303


# ---------------------------------------------------------------------------
# print runs


def test_coordinator_creates_a_print_run_prints_it_and_downloads_it(client, world: World) -> None:
    login(client, world.coordinator)
    bad = post(
        client,
        "/staff/print-runs",
        {"territory_id": str(world.north.id), "programme_id": str(world.programme.id), "quantity": "0"},
    )
    assert bad.status_code == 422 and 'id="quantity-erreur"' in bad.text and 'value="0"' in bad.text
    created = post(
        client,
        "/staff/print-runs",
        {"territory_id": str(world.north.id), "programme_id": str(world.programme.id), "quantity": "2"},
    )
    url = created.headers["location"].split("?")[0]
    assert "Produire le PDF du tirage" in client.get(url).text
    assert post(client, url + "/pdf", {}, url).status_code == 303
    deadline = time.monotonic() + 60
    while "Télécharger le PDF" not in (page := client.get(url)).text:
        assert time.monotonic() < deadline, page.text
        assert 'http-equiv="refresh"' in page.text  # follows its own progress
        time.sleep(0.2)
    pdf = client.get(url + "/pdf/file")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert client.get(url + "/pdf/manifest.csv").text.startswith("serial,")
    assert "Tirage n° 1" in client.get("/staff/print-runs").text


# ---------------------------------------------------------------------------
# role × page matrix

ROLES = ("admin", "coordinator", "issuer", "site_agent", "viewer")
EVERYONE = set(ROLES)
MANAGERS = {"admin", "coordinator"}
ISSUERS = {"admin", "coordinator", "issuer"}
STATEMENT_READERS = {"admin", "coordinator", "site_agent"}

# Every page route and who may open it (None: public). Denied roles get 403, anonymous visitors
# are sent to the login page (303).
PAGE_MATRIX: list[tuple[str, str, set[str] | None]] = [
    ("GET", "/", None),
    ("GET", "/staff/login", None),
    ("POST", "/staff/login", None),
    ("POST", "/staff/logout", EVERYONE),
    ("GET", "/staff/", EVERYONE),
    ("GET", "/staff/nulle-part", EVERYONE),  # any other /staff/ address: a 404 page with the menu
    ("GET", "/staff/password", EVERYONE),
    ("POST", "/staff/password", EVERYONE),
    ("GET", "/staff/desk", ISSUERS),
    ("POST", "/staff/desk/find", ISSUERS),
    ("POST", "/staff/desk/create", ISSUERS),
    ("GET", "/staff/beneficiaries/B-XXXX", ISSUERS),
    ("GET", "/staff/beneficiaries/B-XXXX/export", ISSUERS),
    ("POST", "/staff/beneficiaries/B-XXXX/erase", ISSUERS),
    ("POST", "/staff/beneficiaries/B-XXXX/issue", ISSUERS),
    ("POST", "/staff/beneficiaries/B-XXXX/assign", ISSUERS),
    ("GET", "/staff/booklets", ISSUERS),
    ("POST", "/staff/booklets/find", ISSUERS),
    ("GET", "/staff/booklets/16-2026-000001", ISSUERS),
    ("GET", "/staff/booklets/16-2026-000001/pdf", ISSUERS),
    ("POST", "/staff/booklets/16-2026-000001/cancel", ISSUERS),
    ("GET", "/staff/print-runs", MANAGERS),
    ("POST", "/staff/print-runs", MANAGERS),
    ("GET", "/staff/print-runs/1", MANAGERS),
    ("POST", "/staff/print-runs/1/pdf", MANAGERS),
    ("GET", "/staff/print-runs/1/pdf/file", MANAGERS),
    ("GET", "/staff/print-runs/1/pdf/manifest.csv", MANAGERS),
    ("GET", "/staff/reports", EVERYONE),
    ("GET", "/staff/reports/export", EVERYONE),
    ("GET", "/staff/statements", STATEMENT_READERS),
    ("POST", "/staff/statements/2026-10/close", MANAGERS),
    ("GET", "/staff/statements/1/2026-10", STATEMENT_READERS),
    ("GET", "/staff/statements/1/2026-10/export", STATEMENT_READERS),
    ("POST", "/staff/statements/1/2026-10/paid", MANAGERS),
    ("GET", "/staff/sites", MANAGERS),
    ("GET", "/staff/sites/new", MANAGERS),
    ("POST", "/staff/sites", MANAGERS),
    ("GET", "/staff/sites/1", MANAGERS),
    ("POST", "/staff/sites/1", MANAGERS),
    ("POST", "/staff/sites/1/accreditation", MANAGERS),
    ("GET", "/staff/sites/import", MANAGERS),
    ("POST", "/staff/sites/import", MANAGERS),
    ("GET", "/staff/sites/export", MANAGERS),
    ("GET", "/staff/users", {"admin"}),
    ("GET", "/staff/users/new", {"admin"}),
    ("POST", "/staff/users", {"admin"}),
    ("GET", "/staff/users/1", {"admin"}),
    ("POST", "/staff/users/1", {"admin"}),
    ("POST", "/staff/users/1/active", {"admin"}),
    ("POST", "/staff/users/1/password", {"admin"}),
    ("GET", "/staff/tokens", EVERYONE),
    ("POST", "/staff/tokens", EVERYONE),
    ("POST", "/staff/tokens/999/revoke", EVERYONE),
    ("GET", "/staff/audit", MANAGERS),
    ("GET", "/staff/programmes", {"admin"}),
    ("POST", "/staff/programmes", {"admin"}),
    ("GET", "/staff/programmes/1", {"admin"}),
    ("POST", "/staff/programmes/1", {"admin"}),
    ("POST", "/staff/programmes/1/extend", {"admin"}),
    ("GET", "/staff/territories", {"admin"}),
    ("POST", "/staff/territories", {"admin"}),
    ("POST", "/staff/territories/1", {"admin"}),
    ("GET", "/staff/structures", MANAGERS),
    ("POST", "/staff/structures", MANAGERS),
    ("GET", "/staff/structures/1", MANAGERS),
    ("POST", "/staff/structures/1", MANAGERS),
    ("POST", "/staff/print-runs/1/allocate", MANAGERS),
    ("POST", "/staff/print-runs/1/revalidate", MANAGERS),
    ("POST", "/staff/structures/1/revalidate", MANAGERS),
    ("GET", "/lieux/TAS-N", None),
    ("GET", "/statistiques", None),
    ("GET", "/mentions-legales", None),
    ("GET", "/accessibilite", None),
    ("GET", "/donnees-personnelles", None),
]


def test_role_page_matrix(client, world: World) -> None:
    failures = []
    token = csrf(client)
    for who in (None, *ROLES):
        client.cookies.delete(sessions.COOKIE_NAME)
        if who:
            login(client, world.by_role(who))
        for method, path, allowed in PAGE_MATRIX:
            if path == "/staff/logout":
                continue  # tried last: it ends the session
            response = client.request(
                method,
                path,
                data={"_csrf_token": token} if method == "POST" else None,
                follow_redirects=False,
            )
            status, location = response.status_code, response.headers.get("location", "")
            label = f"{who or 'anonymous'} {method} {path} -> {status} {location}"
            if allowed is None:
                # (an empty login form is answered 401 "wrong credentials", then 429 once throttled)
                if status in (403, 500):
                    failures.append(label)
            elif who is None:
                if status != 303 or not location.startswith("/staff/login"):
                    failures.append(label + ", expected the login page")
            elif who not in allowed:
                if status != 403 or "Accès refusé" not in response.text:
                    failures.append(label + ", expected 403")
            elif status in (401, 403, 405, 500) or location.startswith("/staff/login"):
                failures.append(label + ", expected access")
        if who:
            out = client.post("/staff/logout", data={"_csrf_token": token}, follow_redirects=False)
            if out.headers.get("location") != "/staff/login":
                failures.append(f"{who} logout -> {out.status_code}")
    assert not failures, "\n".join(failures)


def test_page_matrix_covers_every_page_route(client) -> None:
    declared = {
        (method, route.path)
        for route in client.app.routes
        if route.path == "/" or route.path.startswith(("/staff", "/lieux", "/statistiques"))
        for handler in getattr(route, "route_handlers", [])
        for method in handler.http_methods
        if method not in ("HEAD", "OPTIONS")
    }

    def pattern(path: str) -> str:
        return re.sub(r"\{[^}]+\}", "[^/]+", path) + "/?$"  # Litestar serves /staff/ as /staff

    missing = [
        f"{m} {p}"
        for m, p in declared
        if not any(tm == m and re.match(pattern(p), tp) for tm, tp, _ in PAGE_MATRIX)
    ]
    assert not missing, f"pages missing from the matrix: {missing}"


@pytest.mark.parametrize("role", ["issuer", "coordinator"])
def test_pages_never_show_another_territorys_data(client, world: World, role: str) -> None:
    south_person = run(
        beneficiaries.create_beneficiary(
            world.issuer_south,
            beneficiaries.BeneficiaryCreate(territory_id=world.south.id, external_ref="SUD-1"),
        )
    )
    booklet = run(
        lifecycle.issue_booklet(
            world.issuer_south,
            lifecycle.IssueRequest(programme_id=world.programme.id, beneficiary_id=south_person.id),
        )
    )
    south_run = run(
        stock.create_print_run(
            world.admin,
            stock.PrintRunCreate(territory_id=world.south.id, programme_id=world.programme.id, quantity=1),
        )
    )
    login(client, world.by_role(role))
    for path in (
        f"/staff/booklets/{booklet.serial}",
        f"/staff/booklets/{booklet.serial}/pdf",
        f"/staff/beneficiaries/{south_person.id}",
    ):
        response = client.get(path)
        assert response.status_code == 404 and booklet.serial not in response.text, path
    assert post(client, "/staff/desk/find", {"find_ref": "SUD-1"}).status_code == 404
    cancel = post(client, f"/staff/booklets/{booklet.serial}/cancel", {"reason": "x", "confirm": "oui"})
    assert cancel.status_code == 404
    assert run(lifecycle.get_booklet(SYSTEM, booklet.serial)).status == "issued"
    if role == "coordinator":
        assert client.get(f"/staff/print-runs/{south_run.id}").status_code == 404
        assert south_run.first_serial not in client.get("/staff/print-runs").text


# ---------------------------------------------------------------------------
# the public list of partner sites (the booklet cover's QR)


def test_public_site_list_shows_only_the_territorys_accredited_sites(client, world: World) -> None:
    from pass_numerique.domain.partners import sites

    run(
        sites.create_site(
            SYSTEM,
            sites.SiteCreate(
                name="Tiers-lieu du Port",
                territory_id=world.north.id,
                address="2 quai Est",
                postal_code="16000",
                commune_name="Angoulême",
                opening_hours="Mardi 14h-18h",
                contact_phone="05 45 00 00 00",
            ),
        )
    )  # pending: not shown
    response = client.get("/lieux/TAS-N")  # no login
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    text = html.unescape(response.text)
    assert "Médiathèque Nord" in text and "Nord" in text
    assert "Lieu en attente" not in text and "Tiers-lieu du Port" not in text  # not accredited
    assert "Espace Sud" not in text  # another territory
    assert "Espace Sud" in html.unescape(client.get("/lieux/tas-s").text)
    missing = client.get("/lieux/NOWHERE")
    assert missing.status_code == 404 and "Territoire introuvable." in missing.text


def test_public_site_list_shows_phone_and_opening_hours_in_french(client, world: World) -> None:
    from pass_numerique.domain.partners import sites

    run(
        sites.update_site(
            SYSTEM,
            world.site.id,
            sites.SiteCreate(
                name=world.site.name,
                territory_id=world.north.id,
                opening_hours="Mo-Fr 09:00-12:00,14:00-18:30; Sa 08:30-12:00",
                contact_phone="05 45 00 00 00",
            ),
        )
    )
    text = html.unescape(client.get("/lieux/TAS-N").text)
    assert "Du lundi au vendredi : 9h-12h, 14h-18h30\nSamedi : 8h30-12h" in text
    assert 'Téléphone : <a href="tel:0545000000">05 45 00 00 00</a>' in text


FOOTER_LINKS = ["/accessibilite", "/mentions-legales", "/donnees-personnelles"]


def _footer_links(text: str) -> list[str]:
    footer = text[text.index('<footer class="fr-footer"') :]
    return re.findall(r'class="fr-footer__bottom-link" href="([^"]+)"', footer)


def test_every_page_has_the_legal_footer_and_its_pages_exist(client, world: World, monkeypatch) -> None:
    from pass_numerique.settings import get_settings

    monkeypatch.setenv("PN_OPERATOR_NAME", "Département de la Charente")
    monkeypatch.setenv("PN_CONTACT_EMAIL", "pass-numerique@lacharente.fr")
    get_settings.cache_clear()
    try:
        for path in ("/lieux/TAS-N", "/statistiques", "/staff/login", "/staff/nulle-part"):
            text = html.unescape(client.get(path).text)
            assert _footer_links(text) == FOOTER_LINKS, path
            assert "Accessibilité : non conforme" in text
        login(client, world.issuer)
        assert _footer_links(client.get("/staff/desk").text) == FOOTER_LINKS
        client.cookies.delete(sessions.COOKIE_NAME)
        for path, heading in (
            ("/mentions-legales", "Mentions légales"),
            ("/accessibilite", "Déclaration d'accessibilité"),
            ("/donnees-personnelles", "Données personnelles"),
        ):
            page = client.get(path)
            text = html.unescape(page.text)
            assert page.status_code == 200 and f"<h1>{heading}</h1>" in text, path
            assert "Département de la Charente" in text and "pass-numerique@lacharente.fr" in text
        assert "<strong>non conforme</strong>" in client.get("/accessibilite").text
        monkeypatch.setenv("PN_ACCESSIBILITY_STATUS", "partiellement conforme")
        get_settings.cache_clear()
        assert "Accessibilité : partiellement conforme" in client.get("/lieux/TAS-N").text
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_each_login_gets_a_new_session_id_and_ends_the_previous_one(client, world: World) -> None:
    login(client, world.issuer)
    first = client.cookies[sessions.COOKIE_NAME]
    login(client, world.coordinator)
    assert client.cookies[sessions.COOKIE_NAME] != first
    assert run(StaffSession.count()) == 1
    assert run(sessions.authenticate_session(first)) is None


def test_booklet_search_by_voucher_code_is_posted_never_in_the_url(client, world: World) -> None:
    booklet, codes = issue(world)
    login(client, world.issuer)
    token = csrf(client, "/staff/booklets")
    found = client.post(
        "/staff/booklets/find",
        data={"_csrf_token": token, "code": codes[0].short_code},
        follow_redirects=False,
    )
    assert found.status_code == 303 and found.headers["location"] == f"/staff/booklets/{booklet.serial}"
    wrong = codes[0].short_code[:-1] + ("0" if codes[0].short_code[-1] != "0" else "1")
    refused = client.post("/staff/booklets/find", data={"_csrf_token": token, "code": wrong})
    assert refused.status_code == 422 and "erreur de frappe" in refused.text


# ---------------------------------------------------------------------------
# the menu and the home pages

NAV_BLOCK = re.compile(r'<nav class="fr-nav" id="navigation".*?</nav>', re.S)


def _menu(text: str) -> tuple[list[str], list[str]]:
    """The menu's links and its group headings (DSFR ``fr-nav__btn``)."""
    block = NAV_BLOCK.search(text)
    assert block, "no menu"
    links = re.findall(r'class="fr-nav__link" href="([^"]+)"', block.group(0))
    groups = re.findall(r'<button class="fr-nav__btn"[^>]*>([^<]+)</button>', block.group(0))
    return links, groups


@pytest.mark.parametrize("role", ROLES)
def test_each_roles_menu_holds_exactly_the_pages_it_may_open(client, world: World, role: str) -> None:
    from pass_numerique.web.staff.layout import NAV, NavGroup

    login(client, world.by_role(role))
    links, groups = _menu(client.get("/staff/").text)
    menu_urls = [link.url for item in NAV for link in (item.links if isinstance(item, NavGroup) else (item,))]
    # Who may open a page is the matrix above (the routes' guards); the scanner is the site agents'.
    allowed = {path for method, path, who in PAGE_MATRIX if method == "GET" and who and role in who}
    allowed |= {"/scan"} if role == "site_agent" else set()
    assert sorted(links) == sorted(url for url in menu_urls if url in allowed)
    assert len(groups) <= 4 and len(links) == len(set(links))


def test_the_menu_groups_the_admins_pages_under_four_headings(client, world: World) -> None:
    login(client, world.admin)
    page = client.get("/staff/structures")
    links, groups = _menu(page.text)
    assert groups == ["Carnets", "Partenaires", "Suivi", "Administration"]
    assert len(links) == 12
    # The open page is marked, and so is its group's heading.
    assert '<a class="fr-nav__link" href="/staff/structures" aria-current="page">' in page.text
    assert re.search(r'<button class="fr-nav__btn"[^>]*aria-current="true">Partenaires</button>', page.text)
    # A group one role sees a single entry of is that entry: the viewer's dashboard.
    client.cookies.delete(sessions.COOKIE_NAME)
    login(client, world.viewer)
    assert _menu(client.get("/staff/").text) == (["/staff/", "/staff/reports"], [])


def test_the_home_page_is_each_roles_work_page(client, world: World) -> None:
    from pass_numerique.domain.redemption import redeem

    booklet, codes = issue(world)
    request = redeem.RedeemRequest(codes=[codes[0].url], theme="email", request_id="home-page-0001")
    run(redeem.redeem(world.agent, request))
    pages = {}
    for role in ROLES:
        client.cookies.delete(sessions.COOKIE_NAME)
        login(client, world.by_role(role))
        pages[role] = html.unescape(client.get("/staff/").text)
    for role in ("admin", "coordinator", "issuer"):
        assert 'href="/staff/desk">Remettre un carnet</a>' in pages[role]
        assert "À faire" in pages[role]
    assert "Attribuer du stock" in pages["coordinator"] and "Attribuer du stock" not in pages["issuer"]
    agent = pages["site_agent"]
    assert 'href="/scan">Encaisser un chèque</a>' in agent and "chèques encaissés aujourd'hui" in agent
    todays = agent[agent.index('id="encaissements-du-jour"') :]
    assert booklet.serial in todays and "n° 1" in todays and "E-mail" in todays  # the theme's label
    viewer = pages["viewer"]
    assert "Chiffres clés" in viewer and "carnets remis" in viewer and "À faire" not in viewer
    assert "pas encore disponibles" not in viewer
    # No tile repeating the menu any more.
    assert all("fr-tile" not in text for text in pages.values())
