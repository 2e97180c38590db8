"""The indicator explorer in headless Chromium, opened from a folder with file:// (as a reader
with the folder on a USB stick would): keyboard only, chart/table switch, the download is
exactly the rows shown, no console errors, no request outside the folder, axe-clean."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from browser import AXE_RUN_JS, AXE_TAGS, KNOWN_THEME_ISSUES, axe_source
from test_explorer import store_tables

from voicescount import explorer
from voicescount.errors import ConfigError
from voicescount.i18n import t
from voicescount.pdf import CHROMIUM_ARGS, find_chromium

try:
    CHROMIUM, NO_CHROMIUM = find_chromium(), ""
except ConfigError as err:
    CHROMIUM, NO_CHROMIUM = None, str(err)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(CHROMIUM is None, reason=f"Chromium not found: {NO_CHROMIUM}"),
]


@pytest.fixture
def opened(tiny_project, tmp_path):
    """(page, records, folder): the standalone explorer of the fixture store, loaded."""
    from playwright.sync_api import sync_playwright

    folder = tmp_path / "explorer"
    index = explorer.write_standalone(
        explorer.build_payload(tiny_project, "ZZ", 2023, "en", store_tables()), folder
    )
    rec: dict[str, list] = {"errors": [], "outside": []}
    inside = folder.resolve().as_uri()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(accept_downloads=True)

        def route(r):
            url = r.request.url
            if url.startswith(inside) or url.startswith(("data:", "blob:")):
                r.continue_()
            else:
                rec["outside"].append(url)
                r.abort()

        ctx.route("**/*", route)
        page = ctx.new_page()
        page.on("console", lambda m: rec["errors"].append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: rec["errors"].append(f"uncaught: {e}"))
        page.goto(index.as_uri(), wait_until="load")
        page.wait_for_selector("form.vc-x-controls:not([hidden])")
        yield page, rec, folder
        ctx.close()
        browser.close()


def _focus(page, selector: str, limit: int = 30) -> None:
    """Tab (keyboard only) until `selector` has the focus."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def _table(page) -> list[list[str]]:
    return page.evaluate(
        """() => [...document.querySelectorAll('.vc-x-data tr')].map(
             tr => [...tr.children].map(c => c.textContent))"""
    )


def _axe(page) -> list[dict]:
    page.add_script_tag(content=axe_source())
    found = page.evaluate(AXE_RUN_JS, AXE_TAGS)
    return [v for v in found if v["impact"] in ("serious", "critical")]


def test_keyboard_selection_switch_and_download(opened):
    page, rec, _ = opened
    summary = page.locator("[data-vc=summary]")
    assert page.locator("[data-vc=summary]").get_attribute("aria-live") == "polite"
    # the first indicator, by sex, this cycle: improving (the store's tested change)
    assert page.locator(".vc-x-status").get_attribute("data-status") == "improving"
    assert t("explorer.status_improving", "en") in summary.inner_text()
    assert page.locator("[data-vc=chart] svg circle").count() == 3  # overall, female, male
    assert page.locator("[data-vc=chart] svg .vc-x-official").count() == 1  # overall only

    _focus(page, "[data-vc=grouping]")
    page.keyboard.press("ArrowDown")  # sex -> sex × disability
    assert page.locator("[data-vc=grouping]").input_value() == "sex×disability"
    assert "Sex × Disability" in summary.inner_text() or "×" in summary.inner_text()
    assert page.locator("[data-vc=chart] svg .vc-x-dot-caution").count() == 1
    _focus(page, "[data-vc=cycle]")
    page.keyboard.press("ArrowUp")  # 2023 -> 2021
    assert page.locator("[data-vc=cycle]").input_value() == "2021"
    assert t("explorer.progress_none", "en") in summary.inner_text()
    page.keyboard.press("ArrowDown")  # back to 2023
    _focus(page, "[data-vc=indicator]")
    page.keyboard.press("ArrowDown")  # partner_violence: measured for all respondents only
    assert page.locator("[data-vc=grouping] option").count() == 1
    assert page.locator(".vc-x-status").get_attribute("data-status") == "no_change"
    assert t("explorer.no_official", "en") in summary.inner_text()
    page.keyboard.press("ArrowUp")
    assert page.locator("[data-vc=indicator]").input_value() == "basic_water"
    _focus(page, "[data-vc=grouping]")
    page.keyboard.press("ArrowDown")  # sex × disability again: suppressed and caution cells

    # chart -> table with the keyboard (radio group: arrow keys)
    assert page.locator("[data-vc=table]").is_hidden()
    _focus(page, "input[data-vc=view][value=chart]")
    page.keyboard.press("ArrowRight")
    assert page.locator("[data-vc=table]").is_visible()
    assert page.locator("[data-vc=chart]").is_hidden()
    rows = _table(page)
    caption = page.locator(".vc-x-data caption").inner_text()
    assert "2023" in caption
    head, body = rows[0], rows[1:]
    assert head[:4] == [t(f"explorer.col_{c}", "en") for c in ("group", "estimate", "ci", "n")]
    notes = {r[0]: r[-1] for r in body}
    assert t("legend.suppressed_secondary", "en") in notes.values()  # says why
    assert t("legend.caution", "en") in notes.values()
    by_group = {r[0]: r for r in body}
    assert by_group[t("group.overall", "en")][head.index(t("explorer.col_official", "en"))]

    _focus(page, "[data-vc=download]")
    with page.expect_download() as dl:
        page.keyboard.press("Enter")
    got = Path(dl.value.path()).read_text(encoding="utf-8-sig")
    assert list(csv.reader(io.StringIO(got))) == rows  # exactly the rows and cells shown
    assert not rec["errors"], rec["errors"]
    assert not rec["outside"], rec["outside"]


def test_what_official_data_misses_is_said(opened):
    page, _, _ = opened
    text = page.locator(".vc-x-misses").inner_text()
    # by sex in 2023: official data has no value for female or male (CGD has both)
    assert text == t("explorer.misses", "en").format(missing=2, total=3)
    _focus(page, "input[data-vc=view][value=chart]")
    page.keyboard.press("ArrowRight")
    cells = {r[0]: r for r in _table(page)[1:]}
    female = cells[next(k for k in cells if k.lower().startswith(("female", "women")))]
    assert t("explorer.official_missing", "en") in female


def test_axe_finds_no_serious_or_critical_violation(opened):
    page, rec, _ = opened
    page.locator("input[data-vc=view][value=table]").check()
    assert not rec["errors"] and not rec["outside"]
    # axe itself (not the page) reads the stylesheet with XMLHttpRequest, which file:// refuses
    assert _axe(page) == []
    page.locator("input[data-vc=view][value=chart]").check()
    assert _axe(page) == []


# --------------------------------------------------------------------------- in the book


@pytest.fixture(scope="module")
def book_explorer(request) -> tuple[Path, str]:
    """(html dir, path of the VN 2022 English explorer page in it): $VOICESCOUNT_TEST_BOOK
    (an html folder) if set, else the example book (built once per session)."""
    import os

    env = os.environ.get("VOICESCOUNT_TEST_BOOK")
    html = Path(env) if env else request.getfixturevalue("example_book") / "_build" / "html"
    pages = sorted(html.glob("**/report/VN/2022/en/explorer.html"))
    assert pages, f"no explorer page for VN 2022 (en) in {html}"
    return html, pages[0].relative_to(html).as_posix()


@pytest.mark.slow
def test_explorer_in_the_book(book_explorer):
    """The page the book builds: the widget starts (the script and style come from the
    book's _static), keyboard choice works, nothing from another site, axe-clean."""
    from browser import serve
    from playwright.sync_api import sync_playwright

    html, rel = book_explorer
    errors, outside = [], []
    with serve(html) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(accept_downloads=True)

        def route(r):
            url = r.request.url
            if url.startswith(base) or url.startswith(("data:", "blob:")):
                r.continue_()
            else:
                outside.append(url)
                r.abort()

        ctx.route("**/*", route)
        page = ctx.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
        page.goto(base + rel, wait_until="load")
        page.wait_for_selector("form.vc-x-controls:not([hidden])", timeout=10_000)
        assert page.locator("[data-vc=chart] svg").count() == 1
        before = page.locator(".vc-x-updated").inner_text()
        _focus(page, "[data-vc=indicator]", limit=400)
        page.keyboard.press("ArrowDown")
        assert page.locator(".vc-x-updated").inner_text() != before
        assert page.locator(".vc-x-progress").inner_text()
        _focus(page, "[data-vc=download]", limit=20)
        with page.expect_download() as dl:
            page.keyboard.press("Enter")
        got = Path(dl.value.path()).read_text(encoding="utf-8-sig")
        assert list(csv.reader(io.StringIO(got))) == _table(page)
        known = re.compile("|".join(KNOWN_THEME_ISSUES.values()))  # the theme's, not ours
        assert [e for e in errors if not known.search(e)] == [], errors
        assert not outside, outside
        serious = _axe(page)
        ctx.close()
        browser.close()
    assert serious == [], serious
