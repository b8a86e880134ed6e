"""The national standard's opening hours in French (domain/partners/opening_hours.py)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pass_numerique.domain.partners.opening_hours import DAYS, in_french


def test_the_standards_hours_read_in_french() -> None:
    assert in_french("Mo-Fr 09:00-12:00,14:00-18:30; Sa 08:30-12:00") == (
        "Du lundi au vendredi : 9h-12h, 14h-18h30\nSamedi : 8h30-12h"
    )
    assert in_french("Tu,Th 14:00-18:00; PH off") == "Mardi, jeudi : 14h-18h\nJours fériés : fermé"


def test_anything_else_is_shown_as_written() -> None:
    for text in ("Mardi et jeudi 14h-18h", "24/7", "Mo-Fr 09:00-12:00; Sa 10:00+", "Mo 9-12", ""):
        assert in_french(text) == text


day = st.sampled_from(list(DAYS))
time = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
rule = st.builds(
    lambda days, spans: f"{days} {','.join(f'{a}-{b}' for a, b in spans)}",
    st.one_of(day, st.builds(lambda a, b: f"{a}-{b}", day, day)),
    st.lists(st.tuples(time, time), min_size=1, max_size=3),
)


@settings(deadline=None)  # a busy shared machine, not the parser, sets the time
@given(st.lists(rule, min_size=1, max_size=4))
def test_every_rule_of_days_and_times_becomes_one_french_line(rules: list[str]) -> None:
    text = in_french("; ".join(rules))
    lines = text.split("\n")
    assert len(lines) == len(rules)
    assert all(" : " in line and ":" not in line.split(" : ", 1)[1] for line in lines)


@settings(deadline=None)  # a busy shared machine, not the parser, sets the time
@given(st.text(alphabet=st.sampled_from(list("MoTuWeFrSaPH-,;: 0123456789offx")), max_size=60))
def test_any_text_is_read_or_kept_never_refused(text: str) -> None:
    shown = in_french(text)
    assert shown == text or all(" : " in line for line in shown.split("\n"))
