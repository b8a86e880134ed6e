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

from pass_numerique.db import dialect, direct
from pass_numerique.domain.vouchers.voucher_tokens import TokenClaims

# The parameters come once each, in this order, in the first CTE; the rest refers to them by name.
_PARAMETERS = (
    "site",
    "agent",
    "day",
    "month",
    "booklet",
    "number",
    "kid",
    "theme",
    "request_id",
    "key",
    "now",
    "scanned",
)
_STATEMENT = """
WITH input AS (
    SELECT $1::int AS site, $2::int AS agent, $3::date AS day, $4::varchar AS month,
           $5::int AS booklet, $6::int AS number, $7::int AS kid, $8::text AS theme,
           $9::varchar AS request_id, $10::varchar AS key, $11::timestamptz AS now, $12::varchar AS scanned
), ready AS (
    -- The site is accredited today, the month is open, the request id is new.
    SELECT input.* FROM input
    WHERE EXISTS (
        SELECT 1 FROM partner_site s
        WHERE s.id = input.site AND s.accreditation_status = 'accredited'
          AND (s.accredited_from IS NULL OR s.accredited_from <= input.day)
          AND (s.accredited_until IS NULL OR input.day <= s.accredited_until)
    ) AND NOT EXISTS (
        SELECT 1 FROM reimbursement_period r WHERE r.month = input.month AND r.closed_at IS NOT NULL
    ) AND NOT EXISTS (SELECT 1 FROM idempotency_record i WHERE i.key = input.key)
), target AS (
    -- The voucher is available, its booklet issued and valid today, the theme one of its programme's.
    SELECT v.id, v.number, v.face_value_cents, b.id AS booklet_id, b.serial, b.valid_until, b.beneficiary,
           b.programme
    FROM ready
    JOIN voucher v ON v.booklet = ready.booklet AND v.number = ready.number AND v.key_id = ready.kid
    JOIN booklet b ON b.id = v.booklet
    JOIN programme p ON p.id = b.programme
    WHERE v.status = 'available' AND b.status = 'issued'
      AND b.valid_from <= ready.day AND ready.day <= b.valid_until
      AND p.themes::jsonb ? ready.theme
), won AS (
    -- Compare-and-set: a concurrent redemption that committed first makes this match nothing.
    UPDATE voucher v SET status = 'redeemed'
    FROM target t
    WHERE v.id = t.id AND v.status = 'available'
    RETURNING v.id
), redeemed AS (
    INSERT INTO redemption
        (voucher, site, agent, redeemed_at, recorded_at, theme, request_id, period, late,
         undone_at, undone_by, undo_reason, day, report_counted, report_pending, beneficiary, programme)
    SELECT won.id, input.site, input.agent, input.now, input.now, input.theme, input.request_id,
           input.month, false, NULL, NULL, '', input.day, false, true, t.beneficiary, t.programme
    FROM won JOIN target t ON t.id = won.id, input
    RETURNING id, voucher
), used AS (
    -- booklet_usage.count_redeemed, for one voucher redeemed now (nothing is earlier than now);
    -- the funnel rollup's flag set here spares the trigger's function call (m0020).
    UPDATE booklet b SET used_count = b.used_count + 1,
                         first_used_at = COALESCE(b.first_used_at, input.now),
                         report_pending = true
    FROM target t, won, input
    WHERE b.id = t.booklet_id
), audited AS (
    INSERT INTO audit_event (at, actor, action, object_type, object_id, before, after)
    SELECT input.now, input.agent, 'voucher.redeem', 'voucher', redeemed.voucher::text,
           json_build_object('status', 'available'),
           json_build_object('status', 'redeemed', 'site', input.site, 'theme', input.theme,
                             'redemption', redeemed.id, 'period', input.month, 'late', false)
    FROM redeemed, input
), logged AS (
    INSERT INTO scan_attempt (at, scanned, voucher, site, agent, action, outcome, request_id)
    SELECT input.now, input.scanned, won.id, input.site, input.agent, 'redeem', 'redeemed', input.request_id
    FROM won, input
), answer AS (
    -- The RedeemResult, as the general path would encode it, stored for replays and returned.
    SELECT json_build_object(
        'request_id', input.request_id,
        'site_id', input.site,
        'booklet_serial', t.serial,
        'theme', input.theme,
        'redeemed', json_build_array(json_build_object(
            'redemption_id', r.id, 'number', t.number, 'face_value_cents', t.face_value_cents)),
        'total_cents', t.face_value_cents,
        -- The UPDATE is not visible to the rest of the statement: the voucher still counts here.
        'remaining', (SELECT count(*) - 1 FROM voucher
                      WHERE booklet = t.booklet_id AND status = 'available'),
        'valid_until', t.valid_until,
        'redeemed_at', input.now,
        'period', input.month,
        'late', false,
        'replayed', false
    )::text AS response
    FROM redeemed r JOIN target t ON t.id = r.voucher, input
), remembered AS (
    INSERT INTO idempotency_record (key, staff_user, status_code, response, created_at)
    SELECT input.key, input.agent, 200, answer.response, input.now FROM answer, input
)
SELECT response FROM answer
"""


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
    if not dialect.writes_in_ctes():
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
    # Straight through asyncpg: Piccolo's query building cost a sixth of the request (db/direct.py).
    return await direct.fetch_value(_STATEMENT, *[values[name] for name in _PARAMETERS])
