"""The hospital's texts in messages come from config, and sample text ("1900 xxxx") is refused at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import load_config
from hub.db import Database
from hub.domain.common.clock import VirtualClock
from hub.domain.notifications.outbox import NotificationService
from tests.conftest import RecordingBus
from tests.notifications_support import APPOINTMENT
from tests.test_config import config_dir, edit, load_error  # noqa: F401 - fixture

NOTIFICATIONS = "notifications.toml"
HOTLINE = 'hotline = "0218 3852 115"'


@pytest.mark.parametrize(("old", "new", "key"), [
    (HOTLINE, 'hotline = "1900 xxxx"', "hotline"),
    (HOTLINE, 'hotline = "1900 XXXX"', "hotline"),
    ('address = "Số 1 đường Trần Hưng Đạo, TP. Hòa Bình"', 'address = "Số xxx đường ..."', "address"),
    ('sender_name = "BV Đa khoa Hòa Bình"', 'sender_name = "TODO"', "sender_name"),
    ("Đường dây nóng: {hotline}\"\"\"\nsms = \"{site_name}: lịch tái khám",
     "Đường dây nóng: 1900 xxxx\"\"\"\nsms = \"{site_name}: lịch tái khám", "templates"),
])
def test_sample_text_is_refused_at_start_with_its_key(config_dir: Path, old: str, new: str,  # noqa: F811
                                                      key: str) -> None:
    edit(config_dir / NOTIFICATIONS, old, new)
    message = load_error(config_dir)
    assert NOTIFICATIONS in message and key in message and "sample text" in message
    assert "hospital's real one" in message


def test_hotline_address_and_sender_reach_the_messages(config_dir: Path, clock: VirtualClock) -> None:  # noqa: F811
    edit(config_dir / NOTIFICATIONS, HOTLINE, 'hotline = "1900 1234"')
    config = load_config(config_dir, env={})
    outbox = NotificationService(Database("sqlite://"), config, RecordingBus(), clock)
    rendered = outbox.templates.render("booking_confirmation", "vi", {**APPOINTMENT})
    assert "Đường dây nóng: 1900 1234" in rendered.body
    assert "Trần Hưng Đạo" in rendered.body and rendered.sms.startswith("BV Đa khoa Hòa Bình:")
