"""The short-code scheme: format, reading tolerance and the check character's guarantees."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pass_numerique.domain.errors import DomainError
from pass_numerique.domain.vouchers import short_codes

codes = st.integers(min_value=0, max_value=2**64 - 1).map(short_codes.from_bits)
positions = st.integers(min_value=0, max_value=short_codes.CODE_LENGTH - 1)
symbols = st.sampled_from(short_codes.ALPHABET)


@given(codes)
def test_generated_codes_are_valid_and_fit_fourteen_characters(code: str) -> None:
    assert short_codes.is_valid(code)
    shown = short_codes.display(code)
    assert len(shown) <= 14 and shown.count("-") == 2
    assert short_codes.normalise(shown) == code


@given(codes, positions, symbols)
def test_every_single_character_error_is_caught(code: str, position: int, symbol: str) -> None:
    if code[position] == symbol:
        return
    typo = code[:position] + symbol + code[position + 1 :]
    with pytest.raises(DomainError) as caught:
        short_codes.normalise(typo)
    assert caught.value.code == "invalid_checksum"


@given(codes, st.integers(min_value=0, max_value=short_codes.CODE_LENGTH - 2))
def test_every_adjacent_transposition_is_caught(code: str, position: int) -> None:
    a, b = code[position], code[position + 1]
    if a == b:
        return
    swapped = code[:position] + b + a + code[position + 2 :]
    assert not short_codes.is_valid(swapped)


def test_all_substitutions_and_transpositions_exhaustively_on_one_position_pair() -> None:
    # The check is position-independent algebra: prove it for every symbol pair.
    base = short_codes.from_bits(0x5A5A5A5A5A5A5A)
    for i in range(short_codes.CODE_LENGTH - 1):
        for a in short_codes.ALPHABET:
            for b in short_codes.ALPHABET:
                if a == b:
                    continue
                data = base[:i] + a + b + base[i + 2 : short_codes.DATA_LENGTH]
                if len(data) != short_codes.DATA_LENGTH:
                    continue
                code = data + short_codes.check_character(data)
                assert not short_codes.is_valid(code[:i] + b + a + code[i + 2 :])


@given(codes, st.data())
def test_reading_is_tolerant_of_case_separators_and_confusable_letters(
    code: str, data: st.DataObject
) -> None:
    confusable = {"0": "O", "1": data.draw(st.sampled_from("IL"))}
    typed = "".join(confusable.get(c, c) for c in code)
    typed = data.draw(st.sampled_from([typed.lower(), typed, short_codes.display(typed), f" {typed} "]))
    assert short_codes.normalise(typed) == code


@given(st.text(max_size=30))
def test_arbitrary_input_never_crashes(text: str) -> None:
    try:
        short_codes.normalise(text)
    except DomainError as exc:
        assert exc.code in {"invalid_code_format", "invalid_checksum"}


def test_wrong_length_and_alphabet_are_format_errors() -> None:
    for bad in ["", "ABC", "K7QF-92MX-TD4P-X", "UUUU-UUUU-UUUU"]:
        with pytest.raises(DomainError) as caught:
            short_codes.normalise(bad)
        assert caught.value.code == "invalid_code_format"
