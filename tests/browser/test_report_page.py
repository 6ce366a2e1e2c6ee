"""The staff report of the session's newest monthly run, opened in headless Chromium with CJK
fonts: the Chinese text renders in a CJK font, the district table and the red KPI alarms are
visible, and a screenshot goes to data/test-artifacts/.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import sync_playwright

from tests.browser.test_ui import ARTIFACTS, launch_chromium

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("pipeline")]


def cjk_font_families() -> list[str]:
    """Fonts with Chinese glyphs; Debian's fonts-noto-cjk is installed when running as root."""

    def families() -> list[str]:
        if not shutil.which("fc-list"):
            return []
        out = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True)
        return [line for line in out.stdout.splitlines() if line.strip()]

    found = families()
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("no font with Chinese glyphs, and this user cannot apt-get install one")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-qq", "fonts-noto-cjk"]
    for cmd in (["apt-get", "update", "-qq"], install):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            pytest.skip(f"could not install fonts-noto-cjk ({' '.join(cmd)}): {proc.stderr[-500:]}")
    return families()


def _report(pipeline_run) -> tuple[Path, str]:
    result = pipeline_run.result
    path = Path(re.search(r"^report: +(\S+)$", result.stdout, re.M).group(1))
    return path, path.parent.name  # reports/<YYYY-MM>/segments.html


def test_the_chinese_report_renders_with_its_districts_and_alarms(pipeline_run):
    families = cjk_font_families()
    assert any("Noto" in f and "CJK" in f for f in families), families
    path, month = _report(pipeline_run)
    with duckdb.connect(str(pipeline_run.data_dir / "warehouse.duckdb"), read_only=True) as con:
        alarms = con.execute(
            "select count(*) from outputs.service_kpis where as_of_month = ? and alarm = 'alarm'",
            [f"{month}-01"],
        ).fetchone()[0]
        districts = con.execute(
            "select count(distinct district) from outputs.customer_portrait where as_of_month = ?",
            [f"{month}-01"],
        ).fetchone()[0]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        # offline: the report must need nothing from the network
        context = browser.new_context(offline=True, viewport={"width": 1300, "height": 1000})
        page = context.new_page()
        page.goto(path.as_uri())
        title = page.locator("h1")
        assert title.inner_text() == "客户细分分析报告"
        # the heading is drawn with a CJK font, not boxes: Chromium reports the fonts it used
        session = context.new_cdp_session(page)
        session.send("DOM.enable")
        session.send("CSS.enable")
        node = session.send(
            "DOM.querySelector",
            {"nodeId": session.send("DOM.getDocument")["root"]["nodeId"], "selector": "h1"},
        )["nodeId"]
        used = session.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        assert any("CJK" in f["familyName"] for f in used), used
        # the alarms box heads the page, red, with one red row per alarm of the month
        box = page.locator("div.alarms")
        assert box.is_visible()
        assert box.locator("h2").inner_text() == "指标告警"
        assert box.evaluate("e => getComputedStyle(e).borderTopColor") == "rgb(192, 57, 43)"
        rows = box.locator("tr.alarm")
        assert rows.count() == alarms
        if alarms:
            assert rows.first.is_visible()
            colour = rows.first.locator("td").first.evaluate("e => getComputedStyle(e).color")
            assert colour == "rgb(192, 57, 43)"
        page.screenshot(path=str(ARTIFACTS / "report-top.png"))
        table = page.locator("table.districts")
        table.scroll_into_view_if_needed()
        assert table.is_visible()
        assert table.locator("tr").count() == districts + 1  # the header row
        assert page.locator("#districts").inner_text() == "分区县情况"
        page.screenshot(path=str(ARTIFACTS / "report-districts.png"))
        page.screenshot(path=str(ARTIFACTS / "report-full.png"), full_page=True)
        pdf = ARTIFACTS / "report.pdf"
        page.emulate_media(media="print")
        page.pdf(path=str(pdf))  # readable printed: Chromium lays it out for A4
        assert pdf.stat().st_size > 10_000
        browser.close()
