"""A realistic fictitious département, built through the domain API.

Five territories, twelve partner sites, two programmes, a few hundred booklets
and a year of redemption history, with one demo login per role. Random but
reproducible (fixed seed), so screenshots and walkthroughs stay comparable.

Every date is relative to the day it is loaded, so the demo looks like a running scheme whenever
it is loaded: three print runs per territory (``PRINT_RUNS``): one expired two months ago (its
booklets used or lapsed, some stock left to re-validate), one expiring within the month (booklets
to use soon, stock flagged) and a recent one valid for ten more months; redemptions spread over the
past months, never after a booklet's end of validity.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import msgspec

from pass_numerique.domain.accounts import authentication, users
from pass_numerique.domain.actors import SYSTEM, Role
from pass_numerique.domain.clock import local_date, utcnow
from pass_numerique.domain.issuance import beneficiaries, lifecycle, stock
from pass_numerique.domain.partners import sites, structures
from pass_numerique.domain.redemption import redeem
from pass_numerique.domain.scheme import programmes, territories, value_lists
from pass_numerique.domain.states import AccreditationStatus
from pass_numerique.domain.tables import Territory

DEMO_PASSWORD = "demo-pass-numerique"  # noqa: S105 - published demo credentials


class DemoLogin(msgspec.Struct):
    role: str
    email: str
    password: str
    scope: str


TERRITORIES = [
    ("TAS-ANG", "MDS du Grand Angoulême"),
    ("TAS-CHA", "MDS de Charente limousine"),
    ("TAS-COG", "MDS du Cognaçais"),
    ("TAS-RUF", "MDS du Ruffécois"),
    ("TAS-SUD", "MDS du Sud Charente"),
]

SITES = [
    ("Médiathèque l'Alpha", 0, "1 rue Coulomb", "16000", "16015", "Angoulême"),
    ("Espace numérique de Basseau", 0, "12 rue de Basseau", "16000", "16015", "Angoulême"),
    ("France services de Soyaux", 0, "2 place Jean-Jaurès", "16800", "16374", "Soyaux"),
    ("Association Clic & Lien", 1, "5 avenue de la Gare", "16500", "16106", "Confolens"),
    ("France services de Chabanais", 1, "8 place Mitterrand", "16150", "16074", "Chabanais"),
    ("Bibliothèque de Cognac", 2, "10 rue du Minage", "16100", "16102", "Cognac"),
    ("Centre social de Jarnac", 2, "3 rue Pasteur", "16200", "16167", "Jarnac"),
    ("France services de Ruffec", 3, "1 place d'Armes", "16700", "16292", "Ruffec"),
    ("Tiers-lieu La Forge", 3, "4 route de Poitiers", "16700", "16292", "Ruffec"),
    ("Médiathèque de Barbezieux", 4, "6 boulevard Gambetta", "16300", "16028", "Barbezieux-Saint-Hilaire"),
    ("France services de Chalais", 4, "1 rue de la Mairie", "16210", "16073", "Chalais"),
    ("Emmaüs Connect Charente", 0, "20 rue de Périgueux", "16000", "16015", "Angoulême"),
]


PRINT_RUNS = ((425, 0.25), (335, 0.25), (60, 0.5))
"""Each territory's print runs: (days before loading it was printed, its share of the booklets).
With a year's validity: expired 60 days ago, expiring in 30 days, valid 305 days more."""


async def is_empty() -> bool:
    return not await Territory.exists()


async def load(seed: int = 16, booklets_per_territory: int = 70) -> list[DemoLogin]:
    """Load the demo data set; returns the demo logins."""
    rng = random.Random(seed)
    now = utcnow()
    today = local_date(now)
    ts = [
        await territories.create_territory(SYSTEM, territories.TerritoryCreate(code=c, name=n))
        for c, n in TERRITORIES
    ]
    general = await programmes.create_programme(
        SYSTEM,
        programmes.ProgrammeCreate(
            name=f"Pass numérique {today.year} – Département + FSE",
            funders=["Conseil départemental", "Fonds social européen"],
        ),
    )
    seniors = await programmes.create_programme(
        SYSTEM,
        programmes.ProgrammeCreate(
            name="Pass numérique seniors – Conférence des financeurs",
            funders=["Conférence des financeurs de la prévention de la perte d'autonomie"],
            vouchers_per_booklet=5,
            face_value_cents=2000,
            themes=["prendre_en_main_du_materiel", "email", "sante", "securite_numerique"],
        ),
    )
    site_rows = []
    for name, t, address, postal, insee, commune in SITES:
        site = await sites.create_site(
            SYSTEM,
            sites.SiteCreate(
                name=name,
                territory_id=ts[t].id,
                address=address,
                postal_code=postal,
                commune_insee=insee,
                commune_name=commune,
                contact_email="contact@example.org",
                opening_hours="Mardi au samedi, 10h-12h et 14h-18h",
            ),
        )
        site_rows.append(
            await sites.set_accreditation(
                SYSTEM,
                site.id,
                sites.Accreditation(
                    status=AccreditationStatus.accredited, accredited_from=today - timedelta(days=500)
                ),
            )
        )
    structure_rows = []
    for t in ts:
        for kind, label in (
            ("mds", t.name),
            ("ccas", f"CCAS – {t.name.removeprefix('MDS du ').removeprefix('MDS de ')}"),
        ):
            structure_rows.append(
                await structures.create_structure(
                    SYSTEM, structures.StructureCreate(name=label, territory_id=t.id, kind=kind)
                )
            )

    async def user(email: str, name: str, role: Role, **scope: object) -> users.User:
        return await users.create_user(
            SYSTEM,
            users.UserCreate(email=email, display_name=name, role=role, password=DEMO_PASSWORD, **scope),
        )

    await user("admin@demo.pass-numerique.fr", "Alice Admin", Role.admin)
    await user(
        "coordination@demo.pass-numerique.fr",
        "Camille Coordination",
        Role.coordinator,
        territory_ids=[t.id for t in ts],
    )
    issuer_users = [
        await user(
            f"referent{i + 1}@demo.pass-numerique.fr",
            f"Référent {t.code}",
            Role.issuer,
            structure_id=structure_rows[2 * i].id,
        )
        for i, t in enumerate(ts)
    ]
    agent_users = [
        await user(
            f"mediateur{i + 1}@demo.pass-numerique.fr", f"Médiateur – {s.name}", Role.site_agent, site_id=s.id
        )
        for i, s in enumerate(site_rows)
    ]
    await user("observatoire@demo.pass-numerique.fr", "Observatoire de l'inclusion numérique", Role.viewer)

    agents = [await authentication.actor_for_user(u.id) for u in agent_users]
    issuers = [await authentication.actor_for_user(u.id) for u in issuer_users]
    ages = [
        k for k in value_lists.value_lists()["tranche_age"] if k not in ("moins_de_douze", "douze_dix_huit")
    ]
    statuses = list(value_lists.value_lists()["statut_social"])
    for ti, t in enumerate(ts):
        local_agents = [a for a, s in zip(agents, site_rows, strict=True) if s.territory_id == t.id]
        for days_ago, share in PRINT_RUNS:
            printed_at = now - timedelta(days=days_ago)
            quantity = max(2, round(booklets_per_territory * share))
            run = await stock.create_print_run(
                SYSTEM,
                stock.PrintRunCreate(territory_id=t.id, programme_id=general.id, quantity=quantity),
                now=printed_at,
            )
            # Half to the MDS, which hands them all out; a quarter sleeps at the CCAS; the rest in stock.
            for structure, count in (
                (structure_rows[2 * ti], quantity // 2),
                (structure_rows[2 * ti + 1], quantity // 4),
            ):
                if count:
                    await stock.allocate(
                        SYSTEM,
                        stock.AllocateRequest(structure_id=structure.id, print_run_id=run.id, count=count),
                        now=printed_at + timedelta(days=3),
                    )
            # Handed out from the fifth day, until ten days ago or ten days before the run expires.
            span = min(days_ago, 365) - 15
            for n in range(quantity // 2):
                serial = f"{run.first_serial[:-6]}{int(run.first_serial[-6:]) + n:06d}"
                when = printed_at + timedelta(days=5 + rng.randrange(span), hours=rng.randrange(8, 17))
                person = await beneficiaries.create_beneficiary(
                    issuers[ti],
                    beneficiaries.BeneficiaryCreate(
                        territory_id=t.id,
                        age_band=rng.choice(ages),
                        gender=rng.choice(["masculin", "feminin"]),
                        social_status=rng.choice(statuses),
                        rsa=rng.random() < 0.6,
                        needs=rng.sample(general.themes, 2),
                    ),
                )
                await lifecycle.assign_booklet(
                    issuers[ti], serial, lifecycle.AssignRequest(beneficiary_id=person.id), now=when
                )
                await _history(rng, serial, general, local_agents + agents[:1], when, now, run.valid_until)
        # A few seniors' booklets issued directly at the desk.
        for _ in range(4):
            when = now - timedelta(days=rng.randrange(10, 200))
            booklet = await lifecycle.issue_booklet(
                issuers[ti],
                lifecycle.IssueRequest(
                    programme_id=seniors.id,
                    beneficiary=beneficiaries.BeneficiaryCreate(
                        territory_id=t.id,
                        age_band="soixante_dix_plus",
                        social_status="retraite",
                        needs=["prendre_en_main_du_materiel"],
                    ),
                ),
                now=when,
            )
            await _history(rng, booklet.serial, seniors, local_agents, when, now, booklet.valid_until)
    return logins()


async def _history(
    rng: random.Random,
    serial: str,
    programme: programmes.ProgrammeOut,
    agents: list,
    issued_at: datetime,
    now: datetime,
    valid_until: date,
) -> None:
    """Some booklets sleep, most are partly used, a few are fully used; never after their end of
    validity, never in the future."""
    codes = await lifecycle.booklet_codes(SYSTEM, serial)
    used = min(len(codes), rng.choice([0, 0, 1, 2, 3, 4, 5, 6, len(codes), len(codes)]))
    when = issued_at + timedelta(days=rng.randrange(2, 40))
    position = 0
    while position < used and when < now - timedelta(hours=1) and local_date(when) < valid_until:
        session = min(rng.choice([1, 1, 2, 3]), used - position)
        agent = rng.choice(agents)
        await redeem.redeem(
            agent,
            redeem.RedeemRequest(
                codes=[c.url for c in codes[position : position + session]],
                theme=rng.choice(programme.themes),
                request_id=f"demo-{serial}-{position}",
            ),
            now=min(when.replace(hour=rng.randrange(9, 18)), now - timedelta(hours=1)),
        )
        position += session
        when += timedelta(days=rng.randrange(3, 30))


def logins() -> list[DemoLogin]:
    return [
        DemoLogin("admin", "admin@demo.pass-numerique.fr", DEMO_PASSWORD, "tout le département"),
        DemoLogin("coordinator", "coordination@demo.pass-numerique.fr", DEMO_PASSWORD, "les 5 territoires"),
        DemoLogin("issuer", "referent1@demo.pass-numerique.fr", DEMO_PASSWORD, "MDS du Grand Angoulême"),
        DemoLogin("site_agent", "mediateur1@demo.pass-numerique.fr", DEMO_PASSWORD, "Médiathèque l'Alpha"),
        DemoLogin("viewer", "observatoire@demo.pass-numerique.fr", DEMO_PASSWORD, "chiffres agrégés"),
    ]
