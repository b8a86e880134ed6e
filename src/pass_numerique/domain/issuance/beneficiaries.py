"""Beneficiaries (allocataires): pseudonymous by design.

No name, address or phone. An optional external reference (e.g. a CAF number)
is kept only as a keyed hash, enough to find a returning person and never
enough to read the reference back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import msgspec

from pass_numerique.db.json_columns import json_value
from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit, bounds
from pass_numerique.domain.actors import Actor, Role
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.errors import DomainError, not_found
from pass_numerique.domain.scheme import value_lists
from pass_numerique.domain.tables import Beneficiary, Territory
from pass_numerique.domain.vouchers import short_codes
from pass_numerique.settings import get_settings

ISSUING_ROLES = (Role.admin, Role.coordinator, Role.issuer)


class BeneficiaryCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new beneficiary: every field but the territory is optional."""

    territory_id: bounds.Id
    commune_insee: bounds.Insee = ""
    external_ref: bounds.Label | None = None
    age_band: bounds.Value = "non_communique"
    gender: bounds.Value = "non_communique"
    social_status: bounds.Value = "non_communique"
    rsa: bool = False
    needs: bounds.Values = []


class BeneficiaryOut(msgspec.Struct, kw_only=True):
    id: str  # the pseudonymous public id
    territory_id: int
    commune_insee: str
    has_external_ref: bool
    age_band: str
    gender: str
    social_status: str
    rsa: bool
    needs: list[str]
    created_at: datetime


def external_ref_hash(reference: str) -> str:
    """Keyed hash of a normalised external reference (HMAC-SHA256 with the secret key).

    Only letters and digits count, in upper case: ``caf 123-45`` and ``CAF12345`` match.
    """
    normalised = "".join(ch for ch in reference if ch.isalnum()).upper()
    key = hashlib.sha256(b"beneficiary-ref:" + get_settings().secret_key.encode()).digest()
    return hmac.new(key, normalised.encode(), "sha256").hexdigest()


def _new_public_id() -> str:
    return "B-" + "".join(secrets.choice(short_codes.ALPHABET) for _ in range(8))


def _out(row: dict) -> BeneficiaryOut:
    return BeneficiaryOut(
        id=row["public_id"],
        territory_id=row["territory"],
        commune_insee=row["commune_insee"],
        has_external_ref=row["external_ref_hash"] is not None,
        age_band=row["age_band"],
        gender=row["gender"],
        social_status=row["social_status"],
        rsa=row["rsa"],
        needs=json_value(row["needs"]),
        created_at=row["created_at"],
    )


def validate(data: BeneficiaryCreate) -> None:
    """National value lists and a well-formed commune code."""
    value_lists.require("tranche_age", data.age_band, "age_band")
    value_lists.require("genre", data.gender, "gender")
    value_lists.require("statut_social", data.social_status, "social_status")
    value_lists.require_all("thematique", data.needs, "needs")
    if data.commune_insee and not (len(data.commune_insee) == 5 and data.commune_insee.isalnum()):
        raise DomainError(
            "invalid_input", "Code INSEE de commune invalide (5 caractères).", field="commune_insee"
        )


async def insert_beneficiary(actor: Actor, data: BeneficiaryCreate) -> dict:
    """Insert inside the caller's transaction; returns the row."""
    actor.require_role(*ISSUING_ROLES)
    actor.require_territory(data.territory_id)
    validate(data)
    if not await Territory.exists().where(Territory.id == data.territory_id):
        raise not_found("Territoire")
    ref_hash = external_ref_hash(data.external_ref) if data.external_ref else None
    if ref_hash and await Beneficiary.exists().where(Beneficiary.external_ref_hash == ref_hash):
        raise DomainError(
            "duplicate", "Un bénéficiaire existe déjà avec cette référence.", field="external_ref"
        )
    row = {
        "public_id": _new_public_id(),
        "territory": data.territory_id,
        "commune_insee": data.commune_insee,
        "external_ref_hash": ref_hash,
        "age_band": data.age_band,
        "gender": data.gender,
        "social_status": data.social_status,
        "rsa": data.rsa,
        "needs": sorted(set(data.needs)),
        "created_at": utcnow(),
        "created_by": actor.user_id,
    }
    inserted = await Beneficiary.insert(Beneficiary(**row)).returning(Beneficiary.id)
    row["id"] = inserted[0]["id"]
    await audit.record(
        actor.user_id,
        "beneficiary.create",
        "beneficiary",
        row["public_id"],
        # Only what stays after an erasure (domain/issuance/data_rights.py): the log is append-only, so
        # the person's details (commune, gender, status, needs) are never copied into it.
        after={"territory": row["territory"], "age_band": row["age_band"]},
    )
    return row


async def create_beneficiary(actor: Actor, data: BeneficiaryCreate) -> BeneficiaryOut:
    async with write_transaction():
        row = await insert_beneficiary(actor, data)
    return _out(row)


async def beneficiary_row(actor: Actor, public_id: str) -> dict:
    """The row of a beneficiary within the actor's scope (not_found otherwise, so ids do not leak)."""
    row = (
        await Beneficiary.select()
        .where((Beneficiary.public_id == public_id) & Beneficiary.erased_at.is_null())
        .first()
    )
    if row is None or not actor.sees_territory(row["territory"]):
        raise not_found("Bénéficiaire")
    return row


async def get_beneficiary(actor: Actor, public_id: str) -> BeneficiaryOut:
    actor.require_role(*ISSUING_ROLES)
    return _out(await beneficiary_row(actor, public_id))


async def find_by_external_ref(actor: Actor, reference: str) -> BeneficiaryOut:
    """Find a returning beneficiary by their external reference (hashed look-up)."""
    actor.require_role(*ISSUING_ROLES)
    row = (
        await Beneficiary.select()
        .where(
            (Beneficiary.external_ref_hash == external_ref_hash(reference)) & Beneficiary.erased_at.is_null()
        )
        .first()
    )
    if row is None or not actor.sees_territory(row["territory"]):
        raise not_found("Bénéficiaire")
    return _out(row)
