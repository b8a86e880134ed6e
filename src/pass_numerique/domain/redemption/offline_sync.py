"""What the phone scanner needs beyond redemption itself: its context, the offline bundle,
and the upload of redemptions queued while offline.

An offline upload goes through ``redeem.redeem`` unchanged (same rules, same
idempotency on the request id, ``late`` flag when it arrives after the fact). When
the server refuses it — typically a voucher redeemed elsewhere while this phone was
offline — the atelier did take place but nothing is paid: the refusal is recorded as
a ``RedemptionConflict`` for the coordinator, once per upload, and returned to the
agent. Nothing is dropped silently, nothing is paid twice.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import msgspec
from piccolo.query.functions.aggregate import Count

from pass_numerique.db.errors import is_unique_violation
from pass_numerique.db.json_columns import json_value
from pass_numerique.db.transaction import write_transaction
from pass_numerique.domain import audit
from pass_numerique.domain.actors import MANAGERS, Actor, Role
from pass_numerique.domain.clock import local_date, utcnow
from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.partners.sites import agent_site, is_accredited_on
from pass_numerique.domain.redemption import redeem
from pass_numerique.domain.scheme import value_lists
from pass_numerique.domain.states import BookletStatus
from pass_numerique.domain.tables import Booklet, Programme, Redemption, RedemptionConflict, Voucher
from pass_numerique.security.signing_keys import PublicKey, keyring
from pass_numerique.settings import get_settings

# Refusals that depend on the request itself, not on the voucher: the client must fix and
# retry, there is no conflict to record.
_NOT_A_CONFLICT = {
    "invalid_input",
    "forbidden",
    "not_authenticated",
    "request_in_progress",
    "request_id_reused",
    "too_many_attempts",  # the phone keeps the item and sends it again later
}
FREQUENT_THEMES = 5


class Theme(msgspec.Struct, frozen=True):
    code: str
    label: str


class ScannerSite(msgspec.Struct, kw_only=True):
    id: int
    name: str
    accredited_today: bool
    accredited_until: date | None


class ScannerContext(msgspec.Struct, kw_only=True):
    """Everything the page shows around a scan: who, where, which themes."""

    agent_name: str
    site: ScannerSite
    themes: list[Theme]
    """Themes of the active programmes, with their French labels."""
    theme_labels: dict[str, str]
    """Every national thematique code and its label (to show a voucher's themes)."""
    frequent_themes: list[str]
    """The themes most used at this site over the last year, most used first (at most
    ``FREQUENT_THEMES``): the scanner offers them first."""
    undo_minutes: int
    today: date


class OfflineBundle(msgspec.Struct, kw_only=True):
    """What a scanner needs to accept vouchers without the network, refreshed when online."""

    generated_at: datetime
    keys: list[PublicKey]
    cancelled_booklets: list[int]
    """Ids of cancelled booklets whose codes are not yet expired (the revocation list)."""
    valid_until: dict[str, date]
    """Booklet id -> effective end of validity, for booklets extended beyond their signed date."""
    booklet_runs: list[BookletRun]
    """The serial and face value of every booklet still valid and not cancelled, as runs of
    consecutive ids and serials (a print run is one): what a QR token does not carry."""


class BookletRun(msgspec.Struct, kw_only=True):
    """Booklets ``first_id`` … ``first_id + count - 1`` are serials ``serial_prefix`` followed by
    ``first_number`` … on ``digits`` digits, their vouchers worth ``face_value_cents`` each."""

    first_id: int
    count: int
    serial_prefix: str
    first_number: int
    digits: int
    face_value_cents: int


class SyncResult(msgspec.Struct, kw_only=True):
    """``redeemed`` (``result`` set) or ``conflict`` (recorded for the coordinator)."""

    request_id: str
    status: str
    result: redeem.RedeemResult | None = None
    conflict_id: int | None = None
    code: str = ""
    message: str = ""


class ConflictOut(msgspec.Struct, kw_only=True):
    id: int
    site_id: int
    site_name: str
    request_id: str
    codes: list[str]
    theme: str
    occurred_at: datetime
    uploaded_at: datetime
    refusal_code: str
    refusal_message: str
    resolved_at: datetime | None
    resolution: str


async def scanner_context(actor: Actor) -> ScannerContext:
    actor.require_role(Role.site_agent)
    site = await agent_site(actor)
    labels = value_lists.value_lists()["thematique"]
    rows = await Programme.select(Programme.themes).where(Programme.active.eq(True)).order_by(Programme.id)
    seen: dict[str, Theme] = {}
    for row in rows:
        for code in json_value(row["themes"]):
            seen.setdefault(code, Theme(code=code, label=labels.get(code, code)))
    return ScannerContext(
        agent_name=actor.display_name,
        frequent_themes=await _frequent_themes(site["id"]),
        site=ScannerSite(
            id=site["id"],
            name=site["name"],
            accredited_today=is_accredited_on(site, local_date(utcnow())),
            accredited_until=site["accredited_until"],
        ),
        themes=list(seen.values()),
        theme_labels=dict(labels),
        undo_minutes=get_settings().agent_undo_minutes,
        today=local_date(utcnow()),
    )


async def _frequent_themes(site_id: int) -> list[str]:
    since = utcnow() - timedelta(days=365)
    rows = (
        await Redemption.select(Redemption.theme, Count().as_alias("uses"))
        .where(
            (Redemption.site == site_id) & Redemption.undone_at.is_null() & (Redemption.redeemed_at >= since)
        )
        .group_by(Redemption.theme)
    )
    ranked = sorted(rows, key=lambda row: (-row["uses"], row["theme"]))
    return [row["theme"] for row in ranked[:FREQUENT_THEMES]]


_SERIAL = re.compile(r"^(.*?)(\d+)$")


def _booklet_runs(rows: list[dict]) -> list[BookletRun]:
    """Fold ``{id, serial, face_value_cents}`` rows, in id order, into runs."""
    runs: list[BookletRun] = []
    for row in rows:
        match = _SERIAL.match(row["serial"])
        prefix, digits = (match.group(1), match.group(2)) if match else (row["serial"], "")
        number = int(digits) if digits else 0
        last = runs[-1] if runs else None
        if (
            last is not None
            and digits
            and last.serial_prefix == prefix
            and last.digits == len(digits)
            and last.face_value_cents == row["face_value_cents"]
            and last.first_id + last.count == row["id"]
            and last.first_number + last.count == number
        ):
            last.count += 1
            continue
        runs.append(
            BookletRun(
                first_id=row["id"],
                count=1,
                serial_prefix=prefix,
                first_number=number,
                digits=len(digits),
                face_value_cents=row["face_value_cents"],
            )
        )
    return runs


async def offline_bundle(actor: Actor) -> OfflineBundle:
    """Public keys, the revocation list and validity extensions (no personal data)."""
    actor.require_role(Role.site_agent)
    today = local_date(utcnow())
    cancelled = await Booklet.select(Booklet.id).where(
        (Booklet.status == BookletStatus.cancelled) & (Booklet.codes_valid_until >= today)
    )
    extended = await Booklet.select(Booklet.id, Booklet.valid_until).where(
        (Booklet.status == BookletStatus.issued)
        & (Booklet.valid_until > Booklet.codes_valid_until)
        & (Booklet.valid_until >= today)
    )
    booklets = (
        await Voucher.select(
            Voucher.booklet.id.as_alias("id"),
            Voucher.booklet.serial.as_alias("serial"),
            Voucher.face_value_cents,
        )
        .where(
            (Voucher.number == 1)
            & (Voucher.booklet.status != BookletStatus.cancelled)
            & (Voucher.booklet.valid_until >= today)
        )
        .order_by(Voucher.booklet.id)
    )
    return OfflineBundle(
        generated_at=utcnow(),
        booklet_runs=_booklet_runs(booklets),
        keys=keyring().published(),
        cancelled_booklets=sorted(r["id"] for r in cancelled),
        valid_until={str(r["id"]): r["valid_until"] for r in extended},
    )


async def upload(actor: Actor, request: redeem.RedeemRequest, *, now: datetime | None = None) -> SyncResult:
    """Redeem a queued offline redemption; a refusal becomes a recorded conflict."""
    actor.require_role(Role.site_agent)
    if request.occurred_at is None:
        raise DomainError(
            "invalid_input", "occurred_at est requis pour un envoi différé.", field="occurred_at"
        )
    now = now or utcnow()
    try:
        result = await redeem.redeem(actor, request, now=now)
    except DomainError as refusal:
        if refusal.code in _NOT_A_CONFLICT:
            raise
        conflict_id = await _record_conflict(actor, request, refusal, now)
        return SyncResult(
            request_id=request.request_id,
            status="conflict",
            conflict_id=conflict_id,
            code=refusal.code,
            message=refusal.message,
        )
    return SyncResult(request_id=request.request_id, status="redeemed", result=result)


async def _record_conflict(
    actor: Actor, request: redeem.RedeemRequest, refusal: DomainError, now: datetime
) -> int:
    key = f"{actor.user_id}:{request.request_id}"
    existing = await RedemptionConflict.select(RedemptionConflict.id).where(
        RedemptionConflict.upload_key == key
    )
    if existing:
        return existing[0]["id"]
    try:
        async with write_transaction():
            row = (
                await RedemptionConflict.insert(
                    RedemptionConflict(
                        site=actor.site_id,
                        agent=actor.user_id,
                        request_id=request.request_id,
                        upload_key=key,
                        codes=[code[:200] for code in request.codes],
                        theme=request.theme[:60],
                        occurred_at=request.occurred_at,
                        uploaded_at=now,
                        refusal_code=refusal.code[:40],
                        refusal_message=refusal.message[:300],
                        booklet_serial=str(refusal.details.get("booklet_serial", ""))[:32],
                    )
                ).returning(RedemptionConflict.id)
            )[0]
            await audit.record(
                actor.user_id,
                "redemption.conflict",
                "redemption_conflict",
                row["id"],
                at=now,
                after={"request_id": request.request_id, "refusal": refusal.code, "site": actor.site_id},
            )
    except Exception as exc:
        if not is_unique_violation(exc):
            raise
        row = (
            await RedemptionConflict.select(RedemptionConflict.id).where(RedemptionConflict.upload_key == key)
        )[0]
    return row["id"]


async def list_conflicts(
    actor: Actor, *, unresolved_only: bool = False, limit: int = 100
) -> list[ConflictOut]:
    """Conflicts in scope, newest first: a site agent sees their site's, managers their territories'."""
    actor.require_role(Role.site_agent, *MANAGERS)
    query = (
        RedemptionConflict.select(
            RedemptionConflict.id,
            RedemptionConflict.site.as_alias("site_id"),
            RedemptionConflict.site.name.as_alias("site_name"),
            RedemptionConflict.request_id,
            RedemptionConflict.codes,
            RedemptionConflict.theme,
            RedemptionConflict.occurred_at,
            RedemptionConflict.uploaded_at,
            RedemptionConflict.refusal_code,
            RedemptionConflict.refusal_message,
            RedemptionConflict.resolved_at,
            RedemptionConflict.resolution,
        )
        .order_by(RedemptionConflict.id, ascending=False)
        .limit(min(limit, 500))
    )
    if actor.role == Role.site_agent:
        query = query.where(RedemptionConflict.site == (actor.site_id or 0))
    elif (scope := actor.territory_filter()) is not None:
        query = query.where(RedemptionConflict.site.territory.is_in(list(scope) or [0]))
    if unresolved_only:
        query = query.where(RedemptionConflict.resolved_at.is_null())
    rows = await query
    for row in rows:
        # Only the short form of a QR URL is shown: the token, not the host.
        row["codes"] = [
            c.rsplit("/v/", 1)[-1][:16] + "…" if "/v/" in c else c for c in json_value(row["codes"])
        ]
    return msgspec.convert(rows, list[ConflictOut])
