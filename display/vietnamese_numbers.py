"""Read numbers, ticket numbers and counter names aloud in Vietnamese (standard library only).

The rules (docs/voice.md has the full table):
- units after "mươi" change: 1 -> "mốt", 4 -> "tư", 5 -> "lăm" (21 hai mươi mốt, 24 hai mươi tư,
  25 hai mươi lăm); after "mười" only 5 changes (11 mười một, 14 mười bốn, 15 mười lăm);
- a zero tens digit between a hundreds part and a units digit reads "linh" (North) or "lẻ" (South),
  and the units digit keeps its plain name: 105 một trăm linh năm;
- a group of three digits after a larger group always reads its hundreds, "không trăm" included:
  1023 một nghìn không trăm hai mươi ba;
- an all-zero group between two non-zero groups reads "không" and its magnitude, so that
  1 000 001 is "một triệu không nghìn không trăm linh một" (the school and invoice reading; "một triệu
  không trăm linh một" is also heard, and `skip_empty_groups=True` gives it); trailing zero groups are
  silent: 1 000 000 is "một triệu";
- thousands are "nghìn" (North) or "ngàn" (South).
Speech engines read digits badly ("15" as "mười năm"), so everything here produces words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

STYLES = ("north", "south")
NUMBER_READINGS = ("number", "digits")
MAX_NUMBER = 999_999_999

DIGIT_WORDS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
ZERO_TENS_WORD = {"north": "linh", "south": "lẻ"}
THOUSAND_WORD = {"north": "nghìn", "south": "ngàn"}
MILLION_WORD = "triệu"

# Letter names as Vietnamese schools teach them. Over a loudspeaker the full names (bê, xê, dê) are
# told apart better than the phonics sounds (bờ, cờ, dờ), which blur into each other.
LETTER_NAMES: dict[str, str] = {
    "A": "a", "Ă": "á", "Â": "ớ", "B": "bê", "C": "xê", "D": "dê", "Đ": "đê", "E": "e", "Ê": "ê",
    "F": "ép", "G": "giê", "H": "hát", "I": "i", "J": "gi", "K": "ca", "L": "e lờ", "M": "em mờ",
    "N": "en nờ", "O": "o", "Ô": "ô", "Ơ": "ơ", "P": "pê", "Q": "quy", "R": "e rờ", "S": "ét xì",
    "T": "tê", "U": "u", "Ư": "ư", "V": "vê", "W": "vê kép", "X": "ích xì", "Y": "i dài", "Z": "dét",
}

# Words naming a place that is called "<word> số <n>" when a number follows ("Quầy 5" -> "quầy số năm");
# rooms are called by their number alone ("Phòng 12" -> "phòng mười hai").
NUMBERED_WITH_SO = frozenset({"quầy", "bàn", "cửa", "ô"})
PLACE_WORDS = NUMBERED_WITH_SO | frozenset({"phòng", "buồng", "khoa", "khu", "tầng", "số"})

_TICKET = re.compile(r"^\s*([^\W\d_]*)[\s.\-]*(\d+)\s*$")
_DIGITS = re.compile(r"\d+")


def _check_style(style: str) -> None:
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")


def _read_tens_and_units(value: int, style: str, after_hundreds: bool) -> list[str]:
    """Words for 0..99; `after_hundreds` says a hundreds part was spoken, so 5 becomes "linh năm"."""
    tens, units = divmod(value, 10)
    if tens == 0:
        if units == 0:
            return []
        return [ZERO_TENS_WORD[style], DIGIT_WORDS[units]] if after_hundreds else [DIGIT_WORDS[units]]
    words = ["mười"] if tens == 1 else [DIGIT_WORDS[tens], "mươi"]
    if units == 0:
        return words
    if units == 5:
        return [*words, "lăm"]
    if tens >= 2 and units == 1:
        return [*words, "mốt"]
    if tens >= 2 and units == 4:
        return [*words, "tư"]
    return [*words, DIGIT_WORDS[units]]


def _read_group(value: int, style: str, leading: bool) -> list[str]:
    """Words for one group of three digits; a group after a larger one always says its hundreds."""
    hundreds, rest = divmod(value, 100)
    if leading and hundreds == 0:
        return _read_tens_and_units(rest, style, after_hundreds=False)
    return [DIGIT_WORDS[hundreds], "trăm", *_read_tens_and_units(rest, style, after_hundreds=True)]


def read_number(value: int, style: str = "north", *, skip_empty_groups: bool = False) -> str:
    """Read 0..999,999,999 in Vietnamese words: 1023 -> "một nghìn không trăm hai mươi ba"."""
    _check_style(style)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an int, got {type(value).__name__}")
    if not 0 <= value <= MAX_NUMBER:
        raise ValueError(f"can read 0..{MAX_NUMBER}, got {value}")
    if value == 0:
        return DIGIT_WORDS[0]
    millions, rest = divmod(value, 1_000_000)
    thousands, units = divmod(rest, 1000)
    groups = ((millions, MILLION_WORD), (thousands, THOUSAND_WORD[style]), (units, ""))
    words: list[str] = []
    for index, (group, magnitude) in enumerate(groups):
        spoken_before = bool(words)
        if group == 0:
            lower_groups_nonzero = any(g for g, _ in groups[index + 1:])
            # An empty middle group is read so that "một triệu không nghìn ba trăm" cannot be heard
            # as 1 300 000 ("một triệu ba trăm" is often said for that).
            if spoken_before and lower_groups_nonzero and magnitude and not skip_empty_groups:
                words += [DIGIT_WORDS[0], magnitude]
            continue
        words += _read_group(group, style, leading=not spoken_before)
        if magnitude:
            words.append(magnitude)
    return " ".join(words)


def read_digits(digits: str) -> str:
    """Read a string of digits one by one: "023" -> "không hai ba"."""
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ValueError(f"expected digits, got {digits!r}")
    return " ".join(DIGIT_WORDS[int(d)] for d in digits)


def spell_letters(letters: str, letter_names: Mapping[str, str] | None = None) -> str:
    """Spell letters by their Vietnamese names: "AB" -> "a bê"."""
    names = {**LETTER_NAMES, **{k.upper(): v for k, v in (letter_names or {}).items()}}
    spoken = []
    for letter in unicodedata.normalize("NFC", letters).upper():
        if letter not in names:
            raise ValueError(f"no Vietnamese name for the letter {letter!r}")
        spoken.append(names[letter])
    return " ".join(spoken)


def split_ticket(ticket: str) -> tuple[str, str]:
    """Split a ticket number into its prefix letters and its digits: "A023" -> ("A", "023")."""
    match = _TICKET.match(unicodedata.normalize("NFC", ticket))
    if not match:
        raise ValueError(f"expected a ticket number such as 'A023', got {ticket!r}")
    return match.group(1), match.group(2)


def read_ticket(ticket: str, style: str = "north", reading: str = "number",
                letter_names: Mapping[str, str] | None = None) -> str:
    """Read a ticket number: "A023" -> "a, hai mươi ba" (number) or "a, không hai ba" (digits)."""
    _check_style(style)
    if reading not in NUMBER_READINGS:
        raise ValueError(f"reading must be one of {NUMBER_READINGS}, got {reading!r}")
    prefix, digits = split_ticket(ticket)
    # Very long sequences cannot be read as one number; digit by digit is still understood.
    if reading == "digits" or len(digits.lstrip("0")) > len(str(MAX_NUMBER)):
        number = read_digits(digits)
    else:
        number = read_number(int(digits), style)
    if not prefix:
        return number
    # The comma gives engines a short pause, so "a" is not swallowed by the number that follows.
    return f"{spell_letters(prefix, letter_names)}, {number}"


def _read_digit_run(digits: str, style: str) -> str:
    if len(digits.lstrip("0")) > len(str(MAX_NUMBER)):
        return read_digits(digits)
    return read_number(int(digits), style)


def read_numbers_in_text(text: str, style: str = "north") -> str:
    """Replace every run of digits in a text by its Vietnamese reading, so engines never see digits."""
    _check_style(style)
    spoken = _DIGITS.sub(lambda m: f" {_read_digit_run(m.group(0), style)} ", unicodedata.normalize("NFC", text))
    # Removing the spaces added before punctuation keeps commas next to their word, as engines expect.
    return re.sub(r"\s+([,.;:!?])", r"\1", " ".join(spoken.split()))


def read_counter_name(name: str, style: str = "north") -> str:
    """Read a counter or room name: "Quầy 5" -> "quầy số năm", "Phòng 12" -> "phòng mười hai"."""
    _check_style(style)
    words = unicodedata.normalize("NFC", name).split()
    if not words:
        raise ValueError("a counter name cannot be empty")
    spoken: list[str] = []
    for index, word in enumerate(words):
        lowered = word.lower()
        # The place word starts the phrase "đến quầy...", so it is spoken in lower case like any other word.
        spoken.append(lowered if index == 0 and lowered in PLACE_WORDS else word)
        next_word = words[index + 1] if index + 1 < len(words) else ""
        if lowered in NUMBERED_WITH_SO and next_word[:1].isdigit():
            spoken.append("số")
    return read_numbers_in_text(" ".join(spoken), style)
