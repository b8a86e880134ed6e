"""The demo data set and the CLI that loads it."""

from __future__ import annotations

from conftest import run
from pass_numerique import demo
from pass_numerique.cli import main
from pass_numerique.domain.accounts import authentication
from pass_numerique.domain.tables import Booklet, PartnerSite, Programme, Redemption, StaffUser, Territory


def test_demo_builds_a_realistic_departement_with_a_login_per_role() -> None:
    logins = run(demo.load(booklets_per_territory=8))
    assert run(Territory.count()) == 5
    assert run(PartnerSite.count()) == 12
    assert run(Programme.count()) == 2
    assert run(Booklet.count().where(Booklet.status == "issued")) >= 20
    assert run(Redemption.count()) > 0
    assert {login.role for login in logins} == {"admin", "coordinator", "issuer", "site_agent", "viewer"}
    for login in logins:
        actor = run(authentication.verify_credentials(login.email, login.password))
        assert actor.role == login.role
    assert not run(demo.is_empty())


def test_cli_demo_does_not_reload_a_database_that_has_data(capsys) -> None:
    run(demo.load(booklets_per_territory=4))
    accounts = run(StaffUser.count())
    main(["demo"])
    out = capsys.readouterr().out
    assert "déjà des données" in out and "admin@demo.pass-numerique.fr" in out
    assert run(StaffUser.count()) == accounts


def test_cli_create_admin_reads_password_from_stdin(monkeypatch, capsys) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-enough-password\n"))
    main(["create-admin", "--email", "Root@Example.fr", "--name", "Root", "--password-stdin"])
    assert "root@example.fr" in capsys.readouterr().out
    actor = run(authentication.verify_credentials("root@example.fr", "a-long-enough-password"))
    assert actor.role == "admin"
