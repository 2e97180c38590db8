"""Draft VNR chapter: "Leaving no one behind: what communities told us", for the VNR team to edit.

A Voluntary National Review team drafts in Word, so the chapter is written as `.docx` (and as
Markdown, for review in a pull request or conversion with pandoc), one file per language of the
cycle. Its content is not re-derived here: the headline statements are the report's key
findings (`figures.findings` over the cycle store's disclosed estimate table, as the key
findings page, so the chapter and the report always quote the same numbers), each gap illustrated with the report's own
dot-and-whisker chart rendered as PNG (Word does not show SVG reliably), followed by a few
anonymised quotes, a short methods note (design, n, caution and suppression rules), the
synthetic-data notice when the cycle is synthetic, and references to the report's chapters.

Two properties matter to the people who receive the file:

* respondents' words stay text: Markdown special characters are backslash-escaped and control
  characters dropped (`md_text`), and the .docx carries them as plain runs (python-docx escapes
  XML), so a quote can never become a link, heading, image or field;
* the same inputs give the same bytes (a re-run must not look like an edit in version control
  or a document-management system): core properties are fixed (dates = the cycle's release
  date, never "now") and the zip is rewritten with fixed member timestamps (`stable_zip`).
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import disclosure, estimates
from . import voices as vo
from .figures import chart_name, dot_whisker, findings, style
from .i18n import CHAPTER_KEYS, fmt_number, fmt_percent, t
from .registry import Project, label
from .runner import templates

__all__ = [
    "VnrChapter",
    "build_chapter",
    "chapter_pages",
    "export_vnr",
    "md_text",
    "stable_zip",
    "write_docx",
    "write_markdown",
]

MAX_QUOTES = 4
PNG_DPI = 150
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip member can carry

# --------------------------------------------------------------------------- escaping

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that can start
# markup inside a line (emphasis, code, links, images, HTML, entities, tables, strikethrough).
_MD_INLINE = re.compile(r"([\\`*_\[\]<>&|~!{}$])")
# ... and these only at the start of a line (headings, lists, quotes, thematic breaks).
_MD_START = re.compile(r"^([#>+=-])")
_MD_ORDERED = re.compile(r"^(\d+)([.)])")  # '1. ' starts a list: escape the '.', not the digit


def md_text(value: object) -> str:
    """`value` as inert Markdown text: one line, no control characters, markup escaped.

    Respondents' words and registry labels go through this, so nothing they contain can
    become a link, an image, raw HTML, a heading or a list in the VNR team's editor.
    """
    text = unicodedata.normalize("NFC", "" if value is None else str(value))
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\t\n\r")
    text = " ".join(text.split())
    text = _MD_INLINE.sub(r"\\\1", text)
    text = _MD_ORDERED.sub(r"\1\\\2", text)
    return _MD_START.sub(r"\\\1", text)


def plain_text(value: object) -> str:
    """Text for a .docx run: control characters (invalid in XML) dropped, spaces collapsed."""
    text = unicodedata.normalize("NFC", "" if value is None else str(value))
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\t\n\r")
    return " ".join(text.split())


# --------------------------------------------------------------------------- content


@dataclass
class Figure:
    """A chart of the report as PNG, with the alt text and caption the report gives it."""

    name: str
    png: bytes
    alt: str
    caption: str


@dataclass
class VnrChapter:
    """Everything one language's chapter says, before it is written as Markdown or .docx."""

    iso: str
    cycle: int
    lang: str
    title: str
    subtitle: str
    date: str  # release date, YYYY-MM-DD: the document's date, never "today"
    author: str
    notice: tuple[str, str] | None
    draft_note: str
    intro: str
    findings_intro: str
    findings: list[dict[str, str]]
    no_findings: str
    figures: list[Figure] = field(default_factory=list)
    quotes: list[tuple[str, str]] = field(default_factory=list)  # (text, who)
    methods: list[str] = field(default_factory=list)
    references: list[tuple[str, str]] = field(default_factory=list)  # (text, path or URL)

    @property
    def stem(self) -> str:
        return f"vnr_{self.iso}_{self.cycle}_{self.lang}"


def chapter_pages(project: Project, iso: str, cycle: int | str, lang: str) -> list[tuple[str, str]]:
    """(stem, title) of every report page of the cycle in `lang`, in book order.

    Titles are those the pages show (i18n.CHAPTER_KEYS through the catalogue); the paths are
    <lang>/report/<ISO>/<cycle>/<lang>/<stem>.html inside the built book (its <lang> edition).
    """
    out = []
    for nb in templates(project):
        stem = nb.stem
        if stem == "overview":
            title = t("report.overview.overview", lang)
        elif stem in CHAPTER_KEYS:
            title = t(CHAPTER_KEYS[stem], lang)
        else:
            title = stem.replace("_", " ").capitalize()
        out.append((stem, title))
    return out


def _png(chart) -> bytes:
    """The chart as PNG with no software/date metadata, so identical inputs give equal bytes."""
    buf = io.BytesIO()
    with style():
        chart.fig.savefig(buf, format="png", dpi=PNG_DPI, metadata={"Software": None})
    return buf.getvalue()


def build_chapter(
    project: Project,
    iso: str,
    cycle: int | str,
    lang: str,
    *,
    base_url: str = "",
    downloads_path: str | None = None,
) -> VnrChapter:
    """Collect the chapter's content for one language from the cycle's published estimates.

    `base_url` prefixes the report page paths in the references (the book's address once
    published; empty: paths relative to the book's root).
    """
    cycle = int(cycle)
    cyc = project.cycle(iso, cycle)
    country = project.country(iso)
    meta = estimates.cycle_meta(project, iso, cycle)
    rules = project.rules
    cname = label(country.name, lang, iso)
    store = estimates.load(project, iso, cycle)  # computed and checked once, with the pages
    est = store.estimates
    prev = store.previous
    # an unreadable earlier cycle loses the change statements, not the chapter
    change = store.changes if prev is not None and store.note_for(iso, prev) is None else None
    items = findings(
        est,
        project.indicators,
        project.dimensions,
        country,
        lang,
        change,
        (cycle, prev) if prev is not None else None,
    )
    s = store.summary
    figures: list[Figure] = []
    for k, f in enumerate(items, start=1):
        if f["kind"] != "gap":
            continue
        var, g = f["variable"], f["grouping"]
        ind = project.indicators.get(var)
        rows = est[est["variable"] == var]
        ch = dot_whisker(
            rows,
            var,
            g,
            dimensions=project.dimensions,
            country=country,
            lang=lang,
            indicator_label=label(ind.label, lang, var),
            unit=ind.unit,
            suppress_n=disclosure.threshold(rules, rows["population"].iloc[0]),
        )
        figures.append(
            Figure(
                chart_name(var, g),
                _png(ch),
                ch.alt,
                f"{t('vnr.figure', lang, k=k)}. {ch.title}",
            )
        )

    quotes = _quotes(project, iso, cycle, lang)
    d = cyc.design
    methods = [
        t(
            "report.design_text",
            lang,
            weight=d.weight or "–",
            strata=d.strata or "–",
            psu=d.psu or "–",
        ),
        t(
            "vnr.sample",
            lang,
            received=fmt_number(s["received"], lang),
            kept=fmt_number(s["kept"], lang),
            quarantined=fmt_number(s["quarantined"], lang),
        ),
    ]
    for name in store.instruments:
        methods.append(
            t(
                "vnr.instrument_n",
                lang,
                instrument=label(cyc.instruments[name].label, lang, name),
                n=fmt_number(s["instruments"][name]["kept"], lang),
            )
        )
    methods += [
        t("report.rule_caution", lang, n=rules.caution_min_n, cv=_pct(rules.caution_max_cv, lang)),
        t(
            "report.rule_suppress",
            lang,
            n=rules.suppress_min_n,
            n_children=rules.suppress_min_n_children,
        ),
        t("report.rule_secondary", lang),
        t(
            "report.rule_precision",
            lang,
            step=fmt_number(
                10.0 ** -rules.publish_decimals["percent"], lang, rules.publish_decimals["percent"]
            ),
            points=fmt_number(100 * rules.protection, lang),
        ),  # fmt: skip
        t("report.rule_counts", lang),
        t(
            "report.rule_gaps",
            lang,
            alpha=fmt_number(rules.alpha, lang, 2),
            method=t(f"report.method.{rules.multiple_comparisons}", lang),
        ),
    ]
    prefix = base_url.rstrip("/") + "/" if base_url else ""
    rel = f"{lang}/report/{iso}/{cycle}/{lang}"  # in the book's <lang> edition
    refs = [
        (t("vnr.report_chapter", lang, cycle=cycle, chapter=title), f"{prefix}{rel}/{stem}.html")
        for stem, title in chapter_pages(project, iso, cycle, lang)
    ]
    if downloads_path:
        refs.append((t("vnr.downloads", lang), f"{prefix}{downloads_path}"))
    notice = None
    if cyc.synthetic:
        notice = (t("notice.synthetic_title", lang), t("notice.synthetic_text", lang))
    return VnrChapter(
        iso=iso,
        cycle=cycle,
        lang=lang,
        title=t("vnr.title", lang),
        subtitle=t("vnr.subtitle", lang, country=cname, cycle=cycle),
        date=meta.date_released,
        author=meta.coalition,
        notice=notice,
        draft_note=t("vnr.draft", lang, coalition=meta.coalition),
        intro=t(
            "vnr.intro",
            lang,
            cycle=cycle,
            coalition=meta.coalition,
            kept=fmt_number(s["kept"], lang),
            country=cname,
        ),  # fmt: skip
        findings_intro=t(
            "report.findings_intro",
            lang,
            alpha=fmt_number(rules.alpha, lang, 2),
            method=t(f"report.method.{rules.multiple_comparisons}", lang),
        ),
        findings=items,
        no_findings=t("report.no_findings", lang),
        figures=figures,
        quotes=quotes,
        methods=methods,
        references=refs,
    )


def _pct(x: float, lang: str) -> str:
    return fmt_percent(x, lang)


def _quotes(project: Project, iso: str, cycle: int, lang: str) -> list[tuple[str, str]]:
    """A few anonymised quotes (the report's selection rule: themes raised in enough activities)."""
    cyc = project.cycle(iso, cycle)
    if not cyc.qualitative:
        return []
    path = project.cycle_dir(iso, cycle) / cyc.qualitative
    seg = vo.read_segments(path)
    themes_path = path.parent / "themes.csv"
    themes = vo.read_themes(themes_path) if themes_path.exists() else None
    q = vo.select_quotes(
        seg, min_activities=project.rules.min_quote_group, per_theme=3, themes=themes, lang=lang
    )
    # One quote per theme, preferring a group not heard yet, so one group does not speak for all.
    out, heard = [], set()
    for _theme, grp in q.groupby("theme", sort=False):
        fresh = grp[~grp["group"].isin(heard)]
        r = (fresh if len(fresh) else grp).iloc[0]
        heard.add(r["group"])
        kind = t("activity." + str(r["type"]), lang)
        who = f"{vo.group_label(r['group'], lang)}, {kind}"
        out.append((str(r["text"]), f"{who} ({r['theme_label']})"))
        if len(out) == MAX_QUOTES:
            break
    return out


# --------------------------------------------------------------------------- writers


def write_markdown(ch: VnrChapter, out_dir: str | Path) -> Path:
    """`<stem>.md` with figures as `<stem>_figures/<name>.png` beside it."""
    out = Path(out_dir)
    fig_dir = out / f"{ch.stem}_figures"
    lines = [f"# {md_text(ch.title)}", "", f"*{md_text(ch.subtitle)}*", ""]
    if ch.notice:
        lines += [f"> **{md_text(ch.notice[0])}**: {md_text(ch.notice[1])}", ""]
    lines += [f"> {md_text(ch.draft_note)}", "", md_text(ch.intro), ""]
    lines += [f"## {md_text(t('vnr.findings', ch.lang))}", "", md_text(ch.findings_intro), ""]
    if ch.findings:
        lines += [f"{k}. {md_text(f['text'])}" for k, f in enumerate(ch.findings, start=1)]
    else:
        lines.append(md_text(ch.no_findings))
    lines.append("")
    if ch.figures:
        lines += [f"### {md_text(t('vnr.figures', ch.lang))}", ""]
        for fig in ch.figures:
            path = fig_dir / f"{fig.name}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(fig.png)
            lines += [
                f"![{md_text(fig.alt)}]({fig_dir.name}/{fig.name}.png)",
                "",
                f"*{md_text(fig.caption)}*",
                "",
            ]
    if ch.quotes:
        lines += [
            f"## {md_text(t('vnr.quotes', ch.lang))}",
            "",
            md_text(t("vnr.quotes_intro", ch.lang)),
            "",
        ]
        for text, who in ch.quotes:
            lines += [f"> {md_text(text)}", ">", f"> — {md_text(who)}", ""]
    lines += [f"## {md_text(t('vnr.methods', ch.lang))}", ""]
    lines += [f"- {md_text(m)}" for m in ch.methods] + [""]
    lines += [f"## {md_text(t('vnr.references', ch.lang))}", ""]
    lines += [f"- {md_text(text)} <{_url(url)}>" for text, url in ch.references] + [""]
    path = out / f"{ch.stem}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("\n".join(lines).encode("utf-8"))
    return path


def _url(url: str) -> str:
    """A path or URL inside <...>: spaces and angle brackets percent-encoded."""
    return url.replace(" ", "%20").replace("<", "%3C").replace(">", "%3E")


def write_docx(ch: VnrChapter, out_dir: str | Path) -> Path:
    """`<stem>.docx`: headings, numbered findings, figures with alt text, quotes, methods,
    references; byte-identical for identical content (fixed core properties and zip times)."""
    from docx import Document
    from docx.shared import Inches, Pt

    doc = Document()
    styles = doc.styles
    styles["Normal"].font.name = "Calibri"
    styles["Normal"].font.size = Pt(11)
    doc.add_heading(plain_text(ch.title), level=0)
    doc.add_paragraph(plain_text(ch.subtitle), style="Subtitle")
    if ch.notice:
        p = doc.add_paragraph(style="Intense Quote")
        p.add_run(plain_text(ch.notice[0]) + ": ").bold = True
        p.add_run(plain_text(ch.notice[1]))
    doc.add_paragraph(plain_text(ch.draft_note), style="Quote")
    doc.add_paragraph(plain_text(ch.intro))
    doc.add_heading(plain_text(t("vnr.findings", ch.lang)), level=1)
    doc.add_paragraph(plain_text(ch.findings_intro))
    if ch.findings:
        for f in ch.findings:
            doc.add_paragraph(plain_text(f["text"]), style="List Number")
    else:
        doc.add_paragraph(plain_text(ch.no_findings))
    if ch.figures:
        doc.add_heading(plain_text(t("vnr.figures", ch.lang)), level=2)
        for fig in ch.figures:
            doc.add_picture(io.BytesIO(fig.png), width=Inches(6.0))
            shape = doc.inline_shapes[-1]
            shape._inline.docPr.set("descr", plain_text(fig.alt))  # alt text for screen readers
            shape._inline.docPr.set("name", fig.name)
            doc.add_paragraph(plain_text(fig.caption), style="Caption")
    if ch.quotes:
        doc.add_heading(plain_text(t("vnr.quotes", ch.lang)), level=1)
        doc.add_paragraph(plain_text(t("vnr.quotes_intro", ch.lang)))
        for text, who in ch.quotes:
            p = doc.add_paragraph(style="Quote")
            p.add_run(plain_text(text))
            p.add_run("\n— " + plain_text(who)).italic = False
    doc.add_heading(plain_text(t("vnr.methods", ch.lang)), level=1)
    for m in ch.methods:
        doc.add_paragraph(plain_text(m), style="List Bullet")
    doc.add_heading(plain_text(t("vnr.references", ch.lang)), level=1)
    for text, url in ch.references:
        doc.add_paragraph(f"{plain_text(text)} {plain_text(url)}", style="List Bullet")

    when = datetime.fromisoformat(ch.date).replace(tzinfo=UTC)
    cp = doc.core_properties
    cp.title = plain_text(ch.title)
    cp.subject = plain_text(ch.subtitle)
    cp.author = plain_text(ch.author)
    cp.last_modified_by = plain_text(ch.author)
    cp.language = ch.lang
    cp.keywords = "SDG; VNR; leave no one behind; citizen-generated data"
    cp.created = when
    cp.modified = when
    cp.last_printed = when
    cp.revision = 1
    cp.comments = ""
    buf = io.BytesIO()
    doc.save(buf)
    path = Path(out_dir) / f"{ch.stem}.docx"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(stable_zip(buf.getvalue()))
    return path


def stable_zip(data: bytes) -> bytes:
    """The zip `data` rewritten with fixed member timestamps and attributes, same order."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.create_system = 0
            zi.external_attr = 0
            dst.writestr(zi, src.read(info.filename), compresslevel=9)
    return out.getvalue()


# --------------------------------------------------------------------------- export


def export_vnr(
    project: Project,
    iso: str,
    cycle: int | str,
    out_dir: str | Path,
    *,
    langs: list[str] | None = None,
    base_url: str = "",
    downloads_path: str | None = None,
) -> list[Path]:
    """Write `vnr_<ISO>_<cycle>_<lang>.md` (+ PNG figures) and `.docx` per language of the cycle."""
    cyc = project.cycle(iso, cycle)
    written: list[Path] = []
    for lang in langs or cyc.languages:
        ch = build_chapter(
            project, iso, cycle, lang, base_url=base_url, downloads_path=downloads_path
        )
        md = write_markdown(ch, out_dir)
        figs = sorted((Path(out_dir) / f"{ch.stem}_figures").glob("*.png"))
        written += [md, *figs, write_docx(ch, out_dir)]
    return written


def docx_text(path: str | Path) -> str:
    """All paragraph text of a .docx (for tests and for checking a draft by eye)."""
    from docx import Document

    return "\n".join(p.text for p in Document(str(path)).paragraphs)
