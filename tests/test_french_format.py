"""French formats (rendering/french_format.py): numbers, money, plurals, months."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from pass_numerique.rendering import french_format

NARROW_NBSP = "\u202f"
NBSP = "\u00a0"


def test_examples_of_the_issue() -> None:
    assert french_format.number(1710) == f"1{NARROW_NBSP}710"
    assert french_format.euros(801000) == f"8{NARROW_NBSP}010,00{NBSP}€"
    assert french_format.month_label("2026-11") == "novembre 2026"
    assert french_format.month_label_capitalised("2026-08") == "Août 2026"
    assert french_format.month_label(date(2027, 1, 31)) == "janvier 2027"
    assert [french_format.plural(n, "chèque") for n in (0, 1, 2)] == ["0 chèque", "1 chèque", "2 chèques"]
    assert french_format.plural(1500, "lieu", "lieux") == f"1{NARROW_NBSP}500 lieux"
    assert french_format.percent(0.205) == f"20,5{NARROW_NBSP}%"
    assert french_format.percent(None) == french_format.number(None) == french_format.euros(None) == "–"
    assert french_format.number(12.25, 1) in ("12,2", "12,3")


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_a_number_reads_back_to_itself(value: int) -> None:
    text = french_format.number(value)
    assert " " not in text  # never an ordinary space: a line could break inside the number
    assert int(text.replace(NARROW_NBSP, "").replace("−", "-")) == value
    # Groups of three digits from the right.
    digits = text.lstrip("-−")
    assert all(len(group) == 3 for group in digits.split(NARROW_NBSP)[1:])


@given(st.integers(min_value=-(10**11), max_value=10**11))
def test_money_is_exact_to_the_cent(cents: int) -> None:
    text = french_format.euros(cents)
    assert text.endswith(f"{NBSP}€")
    figure = text.removesuffix(f"{NBSP}€").replace(NARROW_NBSP, "").replace("−", "-")
    whole, _, decimals = figure.partition(",")
    assert len(decimals) == 2
    sign = -1 if whole.startswith("-") else 1
    assert sign * (abs(int(whole)) * 100 + int(decimals)) == cents


@given(st.integers(min_value=0, max_value=10**9))
def test_plurals_follow_french_rules(count: int) -> None:
    text = french_format.plural(count, "chèque")
    # French: 0 and 1 take the singular, every other count the plural.
    assert text.endswith(" chèque" if count < 2 else " chèques")
    assert text.startswith(french_format.number(count) + " ")
    assert "(s)" not in text


@given(st.integers(min_value=2000, max_value=2100), st.integers(min_value=1, max_value=12))
def test_every_month_has_its_french_name(year: int, month: int) -> None:
    names = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ]
    assert french_format.month_label(f"{year}-{month:02d}") == f"{names[month - 1]} {year}"
