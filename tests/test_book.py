"""Book: toc generation from the registry, pre-build checks, table copies, the atomic build."""

from __future__ import annotations

import io
import json
import shutil

import pytest
import yaml

from voicescount import book
from voicescount.book import (
    BookBuildError,
    build_book,
    copy_assets,
    copy_tables,
    missing_pages,
    toc,
    write_toc,
)
from voicescount.errors import ConfigError
from voicescount.registry import Project
from voicescount.runner import execute


@pytest.fixture
def tiny(tiny_project) -> Project:
    return tiny_project


def test_each_edition_toc_lists_only_its_language_newest_cycle_first(tiny):
    assert book.editions(tiny) == ["en", "vi"]
    t = toc(tiny)
    assert t == toc(tiny, "en")
    assert t["format"] == "jb-book" and t["root"] == "intro"
    [part] = t["parts"]
    assert part["caption"] == "Zedland"
    assert [c["file"] for c in part["chapters"]] == [
        "report/ZZ/2023/en/tiny",
        "report/ZZ/2021/en/tiny",
    ]
    vi = toc(tiny, "vi")
    assert vi["root"] == "report/vi"  # written by the build, in Vietnamese
    [part] = vi["parts"]
    assert part["caption"] == "Xứ Zed"
    assert [c["file"] for c in part["chapters"]] == [
        "report/ZZ/2023/vi/tiny",
        "report/ZZ/2021/vi/tiny",
    ]
    assert part["chapters"][0]["title"] == "Khảo sát người dân Xứ Zed 2023"
    files = book.toc_files(vi)
    assert files and all(f.split("/")[3] == "vi" for f in files)  # no English page


def test_new_cycle_and_later_chapters_appear_without_editing_the_toc(tiny):
    new = tiny.root / "data/ZZ/2025"
    shutil.copytree(tiny.root / "data/ZZ/2023", new)
    cyc = new / "cycle.yml"
    cyc.write_text(cyc.read_text().replace("2023", "2025"))
    shutil.copy(tiny.root / "analyses/tiny.ipynb", tiny.root / "analyses/gaps.ipynb")
    (tiny.root / "analyses/chapters.yml").write_text("chapters:\n  - tiny\n  - gaps\n")
    first = toc(Project(tiny.root))["parts"][0]["chapters"][0]
    assert first["file"] == "report/ZZ/2025/en/tiny"
    assert first["sections"] == [{"file": "report/ZZ/2025/en/gaps"}]


def test_foreach_sdgs_lists_one_section_per_goal_of_each_cycle(tiny):
    shutil.copy(tiny.root / "analyses/tiny.ipynb", tiny.root / "analyses/sdg.ipynb")
    (tiny.root / "analyses/chapters.yml").write_text(
        "chapters:\n  - tiny\n  - {notebook: sdg, foreach: sdgs}\n"
    )
    first = toc(Project(tiny.root))["parts"][0]["chapters"][0]
    assert first["file"] == "report/ZZ/2023/en/tiny"
    assert first["sections"] == [
        {"file": "report/ZZ/2023/en/sdg-1"},
        {"file": "report/ZZ/2023/en/sdg-5"},
    ]


def test_handbook_and_training_parts_are_appended_from_their_files(tiny):
    (tiny.root / "handbook/training").mkdir(parents=True)
    (tiny.root / "handbook/_toc_part.yml").write_text(
        "- caption: Methodology handbook\n  chapters:\n  - file: handbook/index\n"
    )
    (tiny.root / "handbook/training/_toc_part.yml").write_text(
        "- caption: Training\n  chapters:\n  - file: handbook/training/index\n"
    )
    captions = [p["caption"] for p in toc(tiny)["parts"]]
    assert captions == ["Zedland", "Methodology handbook", "Training"]
    # the other editions link to the English handbook instead of listing it
    assert [p["caption"] for p in toc(tiny, "vi")["parts"]] == ["Xứ Zed"]
    page = book.edition_page(tiny, "vi")
    assert page.startswith("# Báo cáo dữ liệu do người dân tạo ra\n")
    assert "- {doc}`Khảo sát người dân Xứ Zed 2023 </report/ZZ/2023/vi/tiny>`" in page
    assert '<a href="../../en/handbook/index.html" hreflang="en">' in page
    assert '<a href="../../index.html">Chọn ngôn ngữ</a>' in page
    landing = book.landing_page(tiny)
    assert '<html lang="en">' in landing and "<main>" in landing and "<h1>" in landing
    assert '<a href="vi/index.html" hreflang="vi" lang="vi">Tiếng Việt: Báo cáo' in landing
    assert '<a href="en/handbook/index.html">' in landing
    (tiny.root / "handbook/_toc_part.yml").write_text("caption: not a list\n")
    with pytest.raises(ConfigError, match="must be a YAML list of parts"):
        toc(tiny)


def test_write_toc_is_deterministic_and_valid_yaml(tiny):
    path = write_toc(tiny)
    first = path.read_bytes()
    assert write_toc(tiny).read_bytes() == first
    assert first.startswith(b"# GENERATED")
    assert yaml.safe_load(first)["root"] == "intro"


def test_missing_report_pages_fail_before_sphinx_with_a_remedy(tiny):
    assert missing_pages(tiny, toc(tiny)) == [
        "report/ZZ/2023/en/tiny",
        "report/ZZ/2021/en/tiny",
    ]
    with pytest.raises(BookBuildError, match="voicescount run"):
        build_book(tiny)


def test_an_incomplete_catalogue_of_a_published_language_fails_before_the_build(
    tiny, tmp_path, monkeypatch
):
    from voicescount import i18n

    book.check_languages(tiny)  # en and vi are complete
    shutil.copy(i18n.LOCALES / "en.yml", tmp_path / "en.yml")
    (tmp_path / "vi.yml").write_text("group: {overall: Tất cả}\n", encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALES", tmp_path)
    for f in (i18n._load, i18n.catalogue):
        f.cache_clear()
    try:
        with pytest.raises(BookBuildError, match=r"catalogue problems.*vi\.yml lacks"):
            build_book(tiny)
    finally:
        for f in (i18n._load, i18n.catalogue):
            f.cache_clear()


def test_table_csvs_and_chart_svgs_are_copied_beside_their_pages(tiny, tmp_path):
    tables = tiny.root / "report/ZZ/2021/en/tables"
    tables.mkdir(parents=True)
    (tables / "gap.csv").write_text("group,estimate\nwomen,0.5\n")
    figs = tiny.root / "report/ZZ/2021/en/figures"
    figs.mkdir(parents=True)
    (figs / "gap.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (figs / "notes.txt").write_text("not a page asset")
    html = tmp_path / "html"
    assert copy_assets(tiny, tmp_path / "vi", "vi") == 0  # only the edition's own language
    assert copy_assets(tiny, html) == 2
    assert (html / "report/ZZ/2021/en/tables/gap.csv").read_text().startswith("group,")
    assert (html / "report/ZZ/2021/en/figures/gap.svg").read_text().startswith("<svg")
    assert not (html / "report/ZZ/2021/en/figures/notes.txt").exists()
    assert copy_tables is copy_assets  # the earlier name still works


@pytest.mark.slow
def test_end_to_end_run_and_build_then_a_broken_reference_keeps_the_last_good_book(tiny):
    summary = execute(tiny, jobs=2, progress=False, out=io.StringIO())  # validation gate on
    assert summary.ok and len(summary.executed) == 4
    tables = tiny.root / "report/ZZ/2023/vi/tables"
    tables.mkdir()
    (tables / "t.csv").write_text("a\n1\n")
    figs = tiny.root / "report/ZZ/2023/vi/figures"
    figs.mkdir()
    (figs / "f.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    html = build_book(tiny)
    assert html == tiny.root / "_build/html"
    page = (html / "vi/report/ZZ/2023/vi/tiny.html").read_text(encoding="utf-8")
    assert "ZZ 2023 vi: 3 respondents" in page
    assert "Path(data_dir)" not in page  # code inputs are hidden
    assert '<html lang="vi"' in page and "Zedland" not in page  # vi navigation only
    assert "Lên đầu trang" in page and "Back to top" not in page  # theme strings (theme.*)
    assert (html / "index.html").is_file() and (html / "en/intro.html").is_file()
    for lang in ("en", "vi"):
        assert (html / lang / "search.html").is_file() and (html / lang / "index.html").is_file()
    assert not (html / "vi/intro.html").exists() and not (html / "en/report/ZZ/2023/vi").exists()
    data = (html / "vi/_static/language_data.js").read_text(encoding="utf-8")
    assert "splitQuery" in data and "porter" not in data.lower()  # whole words, no stemmer
    index = (html / "vi/searchindex.js").read_text(encoding="utf-8")
    index = json.loads(index.removeprefix("Search.setIndex(").removesuffix(")"))
    terms = set(index["terms"]) | set(index["titleterms"])
    assert {"xứ", "người", "dân", "tạo"} <= terms  # whole words of the vi titles
    assert (html / "vi/report/ZZ/2023/vi/tables/t.csv").is_file()
    assert (html / "vi/report/ZZ/2023/vi/figures/f.svg").is_file()
    assert not list((tiny.root / "_build").glob(".building-*"))

    intro = tiny.root / "intro.md"
    intro.write_text(intro.read_text() + "\nSee {ref}`no-such-label`.\n")
    with pytest.raises(BookBuildError, match="no-such-label"):
        build_book(tiny)
    # the failed build left the last good book in place
    assert "ZZ 2023 vi" in (html / "vi/report/ZZ/2023/vi/tiny.html").read_text(encoding="utf-8")


def test_exchange_dirs_swaps_two_folders_in_one_step(tmp_path):
    """The final swap of a build: `_build/html` is never missing, even for a moment."""
    new, final = tmp_path / "new", tmp_path / "html"
    for d, name in ((new, "new.html"), (final, "old.html")):
        d.mkdir()
        (d / name).write_text(name)
    if not book.exchange_dirs(new, final):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available on this system or file system")
    assert [p.name for p in final.iterdir()] == ["new.html"]
    assert [p.name for p in new.iterdir()] == ["old.html"]
    assert not book.exchange_dirs(tmp_path / "absent", final)  # errors are reported, not raised
    assert [p.name for p in final.iterdir()] == ["new.html"]


# --------------------------------------------------------------------------- offline


def _final_config(project_root):
    """The Sphinx configuration jupyter-book derives from _config.yml (its own code)."""
    from jupyter_book.config import get_final_config

    cfg, _ = get_final_config(
        user_yaml=project_root / "_config.yml",
        cli_config={"latex_individualpages": False},
        sourcedir=project_root,
        raise_on_invalid=True,
    )
    return cfg


def test_config_serves_mathjax_from_the_book_and_nothing_from_other_sites(project_root):
    """The built config points mathjax_path at the book's own MathJax file (which exists in
    the copy sphinxext makes) and leaves every theme/extension feature that would load
    from another site off: launch buttons, thebe, analytics, comments, ipywidgets CDNs."""
    from voicescount import sphinxext

    cfg = _final_config(project_root)
    assert "voicescount.sphinxext" in cfg["extensions"]
    path = cfg["mathjax_path"]
    assert path == sphinxext.MATHJAX_PATH and not path.startswith(("http:", "https:", "//"))
    rel = path.removeprefix("mathjax/")
    assert (sphinxext.mathjax_dir() / rel).is_file(), "the MathJax wheel is not installed"
    assert cfg["nb_ipywidgets_js"] == {}
    opts = cfg["html_theme_options"]
    launch = opts["launch_buttons"]
    assert launch["thebe"] is False
    assert not any(launch[k] for k in ("binderhub_url", "jupyterhub_url", "colab_url"))
    assert not any(v for k, v in opts["analytics"].items() if not k.endswith("_url"))
    assert not any(cfg["comments_config"].values())
    assert not cfg.get("intersphinx_mapping")  # intersphinx would fetch inventories


def test_sphinxext_copies_mathjax_and_rejects_a_remote_mathjax_path(tmp_path):
    """A minimal Sphinx build with the extension: the page loads _static/mathjax, the files
    are there (entry, CHTML fonts, licence); Sphinx's CDN default is replaced; another
    remote address stops the build."""
    from sphinx.application import Sphinx
    from sphinx.errors import ExtensionError

    src = tmp_path / "src"
    src.mkdir()
    (src / "index.rst").write_text("T\n=\n\n.. math:: x^2\n", encoding="utf-8")

    def build(conf: str):
        (src / "conf.py").write_text(
            'extensions = ["sphinx.ext.mathjax", "voicescount.sphinxext"]\n' + conf
        )
        out = tmp_path / "out"
        app = Sphinx(src, src, out, tmp_path / "doctrees", "html", status=None, warning=None)
        app.build()
        return out

    out = build("")  # Sphinx's default: cdn.jsdelivr.net
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'src="_static/mathjax/tex-mml-chtml.js"' in page and "cdn.jsdelivr" not in page
    mj = out / "_static" / "mathjax"
    assert (mj / "tex-mml-chtml.js").is_file() and (mj / "LICENSE").is_file()
    assert list((mj / "output" / "chtml" / "fonts" / "woff-v2").glob("MathJax_Main-*.woff"))
    with pytest.raises(ExtensionError, match="another site"):
        build('mathjax_path = "https://example.org/tex-mml-chtml.js"\n')


HOSTILE_QUOTE = "{eval}`x` <script>alert(1)</script> ```{code-cell}``` $x$ (lbl)= # heading"


@pytest.mark.slow
def test_template_pages_build_real_sections_and_keep_hostile_quotes_literal(tiny):
    """The real voices template, run and built (-n -W): its headings are sections listed under
    'on this page', its labels are targets another page's {ref} reaches, and a respondent's
    hostile words stay text (the runner moved the MyST output into a Markdown cell)."""
    import re

    import nbformat
    from conftest import ROOT, write_template

    root = tiny.root
    cdir = root / "data" / "ZZ" / "2023"
    with (cdir / "cycle.yml").open("a", encoding="utf-8") as fh:
        fh.write("qualitative: side/qualitative.csv\n")
    (cdir / "side").mkdir()
    (cdir / "side" / "qualitative.csv").write_text(
        "segment_id,activity_id,type,region,group,theme,sdg,language,text,story\n"
        f'S1,A1,fgd,north,pwd,water,1,en,"{HOSTILE_QUOTE.replace(chr(34), chr(34) * 2)}",1\n'
        "S2,A2,kii,south,women,water,1,en,The well is far.,0\n",
        encoding="utf-8",
    )
    (cdir / "side" / "themes.csv").write_text(
        "theme,sdg,label_en,label_vi\nwater,1,Water,Nước\n", encoding="utf-8"
    )
    (root / "data" / "rules.yml").write_text("min_quote_group: 2\n", encoding="utf-8")
    shutil.copy(ROOT / "analyses" / "voices.ipynb", root / "analyses" / "voices.ipynb")
    write_template(
        root / "analyses" / "refs.ipynb",
        "Refs",
        [  # a label of the page's own edition (an edition's references stay inside it)
            "from voicescount import render\n"
            'render.MyST(f"See {{ref}}`zz-2023-{lang}-voices-quotes`.")'
        ],
        id_prefix="refs",
    )
    (root / "analyses" / "chapters.yml").write_text(
        "chapters:\n  - tiny\n  - voices\n  - refs\n", encoding="utf-8"
    )
    project = Project(root)
    summary = execute(project, jobs=2, progress=False, out=io.StringIO())
    assert summary.ok, [f.message for f in summary.failed]
    nb = nbformat.read(root / "report/ZZ/2023/en/voices.ipynb", as_version=4)
    moved = [c for c in nb.cells if "voicescount-md" in c.metadata.get("tags", [])]
    assert moved and all(c.cell_type == "code" and not c.outputs for c in moved)
    assert any(c.cell_type == "markdown" and "(zz-2023-en-voices-quotes)=" in c.source
               for c in nb.cells)  # fmt: skip
    html = build_book(project)
    voices = (html / "en/report/ZZ/2023/en/voices.html").read_text(encoding="utf-8")
    assert '<span id="zz-2023-en-voices-quotes"></span><h2>' in voices
    assert re.search(r'<section id="[^"]+">\s*<span id="zz-2023-en-voices-quotes-water">', voices)
    on_this_page = re.findall(r'class="reference internal nav-link" href="#([^"]+)"', voices)
    assert len(set(on_this_page)) >= 3  # themes, quotes, the water theme
    literal = (
        "{eval}`x` &lt;script&gt;alert(1)&lt;/script&gt; ```{code-cell}``` $x$ (lbl)= # heading"
    )
    assert literal in voices and "<script>alert" not in voices
    refs = (html / "en/report/ZZ/2023/en/refs.html").read_text(encoding="utf-8")
    assert 'href="voices.html#zz-2023-en-voices-quotes"' in refs


def test_edition_config_sets_language_search_and_title(tiny):
    cfg = book.edition_config(tiny, "vi")
    conf = cfg["sphinx"]["config"]
    assert conf["language"] == conf["html_search_language"] == conf["voicescount_edition"] == "vi"
    assert cfg["title"] == "Báo cáo dữ liệu do người dân tạo ra"


def test_edition_links_point_the_language_switch_and_downloads_across_editions():
    from voicescount.sphinxext import edition_links

    body = (
        '<a href="../en/sdg-1.html" hreflang="en" lang="en">English</a>'
        '<a href="../../../../downloads/VN/2022/estimates.csv">CSV</a>'
        '<a href="../../../../_downloads/abc/x.csv">kept</a><a href="sdg-4.html">kept</a>'
    )
    out = edition_links(body, "report/VN/2022/vi/sdg-1")
    assert 'href="../../../../../en/report/VN/2022/en/sdg-1.html" hreflang="en"' in out
    assert 'href="../../../../../downloads/VN/2022/estimates.csv"' in out
    assert 'href="../../../../_downloads/abc/x.csv"' in out and 'href="sdg-4.html"' in out
    assert edition_links('<a href="downloads/x">', "intro") == '<a href="../downloads/x">'


def test_whole_word_search_keeps_vietnamese_and_bengali_words_whole():
    """Sphinx has no Vietnamese search: its English fallback stems and drops stop words."""
    import unicodedata

    from sphinx.search.en import SearchEnglish

    from voicescount.sphinxext import whole_word_search

    lang = whole_word_search("vi")({})
    text = "Phương pháp: những người khuyết tật, nhà to; নাগরিক-সৃষ্ট"
    words = ["Phương", "pháp", "những", "người", "khuyết", "tật", "nhà", "to", "নাগরিক", "সৃষ্ট"]
    assert lang.split(text) == words
    assert lang.split(unicodedata.normalize("NFD", text)) == words  # decomposed tones: NFC
    assert [lang.stem(w) for w in words] == words and lang.word_filter("to")
    english = SearchEnglish({})  # what Sphinx falls back to
    assert not english.word_filter("to")  # "to" (big) would be dropped as a stop word
    assert english.split(unicodedata.normalize("NFD", "người")) == ["ngu", "o", "i"]
    assert "splitQuery" in lang.js_splitter_code and "normalize" in lang.js_stemmer_code


def test_an_edition_sphinx_has_no_catalogue_for_gets_the_books_theme_strings(tmp_path):
    """Swahili: Sphinx and the themes have no catalogue at all (a theme's own catalogue then
    replaces the registered translator), yet the page speaks Swahili, numbers figures in
    Swahili, and its search index holds whole Swahili words."""
    import base64

    from sphinx.application import Sphinx

    src = tmp_path / "src"
    src.mkdir()
    (src / "index.rst").write_text(
        "Habari\n======\n\nWatu wanaoishi na ulemavu.\n\n.. figure:: x.png\n   :name: f1\n\n"
        "   Mchoro\n",
        encoding="utf-8",
    )
    (src / "x.png").write_bytes(
        base64.b64decode(
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
        )
    )
    (src / "conf.py").write_text(
        'extensions = ["voicescount.sphinxext"]\nhtml_theme = "sphinx_book_theme"\n'
        'language = html_search_language = voicescount_edition = "sw"\nnumfig = True\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    app = Sphinx(src, src, out, tmp_path / "doctrees", "html", status=None, warning=None)
    app.build()
    page = (out / "index.html").read_text(encoding="utf-8")
    assert '<html lang="sw"' in page
    assert "Rudi juu" in page and "Back to top" not in page
    assert "Kiungo cha kichwa hiki" in page and "Link to this heading" not in page
    assert "Mchoro 1" in page and "Fig. 1" not in page
    assert "Tafuta katika ripoti" in page and "Search this book" not in page
    index = (out / "searchindex.js").read_text(encoding="utf-8")
    assert '"wanaoishi"' in index and '"ulemavu"' in index
