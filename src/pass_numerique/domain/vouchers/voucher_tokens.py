"""Signed voucher tokens, the payload of every voucher QR code.

``token = base64url(kid | booklet_id | number | valid_from | valid_until | Ed25519 signature)``,
74 bytes, 99 characters. Claims name the booklet and the voucher's number in it
(not the voucher row id) so a print run can compute every code before inserting.
Ed25519 signatures are deterministic, so a reprint
gives the same codes; forging one needs the private key, which the database
never holds; a scanner checks one offline with the published public key.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import struct
from datetime import date, timedelta

import msgspec

from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.vouchers import short_codes
from pass_numerique.security.signing_keys import keyring
from pass_numerique.settings import get_settings

_EPOCH = date(2000, 1, 1)
_CLAIMS = struct.Struct(">BIBHH")  # kid, booklet id, number, valid_from/valid_until in days since 2000
SIGNATURE_LENGTH = 64
TOKEN_BYTES = _CLAIMS.size + SIGNATURE_LENGTH
TOKEN_LENGTH = (TOKEN_BYTES * 4 + 2) // 3


class TokenClaims(msgspec.Struct, frozen=True):
    """What a valid signature vouches for."""

    kid: int
    booklet_id: int
    number: int
    valid_from: date
    valid_until: date


def _days(day: date) -> int:
    return (day - _EPOCH).days


def sign(claims: TokenClaims) -> str:
    """The token for a voucher (same claims, same token: reprints match)."""
    message = _CLAIMS.pack(
        claims.kid,
        claims.booklet_id,
        claims.number,
        _days(claims.valid_from),
        _days(claims.valid_until),
    )
    signature = keyring().private[claims.kid].sign(message)
    return base64.urlsafe_b64encode(message + signature).rstrip(b"=").decode("ascii")


def verify(token: str) -> TokenClaims:
    """The claims of an authentic token; ``unknown_code`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise DomainError("unknown_code") from exc
    if len(raw) != TOKEN_BYTES:
        raise DomainError("unknown_code")
    message, signature = raw[: _CLAIMS.size], raw[_CLAIMS.size :]
    kid, booklet_id, number, valid_from, valid_until = _CLAIMS.unpack(message)
    private = keyring().private.get(kid)
    if private is None:
        raise DomainError("unknown_code")
    # The server holds the private key and Ed25519 signatures are deterministic: the one valid
    # signature it would print is recomputed and compared. Signing costs a third of a
    # public-key verification (docs/architecture.md), and accepts exactly the codes we issue.
    if not hmac.compare_digest(private.sign(message), signature):
        raise DomainError("unknown_code")
    return TokenClaims(
        kid=kid,
        booklet_id=booklet_id,
        number=number,
        valid_from=_EPOCH + timedelta(days=valid_from),
        valid_until=_EPOCH + timedelta(days=valid_until),
    )


def voucher_url(token: str) -> str:
    """The QR payload: a phone's own camera app opens the redemption page."""
    return f"{get_settings().public_url.rstrip('/')}/v/{token}"


def short_code(kid: int, booklet_id: int, number: int, nonce: int = 0) -> str:
    """The manual-entry code of a voucher, derived from the private key so reprints match
    and a copy of the database alone cannot produce it."""
    message = b"short-code" + struct.pack(">IBH", booklet_id, number, nonce)
    digest = hmac.digest(keyring().seed(kid), message, "sha256")
    return short_codes.from_bits(int.from_bytes(digest[:8], "big"))
