"""What the phone scanner reads besides redemption (domain/redemption/offline_sync.py): the serials
and face values of the offline bundle, and the themes it offers first."""

from __future__ import annotations

from conftest import World, bearer, issue, run
from pass_numerique.domain.issuance import lifecycle
from pass_numerique.domain.redemption import redeem
from pass_numerique.domain.tables import Booklet


def id_of(serial: str) -> int:
    return run(Booklet.select(Booklet.id).where(Booklet.serial == serial).first())["id"]


def serial_of(bundle: dict, booklet_id: int) -> tuple[str, int] | None:
    """What the scanner's JS does with ``booklet_runs`` (app.js, bookletFromBundle)."""
    for run_ in bundle["booklet_runs"]:
        if run_["first_id"] <= booklet_id < run_["first_id"] + run_["count"]:
            number = str(run_["first_number"] + booklet_id - run_["first_id"]).zfill(run_["digits"])
            return run_["serial_prefix"] + number, run_["face_value_cents"]
    return None


def test_the_offline_bundle_gives_each_valid_booklets_serial_and_value_in_a_few_runs(
    client, world: World
) -> None:
    booklets = [issue(world)[0] for _ in range(4)]
    run(
        lifecycle.cancel_booklet(
            world.issuer, booklets[1].serial, lifecycle.CancelRequest(reason="perdu", replace=True)
        )
    )
    bundle = client.get("/api/v1/scanner/offline-bundle", headers=bearer(client, world.agent)).json()
    for booklet in (booklets[0], booklets[2], booklets[3]):
        assert serial_of(bundle, id_of(booklet.serial)) == (booklet.serial, 1000)
    assert serial_of(bundle, id_of(booklets[1].serial)) is None  # cancelled: refused offline anyway
    replacement = max(
        b for r in bundle["booklet_runs"] for b in range(r["first_id"], r["first_id"] + r["count"])
    )
    assert replacement > id_of(booklets[3].serial)
    assert len(bundle["booklet_runs"]) == 2  # ids and serials run together, broken by the cancelled one


def test_the_scanner_offers_the_sites_most_used_themes_first(client, world: World) -> None:
    _, codes = issue(world)
    for n, theme in enumerate(
        [
            "navigation_sur_internet",
            "email",
            "email",
            "securite_numerique",
            "email",
            "navigation_sur_internet",
        ]
    ):
        run(
            redeem.redeem(
                world.agent,
                redeem.RedeemRequest(codes=[codes[n].url], theme=theme, request_id=f"themes-{n:05d}"),
            )
        )
    _, other = issue(world)
    run(  # another site's habits are not this site's
        redeem.redeem(
            world.agent_south,
            redeem.RedeemRequest(
                codes=[other[0].url], theme="prendre_en_main_du_materiel", request_id="south-00001"
            ),
        )
    )
    context = client.get("/api/v1/scanner/context", headers=bearer(client, world.agent)).json()
    assert context["frequent_themes"] == ["email", "navigation_sur_internet", "securite_numerique"]
