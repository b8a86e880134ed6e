"""The common case of redemption in one round trip: one scanned voucher, online, on PostgreSQL.

A phone scans one QR code and sends it: that request is most of the traffic. The general
path (``redemption.redeem``) costs about ten statements; this one does the same work in a
single statement whose data-modifying CTEs run atomically: the compare-and-set UPDATE of
the voucher, the redemption row, its audit event, the scan log and the idempotency record
with the answer. It only ever does *all* of it or *nothing*: when any condition fails (the
voucher is not redeemable, the site is not accredited today, the month is closed, the
request id was already used, a concurrent request won), it changes nothing and returns
None, and the caller takes the general path, which finds and reports the precise reason.
The rules stay in ``redemption``; the WHERE clauses below are the same conditions, and
tests/test_single_redemption.py checks that both paths leave identical rows.

SQLite has no data-modifying CTEs; there it always returns None.
"""

from __future__ import annotations

from datetime import date, datetime
from string import Formatter

from pass_numerique.db.tables import Voucher
from pass_numerique.db.transaction import is_sqlite
from pass_numerique.domain.voucher_tokens import TokenClaims

_STATEMENT = """
WITH site AS (
    SELECT id FROM partner_site
    WHERE id = {site}::int AND accreditation_status = 'accredited'
      AND (accredited_from IS NULL OR accredited_from <= {day}::date)
      AND (accredited_until IS NULL OR {day}::date <= accredited_until)
), open_month AS (
    SELECT {month}::varchar AS month
    WHERE NOT EXISTS (
        SELECT 1 FROM reimbursement_period WHERE month = {month}::varchar AND closed_at IS NOT NULL
    )
), target AS (
    SELECT v.id, v.number, v.face_value_cents, b.id AS booklet_id, b.serial, b.valid_until
    FROM voucher v
    JOIN booklet b ON b.id = v.booklet
    JOIN programme p ON p.id = b.programme
    WHERE v.booklet = {booklet}::int AND v.number = {number}::int AND v.key_id = {kid}::int
      AND v.status = 'available' AND b.status = 'issued'
      AND b.valid_from <= {day}::date AND {day}::date <= b.valid_until
      AND p.themes::jsonb ? {theme}::text
      AND NOT EXISTS (SELECT 1 FROM idempotency_record WHERE key = {key}::varchar)
      AND EXISTS (SELECT 1 FROM site) AND EXISTS (SELECT 1 FROM open_month)
), won AS (
    UPDATE voucher v SET status = 'redeemed'
    FROM target t
    WHERE v.id = t.id AND v.status = 'available'
    RETURNING v.id
), redeemed AS (
    INSERT INTO redemption
        (voucher, site, agent, redeemed_at, recorded_at, theme, request_id, period, late,
         undone_at, undone_by, undo_reason)
    SELECT won.id, {site}::int, {agent}::int, {now}::timestamptz, {now}::timestamptz, {theme}::text,
           {request_id}::varchar, {month}::varchar, false, NULL, NULL, ''
    FROM won
    RETURNING id, voucher
), audited AS (
    INSERT INTO audit_event (at, actor, action, object_type, object_id, before, after)
    SELECT {now}::timestamptz, {agent}::int, 'voucher.redeem', 'voucher', redeemed.voucher::text,
           json_build_object('status', 'available'),
           json_build_object('status', 'redeemed', 'site', {site}::int, 'theme', {theme}::text,
                             'redemption', redeemed.id, 'period', {month}::varchar, 'late', false)
    FROM redeemed
), logged AS (
    INSERT INTO scan_attempt (at, scanned, voucher, site, agent, action, outcome, request_id)
    SELECT {now}::timestamptz, {scanned}::varchar, won.id, {site}::int, {agent}::int, 'redeem',
           'redeemed', {request_id}::varchar
    FROM won
), answer AS (
    SELECT json_build_object(
        'request_id', {request_id}::varchar,
        'site_id', {site}::int,
        'booklet_serial', t.serial,
        'theme', {theme}::text,
        'redeemed', json_build_array(json_build_object(
            'redemption_id', r.id, 'number', t.number, 'face_value_cents', t.face_value_cents)),
        'total_cents', t.face_value_cents,
        -- The UPDATE is not visible to the rest of the statement: the voucher still counts here.
        'remaining', (SELECT count(*) - 1 FROM voucher
                      WHERE booklet = t.booklet_id AND status = 'available'),
        'valid_until', t.valid_until,
        'redeemed_at', {now}::timestamptz,
        'period', {month}::varchar,
        'late', false,
        'replayed', false
    )::text AS response
    FROM redeemed r JOIN target t ON t.id = r.voucher
), remembered AS (
    INSERT INTO idempotency_record (key, staff_user, status_code, response, created_at)
    SELECT {key}::varchar, {agent}::int, 200, answer.response, {now}::timestamptz FROM answer
)
SELECT response FROM answer
"""


def _positional(template: str) -> tuple[str, list[str]]:
    """Piccolo's raw queries take positional ``{}`` placeholders: name them here, once."""
    # No literal braces in the SQL: Piccolo would take an escaped one for a placeholder.
    parts = list(Formatter().parse(template))
    text = "".join(literal + ("{}" if field else "") for literal, field, _, _ in parts)
    return text, [field for _, field, _, _ in parts if field]


_SQL, _NAMES = _positional(_STATEMENT)


async def redeem_one(
    *,
    site_id: int,
    agent_id: int,
    claims: TokenClaims,
    theme: str,
    request_id: str,
    key: str,
    now: datetime,
    day: date,
    month: str,
    scanned: str,
) -> str | None:
    """Redeem one voucher in one statement; the answer as JSON, or None when nothing was done."""
    if is_sqlite():
        return None
    values = {
        "site": site_id,
        "agent": agent_id,
        "day": day,
        "month": month,
        "booklet": claims.booklet_id,
        "number": claims.number,
        "kid": claims.kid,
        "theme": theme,
        "key": key,
        "now": now,
        "request_id": request_id,
        "scanned": scanned[:200],
    }
    rows = await Voucher.raw(_SQL, *[values[name] for name in _NAMES])
    return rows[0]["response"] if rows else None
