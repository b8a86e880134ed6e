"""A beneficiary's rights over their data (RGPD articles 15 and 17): export it, erase it.

Export gives everything held on the person: the pseudonymous profile, their booklets, each
voucher's state and where and when it was used. Erasure blanks what could single the person
out (external reference, commune, gender, social status, RSA, needs) and marks the record
erased; the booklets, vouchers and redemptions stay, linked to an anonymous record that keeps
only its territory and age band, so reimbursements and every report figure are unchanged.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit
from pass_numerique.domain.actors import Actor
from pass_numerique.domain.clock import utcnow
from pass_numerique.domain.issuance import beneficiaries, lifecycle
from pass_numerique.domain.tables import Beneficiary


class BeneficiaryData(msgspec.Struct, kw_only=True):
    """Everything the service holds on one beneficiary (no name: there is none)."""

    exported_at: datetime
    beneficiary: beneficiaries.BeneficiaryOut
    booklets: list[lifecycle.BookletOut]
    note: str = (
        "Pass numérique ne conserve ni nom, ni adresse, ni téléphone. La référence externe "
        "(ex. numéro CAF) n'est conservée que sous forme d'empreinte chiffrée, non réversible."
    )


async def export_beneficiary(actor: Actor, public_id: str) -> BeneficiaryData:
    """The beneficiary's data within the actor's scope, audited (who exported, not what)."""
    person = await beneficiaries.get_beneficiary(actor, public_id)
    booklets = await lifecycle.beneficiary_booklets(actor, public_id)
    async with write_transaction():
        await audit.record(actor.user_id, "beneficiary.export", "beneficiary", public_id)
    return BeneficiaryData(exported_at=utcnow(), beneficiary=person, booklets=booklets)


async def erase_beneficiary(actor: Actor, public_id: str) -> None:
    """Blank the personal fields for good; anonymous counts (territory, age band, usage) stay."""
    row = await beneficiaries.beneficiary_row(actor, public_id)
    actor.require_role(*beneficiaries.ISSUING_ROLES)
    now = utcnow()
    async with write_transaction():
        await Beneficiary.update(
            {
                Beneficiary.external_ref_hash: None,
                Beneficiary.commune_insee: "",
                Beneficiary.gender: "non_communique",
                Beneficiary.social_status: "non_communique",
                Beneficiary.rsa: False,
                Beneficiary.needs: [],
                Beneficiary.erased_at: now,
            }
        ).where(Beneficiary.id == row["id"])
        # The event says that it happened and by whom; it carries none of the erased values.
        await audit.record(actor.user_id, "beneficiary.erase", "beneficiary", public_id, at=now)
