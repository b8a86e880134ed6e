"""Signed voucher tokens and the parser of scanned input."""

from __future__ import annotations

import base64
from datetime import date, timedelta
from pathlib import Path

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.vouchers import codes, voucher_tokens
from pass_numerique.security import signing_keys
from pass_numerique.settings import get_settings

CLAIMS = voucher_tokens.TokenClaims(
    kid=1, booklet_id=123456, number=7, valid_from=date(2026, 1, 1), valid_until=date(2027, 1, 1)
)


@pytest.fixture(autouse=True)
def _key() -> None:
    signing_keys.ensure_key()


def claims() -> voucher_tokens.TokenClaims:
    return msgspec.structs.replace(CLAIMS, kid=signing_keys.keyring().current_kid)


def test_token_round_trip_is_deterministic_and_url_safe() -> None:
    token = voucher_tokens.sign(claims())
    assert token == voucher_tokens.sign(claims())  # a reprint gives the same code
    assert len(token) == voucher_tokens.TOKEN_LENGTH
    assert voucher_tokens.verify(token) == claims()
    assert voucher_tokens.voucher_url(token) == f"http://testserver/v/{token}"


@given(st.integers(min_value=0, max_value=voucher_tokens.TOKEN_BYTES - 1), st.integers(1, 255))
@settings(max_examples=200)
def test_any_altered_byte_is_rejected(position: int, flip: int) -> None:
    raw = bytearray(base64.urlsafe_b64decode(voucher_tokens.sign(claims()) + "=="))
    raw[position] ^= flip
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(DomainError) as caught:
        voucher_tokens.verify(forged)
    assert caught.value.code == "unknown_code"


@given(st.integers(0, 2**32 - 1), st.integers(1, 255), st.integers(0, 20_000), st.integers(0, 800))
@settings(max_examples=100)
def test_what_the_server_accepts_the_published_key_verifies_offline(
    booklet_id: int, number: int, start: int, length: int
) -> None:
    """The server compares a token with the signature it would make; a scanner offline checks the
    same token with the public key: both must agree on every code we print."""
    valid_from = date(2000, 1, 1) + timedelta(days=start)
    mine = voucher_tokens.TokenClaims(
        kid=signing_keys.keyring().current_kid,
        booklet_id=booklet_id,
        number=number,
        valid_from=valid_from,
        valid_until=valid_from + timedelta(days=length),
    )
    token = voucher_tokens.sign(mine)
    assert voucher_tokens.verify(token) == mine
    raw = base64.urlsafe_b64decode(token + "==")
    published = next(k for k in signing_keys.keyring().published() if k.kid == mine.kid)
    public = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(published.public_key + "=="))
    public.verify(raw[-voucher_tokens.SIGNATURE_LENGTH :], raw[: -voucher_tokens.SIGNATURE_LENGTH])


def test_a_token_signed_with_another_key_is_rejected(tmp_path: Path) -> None:
    signing_keys.create_key(tmp_path)
    other = signing_keys.KeyRing(tmp_path)
    message_and_sig = other.private[1].sign(b"x" * 10)
    forged = base64.urlsafe_b64encode(b"\x01" + b"\x00" * 9 + message_and_sig).rstrip(b"=").decode()
    with pytest.raises(DomainError):
        voucher_tokens.verify(forged)


def test_key_rotation_keeps_old_codes_valid() -> None:
    old = voucher_tokens.sign(claims())
    new_kid = signing_keys.create_key(Path(get_settings().keys_dir))
    assert signing_keys.keyring().current_kid == new_kid
    assert voucher_tokens.verify(old).kid == new_kid - 1
    published = {k.kid for k in signing_keys.keyring().published()}
    assert {new_kid - 1, new_kid} <= published


def test_short_code_depends_on_the_private_key_and_is_stable() -> None:
    kid = signing_keys.keyring().current_kid
    first = voucher_tokens.short_code(kid, 10, 1)
    assert first == voucher_tokens.short_code(kid, 10, 1)
    assert first != voucher_tokens.short_code(kid, 10, 2)
    assert first != voucher_tokens.short_code(kid, 10, 1, nonce=1)


def test_parse_accepts_url_bare_token_and_short_code() -> None:
    token = voucher_tokens.sign(claims())
    from_url = codes.parse_scanned(f"https://pass.example.fr/v/{token}?utm=x")
    assert isinstance(from_url, codes.ScannedToken) and from_url.claims == claims()
    assert codes.parse_scanned(f"  {token}\n") == from_url
    code = voucher_tokens.short_code(claims().kid, 1, 1)
    parsed = codes.parse_scanned(code.lower())
    assert isinstance(parsed, codes.ScannedShortCode) and parsed.code == code


@given(st.text(max_size=500))
def test_parser_only_ever_raises_domain_errors(text: str) -> None:
    try:
        codes.parse_scanned(text)
    except DomainError as exc:
        assert exc.code in {"invalid_code_format", "invalid_checksum", "unknown_code"}
