"""Compose the sentence a speaker says for a call (standard library only; the hub imports it too).

"A023" at "Quầy 5" becomes "Mời số a, hai mươi ba, đến quầy số năm" in Vietnamese and
"Number A 23, please go to Counter 5" in English. The hub puts the result in the `text` field of
`evt/announce/<zone>`; the speaker only says it.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

from display.vietnamese_numbers import NUMBER_READINGS, read_counter_name, read_ticket, split_ticket

LANGUAGES = ("vi", "en")
DEFAULT_TEMPLATES: dict[str, str] = {
    "vi": "Mời số {ticket}, đến {counter}",
    "en": "Number {ticket}, please go to {counter}",
}
TEMPLATE_FIELDS = frozenset({"ticket", "counter"})


def check_template(template: str) -> None:
    """Raise ValueError unless the template uses {ticket}, optionally {counter}, and nothing else."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(f"template {template!r} is not valid: {exc}") from None
    unknown = fields - TEMPLATE_FIELDS
    if unknown:
        raise ValueError(f"template {template!r} uses unknown fields {sorted(unknown)}; "
                         "allowed: {ticket}, {counter}")
    if "ticket" not in fields:
        raise ValueError(f"template {template!r} must say the ticket: add {{ticket}}")


def _english_ticket(ticket_number: str, number_reading: str) -> str:
    prefix, digits = split_ticket(ticket_number)
    number = " ".join(digits) if number_reading == "digits" else str(int(digits))
    return f"{prefix.upper()} {number}" if prefix else number


def compose_announcement(ticket_number: str, counter_name: str, lang: str = "vi", style: str = "north",
                         number_reading: str = "number", templates: Mapping[str, str] | None = None,
                         letter_names: Mapping[str, str] | None = None) -> str:
    """The sentence to say for a call; `counter_name` is the counter's name in `lang` ("Quầy 5" / "Counter 5")."""
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {LANGUAGES}, got {lang!r}")
    if number_reading not in NUMBER_READINGS:
        raise ValueError(f"number_reading must be one of {NUMBER_READINGS}, got {number_reading!r}")
    template = {**DEFAULT_TEMPLATES, **(templates or {})}[lang]
    check_template(template)
    if lang == "vi":
        ticket = read_ticket(ticket_number, style, number_reading, letter_names)
        counter = read_counter_name(counter_name, style)
    else:
        # English engines read digits correctly, so the English sentence keeps them.
        ticket = _english_ticket(ticket_number, number_reading)
        counter = " ".join(counter_name.split())
    return template.format(ticket=ticket, counter=counter)
