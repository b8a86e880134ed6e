"""Password hashing with Argon2id, with the parameters chosen by ``PN_ARGON2_PROFILE``."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from pass_numerique.settings import get_settings

MIN_LENGTH = 10

PROFILES = {"rfc_9106_low_memory": profiles.RFC_9106_LOW_MEMORY, "cheapest": profiles.CHEAPEST}
"""The argon2-cffi parameter sets that ``PN_ARGON2_PROFILE`` names."""


@cache
def _hasher() -> PasswordHasher:
    # Hashes carry their own parameters: a hash made under one profile verifies under the other,
    # and a login rehashes it when the profile changed (``needs_rehash``).
    return PasswordHasher.from_parameters(PROFILES[get_settings().argon2_profile])


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


@cache
def dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so timing does not reveal accounts."""
    return hash_password("not-a-real-password-0")
