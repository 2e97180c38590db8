"""vnr: the draft VNR chapter opens in Word, holds the findings and the notice, keeps
respondents' words as text, and is byte-identical when re-run."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest
from docx import Document

from voicescount import vnr
from voicescount.i18n import t
from voicescount.vnr import Figure, VnrChapter, md_text, plain_text, stable_zip

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = '=HYPERLINK("http://x") [click](http://evil) ![img](x.png) <script>alert(1)</script> # not a heading \x07'


def _png() -> bytes:
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1], [0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _chapter(lang: str = "en", notice: bool = True) -> VnrChapter:
    return VnrChapter(
        iso="VN",
        cycle=2022,
        lang=lang,
        title="Leaving no one behind: what communities told us",
        subtitle="Draft chapter: Viet Nam, 2022",
        date="2022-08-26",
        author="Coalition",
        notice=("Synthetic example data", "Not real people.") if notice else None,
        draft_note="Draft for the VNR team.",
        intro="Intro.",
        findings_intro="Significant gaps.",
        findings=[
            {
                "kind": "gap",
                "variable": "basic_water",
                "grouping": "disability",
                "text": "Basic water: With disability 61.0%, compared with 80.0% (−19.0 pp).",
                "href": "",
            },
            {
                "kind": "change",
                "variable": "warned",
                "grouping": "",
                "text": "Warned in time improved from 55% to 71%.",
                "href": "",
            },
        ],  # fmt: skip
        no_findings="None.",
        figures=[
            Figure("basic_water--disability", _png(), "Dot chart alt text", "Figure 1. Water")
        ],
        quotes=[(HOSTILE, "Youth, focus group (Water)")],
        methods=["Design: weighted.", "A cell with fewer than 5 respondents is suppressed."],
        references=[("Report: Key findings", "report/VN/2022/en/key_findings.html")],
    )


def test_md_text_keeps_respondent_words_inert():
    out = md_text(HOSTILE)
    assert "\\[click\\](http://evil)" in out  # an escaped bracket cannot open a link
    assert "\\!\\[img\\]" in out and "\\<script\\>" in out
    assert "\x07" not in out and "\n" not in out
    assert md_text("# heading").startswith("\\#")
    assert md_text("1. item").startswith("1\\.")
    assert md_text("- item").startswith("\\-")
    assert md_text("line one\n\n# two") == "line one # two"  # no line break: no heading
    assert plain_text("a\x00b\x1fc\n d") == "abc d"


def test_stable_zip_ignores_member_times():
    def make(ts):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(zipfile.ZipInfo("a.xml", date_time=ts), b"<a/>")
            z.writestr(zipfile.ZipInfo("b.xml", date_time=ts), b"<b/>")
        return buf.getvalue()

    one, two = make((2020, 1, 1, 0, 0, 0)), make((2024, 5, 6, 7, 8, 10))
    assert one != two
    assert stable_zip(one) == stable_zip(two)
    assert zipfile.ZipFile(io.BytesIO(stable_zip(one))).read("b.xml") == b"<b/>"


def test_docx_opens_holds_findings_notice_quote_as_text_and_is_byte_identical(tmp_path):
    ch = _chapter()
    path = vnr.write_docx(ch, tmp_path / "a")
    doc = Document(str(path))
    text = "\n".join(p.text for p in doc.paragraphs)
    for f in ch.findings:
        assert f["text"] in text
    assert "Synthetic example data" in text and "Not real people." in text
    assert plain_text(HOSTILE) in text  # the quote is a plain run, not a field or hyperlink
    assert "Design: weighted." in text and "report/VN/2022/en/key_findings.html" in text
    xml = zipfile.ZipFile(path).read("word/document.xml").decode()
    assert "<script>" not in xml  # XML-escaped text, not markup
    assert "w:hyperlink" not in xml and "w:fldSimple" not in xml and "w:instrText" not in xml
    assert 'descr="Dot chart alt text"' in xml  # figures carry their alt text
    assert len(doc.inline_shapes) == 1
    cp = doc.core_properties
    assert cp.created.date().isoformat() == "2022-08-26" == cp.modified.date().isoformat()
    assert cp.last_modified_by == "Coalition" and cp.title == ch.title
    assert {i.date_time for i in zipfile.ZipFile(path).infolist()} == {vnr.FIXED_ZIP_TIME}
    again = vnr.write_docx(_chapter(), tmp_path / "b")
    assert path.read_bytes() == again.read_bytes()


def test_docx_without_notice_when_not_synthetic(tmp_path):
    path = vnr.write_docx(_chapter(notice=False), tmp_path)
    assert "Synthetic example data" not in vnr.docx_text(path)


def test_markdown_lists_findings_figures_and_escapes_quotes(tmp_path):
    path = vnr.write_markdown(_chapter(), tmp_path)
    md = path.read_text(encoding="utf-8")
    assert md.startswith("# Leaving no one behind: what communities told us\n")
    assert "1. Basic water: With disability 61.0%" in md and "2. Warned in time" in md
    assert "> **Synthetic example data**: Not real people." in md
    assert "](vnr_VN_2022_en_figures/basic_water--disability.png)" in md
    assert (tmp_path / "vnr_VN_2022_en_figures" / "basic_water--disability.png").is_file()
    quote = next(line for line in md.splitlines() if "HYPERLINK" in line)
    assert quote.startswith("> ") and "[click](" not in quote and "<script>" not in quote
    assert "<report/VN/2022/en/key_findings.html>" in md
    again = vnr.write_markdown(_chapter(), tmp_path / "b")
    assert again.read_bytes() == path.read_bytes()


# --------------------------------------------------------------------------- example cycle


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """A copy of the example project (data, analyses, book config) with its build cache."""
    root = tmp_path_factory.mktemp("vnr") / "p"
    root.mkdir()
    for name in ("data", "analyses"):
        shutil.copytree(ROOT / name, root / name)
    for name in ("_config.yml", "intro.md"):
        shutil.copy(ROOT / name, root / name)
    for cyc in ("2020", "2022"):
        src = ROOT / "build" / "VN" / cyc
        if src.is_dir():  # a warm cache saves minutes; the key decides whether it is used
            shutil.copytree(src, root / "build" / "VN" / cyc)
    from voicescount.registry import Project

    return Project(root)


@pytest.mark.slow
def test_example_cycle_chapter_quotes_the_report_findings_in_each_language(example, tmp_path):
    from voicescount import report

    written = vnr.export_vnr(example, "VN", 2022, tmp_path)
    names = {p.name for p in written}
    assert {"vnr_VN_2022_en.docx", "vnr_VN_2022_vi.docx", "vnr_VN_2022_en.md"} <= names
    est = report.estimate_cycle(example, "VN", 2022)
    prev = report.estimate_cycle(example, "VN", 2020)
    change = report.changes(est, prev, example.rules)
    for lang in ("en", "vi"):
        items = report.findings(est, example.indicators, example.dimensions,
                                example.country("VN"), lang, change, (2022, 2020))  # fmt: skip
        assert items, "the example cycle has planted gaps"
        text = vnr.docx_text(tmp_path / f"vnr_VN_2022_{lang}.docx")
        for f in items:
            assert f["text"] in text
        assert t("notice.synthetic_title", lang) in text
        doc = Document(str(tmp_path / f"vnr_VN_2022_{lang}.docx"))
        assert len(doc.inline_shapes) == sum(f["kind"] == "gap" for f in items)
    first = (tmp_path / "vnr_VN_2022_vi.docx").read_bytes()
    vnr.export_vnr(example, "VN", 2022, tmp_path / "again", langs=["vi"])
    assert (tmp_path / "again" / "vnr_VN_2022_vi.docx").read_bytes() == first
