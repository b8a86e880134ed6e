"""The database tables: the domain's persistence model (a Piccolo app, see db/piccolo_app.py).

States are enums whose values are stored as text; uniqueness that protects the
money (one live redemption per voucher, one serial per booklet) is enforced by
the database itself, see the initial migration.
Foreign keys restrict deletion: nothing that was paid for disappears by cascade.
"""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    BigInt,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from pass_numerique.domain.actors import Role
from pass_numerique.domain.states import AccreditationStatus, BookletStatus, PrintJobStatus, VoucherStatus


def _fk(table: type[Table] | str, *, null: bool = True, **kwargs: object) -> ForeignKey:
    return ForeignKey(references=table, null=null, on_delete=OnDelete.restrict, **kwargs)


class Territory(Table):
    """A territoire d'action sociale (MDS, TAS…) of the département."""

    code = Varchar(length=20, unique=True, help_text="Short code, e.g. TAS-NORD")
    name = Varchar(length=200)


class Programme(Table):
    """A funding line: how many vouchers a booklet holds, their value and lifetime."""

    name = Varchar(length=200, unique=True)
    funders = JSON(default="[]", help_text="List of funder names")
    vouchers_per_booklet = SmallInt(default=10)
    face_value_cents = Integer(default=1000)
    validity_months = SmallInt(default=12)
    themes = JSON(default="[]", help_text="Allowed atelier themes (national thematique codes)")
    active = Boolean(default=True)
    created_at = Timestamptz()


class PartnerSite(Table, tablename="partner_site"):
    """A lieu de médiation numérique accredited to redeem vouchers."""

    name = Varchar(length=200)
    address = Varchar(length=300, default="")
    postal_code = Varchar(length=5, default="")
    commune_insee = Varchar(length=5, default="")
    commune_name = Varchar(length=120, default="")
    territory = _fk(Territory, null=False, index=True)
    accreditation_status = Varchar(
        length=20, choices=AccreditationStatus, default=AccreditationStatus.pending
    )
    accredited_from = Date(null=True, default=None)
    accredited_until = Date(null=True, default=None)
    contact_email = Varchar(length=200, default="")
    contact_phone = Varchar(length=40, default="")
    opening_hours = Text(default="")
    siret = Varchar(length=14, null=True, default=None)
    external_id = Varchar(length=120, null=True, default=None, unique=True)
    created_at = Timestamptz()


class DistributingStructure(Table, tablename="distributing_structure"):
    """A prescripteur (MDS, CCAS, CAF, association…) holding booklets to hand out."""

    name = Varchar(length=200)
    kind = Varchar(length=40, default="other")
    territory = _fk(Territory, null=False, index=True)
    siret = Varchar(length=14, null=True, default=None)
    created_at = Timestamptz()


class StaffUser(Table, tablename="staff_user"):
    """A person working in the scheme; never a beneficiary."""

    email = Varchar(length=254, unique=True)
    display_name = Varchar(length=200)
    role = Varchar(length=20, choices=Role)
    password_hash = Varchar(length=200)
    active = Boolean(default=True)
    site = _fk(PartnerSite, help_text="For site agents")
    structure = _fk(DistributingStructure, help_text="For issuers")
    created_at = Timestamptz()
    last_login_at = Timestamptz(null=True, default=None)
    must_change_password = Boolean(default=False, help_text="Set by an admin's reset: a temporary password")


class CoordinatorTerritory(Table, tablename="coordinator_territory"):
    """The territories a coordinator manages (unique pair, see migration)."""

    staff_user = _fk(StaffUser, null=False, index=True)
    territory = _fk(Territory, null=False)


class ApiToken(Table, tablename="api_token"):
    """A bearer token: shown once, stored as a SHA-256 hash, revocable."""

    staff_user = _fk(StaffUser, null=False, index=True)
    label = Varchar(length=100)
    token_hash = Varchar(length=64, unique=True)
    prefix = Varchar(length=16)
    created_at = Timestamptz()
    expires_at = Timestamptz(null=True, default=None)
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class StaffSession(Table, tablename="staff_session"):
    """A browser session of the staff pages: the cookie holds a random id, only its hash is kept."""

    staff_user = _fk(StaffUser, null=False, index=True)
    session_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz()
    last_seen_at = Timestamptz(help_text="Idle expiry counts from here")
    expires_at = Timestamptz(index=True, help_text="Absolute end, whatever the activity")


class Beneficiary(Table):
    """A pseudonymous allocataire: no name, address or phone."""

    public_id = Varchar(length=16, unique=True, help_text="Random pseudonymous id")
    territory = _fk(Territory, null=False, index=True)
    commune_insee = Varchar(length=5, default="")
    external_ref_hash = Varchar(
        length=64, null=True, default=None, unique=True, help_text="Keyed hash, for de-duplication"
    )
    age_band = Varchar(length=40, default="non_communique")
    gender = Varchar(length=40, default="non_communique")
    social_status = Varchar(length=40, default="non_communique")
    rsa = Boolean(default=False, help_text="RSA recipient")
    needs = JSON(default="[]")
    created_at = Timestamptz()
    created_by = _fk(StaffUser)
    erased_at = Timestamptz(null=True, default=None)


class PrintRun(Table, tablename="print_run"):
    """A batch of booklets created in ``printed`` state for one territory and programme."""

    territory = _fk(Territory, null=False, index=True)
    programme = _fk(Programme, null=False)
    quantity = Integer()
    first_serial = Varchar(length=32)
    last_serial = Varchar(length=32)
    valid_from = Date()
    valid_until = Date()
    created_by = _fk(StaffUser)
    created_at = Timestamptz()


class Booklet(Table):
    """A carnet of vouchers, from print to issuance (or cancellation)."""

    serial = Varchar(length=32, unique=True)
    programme = _fk(Programme, null=False, index=True)
    territory = _fk(Territory, null=False, index=True)
    print_run = _fk(PrintRun, index=True)
    structure = _fk(DistributingStructure, index=True)
    status = Varchar(length=20, choices=BookletStatus, index=True)
    beneficiary = _fk(Beneficiary, index=True)
    voucher_count = SmallInt()
    valid_from = Date()
    valid_until = Date(help_text="Effective end of validity; may be extended")
    codes_valid_until = Date(help_text="End of validity signed into the printed codes")
    allocated_at = Timestamptz(null=True, default=None)
    issued_at = Timestamptz(null=True, default=None)
    issued_by = _fk(StaffUser)
    cancelled_at = Timestamptz(null=True, default=None)
    cancel_reason = Varchar(length=200, default="")
    replaced_by = _fk("self")
    created_at = Timestamptz()
    used_count = SmallInt(default=0, help_text="Vouchers redeemed (kept by redemption and undo)")
    first_used_at = Timestamptz(
        null=True, default=None, help_text="Earliest live redemption (kept by redemption and undo)"
    )
    report_pending = Boolean(
        default=True, help_text="Changed since the last funnel rollup fold (set by a trigger, m0012)"
    )


class Voucher(Table):
    """One chèque of a booklet. Expiry is derived from the booklet's dates."""

    booklet = _fk(Booklet, null=False, index=True)
    number = SmallInt(help_text="1..N within the booklet")
    face_value_cents = Integer()
    status = Varchar(length=20, choices=VoucherStatus, default=VoucherStatus.available)
    key_id = SmallInt(help_text="Signing key the codes were made with")
    code_nonce = SmallInt(default=0, help_text="Bumped on the rare short-code collision")
    short_code_hash = Varchar(length=64, unique=True)


class ReimbursementPeriod(Table, tablename="reimbursement_period"):
    """A month of redemptions; once closed, its statements are frozen."""

    month = Varchar(length=7, unique=True, help_text="YYYY-MM")
    closed_at = Timestamptz(null=True, default=None)
    closed_by = _fk(StaffUser)


class Redemption(Table):
    """A voucher used for an atelier at a partner site (at most one live per voucher)."""

    voucher = _fk(Voucher, null=False, index=True)
    site = _fk(PartnerSite, null=False, index=True)
    agent = _fk(StaffUser, null=False)
    redeemed_at = Timestamptz(index=True)
    recorded_at = Timestamptz()
    theme = Varchar(length=60)
    request_id = Varchar(length=64)
    period = Varchar(length=7, index=True, help_text="Reimbursement period YYYY-MM")
    late = Boolean(default=False, help_text="Uploaded after the fact (offline queue)")
    undone_at = Timestamptz(null=True, default=None)
    undone_by = _fk(StaffUser)
    undo_reason = Varchar(length=200, default="")
    day = Date(null=True, default=None, help_text="Local day of redeemed_at")
    report_counted = Boolean(
        default=False, help_text="Counted live in the report rollups (domain/reports/redemption_rollups.py)"
    )
    report_pending = Boolean(
        default=True,
        help_text="Inserted or undone since the last rollup fold (domain/reports/redemption_rollups.py)",
    )
    beneficiary = Integer(
        null=True, default=None, help_text="The booklet's beneficiary, copied: distinct people per site"
    )
    programme = Integer(
        null=True, default=None, help_text="The booklet's programme, copied: people per site by programme"
    )


class ScanAttempt(Table, tablename="scan_attempt"):
    """Every lookup or redeem attempt, refused ones included (support, fraud detection); indexed on
    (agent, at) and (site, at) for the attempt limits (m0031), pruned after PN_SCAN_LOG_KEEP_DAYS."""

    at = Timestamptz(index=True)
    scanned = Varchar(length=200, help_text="The code as scanned or typed, truncated")
    voucher = _fk(Voucher, index=True)
    site = _fk(PartnerSite, index=True)
    agent = _fk(StaffUser)
    action = Varchar(length=20)
    outcome = Varchar(length=40)
    request_id = Varchar(length=64, default="")


class IdempotencyRecord(Table, tablename="idempotency_record"):
    """The first answer to a client request id, replayed when the request is repeated."""

    key = Varchar(length=100, unique=True)
    staff_user = _fk(StaffUser, null=False)
    status_code = SmallInt()
    response = Text()
    created_at = Timestamptz()
    fingerprint = Varchar(length=64, default="", help_text="Hash of the request answered (m0031)")


class SerialCounter(Table, tablename="serial_counter"):
    """Last sequence number used per serial prefix (``16-2026``)."""

    prefix = Varchar(length=20, unique=True)
    last_value = Integer(default=0)


class AuditEvent(Table, tablename="audit_event"):
    """Append-only record of every state change (triggers forbid UPDATE and DELETE)."""

    at = Timestamptz(index=True)
    actor = _fk(StaffUser, index=True)
    action = Varchar(length=60, index=True)
    object_type = Varchar(length=40)
    object_id = Varchar(length=40)
    before = JSON(null=True, default=None)
    after = JSON(null=True, default=None)


class RedemptionConflict(Table, tablename="redemption_conflict"):
    """An offline redemption the server refused on upload (e.g. the voucher was used elsewhere
    meanwhile): the atelier took place but is not paid; the coordinator settles it."""

    site = _fk(PartnerSite, null=False, index=True)
    agent = _fk(StaffUser, null=False)
    request_id = Varchar(length=64, help_text="The offline queue's client request id")
    upload_key = Varchar(length=100, unique=True, help_text="agent id:request id, one conflict per upload")
    codes = JSON(default="[]", help_text="The codes as scanned or typed (never personal data)")
    theme = Varchar(length=60)
    occurred_at = Timestamptz(help_text="When the agent accepted the vouchers offline")
    uploaded_at = Timestamptz()
    refusal_code = Varchar(length=40)
    refusal_message = Varchar(length=300)
    booklet_serial = Varchar(length=32, default="")
    resolved_at = Timestamptz(null=True, default=None)
    resolved_by = _fk(StaffUser)
    resolution = Varchar(length=300, default="")


class PrintJob(Table, tablename="print_job"):
    """The rendering of a print run into one PDF and its CSV manifest (a background job)."""

    print_run = _fk(PrintRun, null=False, index=True)
    status = Varchar(length=20, choices=PrintJobStatus, default=PrintJobStatus.queued)
    progress = SmallInt(default=0, help_text="0-100")
    booklets_done = Integer(default=0)
    pdf_path = Varchar(length=500, default="")
    manifest_path = Varchar(length=500, default="")
    page_count = Integer(default=0)
    error = Text(default="")
    created_by = _fk(StaffUser)
    created_at = Timestamptz()
    started_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz(null=True, default=None, help_text="Heartbeat while running")
    finished_at = Timestamptz(null=True, default=None)


class LoginFailure(Table, tablename="login_failure"):
    """A failed sign-in, by hashed e-mail: enough to throttle guessing, nothing readable."""

    email_hash = Varchar(length=64, index=True)
    at = Timestamptz()
    client_hash = Varchar(length=64, default="", index=True, help_text="Keyed hash of the client address")


class StatementPayment(Table, tablename="statement_payment"):
    """The payment of one partner site's reimbursement statement for one closed month."""

    site = _fk(PartnerSite, null=False, index=True)
    month = Varchar(length=7, help_text="YYYY-MM")
    statement_key = Varchar(length=24, unique=True, help_text="site id:month, one payment per statement")
    voucher_count = Integer(default=0)
    total_cents = Integer(default=0, help_text="The statement's total when it was paid")
    payment_reference = Varchar(length=100)
    paid_at = Timestamptz()
    paid_by = _fk(StaffUser)


class RedemptionBySite(Table, tablename="redemption_by_site"):
    """Live redemptions per local month, reimbursement period, site, booklet territory,
    programme and theme.

    Kept by ``redemption_rollups.fold``; rows not yet folded are added at read time.
    """

    month = Varchar(length=7)
    period = Varchar(length=7, default="")
    site = Integer()
    booklet_territory = Integer()
    programme = Integer()
    theme = Varchar(length=60)
    redeemed = Integer(default=0)
    amount_cents = BigInt(default=0)


class RedemptionBySiteMonth(Table, tablename="redemption_by_site_month"):
    """Live redemptions per local month and site: the ranking of the per-site table, which
    needs neither theme nor booklet, reads twelve rows per site here.

    Kept by ``redemption_rollups.fold`` with the other rollups."""

    month = Varchar(length=7)
    site = Integer()
    redeemed = Integer(default=0)
    amount_cents = BigInt(default=0)


class RedemptionByTerritoryPair(Table, tablename="redemption_by_territory_pair"):
    """Live redemptions per local month, site and booklet territory: the table of cross-territory
    use, a fifth of the site rollup's rows.

    Kept by ``redemption_rollups.fold`` with the other rollups."""

    month = Varchar(length=7)
    site = Integer()
    booklet_territory = Integer()
    redeemed = Integer(default=0)
    amount_cents = BigInt(default=0)


class RedemptionBySiteProgramme(Table, tablename="redemption_by_site_programme"):
    """Live redemptions per local month, site, booklet territory and programme: under a programme
    filter, the per-site ranking and the territory pairs read this, not the site rollup (whose
    slice for one programme is two and a half times larger).

    Kept by ``redemption_rollups.fold`` with the other rollups."""

    month = Varchar(length=7)
    site = Integer()
    booklet_territory = Integer()
    programme = Integer()
    redeemed = Integer(default=0)
    amount_cents = BigInt(default=0)


class RedemptionByTerritory(Table, tablename="redemption_by_territory"):
    """Live redemptions per local month, reimbursement period, booklet territory, programme,
    theme and age band."""

    month = Varchar(length=7)
    period = Varchar(length=7)
    booklet_territory = Integer()
    programme = Integer()
    theme = Varchar(length=60)
    age_band = Varchar(length=60)
    redeemed = Integer(default=0)
    amount_cents = BigInt(default=0)


class BookletByMonth(Table, tablename="booklet_by_month"):
    """Booklets and vouchers per funnel stage, local month of the stage's date, territory,
    structure (0: none) and programme; ``until_month`` (month of validity end) for unused
    vouchers, ``days`` (issuance to first use) for the first-use histogram.

    Kept by ``booklet_rollups.fold``; booklets not yet folded are corrected at read time.
    """

    stage = Varchar(length=20)
    month = Varchar(length=7)
    until_month = Varchar(length=7, default="")
    days = Integer(default=-1)
    territory = Integer()
    structure = Integer()
    programme = Integer()
    booklets = Integer(default=0)
    vouchers = BigInt(default=0)


class BookletReportFact(Table, tablename="booklet_report_fact"):
    """What the funnel rollup counted for each booklet (its id), as of the last fold."""

    territory = Integer()
    structure = Integer(null=True, default=None)
    programme = Integer()
    status = Varchar(length=20)
    voucher_count = SmallInt()
    used_count = SmallInt()
    created_at = Timestamptz()
    allocated_at = Timestamptz(null=True, default=None)
    issued_at = Timestamptz(null=True, default=None)
    cancelled_at = Timestamptz(null=True, default=None)
    valid_until = Date(null=True, default=None)
    first_used_at = Timestamptz(null=True, default=None)
    replaced = Boolean(default=False)
    original = Boolean(default=True)
