"""Sphinx fixes for the book's theme, found by the browser tests (tests/test_browser.py).

Enabled in `_config.yml` (`sphinx: extra_extensions: [voicescount.sphinxext]`).

- Jupyter Book v1 with sphinx-thebe 0.3 adds thebe's inline configuration script twice
  (`const THEBE_JS_URL = ...`; once with filename None, once ''), so every page logs "Identifier 'THEBE_JS_URL' has already
  been declared". Duplicate script entries are dropped from each page's context.
- `assets/voicescount-a11y.js` gives the theme's sidebar expand buttons (`<summary>` holding
  only an icon) an accessible name, and drops the `role="list"` that docutils puts on
  bibliography entries whose children are not list items (axe-core: summary-name,
  aria-required-children; WCAG 4.1.2 and 1.3.1).
- MathJax is served from the book (`_static/mathjax/`), never from a CDN: Sphinx's default
  `mathjax_path` is cdn.jsdelivr.net, which sends readers' browsers to a third party and
  breaks the math offline. The files come from the `django-static-mathjax` wheel (MathJax
  3.2.2, the version Sphinx's default names, as plain files; no Django needed) and are
  copied into the built book. `_config.yml` sets `mathjax_path: mathjax/tex-mml-chtml.js`;
  the default CDN address is replaced by it here too, and any other remote address is an
  error, so no build of the book can load math from another site.
- Editions (`voicescount_edition`, set per edition by book.build_book): each language is its
  own Sphinx project under `_build/html/<lang>/`. Links a page writes as raw HTML for a
  single-edition book are pointed across: the language switch (`../<xx>/<page>.html` beside
  the page) to the same page in the <xx> edition, and the downloads
  (`downloads/` at the book root) to the site's `_build/html/downloads/`.
- Search in a language Sphinx has no search support for (Vietnamese, Swahili, Bengali): an
  index of whole words (letters with their combining marks, NFC), no stemming, no stop words,
  and the same splitting in the reader's browser; Sphinx would otherwise fall back to the
  English stemmer and stop words ("to", big, is a Vietnamese word).
- Theme strings in the edition's language: the themes' gettext catalogues lack Vietnamese,
  Swahili or Bengali for many of their strings ("Back to top", "On this page", "Link to this
  heading"; Swahili has none), so the book's own catalogue (`theme.*` in locales/*.yml) fills
  the gaps, and the few strings the themes write without gettext are replaced in the pages.
"""

from __future__ import annotations

import functools
import gettext
import re
import shutil
import sys
import unicodedata
from html import escape
from pathlib import Path
from typing import Any

from .estimates import BOOK_DOWNLOADS
from .i18n import t

ASSETS = Path(__file__).parent / "assets"
A11Y_JS = "voicescount-a11y.js"
EXPLORER_JS, EXPLORER_CSS = "voicescount-explorer.js", "voicescount-explorer.css"
# mathjax_path is relative to _static; MATHJAX_DIR is copied to _static/mathjax.
MATHJAX_PATH = "mathjax/tex-mml-chtml.js"
MATHJAX_ENTRY = "tex-mml-chtml.js"
_REMOTE = ("http://", "https://", "//")


def mathjax_dir() -> Path:
    """MathJax 3's es5 build as installed by the django-static-mathjax wheel (in the lock)."""
    import mathjax  # the wheel's package: static files only

    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def _mathjax_local(app: Any, config: Any) -> None:
    from sphinx.errors import ExtensionError
    from sphinx.ext.mathjax import MATHJAX_URL

    path = str(config.mathjax_path or "")
    if path == MATHJAX_URL:  # Sphinx's default (a CDN): use the book's own copy
        config.mathjax_path = path = MATHJAX_PATH
    if path.startswith(_REMOTE):
        raise ExtensionError(
            f"mathjax_path {path!r} is on another site; the book serves MathJax itself "
            f"(set `mathjax_path: {MATHJAX_PATH}` under sphinx: config: in _config.yml)."
        )


def _copy_mathjax(app: Any, exception: Exception | None) -> None:
    """Copy the MathJax entry file and the components it loads on demand (input extensions,
    CHTML fonts, a11y, speech rules, menu) into _static/mathjax: 9 MB, about 90 files."""
    if exception is not None or app.builder.format != "html":
        return
    if not str(app.config.mathjax_path).startswith("mathjax/"):
        return
    src = mathjax_dir()
    dest = Path(app.outdir) / "_static" / "mathjax"
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / MATHJAX_ENTRY, dest / MATHJAX_ENTRY)
    shutil.copyfile(src.parent / "LICENSE", dest / "LICENSE")
    for sub in sorted(p for p in src.iterdir() if p.is_dir()):
        shutil.copytree(sub, dest / sub.name, dirs_exist_ok=True)


def _dedupe_scripts(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for s in scripts:
        # An inline script is registered once with filename None and once with '', which is
        # why Sphinx's own check kept both; compare them as the same (empty) filename.
        key = (str(getattr(s, "filename", "") or ""), tuple(sorted(s.attributes.items())))
        if key in seen:
            continue
        seen.add(key)
        unique.append(s)
    scripts[:] = unique


@functools.cache
def _word_re() -> re.Pattern[str]:
    """Letters, digits, '_' and combining marks (Python's \\w leaves marks out, so Bengali
    vowel signs or decomposed Vietnamese tones would split a word)."""
    marks, start = [], None
    for c in range(sys.maxunicode + 2):
        inside = c <= sys.maxunicode and unicodedata.category(chr(c)).startswith("M")
        if inside and start is None:
            start = c
        elif not inside and start is not None:
            marks.append(f"\\U{start:08x}-\\U{c - 1:08x}")
            start = None
    return re.compile(rf"[\w{''.join(marks)}]+")


# The browser side of the same rules: NFC, split where no letter, mark, digit or '_' is.
JS_SPLITTER = """
function splitQuery(query) {
  return query.normalize("NFC").split(/[^\\p{L}\\p{M}\\p{N}_]+/gu).filter(term => term);
}
"""
JS_STEMMER = """
var Stemmer = function() {
  this.stemWord = function(w) { return w.normalize("NFC"); }
}
"""


def whole_word_search(lang: str) -> type:
    """A Sphinx search language for `lang`: whole words, no stemming, no stop words."""
    from sphinx.search import SearchLanguage

    class WholeWords(SearchLanguage):
        js_splitter_code = JS_SPLITTER
        js_stemmer_code = JS_STEMMER

        def split(self, input: str) -> list[str]:
            return _word_re().findall(unicodedata.normalize("NFC", input))

        def stem(self, word: str) -> str:
            return unicodedata.normalize("NFC", word)

    WholeWords.lang = WholeWords.language_name = lang
    return WholeWords


def _search_language(app: Any, config: Any) -> None:
    from sphinx.search import languages

    lang = config.html_search_language or config.language
    if lang and lang not in languages and lang.partition("_")[0] not in languages:
        languages[lang] = whole_word_search(lang)


_LANG_LINK = re.compile(r'href="\.\./([a-z]{2,3})/([\w.-]+)\.html" hreflang="\1"')


def edition_links(body: str, pagename: str, downloads: str = "downloads") -> str:
    """A page's raw links pointed across editions (see the module docstring): the page is
    `pagename` inside its edition, one folder below the site root."""
    depth = pagename.count("/")
    up = "../" * depth
    body = body.replace(f'href="{up}{downloads}/', f'href="../{up}{downloads}/')
    if depth >= 2:  # report/<ISO>/<cycle>/<lang>/<page>: the same page in edition <xx>
        folder = pagename.rsplit("/", 2)[0]
        body = _LANG_LINK.sub(
            lambda m: f'href="../{up}{m[1]}/{folder}/{m[1]}/{m[2]}.html" hreflang="{m[1]}"',
            body,
        )
    return body


def _edition_links(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    if app.config.voicescount_edition and context.get("body"):
        context["body"] = edition_links(context["body"], pagename, BOOK_DOWNLOADS)


# English message (as the themes and Sphinx write it) -> the book's catalogue key.
THEME_STRINGS = {
    "Back to top": "theme.back_to_top",
    "Skip to main content": "theme.skip_to_content",
    "On this page": "theme.on_this_page",
    "Site navigation": "theme.site_navigation",
    "Color mode": "theme.color_mode",
    "Light": "theme.light",
    "Dark": "theme.dark",
    "System Settings": "theme.system",
    "previous page": "theme.previous_page",
    "next page": "theme.next_page",
    "previous": "theme.previous",
    "next": "theme.next",
    "Search": "theme.search",
    "Search Results": "theme.search_results",
    "Searching": "theme.searching",
    "Clear search": "theme.clear_search",
    "Index": "theme.index",
    "Version warning": "theme.version_warning",
    "Link to this heading": "theme.link_heading",
    "Link to this image": "theme.link_image",
    "Link to this table": "theme.link_table",
    "Link to this code": "theme.link_code",
    "Link to this equation": "theme.link_equation",
    "Section Navigation": "theme.section_navigation",
    "Print to PDF": "theme.print_pdf",
    "Download this page": "theme.download_page",
    "Fullscreen mode": "theme.fullscreen",
    "Contents": "theme.contents",
}
# Written by sphinx-book-theme's templates without gettext: replaced in the built pages.
THEME_LITERALS = {
    'title="Toggle primary sidebar"': "theme.toggle_primary",
    'title="Toggle secondary sidebar"': "theme.toggle_secondary",
    'aria-label="Page"': "theme.page",
    'class="bd-links bd-docs-nav" aria-label="Main"': "theme.main_navigation",
}


class _Messages(gettext.NullTranslations):
    """A gettext catalogue from a dict, added last: it answers only what the others lack."""

    def __init__(self, messages: dict[str, str]) -> None:
        super().__init__()
        self._messages = messages

    def gettext(self, message: str) -> str:
        if message in self._messages:
            return self._messages[message]
        return self._fallback.gettext(message) if self._fallback else message


def _edition_lang(config: Any) -> str:
    lang = config.voicescount_edition
    return "" if not lang or lang == "en" else lang


def _theme_search_text(app: Any, config: Any) -> None:
    lang = _edition_lang(config)
    if lang:
        options = dict(config.html_theme_options or {})
        options["search_bar_text"] = t("theme.search_book", lang)  # jupyter-book sets English
        config.html_theme_options = options
        # "Fig. 3", "Table 2": Sphinx's catalogues lack them; before or after Sphinx's own
        # handler, these win (it updates its defaults with the configured ones)
        numbers = {kind: t(f"theme.{kind}", lang, n="%s") for kind in ("figure", "table")}
        config.numfig_format = {**(config.numfig_format or {}), **numbers}


def _theme_strings(app: Any) -> None:
    """After the themes registered their catalogues (they load with the builder)."""
    lang = _edition_lang(app.config)
    if not lang:
        return
    from sphinx.locale import translators

    messages = {msgid: t(key, lang) for msgid, key in THEME_STRINGS.items()}
    # The templates translate through app.translator; a theme's add_message_catalog can
    # replace the registered one (where Sphinx has no catalogue for the language, e.g. sw)
    targets = [app.translator] + [
        tr for (_, catalog), tr in translators.items() if catalog in ("sphinx", "booktheme")
    ]
    for translator in {id(tr): tr for tr in targets}.values():
        translator.add_fallback(_Messages(messages))


def _theme_literals(app: Any, exception: Exception | None) -> None:
    lang = _edition_lang(app.config)
    if exception is not None or not lang or app.builder.format != "html":
        return
    swaps = {}  # the last quoted value of each literal, translated
    for old, key in THEME_LITERALS.items():
        head, _, tail = old.rsplit('"', 2)
        swaps[old] = f'{head}"{escape(t(key, lang))}"{tail}'
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        new = text
        for old, repl in swaps.items():
            new = new.replace(old, repl)
        if new != text:
            page.write_text(new, encoding="utf-8")


def _static(app: Any) -> None:
    if str(ASSETS) not in app.config.html_static_path:
        app.config.html_static_path.append(str(ASSETS))


def setup(app: Any) -> dict[str, Any]:
    app.add_config_value("voicescount_edition", "", "html", [str])
    app.connect("builder-inited", _static)
    app.connect("config-inited", _search_language)
    app.connect("config-inited", _theme_search_text)
    app.connect("builder-inited", _theme_strings)
    app.connect("build-finished", _theme_literals)
    app.connect("html-page-context", _edition_links)
    app.connect("config-inited", _mathjax_local)
    app.connect("build-finished", _copy_mathjax)
    app.add_js_file(A11Y_JS, defer="defer")
    # The indicator explorer (voicescount.explorer): does nothing on a page without one.
    app.add_js_file(EXPLORER_JS, defer="defer")
    app.add_css_file(EXPLORER_CSS)
    # After the other handlers added their scripts (the default priority is 500).
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
