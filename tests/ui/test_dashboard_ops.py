"""The dashboard's operator views in headless Chromium against a real server: discovery
approve/reject, an alert firing live, and the metrics sparklines drawn from the history."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.discovery.conftest import math_def, register, write_def
from tests.support import HangarProcess
from tests.ui.conftest import SCREENSHOTS

# Metrics are sampled five times a second so the sparklines have points within a second.
CONFIG = """
providers: {}
observability:
  history_interval_s: 0.2
"""


@pytest.fixture(scope="module")
def hangar_config() -> str:
    return CONFIG


@pytest.fixture(scope="module")
def page(browser: Any, hangar: HangarProcess) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    p = ctx.new_page()
    p.set_default_timeout(20_000)
    p.goto(hangar.base + "/ui/")
    p.wait_for_selector("#conn:has-text('live')")
    try:
        yield p
    finally:
        ctx.close()


def test_approve_and_reject_discovered_providers(
    page: Any, api: httpx.Client, tmp_path: Path
) -> None:
    defs = tmp_path / "defs"
    write_def(defs, "found-ok", math_def())
    write_def(defs, "found-no", math_def())
    sid = register(api, "filesystem", enabled=False, path=str(defs), require_approval=True)

    page.click("nav button[data-tab='discovery']")
    page.wait_for_selector("#pending:has-text('Nothing pending.')")
    page.click("#scan-all")  # the page's button scans every enabled source: this one is disabled
    page.wait_for_selector("#discovery-status:has-text('0 sources scanned')")
    assert api.post(f"/api/discovery/sources/{sid}/scan").status_code == 200
    page.wait_for_selector('#pending tr[data-candidate="found-ok"]')  # live, without a reload
    page.wait_for_selector('#pending tr[data-candidate="found-no"]')
    page.screenshot(path=str(SCREENSHOTS / "dashboard-discovery.png"))

    page.click("button[aria-label='Approve found-ok']")
    page.wait_for_selector("#discovery-status:has-text('Approved found-ok')")
    page.wait_for_selector('#pending tr[data-candidate="found-ok"]', state="detached")
    assert api.get("/api/providers/found-ok").status_code == 200
    page.click("nav button[data-tab='providers']")
    page.wait_for_selector('tr[data-provider="found-ok"]')

    page.click("nav button[data-tab='discovery']")
    page.click("button[aria-label='Reject found-no']")
    page.wait_for_selector("#discovery-status:has-text('Rejected found-no')")
    # Rejected: neither pending nor quarantined, and never a provider.
    page.wait_for_selector("#pending:has-text('Nothing pending.')")
    assert page.locator('[data-candidate="found-no"]').count() == 0
    assert api.get("/api/providers/found-no").status_code == 404
    assert api.get(f"/api/discovery/sources/{sid}").json()["rejected_count"] == 1
    api.delete("/api/providers/found-ok")


def test_an_alert_fires_into_the_open_alerts_view(page: Any, api: httpx.Client) -> None:
    page.click("nav button[data-tab='audit']")
    page.wait_for_selector("#alerts")
    pid = "dies-at-start"
    body = {"provider_id": pid, "mode": "subprocess", "command": [sys.executable, "-c", "import sys; sys.exit(3)"]}
    assert api.post("/api/providers", json=body).status_code == 201
    assert api.post(f"/api/providers/{pid}/start").status_code == 503  # the process dies: provider_dead

    row = page.locator(f'#alerts tr[data-alert="provider_dead:{pid}"]')
    row.wait_for(timeout=5000)  # live: the page was not reloaded
    assert row.get_attribute("data-state") == "active"
    assert "critical" in row.inner_text()
    assert page.locator("#alert-count").is_visible()
    assert int(page.inner_text("#alert-count")) >= 1
    page.screenshot(path=str(SCREENSHOTS / "dashboard-alerts.png"))
    api.delete(f"/api/providers/{pid}")


def test_sparklines_are_drawn_from_the_metrics_history(page: Any, hangar: HangarProcess, api: httpx.Client) -> None:
    # The provider count goes up and back down between samples (taken every 0.2 s).
    assert api.post("/api/providers", json={"provider_id": "spark", "mode": "subprocess",
                                            "command": [sys.executable, "-c", "pass"]}).status_code == 201
    time.sleep(0.6)
    assert api.delete("/api/providers/spark").status_code == 200
    time.sleep(0.6)
    page.reload()
    page.wait_for_selector("#metrics .spark svg polyline", state="attached")  # a flat line has no height
    history = api.get("/api/observability/metrics/history", params={"minutes": 30}).json()
    cards = page.locator("#metrics .spark")
    names = [cards.nth(i).get_attribute("data-metric") for i in range(cards.count())]
    assert names and set(names) <= set(history["series"])
    first = page.locator(f'#metrics .spark[data-metric="{names[0]}"]')
    # Read at once: the strip is redrawn every few seconds.
    drawn, raw = first.locator("svg").evaluate(
        "svg => [Number(svg.dataset.points), svg.querySelector('polyline').getAttribute('points')]")
    points = raw.split()
    # One vertex per sample the page read (the history has grown since, never shrunk).
    assert 2 <= drawn == len(points) <= len(history["series"][names[0]])
    assert all(len(p.split(",")) == 2 for p in points)
    assert first.get_attribute("role") == "img" and names[0].split("_")[0] in first.get_attribute("aria-label")

    # A series that moved draws a line that moves: not every vertex at the same height.
    moving = page.locator('#metrics .spark[data-metric="providers_total"] svg polyline').get_attribute("points")
    assert len({p.split(",")[1] for p in moving.split()}) > 1, moving
