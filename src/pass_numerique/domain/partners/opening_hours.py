"""Opening hours as the public reads them: the national standard's ``horaires`` in French.

The standard of the lieux de médiation numérique writes opening hours in OpenStreetMap's
``opening_hours`` syntax (``Mo-Fr 09:00-12:00,14:00-18:30; Sa 08:30-12:00``). The public site
list shows the common form of it in French (« Du lundi au vendredi : 9h-12h, 14h-18h30 ») and any
other text as it was written: hours typed by hand, or OSM rules beyond days and times.
"""

from __future__ import annotations

import re

DAYS = {
    "Mo": "lundi",
    "Tu": "mardi",
    "We": "mercredi",
    "Th": "jeudi",
    "Fr": "vendredi",
    "Sa": "samedi",
    "Su": "dimanche",
    "PH": "jours fériés",
}
_DAY = "|".join(DAYS)
_DAYS = re.compile(rf"^(?:{_DAY})(?:-(?:{_DAY}))?(?:,(?:{_DAY})(?:-(?:{_DAY}))?)*$")
_TIME = r"(?:[01]\d|2[0-4]):[0-5]\d"
_TIMES = re.compile(rf"^{_TIME}-{_TIME}(?:,{_TIME}-{_TIME})*$")


def _time(value: str) -> str:
    hours, minutes = value.split(":")
    return f"{int(hours)}h{minutes if minutes != '00' else ''}"


def _days(spec: str) -> str:
    parts = []
    for item in spec.split(","):
        first, _, last = item.partition("-")
        parts.append(f"du {DAYS[first]} au {DAYS[last]}" if last else DAYS[first])
    text = ", ".join(parts)
    return text[0].upper() + text[1:]


def _rule(rule: str) -> str | None:
    days, _, times = rule.strip().partition(" ")
    times = times.strip().replace(" ", "")
    if not _DAYS.match(days):
        return None
    if times in ("off", "closed"):
        return f"{_days(days)} : fermé"
    if not _TIMES.match(times):
        return None
    spans = ", ".join("-".join(_time(t) for t in span.split("-")) for span in times.split(","))
    return f"{_days(days)} : {spans}"


def in_french(hours: str) -> str:
    """``hours`` in French when it is days and times in OSM syntax, else as written (one rule a line)."""
    rules = [rule for rule in hours.split(";") if rule.strip()]
    read = [_rule(rule) for rule in rules]
    if not rules or any(r is None for r in read):
        return hours
    return "\n".join(r for r in read if r)
