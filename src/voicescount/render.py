"""Pages as templates: view models rendered to MyST by Jinja2 templates (templates/*.md.j2).

Why MyST, and why Markdown cells (issue 12, item 2). Pages used to be HTML strings built in
Python: their headings were no Sphinx sections (no "on this page", no reference targets), the
nit-picky build could not check their links, and tests pinned markup. An experiment with a
one-page Jupyter Book v1 (myst-nb 1.4, myst-parser 3, `nb_render_markdown_format: myst`)
showed that a code cell's text/markdown output *is* parsed as MyST - `(label)=` targets and a
`{figure}`'s `:name:` are registered and `{ref}`/`{numref}` from another page resolve under
`-n -W` - but its headings become rubrics (`<h2 class="rubric">`), not sections: myst-parser
only opens a section directly under the document or another section, and an output is parsed
inside the cell's container. Nothing appeared under "on this page". The same Markdown in a
Markdown cell gave a real `<section>`, an "on this page" entry, a working `{figure}` label and
a download link the build checks (a missing file is a warning, so an error under -W).

So the variant chosen: chapter builders in `report` return view models (data: values, codes,
tables, charts); a display object (`MyST`) renders them with a template and marks its
text/markdown output (`voicescount/myst` in the output metadata, so no cell has to remember
a tag); after papermill executed a notebook, the runner's `finalize_notebook` calls
`mystcells.outputs_to_cells`, which moves each marked output into a Markdown cell placed right after
its code cell and hides the code cell in the book (`remove-cell`). The analyst opening
report/<ISO>/<cycle>/<lang>/<page>.ipynb sees the one-line call and, below it, the MyST it
produced; the book parses real MyST.

Escaping ("autoescape for MyST"). Every value a template interpolates goes through `escape`
(Jinja2's `finalize`) unless it is `Safe` (a macro's output, or a label / file name checked by
the `label` / `name` filters, which refuse anything but letters, digits, `_`, `-`, `.`):
respondents' words, labels and catalogue text stay text. `myst_text` collapses whitespace
runs (line breaks included: no block syntax can start on a line of its own), drops control
characters and backslash-escapes what MyST would read as syntax - backticks, braces (roles,
substitutions), `*` `_`, brackets, `<` `>` (HTML), `$` (math), `&` (entities), `://` and a dot
before a letter (linkify), and at the start of the value a `#`, `>`, `-`, `+`, `=`, `%`, `(`,
`:`, `~` or `1.` - so `{role}`, `(label)=`, fences, `$x$` and `<script>` show as typed, and
the analyst reading the notebook's Markdown cell still reads the words. Directive options are
YAML, not Markdown, so `:alt:` takes `option` (one line in double quotes).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from .i18n import fmt_number, t
from .mystcells import MARK

Safe = Markup  # a value that passes into a template raw: made only by this module


# Escaped wherever they are: they open code, roles and substitutions ({...}), emphasis,
# links, HTML, math and entities.
_SPECIAL = re.compile(r"[\\`*_{}\[\]<>$&]")
# 'http://x' and a dot before a letter ('evil.com') would be made links (linkify is on).
_LINKISH = re.compile(r":(?=//)|\.(?=[^\W\d_])")
# '1.' or '1)' at the start of a block is a numbered list.
_LIST_NUMBER = re.compile(r"^(\d+)([.)])(?=\s|$)")
# At the start of a block: heading, quote, list, block break, setext line, comment, label,
# colon or tilde fence, directive option.
_LEADING = "#>-+=%(:~"


def plain(value: Any) -> str:
    """`value` as one line of text: NFC, control characters dropped, whitespace collapsed
    (line breaks included, so no block syntax can start on a line of its own)."""
    text = unicodedata.normalize("NFC", "" if value is None else str(value))
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\t\n\r")
    return " ".join(text.split())


def myst_text(value: Any) -> str:
    """`value` as MyST that shows exactly the text (see the module docstring)."""
    out = _SPECIAL.sub(lambda m: "\\" + m.group(0), plain(value))
    out = _LINKISH.sub(lambda m: "\\" + m.group(0), out)
    out = _LIST_NUMBER.sub(r"\1\\\2", out)
    if out[:1] and out[0] in _LEADING:
        out = "\\" + out
    return out


def escape(value: Any) -> Safe:
    """`value` as inert MyST text; Safe values (macros' output, checked names) pass unchanged."""
    if isinstance(value, Markup):
        return value
    return Safe(myst_text(value))


def option(value: Any) -> Safe:
    """A directive option value (e.g. `:alt:`): one line of plain text in double quotes.

    MyST reads options as YAML, so an unquoted '#' would start a comment and cut the text."""
    return Safe(json.dumps(plain(value), ensure_ascii=False))


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def name(value: Any) -> Safe:
    """A label or file stem interpolated raw: only letters, digits, '_', '-', '.' pass."""
    text = str(value)
    if not _NAME.match(text):
        raise ValueError(f"'{text}' is not a valid label or file name for a page")
    return Safe(text)


def role(value: Any) -> Safe:
    """The text of a role such as {ref}`text <target>` (not parsed as Markdown): one line
    without the backticks and angle brackets that would end or retarget it."""
    return Safe(re.sub(r"[`<>]", "", plain(value)).strip() or "-")


def slug(value: Any) -> str:
    """A label part from a code ('Water & sanitation' -> 'water-sanitation')."""
    text = re.sub(r"[^a-z0-9_.]+", "-", plain(value).lower()).strip("-.")
    return text or "x"


def _finalize(value: Any) -> Any:
    return escape(value)


ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("voicescount", "templates"),
    autoescape=True,  # with `finalize`: every value is MyST-escaped, macros' output is Safe
    finalize=_finalize,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
ENV.filters["option"] = option
ENV.filters["name"] = name
ENV.filters["label"] = name
ENV.filters["slug"] = slug
ENV.filters["role"] = role
ENV.globals["t"] = t
ENV.globals["fmt_number"] = fmt_number


def _code_format(message: Any, **values: Any) -> Markup:
    """A catalogue message whose {placeholders} are shown as code: the message and the values
    are HTML-escaped, only the <code> wrapping is markup."""
    code = {k: Markup("<code>{}</code>").format(v) for k, v in values.items()}
    return Markup.escape(str(message)).format(**code)


# HTML pieces (a page header, the downloads list, a chart for Jupyter, the printed report):
# *.html.j2 templates with Jinja's own HTML autoescaping, the only place HTML is written.
HTML_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("voicescount", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
HTML_ENV.filters["code_format"] = _code_format
HTML_ENV.globals["t"] = t


def render_html(template: str, **context: Any) -> str:
    """Render templates/<template> (an .html.j2) with every value HTML-escaped."""
    return HTML_ENV.get_template(template).render(**context).strip()


def html_macro(template: str, name_: str, *args: Any, **kwargs: Any) -> str:
    """Call one macro of an .html.j2 template; values are HTML-escaped unless Safe (Markup)."""
    mod = HTML_ENV.get_template(template).make_module()
    return str(getattr(mod, name_)(*args, **kwargs)).strip()


# --------------------------------------------------------------------------- view pieces


@dataclass
class Table:
    """A table as a page shows it: display strings, its CSV (tables/<name>.csv) and caption."""

    name: str
    caption: str
    columns: list[str]
    rows: list[list[str]]
    label: str = ""  # the reference target (`tab-<label>`); defaults to the name

    @property
    def target(self) -> str:
        return f"tab-{self.label or self.name}"


def display_cell(v: Any, lang: str, decimals: int | None = None) -> str:
    """A value as a table shows it, in the page's language ('' for missing)."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return ""
    if decimals is not None and isinstance(v, (int, float, np.number)):
        return fmt_number(v, lang, decimals)
    if isinstance(v, (int, np.integer)):
        return fmt_number(v, lang, 0)
    return str(v)


def table_view(
    df: pd.DataFrame,
    name: str,
    caption: str,
    lang: str,
    decimals: Mapping[str, int] | None = None,
    label: str = "",
) -> Table:
    """A Table view of `df` (the CSV is written by the chapter builder, not here)."""
    dec = dict(decimals or {})
    rows = [
        [display_cell(v, lang, dec.get(c)) for c, v in zip(df.columns, row, strict=True)]
        for row in df.itertuples(index=False)
    ]
    return Table(name, caption, [str(c) for c in df.columns], rows, label)


@dataclass
class Figure:
    """A saved chart (figures/<name>.svg, tables/<name>.csv): alt text, caption, table view."""

    name: str
    alt: str
    title: str
    table: Table
    label: str = ""  # the reference target (`fig-<label>`); defaults to the name
    aliases: list[str] = field(default_factory=list)  # more HTML anchors landing here

    @property
    def target(self) -> str:
        return f"fig-{self.label or self.name}"


def figure_view(chart: Any, name: str, label: str = "", aliases: Sequence[str] = ()) -> Figure:
    """The view of a figures.Chart saved as `name` (chart.save wrote its SVG and CSV)."""
    shown = chart.display_table()
    tab = Table(
        name,
        t("figure.table_alternative", chart.lang),
        [str(c) for c in shown.columns],
        [[str(v) for v in row] for row in shown.itertuples(index=False)],
    )
    return Figure(name, chart.alt, chart.title, tab, label, list(aliases))


@dataclass
class Quote:
    text: str
    who: str


# --------------------------------------------------------------------------- display


class MyST:
    """MyST for the book (text/markdown, marked for the runner), plain text for the console."""

    def __init__(self, text: str, plain: str = "") -> None:
        self.text = str(text)
        self.plain = plain

    def _repr_mimebundle_(self, include=None, exclude=None):
        if not self.text.strip():
            return {"text/plain": ""}, {}
        return (
            {"text/markdown": self.text, "text/plain": self.plain or self.text},
            {"text/markdown": {MARK: True}},
        )

    def _repr_markdown_(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.plain or self.text


def render(template: str, **context: Any) -> str:
    """Render templates/<template> with `context` (every value escaped unless Safe)."""
    return ENV.get_template(template).render(**context)


def macro(template: str, name_: str, *args: Any, **kwargs: Any) -> str:
    """Call one macro of a template (a page section) and return its MyST."""
    mod = ENV.get_template(template).make_module()
    return str(getattr(mod, name_)(*args, **kwargs))


class Page:
    """A chapter's view model: data for its template's section macros, in page order.

    `sections` names the macros of `template` that make the page; a notebook shows the whole
    page (`view`) or one section a cell (`view.section("coverage")`), so an analyst sees
    where each number comes from. The data stays inspectable (`view.data`).
    """

    template: str = ""

    def __init__(self, template: str, sections: Sequence[str], lang: str, **data: Any) -> None:
        self.template = template
        self.sections = list(sections)
        self.lang = lang
        self.data = data

    def __getattr__(self, key: str) -> Any:
        data = self.__dict__.get("data", {})
        if key in data:
            return data[key]
        raise AttributeError(key)

    def section(self, name_: str) -> MyST:
        if name_ not in self.sections:
            return MyST("")
        text = re.sub(r"\n{3,}", "\n\n", macro(self.template, name_, self)).strip("\n")
        return MyST(text + "\n" if text else "")

    def markdown(self) -> str:
        return "\n".join(str(self.section(s)) for s in self.sections)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return MyST(self.markdown())._repr_mimebundle_()

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def __repr__(self) -> str:
        return self.markdown()


_TARGET = re.compile(r"^\((?P<a>[^)\s]+)\)=$|^:name: (?P<b>\S+)$", re.MULTILINE)


def targets(md: str) -> list[str]:
    """The reference targets a page's MyST defines (section labels, figure and table names), in
    page order: what `{ref}` from another page can point at."""
    return [m.group("a") or m.group("b") for m in _TARGET.finditer(str(md))]
