"""Headline-first pages in real headless Chromium (issue 14, item 3): on every VN 2022 page
that has a headline, in English and Vietnamese, the main message (its sentences) and its
chart lie inside the first 1280x900 screen, and come before the notices.

The book is the `example_book` fixture (a VN 2022-only copy built once per session).
"""

from __future__ import annotations

import re

import pytest
from browser import serve

from voicescount.errors import ConfigError
from voicescount.pdf import CHROMIUM_ARGS, find_chromium

try:
    CHROMIUM, NO_CHROMIUM = find_chromium(), ""
except ConfigError as err:
    CHROMIUM, NO_CHROMIUM = None, str(err)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(CHROMIUM is None, reason=f"Chromium not found: {NO_CHROMIUM}"),
]

WIDTH, HEIGHT = 1280, 900
# The pages that open with a headline (report.*_chapter sections start with "headline"):
# every report page of the cycle.
PAGES = ["overview", "key_findings", "who_heard", "sdg-1", "sdg-4", "sdg-5", "sdg-8", "sdg-13",
         "sdg-16", "inequalities", "trends", "explorer", "official", "scorecards", "voices",
         "recommendations", "synthesis", "methods"]  # fmt: skip
# Pages whose headline may have no chart: trends of a first cycle (the example book holds VN
# 2022 only, so no earlier cycle) says there is no change to show yet; the recommendations'
# uptake is one sentence above its table; synthesis (a table, and VN is the book's only
# country) and methods (the technical page: who was asked and how many) have no chart.
CHARTLESS = {"trends", "recommendations", "synthesis", "methods"}
# Pages whose headline chart is "what official data misses" (the SDG x group grid).
GRID = {"official": "official-grid", "explorer": "explorer-official-grid"}


@pytest.fixture(scope="module")
def site(example_book):
    from playwright.sync_api import sync_playwright

    html = example_book / "_build" / "html"
    with serve(html) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
        yield base, html, ctx
        ctx.close()
        browser.close()


def _inside(box, what: str) -> None:
    assert box is not None, f"{what} is not displayed"
    assert box["y"] >= 0 and box["y"] + box["height"] <= HEIGHT, f"{what} leaves the screen: {box}"
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, f"{what} leaves the screen: {box}"


@pytest.mark.parametrize("lang", ["en", "vi"])
@pytest.mark.parametrize("page", PAGES)
def test_main_message_and_its_chart_fit_the_first_screen(site, page, lang):
    base, html, ctx = site
    path = html / lang / "report" / "VN" / "2022" / lang / f"{page}.html"
    if not path.is_file():
        pytest.fail(f"no page {path}")
    tab = ctx.new_page()
    try:
        tab.goto(f"{base}/{lang}/report/VN/2022/{lang}/{page}.html", wait_until="load")
        block = tab.locator(".voicescount-headline").first
        assert block.count() == 1, "the page has no headline block"
        paras = block.locator(":scope > p")  # (a chart's anchor is an empty paragraph)
        texts = [i for i in range(paras.count()) if paras.nth(i).inner_text().strip()]
        assert 1 <= len(texts) <= 3, "a headline is one to three short paragraphs"
        for i in texts:
            _inside(paras.nth(i).bounding_box(), f"headline sentence {i + 1}")
        img = block.locator("figure img").first
        if page in CHARTLESS and img.count() == 0:
            return  # e.g. trends without an earlier cycle: the headline says so, no chart
        assert img.count() == 1, "the headline has no chart"
        tab.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=img.element_handle())
        _inside(img.bounding_box(), "the headline chart")
        assert img.get_attribute("alt"), "the headline chart has no alt text"
        if page in GRID:  # the grid itself, with its table alternative in the same block
            # Sphinx numbers same-named images of several cycles (official-grid3.svg)
            src = img.get_attribute("src").rsplit("/", 1)[-1]
            assert re.fullmatch(rf"{re.escape(GRID[page])}\d*\.svg", src), src
            assert block.locator("table").count() >= 1, "the grid has no table alternative"
        # The notices (synthetic data, provenance) stay on the page, below the headline.
        top = block.bounding_box()["y"]
        for notice in (".voicescount-provenance", ".admonition"):
            loc = tab.locator(notice).first
            assert loc.count() == 1, f"{notice} is missing"
            assert loc.bounding_box()["y"] > top, f"{notice} comes before the headline"
    finally:
        tab.close()
