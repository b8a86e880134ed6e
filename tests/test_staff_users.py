"""The account pages over real HTTP: invite with a temporary password, reset, deactivate, API tokens."""

from __future__ import annotations

import re

from conftest import PASSWORD, World, run
from pass_numerique.domain.accounts import authentication
from pass_numerique.domain.tables import AuditEvent
from test_staff_pages import csrf, login

TEMPORARY = re.compile(r'<code id="mot-de-passe-temporaire">([^<]+)</code>')


def test_admin_invites_a_site_agent_who_must_change_the_password(client, world: World) -> None:
    login(client, world.admin)
    form = client.get(f"/staff/users/new?role=site_agent&site_id={world.site.id}")
    assert f'<option value="{world.site.id}" selected' in form.text  # prefilled from the site's page
    token = csrf(client, "/staff/users/new")
    refused = client.post(
        "/staff/users",
        data={"_csrf_token": token, "display_name": "Nina", "email": "nina@test.fr", "role": "site_agent"},
    )
    assert refused.status_code == 422 and 'value="nina@test.fr"' in refused.text
    created = client.post(
        "/staff/users",
        data={
            "_csrf_token": token,
            "display_name": "Nina",
            "email": "nina@test.fr",
            "role": "site_agent",
            "site_id": str(world.site.id),
        },
    )
    assert created.status_code == 201
    temporary = TEMPORARY.search(created.text).group(1)
    assert temporary not in str(run(AuditEvent.select()))  # never in the audit trail
    client.cookies.clear()
    response = client.post(
        "/staff/login",
        data={"email": "nina@test.fr", "password": temporary, "_csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/staff/password?fait=must_change"
    token = csrf(client, "/staff/password")
    changed = client.post(
        "/staff/password",
        data={
            "_csrf_token": token,
            "old_password": temporary,
            "new_password": "un-mot-de-passe-a-moi",
            "confirm_password": "un-mot-de-passe-a-moi",
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303
    actor = run(authentication.verify_credentials("nina@test.fr", "un-mot-de-passe-a-moi"))
    assert not run(authentication.must_change_password(actor.user_id))


def test_reset_and_deactivate_ask_to_confirm(client, world: World) -> None:
    login(client, world.admin)
    token = csrf(client, f"/staff/users/{world.issuer.user_id}")
    path = f"/staff/users/{world.issuer.user_id}"
    ask = client.post(f"{path}/password", data={"_csrf_token": token})
    assert "Confirmez la réinitialisation" in ask.text
    assert (
        run(authentication.verify_credentials(world.issuer.email, PASSWORD)).user_id == world.issuer.user_id
    )
    reset = client.post(f"{path}/password", data={"_csrf_token": token, "confirm": "oui"})
    temporary = TEMPORARY.search(reset.text).group(1)
    assert (
        run(authentication.verify_credentials(world.issuer.email, temporary)).user_id == world.issuer.user_id
    )
    assert run(authentication.must_change_password(world.issuer.user_id))
    ask = client.post(f"{path}/active", data={"_csrf_token": token, "active": "non"})
    assert "Confirmez la désactivation" in ask.text
    done = client.post(
        f"{path}/active",
        data={"_csrf_token": token, "active": "non", "confirm": "oui"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "Désactivé" in client.get("/staff/users?etat=inactif").text
    myself = client.post(
        f"/staff/users/{world.admin.user_id}/active",
        data={"_csrf_token": token, "active": "non", "confirm": "oui"},
    )
    assert myself.status_code == 409 and "votre propre compte" in myself.text


def test_api_tokens_are_shown_once_and_revocable(client, world: World) -> None:
    login(client, world.coordinator)
    token = csrf(client, "/staff/tokens")
    assert client.post("/staff/tokens", data={"_csrf_token": token, "label": " "}).status_code == 422
    created = client.post("/staff/tokens", data={"_csrf_token": token, "label": "script de suivi"})
    raw = re.search(r'<code id="jeton">([^<]+)</code>', created.text).group(1)
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    assert raw not in client.get("/staff/tokens").text  # shown once
    token_id = run(authentication.list_tokens(world.coordinator))[0].id
    client.post(f"/staff/tokens/{token_id}/revoke", data={"_csrf_token": token})
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    # Someone else's token cannot be revoked from here.
    other = run(authentication.create_token(world.issuer, "desk"))
    assert client.post(f"/staff/tokens/{other.id}/revoke", data={"_csrf_token": token}).status_code == 404


def test_admin_moves_an_issuer_to_another_structure_and_cannot_demote_itself(client, world: World) -> None:
    login(client, world.admin)
    path = f"/staff/users/{world.issuer.user_id}"
    token = csrf(client, path)
    page = client.get(path)
    assert f'<option value="{world.structure.id}" selected' in page.text  # the current scope, prefilled
    refused = client.post(path, data={"_csrf_token": token, "display_name": "issuer", "role": "coordinator"})
    assert refused.status_code == 422 and "au moins un territoire" in refused.text
    moved = client.post(
        path,
        data={
            "_csrf_token": token,
            "display_name": "Inès",
            "role": "issuer",
            "structure_id": str(world.structure_south.id),
        },
        follow_redirects=False,
    )
    assert moved.status_code == 303
    actor = run(authentication.actor_for_user(world.issuer.user_id))
    assert actor.structure_id == world.structure_south.id and actor.territory_ids == frozenset(
        {world.south.id}
    )
    assert run(AuditEvent.count().where(AuditEvent.action == "user.update")) == 1
    promoted = client.post(
        path,
        data={
            "_csrf_token": token,
            "display_name": "Inès",
            "role": "coordinator",
            "territory_ids": [str(world.north.id), str(world.south.id)],
        },
        follow_redirects=False,
    )
    assert promoted.status_code == 303
    actor = run(authentication.actor_for_user(world.issuer.user_id))
    assert actor.role == "coordinator" and actor.territory_ids == frozenset({world.north.id, world.south.id})
    myself = client.post(
        f"/staff/users/{world.admin.user_id}",
        data={"_csrf_token": token, "display_name": "admin", "role": "viewer"},
    )
    assert myself.status_code == 409
