"""The generated page in a real headless Chromium: it loads, tables sort on click, no console errors,
and a hostile model name renders as text (and runs nothing).

Driven by Selenium (the W3C WebDriver client, maintained by the Selenium project) with Debian's
/usr/bin/chromedriver; skipped with the reason when Chromium, chromedriver or selenium is absent.
"""
from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from avsbench_robust.board import paper
from avsbench_robust.board.entries import Entry
from avsbench_robust.board.html import render_html
from avsbench_robust.board.rows import row_from_entry

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install selenium)")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium chromium-driver)"),
    pytest.mark.skipif(CHROMEDRIVER is None, reason="chromedriver not installed (apt-get install chromium-driver)"),
]


def _rows():
    rows = []
    for r in paper.PAPER_ROWS:
        entry = Entry(name=paper.entry_name(r), path=Path("."), metadata=paper.metadata_for(r),
                      results=paper.results_for(r))
        rows.append(row_from_entry(entry))
    evil = dataclasses.replace(rows[0], name="evil-entry", model=HOSTILE, backbone=HOSTILE)
    return rows + [evil]


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(30)
    yield drv
    drv.quit()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("page") / "index.html"
    path.write_text(render_html(_rows()), encoding="utf-8")
    return path


def _column(table, index: int) -> list[str]:
    from selenium.webdriver.common.by import By

    return [tr.find_elements(By.TAG_NAME, "td")[index].text for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr")]


def test_page_loads_sorts_and_escapes(driver, page: Path) -> None:
    from selenium.webdriver.common.by import By

    driver.get(page.as_uri())
    assert driver.title == "AVSBench-Robust leaderboard"
    tables = driver.find_elements(By.CSS_SELECTOR, "table.board")
    assert len(tables) == 3  # S4, MS3, AVSS (all AVSBench rows)
    assert len(driver.find_elements(By.CSS_SELECTOR, "svg circle")) > 0

    s4 = driver.find_element(By.ID, "t-s4-avsbench")
    heads = s4.find_elements(By.CSS_SELECTOR, "thead th button")
    names = [h.text.replace(" ▲", "").replace(" ▼", "") for h in heads]
    col = names.index("pos mIoU %")
    heads[col].click()
    asc = [float(v) for v in _column(s4, col)]
    assert asc == sorted(asc) and asc[0] < asc[-1]
    heads[col].click()
    assert [float(v) for v in _column(s4, col)] == sorted(asc, reverse=True)
    model_col = names.index("Model")
    heads[model_col].click()
    models = _column(s4, model_col)
    keys = [tr.find_elements(By.TAG_NAME, "td")[model_col].get_attribute("data-v")
            for tr in s4.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert keys == sorted(keys)

    # the hostile name is text in a cell, not markup: no extra script/img elements, no alert
    assert any(m.startswith(HOSTILE + " · ") for m in models)
    assert len(driver.find_elements(By.TAG_NAME, "script")) == 1
    assert driver.find_elements(By.TAG_NAME, "img") == []
    assert driver.execute_script("return document.querySelectorAll('td script, td img').length") == 0

    errors = [e for e in driver.get_log("browser") if e.get("level") in ("SEVERE", "ERROR")]
    assert errors == [], errors


def test_fits_1280_px_with_details_open_and_links(driver, page: Path, tmp_path: Path) -> None:
    """No horizontal scroll at 1280 px (even with every details panel open); paper/code links present."""
    import os

    from selenium.webdriver.common.by import By

    driver.set_window_size(1280, 900)
    driver.get(page.as_uri())
    inner = driver.execute_script("return window.innerWidth")
    driver.set_window_size(1280 + (1280 - inner), 900)  # the viewport itself is 1280 px wide
    assert driver.execute_script("return window.innerWidth") == 1280

    def overflow() -> int:
        return driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")

    assert overflow() <= 0
    summaries = driver.find_elements(By.CSS_SELECTOR, "details summary")
    assert summaries
    for summary in summaries:
        driver.execute_script("arguments[0].scrollIntoView()", summary)
        summary.click()
    assert all(d.get_attribute("open") is not None for d in driver.find_elements(By.TAG_NAME, "details"))
    assert overflow() <= 0
    links = driver.find_elements(By.CSS_SELECTOR, "table.board a[href^='https://']")
    assert len(links) >= 20 and all(a.get_attribute("rel") == "noopener noreferrer" for a in links)
    assert driver.find_elements(By.CSS_SELECTOR, "#submit pre")  # the how-to-submit section
    shot = Path(os.environ.get("AVSB_SCREENSHOT_DIR", tmp_path)) / "leaderboard-1280.png"
    driver.set_window_size(1280 + (1280 - inner), 1400)
    driver.execute_script("window.scrollTo(0, 0)")
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
