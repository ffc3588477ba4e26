"""End to end: serve the dashboard and load it in headless Debian Chromium (Playwright)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from dataflows import lake
from tests.conftest import FlowRun

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(city_lake: FlowRun, tmp_path: Path):
    yield from serve(city_lake, tmp_path)


@pytest.fixture
def served_fleet(fleet_lake: FlowRun, tmp_path: Path):
    yield from serve(fleet_lake, tmp_path)


def serve(run: FlowRun, tmp_path: Path):
    """Serve the dashboard on the lake of `run` until the test ends; yield its URL."""
    port = free_port()
    env = {**run.env, "CITY_DASHBOARD_PORT": str(port)}
    log = tmp_path / "dashboard.log"
    with open(log, "w") as out:
        server = subprocess.Popen(  # from elsewhere: the project's .streamlit is not read
            [sys.executable, "-m", "dashboard"], env=env, cwd=tmp_path, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            assert time.monotonic() < deadline, "dashboard did not answer"
            time.sleep(0.3)
    yield url
    server.terminate()
    server.wait(timeout=30)


@pytest.mark.browser
def test_overview_in_a_real_browser_shows_the_lakes_figures(served, city_lake, tmp_path):
    con = lake.connect(city_lake.lake, read_only=True)
    total = con.sql("SELECT count(*) FROM readings").fetchone()[0]
    sensors = con.sql("SELECT count(*) FROM sensors").fetchone()[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(served, wait_until="domcontentloaded")
        value = page.locator('[data-testid="stMetric"]', has_text="Readings stored").locator(
            '[data-testid="stMetricValue"]'
        )
        value.wait_for(timeout=60_000)
        assert value.inner_text().strip() == f"{total:,}"
        reporting = page.locator('[data-testid="stMetric"]', has_text="Sensors reporting")
        assert f"/ {sensors:,}" in reporting.inner_text()
        assert page.get_by_text("Deploy", exact=True).count() == 0  # no development chrome
        assert page.locator('[data-testid="stMainMenu"]').count() == 0
        page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)  # let the charts draw
        shot = tmp_path / "overview.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
        page.get_by_role("link", name="Alerts").click()
        page.get_by_text("Status").first.wait_for(timeout=30_000)
        page.screenshot(path=str(tmp_path / "alerts.png"), full_page=True)
        browser.close()
    print(f"screenshots in {tmp_path}")


@pytest.mark.browser
def test_maintenance_page_in_a_real_browser(served_fleet, fleet_lake, tmp_path):
    con = lake.connect(fleet_lake.lake, read_only=True)
    assets = con.sql("SELECT count(DISTINCT asset_id) FROM maintenance_predictions").fetchone()[0]
    assert assets > 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{served_fleet}/maintenance", wait_until="domcontentloaded")
        value = page.locator('[data-testid="stMetric"]', has_text="Assets with predictions")
        value.locator('[data-testid="stMetricValue"]').wait_for(timeout=60_000)
        assert value.locator('[data-testid="stMetricValue"]').inner_text().strip() == str(assets)
        chart = page.locator(".js-plotly-plot").first
        chart.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)  # let the charts draw
        assert "predicted RUL" in chart.inner_text()
        shot = tmp_path / "maintenance.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
        browser.close()
    print(f"screenshot in {tmp_path}")


@pytest.mark.browser
def test_behind_single_sign_on_the_proxys_user_header_signs_the_actions(city_lake, tmp_path):
    run = FlowRun(
        city_lake.lake, {**city_lake.env, "CITY_DASHBOARD_ACTOR_HEADER": "X-Forwarded-User"}
    )
    served = serve(run, tmp_path)
    url = next(served)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_extra_http_headers({"X-Forwarded-User": "dana@city.example"})  # the proxy's
            page.goto(f"{url}/alerts", wait_until="domcontentloaded")
            page.get_by_text("Signed in as").wait_for(timeout=60_000)
            assert "dana@city.example" in page.get_by_text("Signed in as").inner_text()
            assert page.get_by_label("Your name (unauthenticated)").count() == 0
            page.screenshot(path=str(tmp_path / "alerts-signed-in.png"), full_page=True)
            browser.close()
    finally:
        next(served, None)
