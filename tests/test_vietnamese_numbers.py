"""Vietnamese number, ticket and counter reading: a table that hits every rule in both styles."""

from __future__ import annotations

import pytest

from display.vietnamese_numbers import (
    LETTER_NAMES,
    read_counter_name,
    read_digits,
    read_number,
    read_numbers_in_text,
    read_ticket,
    spell_letters,
)

# (number, north, south); the comment names the rule each row is there for.
NUMBERS = [
    (0, "không", "không"),
    (1, "một", "một"),
    (4, "bốn", "bốn"),  # 4 alone is bốn
    (5, "năm", "năm"),  # 5 alone is năm
    (9, "chín", "chín"),
    (10, "mười", "mười"),
    (11, "mười một", "mười một"),  # one after mười stays một
    (14, "mười bốn", "mười bốn"),  # four after mười stays bốn
    (15, "mười lăm", "mười lăm"),  # five after mười is lăm
    (19, "mười chín", "mười chín"),
    (20, "hai mươi", "hai mươi"),  # mươi for twenty and up
    (21, "hai mươi mốt", "hai mươi mốt"),  # mốt
    (24, "hai mươi tư", "hai mươi tư"),  # tư
    (25, "hai mươi lăm", "hai mươi lăm"),  # lăm
    (31, "ba mươi mốt", "ba mươi mốt"),
    (34, "ba mươi tư", "ba mươi tư"),
    (45, "bốn mươi lăm", "bốn mươi lăm"),
    (50, "năm mươi", "năm mươi"),
    (55, "năm mươi lăm", "năm mươi lăm"),
    (91, "chín mươi mốt", "chín mươi mốt"),
    (94, "chín mươi tư", "chín mươi tư"),
    (99, "chín mươi chín", "chín mươi chín"),
    (100, "một trăm", "một trăm"),
    (101, "một trăm linh một", "một trăm lẻ một"),  # linh / lẻ, and một not mốt
    (104, "một trăm linh bốn", "một trăm lẻ bốn"),  # bốn not tư after linh
    (105, "một trăm linh năm", "một trăm lẻ năm"),  # năm not lăm after linh
    (110, "một trăm mười", "một trăm mười"),
    (111, "một trăm mười một", "một trăm mười một"),
    (115, "một trăm mười lăm", "một trăm mười lăm"),
    (121, "một trăm hai mươi mốt", "một trăm hai mươi mốt"),
    (124, "một trăm hai mươi tư", "một trăm hai mươi tư"),
    (200, "hai trăm", "hai trăm"),
    (305, "ba trăm linh năm", "ba trăm lẻ năm"),
    (999, "chín trăm chín mươi chín", "chín trăm chín mươi chín"),
    (1000, "một nghìn", "một ngàn"),  # nghìn / ngàn
    (1001, "một nghìn không trăm linh một", "một ngàn không trăm lẻ một"),  # không trăm inside
    (1005, "một nghìn không trăm linh năm", "một ngàn không trăm lẻ năm"),
    (1010, "một nghìn không trăm mười", "một ngàn không trăm mười"),
    (1015, "một nghìn không trăm mười lăm", "một ngàn không trăm mười lăm"),
    (1023, "một nghìn không trăm hai mươi ba", "một ngàn không trăm hai mươi ba"),
    (1100, "một nghìn một trăm", "một ngàn một trăm"),
    (1105, "một nghìn một trăm linh năm", "một ngàn một trăm lẻ năm"),
    (2024, "hai nghìn không trăm hai mươi tư", "hai ngàn không trăm hai mươi tư"),
    (10000, "mười nghìn", "mười ngàn"),
    (15000, "mười lăm nghìn", "mười lăm ngàn"),
    (21000, "hai mươi mốt nghìn", "hai mươi mốt ngàn"),
    (24000, "hai mươi tư nghìn", "hai mươi tư ngàn"),
    (100000, "một trăm nghìn", "một trăm ngàn"),
    (105000, "một trăm linh năm nghìn", "một trăm lẻ năm ngàn"),
    (999999, "chín trăm chín mươi chín nghìn chín trăm chín mươi chín",
     "chín trăm chín mươi chín ngàn chín trăm chín mươi chín"),
    (1000000, "một triệu", "một triệu"),  # trailing zero groups are silent
    (1000001, "một triệu không nghìn không trăm linh một", "một triệu không ngàn không trăm lẻ một"),
    (1000010, "một triệu không nghìn không trăm mười", "một triệu không ngàn không trăm mười"),
    (1001000, "một triệu không trăm linh một nghìn", "một triệu không trăm lẻ một ngàn"),
    (1500000, "một triệu năm trăm nghìn", "một triệu năm trăm ngàn"),
    (5000300, "năm triệu không nghìn ba trăm", "năm triệu không ngàn ba trăm"),
    (21000000, "hai mươi mốt triệu", "hai mươi mốt triệu"),
    (100000005, "một trăm triệu không nghìn không trăm linh năm", "một trăm triệu không ngàn không trăm lẻ năm"),
    (400070192, "bốn trăm triệu không trăm bảy mươi nghìn một trăm chín mươi hai",
     "bốn trăm triệu không trăm bảy mươi ngàn một trăm chín mươi hai"),
    (999999999, "chín trăm chín mươi chín triệu chín trăm chín mươi chín nghìn chín trăm chín mươi chín",
     "chín trăm chín mươi chín triệu chín trăm chín mươi chín ngàn chín trăm chín mươi chín"),
]


@pytest.mark.parametrize(("number", "north", "south"), NUMBERS, ids=[str(row[0]) for row in NUMBERS])
def test_read_number(number: int, north: str, south: str) -> None:
    assert read_number(number, "north") == north
    assert read_number(number, "south") == south


@pytest.mark.parametrize(("number", "expected"), [
    (1000001, "một triệu không trăm linh một"),
    (5000300, "năm triệu ba trăm"),
    (1000000, "một triệu"),
    (1001000, "một triệu không trăm linh một nghìn"),
])
def test_skipping_empty_groups_is_available(number: int, expected: str) -> None:
    assert read_number(number, skip_empty_groups=True) == expected


@pytest.mark.parametrize("bad", [-1, 1_000_000_000])
def test_out_of_range(bad: int) -> None:
    with pytest.raises(ValueError, match=r"0\.\.999999999"):
        read_number(bad)


def test_rejects_non_integers_and_unknown_styles() -> None:
    with pytest.raises(TypeError):
        read_number(True)
    with pytest.raises(TypeError):
        read_number(2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="style"):
        read_number(5, "central")


TICKETS = [
    ("A023", "number", "north", "a, hai mươi ba"),
    ("A023", "digits", "north", "a, không hai ba"),
    ("A001", "number", "north", "a, một"),
    ("A000", "number", "north", "a, không"),
    ("A011", "number", "north", "a, mười một"),
    ("A021", "number", "north", "a, hai mươi mốt"),
    ("B105", "number", "north", "bê, một trăm linh năm"),
    ("B105", "number", "south", "bê, một trăm lẻ năm"),
    ("C015", "number", "north", "xê, mười lăm"),
    ("D024", "number", "north", "dê, hai mươi tư"),
    ("Đ004", "number", "north", "đê, bốn"),
    ("E1023", "number", "south", "e, một ngàn không trăm hai mươi ba"),
    ("G120", "digits", "north", "giê, một hai không"),
    ("K7", "number", "north", "ca, bảy"),
    ("XN042", "number", "north", "ích xì en nờ, bốn mươi hai"),
    ("a023", "number", "north", "a, hai mươi ba"),
    ("A-023", "number", "north", "a, hai mươi ba"),
    ("023", "number", "north", "hai mươi ba"),
    ("A0000000000012", "number", "north", "a, mười hai"),
    ("A12345678901", "number", "north", "a, một hai ba bốn năm sáu bảy tám chín không một"),
]


@pytest.mark.parametrize(("ticket", "reading", "style", "expected"), TICKETS)
def test_read_ticket(ticket: str, reading: str, style: str, expected: str) -> None:
    assert read_ticket(ticket, style, reading) == expected


@pytest.mark.parametrize("bad", ["", "A", "A0B1", "23A", "A 2 3"])
def test_bad_ticket_numbers(bad: str) -> None:
    with pytest.raises(ValueError):
        read_ticket(bad)


def test_letter_names_can_be_overridden() -> None:
    assert read_ticket("G005", letter_names={"g": "gờ"}) == "gờ, năm"
    assert spell_letters("AB") == "a bê"
    with pytest.raises(ValueError, match="no Vietnamese name"):
        spell_letters("Ç")


def test_every_letter_has_a_name_without_digits() -> None:
    assert len(LETTER_NAMES) == 33  # 29 Vietnamese letters and F, J, W, Z
    assert all(name and not any(ch.isdigit() for ch in name) for name in LETTER_NAMES.values())


def test_read_digits() -> None:
    assert read_digits("0105") == "không một không năm"
    with pytest.raises(ValueError):
        read_digits("12a")


COUNTERS = [
    ("Quầy 5", "north", "quầy số năm"),
    ("Quầy 15", "north", "quầy số mười lăm"),
    ("Quầy 21", "north", "quầy số hai mươi mốt"),
    ("Quầy 05", "north", "quầy số năm"),
    ("QUẦY 4", "north", "quầy số bốn"),
    ("Quầy số 5", "north", "quầy số năm"),
    ("Bàn 3", "north", "bàn số ba"),
    ("Phòng 12", "north", "phòng mười hai"),
    ("Phòng 101", "north", "phòng một trăm linh một"),
    ("Phòng 101", "south", "phòng một trăm lẻ một"),
    ("Phòng 1024", "south", "phòng một ngàn không trăm hai mươi tư"),
    ("Phòng khám Nhi 2", "north", "phòng khám Nhi hai"),
    ("Xét nghiệm", "north", "Xét nghiệm"),
    ("Khu B - Quầy 3", "north", "khu B - Quầy số ba"),
    ("Phòng 101A", "north", "phòng một trăm linh một A"),
]


@pytest.mark.parametrize(("name", "style", "expected"), COUNTERS)
def test_read_counter_name(name: str, style: str, expected: str) -> None:
    assert read_counter_name(name, style) == expected


def test_empty_counter_name() -> None:
    with pytest.raises(ValueError):
        read_counter_name("  ")


@pytest.mark.parametrize(("text", "expected"), [
    ("Mời số A 23, đến quầy 15.", "Mời số A hai mươi ba, đến quầy mười lăm."),
    ("Tầng 2", "Tầng hai"),
    ("không có số", "không có số"),
])
def test_read_numbers_in_text(text: str, expected: str) -> None:
    assert read_numbers_in_text(text) == expected
