"""pdf: the printed report has a cover, a contents page with the right page numbers, page
numbers on every page, and a bookmark (page range) for every chapter; re-prints are identical."""

from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path

import pytest

from voicescount import pdf
from voicescount.registry import Project

ROOT = Path(__file__).resolve().parents[1]
TINY = Path(__file__).parent / "fixtures" / "tiny"
SVG = (
    "data:image/svg+xml;base64,PHN2ZyB4bWxucz0naHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmcnIHdpZHRoPScx"
    "MDAnIGhlaWdodD0nNTAnPjxyZWN0IHdpZHRoPScxMDAnIGhlaWdodD0nNTAnIGZpbGw9J2JsdWUnLz48L3N2Zz4="
)


def _tiny_project(root: Path) -> Project:
    """The tiny fixture with two chapters (a long one, then one with a figure and table)."""
    shutil.copytree(TINY, root)
    shutil.copy(ROOT / "data" / "dimensions.yml", root / "data" / "dimensions.yml")
    shutil.copy(root / "analyses" / "tiny.ipynb", root / "analyses" / "findings.ipynb")
    (root / "analyses" / "chapters.yml").write_text("chapters:\n  - tiny\n  - findings\n")
    project = Project(root)
    paras = "\n\n".join(f"Paragraph {i} on water and sanitation." for i in range(110))
    for iso, cyc in project.cycles():
        for lang in project.cycle(iso, cyc).languages:
            d = project.report_dir(iso, cyc) / lang
            d.mkdir(parents=True, exist_ok=True)
            (d / "tiny.md").write_text(
                f"# Overview {lang}\n\n{paras}\n\n"
                '<a href="findings.html#fig-water">see the chart</a>\n',
                encoding="utf-8",
            )
            (d / "findings.md").write_text(
                "# Key findings\n\n## Gaps\n\nWomen 40%.\n\n"
                f'<figure id="fig-water"><img alt="chart" src="{SVG}"/><figcaption>Water '
                '<a href="tables/water.csv" download>Download CSV</a></figcaption></figure>\n\n'
                "| group | value |\n|---|---|\n| women | 40 |\n",
                encoding="utf-8",
            )
    return project


def test_clean_prefixes_ids_and_links_chapters_together(tmp_path):
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(
        '<article><h1 id="t">T<a class="headerlink" href="#t">#</a></h1>'
        '<a href="#t">self</a> <a href="other.html#fig-a">other</a> <a href="other.html">page</a>'
        ' <a href="tables/x.csv" download>csv</a> <a href="../../x.html">out</a>'
        ' <a href="https://example.org">web</a><button>menu</button>'
        "<details><summary>more</summary><figure>f</figure></details></article>",
        "lxml",
    )
    art = soup.article
    pdf._clean(art, 1, {"this.html": 1, "other.html": 2}, tmp_path, "", "report/ZZ/2023/en/")
    out = str(art)
    assert 'id="c1-t"' in out and 'href="#c1-t"' in out
    assert 'href="#c2-fig-a"' in out and 'href="#ch-2"' in out
    assert "tables/x.csv" not in out and "csv</a>" not in out  # a file link means nothing on paper
    assert "../../x.html" not in out and "out" in out
    assert 'href="https://example.org"' in out and "<button" not in out
    assert "<details open" in out  # folded charts are printed
    soup2 = BeautifulSoup('<article><a href="tables/x.csv">csv</a></article>', "lxml")
    pdf._clean(soup2.article, 1, {}, tmp_path, "https://b.org/book", "report/ZZ/2023/en/")
    assert 'href="https://b.org/book/report/ZZ/2023/en/tables/x.csv"' in str(soup2.article)


def test_assemble_has_cover_contents_and_chapters():
    chapters = [pdf.Chapter("a.html", "Overview", "<h1>Overview</h1>"),
                pdf.Chapter("b.html", "Key <findings>", "<h1>Key</h1>")]  # fmt: skip
    doc = pdf.assemble(chapters, lang="vi", title="T", subtitle="S", coalition="C",
                       date="2023-04-15", notice=("N", "body"), pages=[3, 5])  # fmt: skip
    assert '<section class="cover">' in doc and "Mục lục" in doc and "body" in doc
    assert (
        '<a href="#ch-2"><span class="t">Key &lt;findings&gt;</span><span class="n">5</span>' in doc
    )
    assert doc.count('<section class="chapter"') == 2


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    try:
        pdf.find_chromium()
    except Exception as err:  # noqa: BLE001
        pytest.skip(str(err))
    from voicescount.book import build_book

    root = tmp_path_factory.mktemp("pdf") / "p"
    project = _tiny_project(root)
    build_book(project)
    first = pdf.export_pdf(project, "ZZ", 2023, root / "out", langs=["en", "vi"])
    again = pdf.export_pdf(project, "ZZ", 2023, root / "again", langs=["en"])
    return project, first, again


@pytest.mark.slow
@pytest.mark.browser
def test_pdf_has_cover_contents_page_numbers_and_a_range_per_chapter(printed):
    from pypdf import PdfReader

    _project, (en, vi), _ = printed
    reader = PdfReader(en)
    n = len(reader.pages)
    texts = [unicodedata.normalize("NFKC", p.extract_text()) for p in reader.pages]  # ﬁ -> fi
    assert "Zedland citizen survey 2023" in texts[0] and "Synthetic example data" in texts[0]
    assert "Contents" in texts[1]
    for k, text in enumerate(texts, start=1):
        assert f"Page {k} / {n}" in text  # footer page numbers on every page
    outline = [(o.title, reader.get_destination_page_number(o) + 1) for o in reader.outline]
    assert [t for t, _ in outline] == ["Contents", "Overview en", "Key findings"]
    starts = [p for _, p in outline[1:]]
    assert starts[0] == 3 and starts[0] < starts[1] <= n  # every chapter has a page range
    assert "Overview en" in texts[starts[0] - 1] and "Key findings" in texts[starts[1] - 1]
    assert "Paragraph 0 on water" in texts[starts[0] - 1]
    assert "Women 40%" in texts[starts[1] - 1] and "Water" in texts[starts[1] - 1]
    toc_numbers = re.findall(r"(Overview en|Key findings)\s+(\d+)", texts[1])
    assert [int(p) for _, p in toc_numbers] == starts  # the contents page says the same
    assert reader.metadata["/CreationDate"] == "D:20230415000000Z"
    assert reader.trailer["/Root"]["/PageMode"] == "/UseOutlines"
    vi_reader = PdfReader(vi)
    assert "Mục lục" in vi_reader.pages[1].extract_text()
    assert len(vi_reader.outline) == 3


@pytest.mark.slow
@pytest.mark.browser
def test_pdf_reprint_is_byte_identical(printed):
    _project, (en, _vi), (again,) = printed
    assert en.read_bytes() == again.read_bytes()


def test_missing_built_page_says_build_first(tmp_path):
    from voicescount.errors import InputError

    project = _tiny_project(tmp_path / "p")
    with pytest.raises(InputError, match="voicescount all"):
        pdf.report_chapters(project, "ZZ", 2023, "en", tmp_path / "nothing")


def test_report_pages_are_read_from_the_languages_edition_of_the_book(tmp_path):
    """The book has an edition per language: <html>/<lang>/report/<ISO>/<cycle>/<lang>/."""
    project = _tiny_project(tmp_path / "p")
    html = tmp_path / "html"
    for f in pdf.report_pages(project, "ZZ", 2023, "vi"):
        page = html / "vi" / f"{f}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(
            '<html><body><article class="bd-article"><h1>Trang</h1>'
            '<a href="tables/x.csv" download>CSV</a></article></body></html>',
            encoding="utf-8",
        )
    chapters = pdf.report_chapters(project, "ZZ", 2023, "vi", html, "https://b.org/book")
    assert [c.page for c in chapters] == ["tiny.html", "findings.html"]
    assert all(c.title == "Trang" for c in chapters)
    assert 'href="https://b.org/book/vi/report/ZZ/2023/vi/tables/x.csv"' in chapters[0].body


@pytest.mark.slow
@pytest.mark.browser
def test_export_all_writes_all_five_formats_for_the_example_cycle(tmp_path):
    """`export(..., EXPORT_KINDS)` on the example VN 2022 cycle, with stand-in built pages."""
    try:
        pdf.find_chromium()
    except Exception as err:  # noqa: BLE001
        pytest.skip(str(err))
    from voicescount.estimates import download_files
    from voicescount.publish import EXPORT_KINDS, export
    from voicescount.report import downloads_section  # the pages render the links

    root = tmp_path / "p"
    root.mkdir()
    for name in ("data", "analyses"):
        shutil.copytree(ROOT / name, root / name)
    for cyc in ("2020", "2022"):
        if (ROOT / "build" / "VN" / cyc).is_dir():
            shutil.copytree(ROOT / "build" / "VN" / cyc, root / "build" / "VN" / cyc)
    project = Project(root)
    html = tmp_path / "html"
    for lang in project.cycle("VN", 2022).languages:
        for f in pdf.report_pages(project, "VN", 2022, lang):
            page = html / f"{f}.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(
                f'<html><body><article class="bd-article"><h1>{Path(f).name} ({lang})</h1>'
                "<p>Chapter text.</p></article></body></html>",
                encoding="utf-8",
            )
    out = tmp_path / "out"
    written = export(project, "VN", 2022, list(EXPORT_KINDS), out, html_dir=html)
    assert all(p.is_file() for p in written)
    for _kind, rel in download_files(project, "VN", 2022):
        assert (out / rel).is_file(), rel  # every file the download page links exists
    assert any(p.match("opensdg/data/indicator_*.csv") for p in written)
    assert (out / "sdmx" / "VN_2022.csv").is_file()
    section = downloads_section(project, "VN", 2022, "vi")
    for _kind, rel in download_files(project, "VN", 2022):
        assert f"../../../../downloads/VN/2022/{rel}" in section
