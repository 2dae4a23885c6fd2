"""Debian's Chromium driven by Playwright, for page tests (never `playwright install`: no downloads here)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import require_service

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
# Quiet on a closed network: no background fetches, no QUIC, no first-run pages.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    return shutil.which("chromium")


def artifact(name: str) -> Path:
    """Where a test keeps a screenshot for people to look at (test-artifacts/, not in git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """A headless Chromium for the test module (skips locally, fails in CI, without it)."""
    executable = chromium_path()
    require_service("chromium", executable is not None, "install the Debian package chromium")
    from playwright.sync_api import sync_playwright

    # Playwright gives each launch a fresh temporary profile (it refuses --user-data-dir).
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()
