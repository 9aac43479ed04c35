"""Headless Chromium (Debian's ``chromium``) driven by Playwright for Python; no browser download.

Skipped, with the reason, where the browser or Playwright is missing (``.ci/run`` installs both).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPO

# The README's screenshots are refreshed only on request (HANGAR_UPDATE_SCREENSHOTS=1), so an
# ordinary test run leaves the checkout as it found it.
SCREENSHOTS = (
    REPO / "docs" / "images" if os.environ.get("HANGAR_UPDATE_SCREENSHOTS") == "1"
    else Path(os.environ.get("TMPDIR", "/tmp")) / "hangar-screenshots"
)
SCREENSHOTS.mkdir(parents=True, exist_ok=True)


def chromium_path() -> str | None:
    for candidate in (os.environ.get("HANGAR_TEST_CHROMIUM"), "/usr/lib/chromium/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright for Python is not installed (pip install playwright)")
    exe = chromium_path()
    if exe is None:
        pytest.skip("no chromium binary (apt-get install chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, headless=True,
                               args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield b
        finally:
            b.close()
