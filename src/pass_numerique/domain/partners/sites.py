"""Partner sites (lieux de médiation numérique) and their accreditation."""

from __future__ import annotations

from datetime import date

import msgspec

from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit, bounds
from pass_numerique.domain.actors import MANAGERS, SYSTEM, Actor, Role
from pass_numerique.domain.clock import local_date, utcnow
from pass_numerique.domain.errors import DomainError, not_found
from pass_numerique.domain.states import AccreditationStatus
from pass_numerique.domain.tables import PartnerSite, Territory
from pass_numerique.security import token_cache


class SiteCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: bounds.Name
    territory_id: bounds.Id
    address: bounds.Address = ""
    postal_code: bounds.Insee = ""
    commune_insee: bounds.Insee = ""
    commune_name: bounds.Commune = ""
    contact_email: bounds.Name = ""  # a 200-character column, shorter than an account's e-mail
    contact_phone: bounds.ShortField = ""
    opening_hours: bounds.LongText = ""
    siret: bounds.Siret | None = None


class Accreditation(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    status: AccreditationStatus
    accredited_from: date | None = None
    accredited_until: date | None = None


class SiteOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    territory_id: int
    address: str
    postal_code: str
    commune_insee: str
    commune_name: str
    contact_email: str
    contact_phone: str
    opening_hours: str
    accreditation_status: AccreditationStatus
    accredited_from: date | None
    accredited_until: date | None
    siret: str | None = None
    external_id: str | None = None
    """The site's ``id`` in the national open-data standard, when it came from an import."""


def is_accredited_on(site: dict, day: date) -> bool:
    """Only an accredited site, on the day, may redeem."""
    return (
        site["accreditation_status"] == AccreditationStatus.accredited
        and (site["accredited_from"] is None or site["accredited_from"] <= day)
        and (site["accredited_until"] is None or day <= site["accredited_until"])
    )


async def agent_site(actor: Actor) -> dict:
    """The row of the site a site agent works at (``forbidden`` for an account with none)."""
    site = await PartnerSite.select().where(PartnerSite.id == (actor.site_id or 0)).first()
    if site is None:
        raise DomainError("forbidden", "Votre compte n'est rattaché à aucun lieu.")
    return site


def _out(row: dict) -> SiteOut:
    row["territory_id"] = row.pop("territory")
    return msgspec.convert(row, SiteOut, strict=False)


def check_site(data: SiteCreate) -> None:
    """The rules every site meets, however it is entered (form, API, import)."""
    if not data.name.strip():
        raise DomainError("invalid_input", "Le nom du lieu est obligatoire.", field="name")
    if data.commune_insee and not (len(data.commune_insee) == 5 and data.commune_insee.isalnum()):
        raise DomainError(
            "invalid_input", "Code INSEE de commune invalide (5 caractères).", field="commune_insee"
        )


def _columns(data: SiteCreate) -> dict:
    values = msgspec.structs.asdict(data)
    values["territory"] = values.pop("territory_id")
    values["name"] = data.name.strip()
    return values


async def insert_site(actor_id: int | None, data: SiteCreate, external_id: str | None = None) -> int:
    """Insert a checked site, pending accreditation, with its audit event; inside the caller's transaction."""
    row = (
        await PartnerSite.insert(
            PartnerSite(**_columns(data), external_id=external_id, created_at=utcnow())
        ).returning(PartnerSite.id)
    )[0]
    after = await get_site(SYSTEM, row["id"])
    await audit.record(actor_id, "site.create", "partner_site", row["id"], after=after)
    return row["id"]


async def replace_site(actor_id: int | None, site_id: int, data: SiteCreate) -> None:
    """Overwrite a site's details (not its accreditation), audited; inside the caller's transaction."""
    before = await get_site(SYSTEM, site_id)
    await PartnerSite.update(_columns(data)).where(PartnerSite.id == site_id)
    after = await get_site(SYSTEM, site_id)
    if after != before:
        await audit.record(actor_id, "site.update", "partner_site", site_id, before=before, after=after)


async def create_site(actor: Actor, data: SiteCreate) -> SiteOut:
    """Create a site in ``pending`` accreditation (admins, coordinators of its territory)."""
    actor.require_role(*MANAGERS)
    actor.require_territory(data.territory_id)
    check_site(data)
    async with write_transaction():
        if not await Territory.exists().where(Territory.id == data.territory_id):
            raise not_found("Territoire")
        site_id = await insert_site(actor.user_id, data)
    return await get_site(actor, site_id)


async def update_site(actor: Actor, site_id: int, data: SiteCreate) -> SiteOut:
    """Edit a site's details (admins, coordinators of its territory, before and after the change)."""
    actor.require_role(*MANAGERS)
    current = await get_site(actor, site_id)
    actor.require_territory(current.territory_id)
    actor.require_territory(data.territory_id)
    check_site(data)
    async with write_transaction():
        if not await Territory.exists().where(Territory.id == data.territory_id):
            raise not_found("Territoire")
        await replace_site(actor.user_id, site_id, data)
    if data.territory_id != current.territory_id:
        token_cache.accounts_changed()  # its agents' territory scope moved with it
    return await get_site(actor, site_id)


async def set_accreditation(actor: Actor, site_id: int, data: Accreditation) -> SiteOut:
    """Accredit with dates, or suspend, a site."""
    before = await get_site(actor, site_id)
    actor.require_role(*MANAGERS)
    if data.accredited_from and data.accredited_until and data.accredited_until < data.accredited_from:
        raise DomainError(
            "invalid_input", "La fin d'habilitation précède son début.", field="accredited_until"
        )
    async with write_transaction():
        await PartnerSite.update(
            {
                PartnerSite.accreditation_status: data.status,
                PartnerSite.accredited_from: data.accredited_from,
                PartnerSite.accredited_until: data.accredited_until,
            }
        ).where(PartnerSite.id == site_id)
        after = await get_site(actor, site_id)
        await audit.record(
            actor.user_id,
            "site.accreditation",
            "partner_site",
            site_id,
            before=before,
            after=after,
        )
    return after


async def get_site(actor: Actor, site_id: int) -> SiteOut:
    row = await PartnerSite.select().where(PartnerSite.id == site_id).first()
    if row is None:
        raise not_found("Lieu")
    if not _may_see(actor, row):
        raise not_found("Lieu")
    return _out(row)


def _may_see(actor: Actor, row: dict) -> bool:
    if actor.role == Role.site_agent:
        return actor.site_id == row["id"]
    return actor.role == Role.viewer or actor.sees_territory(row["territory"])


async def list_sites(actor: Actor, territory_id: int | None = None) -> list[SiteOut]:
    """Sites within the actor's scope (a site agent sees only their own)."""
    query = PartnerSite.select().order_by(PartnerSite.name)
    if actor.role == Role.site_agent:
        query = query.where(PartnerSite.id == (actor.site_id or 0))
    elif actor.role != Role.viewer and (scope := actor.territory_filter()) is not None:
        query = query.where(PartnerSite.territory.is_in(list(scope) or [0]))
    if territory_id is not None:
        query = query.where(PartnerSite.territory == territory_id)
    return [_out(r) for r in await query]


class PublicSite(msgspec.Struct, kw_only=True):
    """What the public may read about a partner site: where, when, how to reach it."""

    name: str
    address: str
    postal_code: str
    commune_name: str
    opening_hours: str
    contact_email: str
    contact_phone: str


class PublicSiteList(msgspec.Struct, kw_only=True):
    territory_code: str
    territory_name: str
    sites: list[PublicSite]


async def public_sites(territory_code: str, *, today: date | None = None) -> PublicSiteList:
    """The sites of a territory accredited today, for the public page the booklet cover's QR opens.

    No login: only what a site publishes anyway (no agents, no figures, no pending or suspended site).
    """
    territory = await Territory.select().where(Territory.code == territory_code.strip().upper()).first()
    if territory is None:
        raise not_found("Territoire")
    today = today or local_date(utcnow())
    rows = (
        await PartnerSite.select()
        .where(PartnerSite.territory == territory["id"])
        .order_by(PartnerSite.commune_name)
        .order_by(PartnerSite.name)
    )
    return PublicSiteList(
        territory_code=territory["code"],
        territory_name=territory["name"],
        sites=[msgspec.convert(r, PublicSite, strict=False) for r in rows if is_accredited_on(r, today)],
    )
