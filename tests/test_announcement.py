"""The sentence of a call, in Vietnamese and English, with default and custom templates."""

from __future__ import annotations

import pytest

from display.announcement import DEFAULT_TEMPLATES, check_template, compose_announcement


@pytest.mark.parametrize(("ticket", "counter", "options", "expected"), [
    ("A023", "Quầy 5", {}, "Mời số a, hai mươi ba, đến quầy số năm"),
    ("A023", "Quầy 5", {"number_reading": "digits"}, "Mời số a, không hai ba, đến quầy số năm"),
    ("B105", "Phòng 101", {}, "Mời số bê, một trăm linh năm, đến phòng một trăm linh một"),
    ("B105", "Phòng 101", {"style": "south"}, "Mời số bê, một trăm lẻ năm, đến phòng một trăm lẻ một"),
    ("C021", "Phòng khám Nhi 2", {}, "Mời số xê, hai mươi mốt, đến phòng khám Nhi hai"),
    ("A023", "Counter 5", {"lang": "en"}, "Number A 23, please go to Counter 5"),
    ("A023", "Counter 5", {"lang": "en", "number_reading": "digits"}, "Number A 0 2 3, please go to Counter 5"),
    ("023", "Room  101", {"lang": "en"}, "Number 23, please go to Room 101"),
    ("G007", "Quầy 1", {"letter_names": {"G": "gờ"}}, "Mời số gờ, bảy, đến quầy số một"),
])
def test_compose(ticket: str, counter: str, options: dict, expected: str) -> None:
    assert compose_announcement(ticket, counter, **options) == expected


def test_templates_override_one_language_and_keep_the_other() -> None:
    templates = {"vi": "Xin mời bệnh nhân số {ticket} đến {counter} ạ"}
    assert compose_announcement("A023", "Quầy 5", templates=templates) == \
        "Xin mời bệnh nhân số a, hai mươi ba đến quầy số năm ạ"
    assert compose_announcement("A023", "Counter 5", lang="en", templates=templates) == \
        "Number A 23, please go to Counter 5"


def test_template_may_put_the_counter_first_or_leave_it_out() -> None:
    assert compose_announcement("A023", "Quầy 5", templates={"vi": "{counter} mời số {ticket}"}) == \
        "quầy số năm mời số a, hai mươi ba"
    assert compose_announcement("A023", "Quầy 5", templates={"vi": "Số {ticket}"}) == "Số a, hai mươi ba"


@pytest.mark.parametrize(("template", "message"), [
    ("Mời {patient} đến {counter}", "unknown fields"),
    ("Mời đến {counter}", "must say the ticket"),
    ("Mời số {ticket", "not valid"),
])
def test_bad_templates(template: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_template(template)
    with pytest.raises(ValueError, match=message):
        compose_announcement("A023", "Quầy 5", templates={"vi": template})


def test_default_templates_are_valid() -> None:
    for template in DEFAULT_TEMPLATES.values():
        check_template(template)


@pytest.mark.parametrize(("options", "message"), [
    ({"lang": "fr"}, "lang"),
    ({"number_reading": "words"}, "number_reading"),
    ({"style": "central"}, "style"),
])
def test_bad_options(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compose_announcement("A023", "Quầy 5", **options)


def test_vietnamese_text_never_holds_digits() -> None:
    for counter in ("Quầy 5", "Phòng 101", "Phòng 12B", "Khu 2 Quầy 10"):
        text = compose_announcement("A123", counter)
        assert not any(ch.isdigit() for ch in text), text
