"""Short codes for manual entry: ``K7QF-92MX-TD4P``.

Twelve Crockford base32 characters (no I, L, O, U, so O/0 and I/1/L confusions
are read as meant), the last one a check character computed with Damm's
algorithm over the field GF(32). Damm's quasigroup ``i∘d = 2·i + d`` detects
every single-character substitution and every adjacent transposition; the
property tests in ``tests/test_short_codes.py`` prove it exhaustively.
"""

from __future__ import annotations

import hashlib

from pass_numerique.domain.errors import DomainError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DATA_LENGTH = 11
CODE_LENGTH = DATA_LENGTH + 1
_VALUE = {char: value for value, char in enumerate(ALPHABET)}
# Crockford's reading rules: what people type for what they see.
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = str.maketrans("", "", " -_.\u00a0\t")
_FIELD_POLYNOMIAL = 0b100101  # x^5 + x^2 + 1, primitive over GF(2)


def _times_two(value: int) -> int:
    """Multiply by the field element x in GF(32)."""
    value <<= 1
    return value ^ _FIELD_POLYNOMIAL if value & 0b100000 else value


def _interim(values: list[int]) -> int:
    interim = 0
    for value in values:
        interim = _times_two(interim) ^ value
    return interim


def check_character(data: str) -> str:
    """The check character that makes ``data + check`` reduce to zero."""
    return ALPHABET[_times_two(_interim([_VALUE[c] for c in data]))]


def is_valid(code: str) -> bool:
    """True when a normalised code's check character matches."""
    return _interim([_VALUE[c] for c in code]) == 0


def from_bits(bits: int) -> str:
    """A full code (data + check) from at least 55 bits of key material."""
    data = "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(DATA_LENGTH))
    return data + check_character(data)


def normalise(text: str) -> str:
    """Upper-case, drop separators, read O as 0 and I/L as 1; raise on anything else.

    Raises ``invalid_code_format`` for a wrong length or alphabet and
    ``invalid_checksum`` for a wrong check character, before any database look-up.
    """
    code = text.translate(_SEPARATORS).upper().translate(_CONFUSABLE)
    if len(code) != CODE_LENGTH or any(c not in _VALUE for c in code):
        raise DomainError("invalid_code_format")
    if not is_valid(code):
        raise DomainError("invalid_checksum")
    return code


def display(code: str) -> str:
    """Grouped for reading aloud and typing: ``K7QF-92MX-TD4P``."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def lookup_hash(code: str) -> str:
    """What the database stores: a copy of it does not reveal the codes."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()
