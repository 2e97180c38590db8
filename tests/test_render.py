"""render: MyST templates with escaping, the view pieces, and the runner's Markdown-cell step."""

from __future__ import annotations

import html as htmllib
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from myst_html import to_html

from voicescount import mystcells, render

HOSTILE = "{eval}`x` <script>alert(1)</script> ```{code-cell}``` $x$ (lbl)= # heading"
MACROS = render.ENV.get_template("_macros.md.j2").make_module()


@pytest.mark.parametrize(
    "text",
    [
        HOSTILE,
        "# heading",
        "> quote",
        "- item",
        "+ item",
        "1. item",
        "2) item",
        "(lbl)=",
        "% comment",
        ":::{note}",
        "~~~",
        "===",
        "---",
        "[x](javascript:alert(1))",
        "![img](x.png)",
        "**bold** _em_",
        "&lt;b&gt; &amp;",
        "a\\b\\",
        "{{ sub }} {sub-ref}`today`",
        "$$x$$ $y$",
        "line one\n\n```\ncode\n```\n    indented\n# h",
        "http://evil.example/x www.evil.example evil.example mail@evil.example",
    ],
)
def test_escaped_text_renders_exactly_as_typed(text):
    html = to_html(render.myst_text(text))
    expected = " ".join(text.split())  # whitespace collapses to one space, nothing else
    assert htmllib.unescape(re.sub(r"<[^>]+>", "", html)).strip() == expected
    assert html.count("<p>") == 1  # one paragraph: no heading, list, quote, code or math
    assert "<a " not in html and "<code" not in html and "math" not in html


def test_escaping_keeps_ordinary_words_readable():
    for text in ("SDG 5: Bình đẳng giới", "50.0% (n = 12)", "16-24, women", "Miền Bắc, Miền Nam"):
        assert render.myst_text(text) == text


def test_templates_escape_every_value_unless_marked_safe():
    tpl = render.ENV.from_string("{{ x }}|{{ y }}|{{ z|label }}")
    out = tpl.render(x=HOSTILE, y=render.Safe("**raw**"), z="vn-2022-en_x.1")
    x, y, z = out.split("|")
    assert x == render.myst_text(HOSTILE) and y == "**raw**" and z == "vn-2022-en_x.1"
    with pytest.raises(ValueError, match="not a valid label"):
        tpl.render(x="", y="", z="bad label)=")
    with pytest.raises(ValueError):
        render.name("../etc/passwd")


def test_heading_paragraph_quote_and_notice_keep_hostile_text_literal():
    md = "".join(
        str(x)
        for x in (
            MACROS.heading(2, HOSTILE, "zz-2023-en-sec"),
            MACROS.para(HOSTILE),
            MACROS.bullets([HOSTILE, "b"]),
            MACROS.quote(render.Quote(HOSTILE, "Women, FGD")),
            MACROS.notice(HOSTILE),
        )
    )
    assert render.targets(md) == ["zz-2023-en-sec"]
    html = to_html(md)
    literal = (
        "{eval}`x` &lt;script&gt;alert(1)&lt;/script&gt; ```{code-cell}``` $x$ (lbl)= # heading"
    )
    assert html.count(literal) == 5
    assert "<script>" not in html and "<code" not in html and "math" not in html
    assert '<section id="zz-2023-en-sec">' in html or 'id="zz-2023-en-sec"' in html
    assert "— Women, FGD" in html and 'class="voicescount-quote' in html


def test_table_has_caption_header_rows_label_and_csv_link():
    df = pd.DataFrame({"Group": ["Women", HOSTILE], "n": [12, 3456], "Share %": [50.0, None]})
    tab = render.table_view(df, "heard-x", "Caption " + HOSTILE, "vi", {"Share %": 1})
    assert tab.rows == [["Women", "12", "50,0"], [HOSTILE, "3.456", ""]]
    md = str(MACROS.table(tab, "zz-2023-vi", "vi"))
    assert render.targets(md) == ["zz-2023-vi-tab-heard-x"]
    html = to_html(md)
    assert "<caption>Caption {eval}`x` &lt;script&gt;" in html
    assert html.count("<tr") == 3 and "<th" in html
    assert re.search(r'<a[^>]+href="tables/heard-x.csv"', html)


class _Chart:
    alt = "Respondents by sex # and (lbl)= {eval}`x`"
    title = "Respondents by sex"
    lang = "en"

    def display_table(self):
        return pd.DataFrame({"Group": ["Women", "Men"], "Number": ["20", "18"]})


def test_figure_alt_caption_table_alternative_and_download_outside_the_collapsed_part():
    fig = render.figure_view(_Chart(), "heard-sex", aliases=["heard-gender"])
    md = str(MACROS.figure(fig, "bd-2023-bn", "en"))
    # the replaced chart's name is a label of this one too
    assert render.targets(md) == [
        "bd-2023-bn-fig-heard-gender",
        "bd-2023-bn-fig-heard-sex",
        "bd-2023-bn-alt-heard-sex",
    ]
    html = to_html(md)
    # the alt text is whole ('#' would start a YAML comment in an unquoted option)
    assert 'alt="Respondents by sex # and (lbl)= {eval}`x`"' in html
    assert 'src="figures/heard-sex.svg"' in html
    assert 'id="fig-heard-sex"' in html and 'id="fig-heard-gender"' in html  # old anchors
    # issue 13: the CSV link is in the caption, before and outside the collapsed table
    collapsed = html.index('class="dropdown')
    link = re.search(r'<a[^>]+href="tables/heard-sex.csv"', html)
    assert link and link.start() < collapsed
    assert "tables/heard-sex.csv" not in html[collapsed:]
    assert html[collapsed:].count("<tr") == 3  # the table alternative, collapsed


def test_details_collapses_its_body():
    tpl = render.ENV.from_string(
        '{% import "_macros.md.j2" as m %}{% call m.details(title) %}{{ body }}{% endcall %}'
    )
    html = to_html(tpl.render(title="More " + HOSTILE, body=HOSTILE))
    assert html.count("&lt;script&gt;") == 2 and 'class="dropdown' in html


def test_page_renders_sections_and_marks_its_output(tmp_path):
    page = render.Page("voices.md.j2", ["intro"], "en", prefix="zz-2023-en", k=3, available=False)
    data, meta = page._repr_mimebundle_()
    assert "at least 3 separate activities" in data["text/markdown"]
    assert "No qualitative data were collected in this cycle." in data["text/markdown"]
    assert meta == {"text/markdown": {mystcells.MARK: True}}
    assert str(page.section("quotes")) == ""  # not a section of this page
    assert page.k == 3


def _executed(outputs):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("view.section('x')", id="p-5")]
    nb.cells[0].outputs = outputs
    return nb


def test_outputs_to_cells_moves_marked_myst_into_a_markdown_cell():
    myst = nbformat.v4.new_output(
        "display_data",
        data={"text/markdown": "(l)=\n## Heading\n", "text/plain": "x"},
        metadata={"text/markdown": {mystcells.MARK: True}},
    )
    nb = mystcells.outputs_to_cells(_executed([myst]))
    code, md = nb.cells
    assert code.source == "view.section('x')" and code.outputs == []
    assert {"remove-cell", mystcells.MOVED_TAG} <= set(code.metadata["tags"])
    assert md.cell_type == "markdown" and md.source == "(l)=\n## Heading\n" and md.id == "p-5-md"
    nbformat.validate(nb)
    # other outputs stay with their cell, which then stays in the book
    html = nbformat.v4.new_output("display_data", data={"text/html": "<p>x</p>"})
    nb = mystcells.outputs_to_cells(_executed([html, myst]))
    assert nb.cells[0].outputs == [html] and "remove-cell" not in nb.cells[0].metadata["tags"]
    plain_md = nbformat.v4.new_output("display_data", data={"text/markdown": "# not ours"})
    nb = mystcells.outputs_to_cells(_executed([plain_md]))
    assert len(nb.cells) == 1 and nb.cells[0].outputs == [plain_md]


CONF = """\
extensions = ["myst_parser", "sphinx_design"]
myst_enable_extensions = ["colon_fence", "deflist", "dollarmath", "linkify"]
nitpicky = True
numfig = True  # as Jupyter Book
html_theme = "basic"
"""


def test_rendered_page_builds_with_real_sections_and_resolvable_targets(tmp_path):
    """Sphinx -n -W on a page made of the macros: sections are real, figure and table names
    are targets another page can {ref}/{numref}, the CSV downloads are checked files."""
    src = tmp_path / "src"
    (src / "tables").mkdir(parents=True)
    (src / "figures").mkdir()
    (src / "conf.py").write_text(CONF, encoding="utf-8")
    (src / "figures" / "heard-sex.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>', encoding="utf-8"
    )
    for name in ("heard-sex", "heard-x"):
        (src / "tables" / f"{name}.csv").write_text("a\n1\n", encoding="utf-8")
    tab = render.table_view(pd.DataFrame({"A": [HOSTILE]}), "heard-x", "Counts", "en")
    fig = render.figure_view(_Chart(), "heard-sex")
    page = "# Page\n\n" + "".join(
        str(x)
        for x in (
            MACROS.heading(2, HOSTILE, "zz-2023-en-sec"),
            MACROS.para(HOSTILE),
            MACROS.table(tab, "zz-2023-en", "en"),
            MACROS.figure(fig, "zz-2023-en", "en"),
        )
    )
    (src / "page.md").write_text(page, encoding="utf-8")
    (src / "index.md").write_text(
        "# Index\n\n```{toctree}\npage\n```\n\n{ref}`zz-2023-en-sec` {numref}`zz-2023-en-fig-"
        "heard-sex` {ref}`zz-2023-en-tab-heard-x`\n",
        encoding="utf-8",
    )
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-n", "-W", "-q", str(src), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    html = (out / "page.html").read_text(encoding="utf-8")
    assert re.search(r'<section id="[^"]+">\s*<span id="zz-2023-en-sec"></span><h2>', html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "_downloads/" in html  # the CSV links became checked downloads
    index = (out / "index.html").read_text(encoding="utf-8")
    for target in ("zz-2023-en-sec", "zz-2023-en-fig-heard-sex", "zz-2023-en-tab-heard-x"):
        assert f'href="page.html#{target}"' in index
    # a download link to a missing CSV fails the build
    (src / "tables" / "heard-x.csv").unlink()
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-n", "-W", "-q", "-E", str(src), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0 and "heard-x.csv" in proc.stderr


def test_templates_are_package_data():
    root = Path(render.__file__).parent / "templates"
    assert (root / "_macros.md.j2").is_file()
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '"templates/*.j2"' in pyproject
