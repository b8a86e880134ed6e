"""Read what a scanner or a person sends: a voucher URL, a bare token or a short code."""

from __future__ import annotations

import re

import msgspec

from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.vouchers import short_codes, voucher_tokens

_TOKEN_SHAPE = re.compile(rf"^[A-Za-z0-9_-]{{{voucher_tokens.TOKEN_LENGTH}}}$")
MAX_INPUT = 400


class ScannedToken(msgspec.Struct, frozen=True, tag="token"):
    claims: voucher_tokens.TokenClaims


class ScannedShortCode(msgspec.Struct, frozen=True, tag="short_code"):
    code: str  # normalised, check character verified


ScannedCode = ScannedToken | ScannedShortCode


def parse_scanned(text: str) -> ScannedCode:
    """Classify and validate input without touching the database.

    Raises ``invalid_code_format``, ``invalid_checksum`` or ``unknown_code``
    (a token whose signature does not verify).
    """
    value = text.strip()
    if len(value) > MAX_INPUT:
        raise DomainError("invalid_code_format")
    if "/v/" in value:
        value = value.rsplit("/v/", 1)[1].split("?", 1)[0].split("#", 1)[0].strip("/")
        if not _TOKEN_SHAPE.match(value):
            raise DomainError("unknown_code")
    if _TOKEN_SHAPE.match(value):
        return ScannedToken(claims=voucher_tokens.verify(value))
    return ScannedShortCode(code=short_codes.normalise(value))
