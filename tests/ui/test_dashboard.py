"""The dashboard in a real headless Chromium against a real server: offline, live, and driving it."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from tests.support import HangarProcess, fixture_provider
from tests.ui.conftest import SCREENSHOTS

CONFIG = f"""
providers:
  math:
    mode: subprocess
    command: [{sys.executable}, -m, hangar.examples.math_server]
groups:
  pool:
    members: [{{id: math}}]
"""


@pytest.fixture(scope="module")
def hangar_config() -> str:
    return CONFIG


@pytest.fixture(scope="module")
def page(browser: Any, hangar: HangarProcess) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    p = ctx.new_page()
    p.requested = []  # type: ignore[attr-defined]
    p.on("request", lambda r: p.requested.append(r.url))  # type: ignore[attr-defined]
    p.set_default_timeout(20_000)
    try:
        yield p
    finally:
        ctx.close()


def test_loads_with_nothing_leaving_localhost(page: Any, hangar: HangarProcess) -> None:
    page.goto(hangar.base + "/")  # redirects to /ui/
    page.wait_for_selector('tr[data-provider="math"]')
    page.wait_for_selector("#conn:has-text('live')")
    assert urlparse(page.url).path == "/ui/"
    hosts = {urlparse(u).hostname for u in page.requested}
    assert hosts == {"127.0.0.1"}, page.requested
    assert page.get_attribute("a[href='/schema/swagger']", "href") == "/schema/swagger"


def test_created_provider_appears_then_starts_and_answers_from_the_form(
    page: Any, hangar: HangarProcess, api: httpx.Client
) -> None:
    assert api.post("/api/providers", json=fixture_provider("fx", "ui-fx")).status_code == 201
    page.wait_for_selector('tr[data-provider="fx"]', timeout=1000)  # live, without a reload

    page.click("button[aria-label='Start fx']")
    page.wait_for_selector('tr[data-provider="fx"] [data-role="state"]:has-text("ready")')

    page.click("button[aria-label='Details of fx']")
    page.click("details[data-tool='add'] summary")  # keyboard: Tab to it, Enter
    form = page.locator("form[aria-label='Call add']")
    form.get_by_label("a *").fill("2")
    form.get_by_label("b *").fill("40")
    form.get_by_role("button", name="Call add").click()
    result = page.locator("form[aria-label='Call add'] + pre")
    result.filter(has_text="42").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "dashboard-providers.png"), full_page=False)


def test_logs_follow_live(page: Any, api: httpx.Client) -> None:
    page.click("nav button[data-tab='logs']")
    page.select_option("#logs-provider", "fx")
    time.sleep(0.3)  # the socket opens
    r = api.post("/api/providers/fx/tools/stderr_line/invoke", json={"arguments": {"text": "hello-from-ui"}})
    assert r.status_code == 200
    page.wait_for_selector("#logs:has-text('hello-from-ui')", timeout=5000)
    page.click("nav button[data-tab='events']")
    page.wait_for_selector("#events li")
    page.click("nav button[data-tab='groups']")
    page.wait_for_selector("#groups h3:has-text('pool')")
    page.screenshot(path=str(SCREENSHOTS / "dashboard-groups.png"))
    assert api.delete("/api/providers/fx").status_code == 200


def test_schema_page_renders_offline(page: Any, hangar: HangarProcess) -> None:
    page.requested.clear()
    page.goto(hangar.base + "/schema/swagger")
    page.wait_for_selector(".swagger-ui .info .title:has-text('Hangar')")
    assert {urlparse(u).hostname for u in page.requested} == {"127.0.0.1"}


def test_catalog_deploy_events_filter_and_audit(page: Any, hangar: HangarProcess, api: httpx.Client) -> None:
    entry = {"name": "example/calc", "description": "Calculator from the catalog",
             "command": [sys.executable, "-m", "hangar.examples.math_server"]}
    assert api.post("/api/catalog", json=entry).status_code == 201
    page.goto(hangar.base + "/ui/")
    page.click("nav button[data-tab='events']")
    page.fill("#events-filter input[name='type']", "ProviderRegistered")
    page.click("#events-filter button[type='submit']")
    page.click("nav button[data-tab='catalog']")
    page.click("button[aria-label='Deploy example/calc']")
    page.wait_for_selector('tr[data-provider="calc"]')  # the page switched to providers
    page.click("nav button[data-tab='events']")
    page.wait_for_selector("#events li:has-text('ProviderRegistered calc')")
    assert page.locator("#events li").count() == 1  # the filter kept only registrations
    page.click("nav button[data-tab='audit']")
    page.wait_for_selector("#audit td:has-text('DeployCatalogEntry')")
