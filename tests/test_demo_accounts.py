"""The demo's staff accounts: generated passwords always pass the staff password rules."""

from __future__ import annotations

from hub.config import load_config
from hub.core import build_hub
from hub.demo import DEMO_STAFF, demo_password, demo_users
from hub.domain.staff.accounts import check_password
from tests.conftest import CONFIG_DIR


def test_generated_passwords_always_meet_the_rules() -> None:
    passwords = {demo_password() for _ in range(2000)}
    assert len(passwords) == 2000
    for password in passwords:
        for username, *_ in DEMO_STAFF:
            check_password(password, username)


def test_demo_users_are_created_once_and_their_passwords_kept(tmp_path) -> None:  # type: ignore[no-untyped-def]
    hub = build_hub(load_config(CONFIG_DIR, env={}), var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        first = demo_users(hub)
        assert set(first) == {username for username, *_ in DEMO_STAFF}
        assert demo_users(hub) == first
        for username, password in first.items():
            assert hub.staff.by_username(username) is not None
            check_password(password, username)
    finally:
        hub.close()
