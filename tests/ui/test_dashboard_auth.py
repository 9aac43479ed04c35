"""With auth on, the dashboard asks for a key once, refuses a wrong one, and then works
(REST with the header, WebSockets with the key as a subprotocol)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import HangarProcess, running
from tests.ui.conftest import SCREENSHOTS

ADMIN_KEY = "mcp_dashboard-test-admin-key-0123456789abcdef"


@pytest.fixture(scope="module")
def hangar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HangarProcess]:
    config = "auth:\n  enabled: true\nproviders: {}\n"
    with running(Path(tmp_path_factory.mktemp("ui-auth")), config, env={"HANGAR_ADMIN_KEY": ADMIN_KEY}) as proc:
        yield proc


def test_asks_for_a_key_refuses_a_wrong_one_then_goes_live(browser: Any, hangar: HangarProcess) -> None:
    ctx = browser.new_context(viewport={"width": 1366, "height": 800})
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(hangar.base + "/ui/")
        dialog = page.locator("#key-dialog")
        dialog.wait_for(state="visible")
        page.get_by_label("API key", exact=True).fill("mcp_wrong")
        page.get_by_role("button", name="Use key").click()
        page.wait_for_selector("#key-error:has-text('Refused')")
        page.screenshot(path=str(SCREENSHOTS / "dashboard-auth.png"))
        page.get_by_label("API key", exact=True).fill(ADMIN_KEY)
        page.get_by_role("button", name="Use key").click()
        dialog.wait_for(state="hidden")
        page.wait_for_selector("#conn:has-text('live')")  # the event socket authenticated too
        assert page.evaluate("sessionStorage.getItem('hangar.apiKey')") == ADMIN_KEY
    finally:
        ctx.close()
