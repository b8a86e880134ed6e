"""Programmes and territories pages over real HTTP (admin): create, edit, extend validity, rename."""

from __future__ import annotations

import re
from datetime import timedelta

from conftest import World, issue, run
from pass_numerique.domain.clock import local_date, utcnow
from pass_numerique.domain.issuance import lifecycle
from pass_numerique.domain.scheme import programmes, territories
from test_staff_pages import csrf, login


def test_programme_create_edit_and_extend(client, world: World) -> None:
    login(client, world.admin)
    token = csrf(client, "/staff/programmes")
    form = {
        "_csrf_token": token,
        "name": "Pass numérique 2027",
        "funders": "Département\nFSE",
        "vouchers_per_booklet": "8",
        "face_value": "12,50",
        "validity_months": "18",
        "themes": ["email", "bureautique"],
    }
    bad = client.post("/staff/programmes", data={**form, "face_value": "douze"})
    assert bad.status_code == 422 and "Indiquez la valeur d&#39;un chèque en euros" in bad.text
    created = client.post("/staff/programmes", data=form, follow_redirects=False)
    assert created.status_code == 303
    programme_id = int(re.search(r"/staff/programmes/(\d+)", created.headers["location"]).group(1))
    saved = run(programmes.get_programme(programme_id))
    assert (saved.vouchers_per_booklet, saved.face_value_cents, saved.funders) == (
        8,
        1250,
        ["Département", "FSE"],
    )
    edited = client.post(
        f"/staff/programmes/{programme_id}",
        data={**form, "face_value": "15", "active": ""},
        follow_redirects=False,
    )
    assert edited.status_code == 303
    after = run(programmes.get_programme(programme_id))
    assert after.face_value_cents == 1500 and not after.active
    # One box ticked in a checkbox group is still a list of one theme, kept checked on an error.
    single = {**form, "themes": "email"}
    again = client.post(f"/staff/programmes/{programme_id}", data={**single, "face_value": "x"})
    assert again.status_code == 422 and 'value="email" checked' in again.text
    assert 'value="bureautique" checked' not in again.text
    client.post(f"/staff/programmes/{programme_id}", data=single, follow_redirects=False)
    assert run(programmes.get_programme(programme_id)).themes == ["email"]
    # Extending the validity of the unused vouchers asks to confirm first.
    booklet, _ = issue(world)
    new_end = local_date(utcnow()) + timedelta(days=800)
    path = f"/staff/programmes/{world.programme.id}/extend"
    ask = client.post(path, data={"_csrf_token": token, "valid_until": new_end.isoformat()})
    assert "Confirmez la prolongation" in ask.text
    assert run(lifecycle.get_booklet(world.admin, booklet.serial)).valid_until != new_end
    done = client.post(
        path, data={"_csrf_token": token, "valid_until": new_end.isoformat(), "confirm": "oui"}
    )
    assert "1 carnet prolongé" in done.text
    assert run(lifecycle.get_booklet(world.admin, booklet.serial)).valid_until == new_end


def test_territories_are_created_and_renamed_never_recoded(client, world: World) -> None:
    login(client, world.admin)
    token = csrf(client, "/staff/territories")
    created = client.post(
        "/staff/territories",
        data={"_csrf_token": token, "code": "tas-est", "name": "Est"},
        follow_redirects=False,
    )
    assert created.status_code == 303
    duplicate = client.post(
        "/staff/territories", data={"_csrf_token": token, "code": "TAS-EST", "name": "Est bis"}
    )
    assert duplicate.status_code == 409
    client.post(f"/staff/territories/{world.north.id}", data={"_csrf_token": token, "name": "Nord-Charente"})
    names = {t.code: t.name for t in run(territories.list_territories())}
    assert names["TAS-N"] == "Nord-Charente" and names["TAS-EST"] == "Est"
    empty = client.post(f"/staff/territories/{world.north.id}", data={"_csrf_token": token, "name": " "})
    assert empty.status_code == 422
