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


def test_demo_dates_are_relative_to_the_day_it_is_loaded() -> None:
    """Loaded today, the demo looks like a running scheme: most issued booklets valid for months, some
    expiring within 60 days, some expired; redemptions over the past months, none after a booklet's end
    of validity; unissued stock expired or expiring, flagged for re-validation."""
    from datetime import timedelta

    from pass_numerique.domain.actors import SYSTEM
    from pass_numerique.domain.clock import local_date, month_of, utcnow
    from pass_numerique.domain.issuance import stock
    from pass_numerique.domain.tables import PrintRun

    run(demo.load(booklets_per_territory=8))
    today = local_date(utcnow())
    issued = run(Booklet.select(Booklet.valid_until).where(Booklet.status == "issued"))
    expired = sum(1 for b in issued if b["valid_until"] < today)
    expiring = sum(1 for b in issued if today <= b["valid_until"] <= today + timedelta(days=60))
    valid = len(issued) - expired - expiring
    assert expired >= 5 and expiring >= 5 and valid > len(issued) / 2, (expired, expiring, valid)
    redemptions = run(
        Redemption.select(Redemption.redeemed_at, Redemption.voucher.booklet.valid_until.as_alias("until"))
    )
    assert all(local_date(r["redeemed_at"]) <= r["until"] for r in redemptions)
    assert all(r["redeemed_at"] <= utcnow() for r in redemptions)
    assert len({month_of(r["redeemed_at"]) for r in redemptions}) >= 8
    assert max(r["redeemed_at"] for r in redemptions) >= utcnow() - timedelta(days=30)
    flagged = [
        run(stock.stock_expiry(SYSTEM, print_run_id=r["id"])) for r in run(PrintRun.select(PrintRun.id))
    ]
    assert sum(f.expired for f in flagged) > 0 and sum(f.expiring for f in flagged) > 0
