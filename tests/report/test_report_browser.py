"""The report of a small dedup run in a real headless Chromium (Debian's package,
installed by scripts/setup.sh), driven by Playwright: no console or page error, every
chart rendered with content, a click on a cluster shows its members and their diff.

The screenshots (the charts; an opened cluster) are saved in the test's tmp folder, and
also as docs/report.png and docs/report-cluster.png (the README's pictures) when
OUROBOROS_SAVE_SCREENSHOT=1.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.sync_api import sync_playwright

from engine.report import write_report

CHROMIUM = "/usr/lib/chromium/chromium"
ROOT = Path(__file__).resolve().parents[2]


def _chromium() -> str:
    path = os.environ.get("OUROBOROS_CHROMIUM", CHROMIUM)
    assert os.access(path, os.X_OK), (
        f"no Chromium at {path}: run scripts/setup.sh (it installs Debian's chromium "
        "package), or point OUROBOROS_CHROMIUM at a Chromium binary"
    )
    return path


def test_report_in_headless_chromium(dedup_out: Path, tmp_path: Path):
    report = write_report(dedup_out)
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=_chromium(), headless=True, args=["--no-sandbox"]
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1300})
            # the page must need no network: any request other than the file fails the test
            context.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if route.request.url.startswith("file://")
                    else (problems.append(f"network request: {route.request.url}"), route.abort())
                ),
            )
            page = context.new_page()
            page.on(
                "console",
                lambda message: (
                    problems.append(f"console {message.type}: {message.text}")
                    if message.type in ("error", "warning", "assert")
                    else None
                ),
            )
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.goto(report.as_uri(), wait_until="load")

            charts = page.locator("div.chart")
            assert charts.count() >= 5
            page.wait_for_function(
                "() => [...document.querySelectorAll('div.chart')]"
                ".every(c => c.querySelector('svg.main-svg'))",
                timeout=15_000,
            )
            for index in range(charts.count()):
                chart = charts.nth(index)
                title = chart.locator("xpath=..").locator("h3").inner_text()
                box = chart.bounding_box()
                assert box and box["width"] > 100 and box["height"] > 100, title
                # drawn marks: bars, line points or pie slices with a real size
                marks = chart.locator("g.trace path, g.trace .point, g.slice path")
                assert marks.count() > 0, f"chart {title!r} drew nothing"
                drawn = chart.evaluate(
                    "c => [...c.querySelectorAll('g.trace path, g.slice path')]"
                    ".some(p => { const b = p.getBBox(); return b.width > 0 && b.height > 0; })"
                )
                assert drawn, f"chart {title!r} has only empty marks"

            detail = page.locator("#cluster-detail")
            assert not detail.is_visible()
            first_row = page.locator("tr.cluster-row").first
            size = int(first_row.locator("td").nth(1).inner_text().replace(",", ""))
            first_row.click()
            detail.wait_for(state="visible")
            members = detail.locator("tr.member")
            assert members.count() == min(size, 25)
            assert detail.locator("span.kept").count() == 1
            assert detail.locator(".diff del, .diff ins").count() > 0
            assert detail.locator(".doc").inner_text().strip()
            opened = tmp_path / "report-cluster.png"
            detail.scroll_into_view_if_needed()
            page.screenshot(path=str(opened), full_page=False)
            assert opened.stat().st_size > 10_000

            shot = tmp_path / "report.png"
            page.locator("#clusters").scroll_into_view_if_needed()
            page.evaluate("document.getElementById('clusters').scrollIntoView()")
            page.screenshot(path=str(shot), full_page=False)
            assert shot.stat().st_size > 10_000
            if os.environ.get("OUROBOROS_SAVE_SCREENSHOT") == "1":
                (ROOT / "docs").mkdir(exist_ok=True)
                shutil.copy(shot, ROOT / "docs" / "report.png")
                shutil.copy(opened, ROOT / "docs" / "report-cluster.png")
        finally:
            browser.close()
    assert not problems, "\n".join(problems)
