"""The community brief: words from the store, no small counts, synthetic notice, <= 2 pages."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from voicescount import brief, estimates
from voicescount import voices as vo
from voicescount.i18n import t
from voicescount.registry import Project

ROOT = Path(__file__).resolve().parents[1]
PROJECT = Project(ROOT)
EDITIONS = [
    (iso, cy, lang) for iso, cy in PROJECT.cycles() for lang in PROJECT.cycle(iso, cy).languages
]


@pytest.fixture(scope="module")
def project() -> Project:
    return PROJECT


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", html, flags=re.S))


@pytest.mark.parametrize(("iso", "cycle", "lang"), EDITIONS)
def test_every_edition_has_a_brief_from_the_store(project, iso, cycle, lang):
    html = brief.brief_html(project, iso, cycle, lang)
    assert f'<html lang="{lang}">' in html
    assert t("notice.synthetic_title", lang) in html  # synthetic example data says so
    assert "<script" not in html and "http" not in _text(html)  # self-contained, no requests
    v = brief.brief_view(project, iso, cycle, lang)
    assert len(v["gaps"]) <= brief.MAX_FINDINGS and len(v["themes"]) <= brief.MAX_THEMES
    store = estimates.load(project, iso, cycle)
    if store.previous is None:
        assert v["changes"] == [] and t("brief.first", lang) in html
    else:  # tested changes only: as many statements as significant changes (at most 2)
        assert len(v["changes"]) == min(int(store.changes["significant"].sum()), 2)


def test_findings_are_the_stores_tested_gaps(project):
    v = brief.brief_view(project, "VN", 2022, "en")
    assert v["gaps"], "VN 2022 has significant gaps"
    assert all("compared with" in g for g in v["gaps"])
    assert v["changes"] and all("2020" in c for c in v["changes"])


def test_quotes_only_from_themes_raised_in_k_activities(project):
    cyc = project.cycle("VN", 2022)
    seg = vo.read_segments(project.cycle_dir("VN", 2022) / cyc.qualitative)
    k = project.rules.min_quote_group
    reach = seg.groupby("theme")["activity_id"].nunique()
    for lang in ("en", "vi"):
        v = brief.brief_view(project, "VN", 2022, lang)
        assert v["themes"]
        page = vo.select_quotes(seg, min_activities=k, lang=lang)  # the voices page's call
        for th in v["themes"]:
            assert th["quote"] in set(page["text"])  # already published there
            rows = seg[seg["text"].map(lambda x, q=th["quote"], lg=lang: vo.scrub(x, (), lg) == q)]
            assert len(rows) and all(reach[r] >= k for r in rows["theme"])


def test_counts_below_the_threshold_are_not_shown():
    assert brief.shown_count(3, 5, "en") == "fewer than 5"
    assert brief.shown_count(0, 5, "en") == "0"
    assert brief.shown_count(1234, 5, "en") == "1,234"


def test_small_groups_are_withheld_on_the_brief(project, monkeypatch):
    store = estimates.load(project, "VN", 2022)
    groups = store.groups.copy()
    groups.loc[groups["group"] == "lgbt", "n"] = 3
    groups.loc[groups["group"] == "children", "n"] = 7  # children: the stricter threshold
    small = store.__class__(**{**store.__dict__, "groups": groups})
    monkeypatch.setattr(brief.estimates, "load", lambda *a: small)
    html = brief.brief_html(project, "VN", 2022, "en")
    assert ": 3<" not in html and ": 7<" not in html
    assert "LGBT people: fewer than 5" in html
    assert "Children (11-15): fewer than 10" in html


def test_brief_html_is_deterministic_and_listed_for_download(project):
    a = brief.brief_html(project, "KE", 2023, "sw")
    assert a == brief.brief_html(project, "KE", 2023, "sw")
    files = dict(estimates.download_files(project, "KE", 2023))
    html, pdf = brief.brief_files("KE", 2023, "sw")
    assert files["brief_html:sw"] == html and files["brief_pdf:sw"] == pdf


@pytest.mark.browser
def test_every_brief_prints_on_at_most_two_a4_pages(project, tmp_path):
    from pypdf import PdfReader

    from voicescount import pdf

    try:
        pdf.find_chromium()
    except Exception as err:  # noqa: BLE001
        pytest.skip(str(err))
    for iso, cycle in project.cycles():
        written = brief.export_brief(project, iso, cycle, tmp_path / iso / str(cycle))
        langs = project.cycle(iso, cycle).languages
        assert len(written) == 2 * len(langs)
        for path in written:
            assert path.is_file()
            if path.suffix == ".pdf":
                reader = PdfReader(io.BytesIO(path.read_bytes()))
                assert 1 <= len(reader.pages) <= 2, (path.name, len(reader.pages))
                box = reader.pages[0].mediabox
                assert float(box.width) == pytest.approx(595, abs=2)  # A4 in points
                assert float(box.height) == pytest.approx(842, abs=2)
                if path.name.endswith("_en.pdf"):
                    assert t("notice.synthetic_title", "en") in reader.pages[0].extract_text()
    again = brief.export_brief(project, "VN", 2022, tmp_path / "again")
    first = sorted((tmp_path / "VN" / "2022").rglob("*.pdf"))
    assert [p.read_bytes() for p in first] == [
        p.read_bytes() for p in sorted(x for x in again if x.suffix == ".pdf")
    ]  # same bytes on a re-print


@pytest.mark.browser
def test_export_writes_what_the_pages_link(project, tmp_path):
    """`export brief quality` writes every brief/quality file download_files names, and the
    methods page's downloads list links each of them."""
    from voicescount import pdf
    from voicescount.publish import EXPORT_KINDS, export
    from voicescount.report import downloads_list

    try:
        pdf.find_chromium()
    except Exception as err:  # noqa: BLE001
        pytest.skip(str(err))
    assert {"brief", "quality"} <= set(EXPORT_KINDS)  # `voicescount export all` writes both
    out = tmp_path / "KE" / "2023"
    written = export(project, "KE", 2023, ["brief", "quality"], out)
    ours = [
        rel
        for kind, rel in estimates.download_files(project, "KE", 2023)
        if kind.split(":")[0] in ("brief_html", "brief_pdf", "quality")
    ]
    assert len(ours) == 2 * 2 + 1  # en and sw, HTML and PDF, and one statement
    assert sorted(p.relative_to(out).as_posix() for p in written) == sorted(ours)
    links = downloads_list(project, "KE", 2023, "sw")
    for rel in ours:
        assert f"../../../../downloads/KE/2023/{rel}" in links


def test_a_cycle_without_a_cso_questionnaire_does_not_thank_zero_groups(project):
    cyc = project.cycle("BD", 2023)
    assert all(i.population != "cso" for i in cyc.instruments.values())
    v = brief.brief_view(project, "BD", 2023, "en")
    assert "0 community groups" not in v["intro"] and "people answered" in v["intro"]
    assert not any(line.startswith("Civil society") for line in v["who"]["groups"])


@pytest.mark.parametrize(("iso", "cycle", "lang"), EDITIONS[:2] + EDITIONS[-2:])
def test_links_resolve_to_files_the_export_writes(project, iso, cycle, lang):
    html = brief.brief_html(project, iso, cycle, lang)
    hrefs = re.findall(r'href="([^"]+)"', html)
    assert len(hrefs) == 3
    folder = Path(brief.brief_files(iso, cycle, lang)[0]).parent
    listed = {rel for _k, rel in estimates.download_files(project, iso, cycle)}
    for href in hrefs:
        assert not href.startswith(("http:", "https:", "/"))
        target = (Path("/x") / folder / href).resolve().relative_to("/x").as_posix()
        assert target in listed, href  # `voicescount export all` writes it beside the brief
