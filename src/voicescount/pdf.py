"""Printable PDF of the annual report, per (country, cycle, language), from the built book.

Partners cite and archive a PDF, so the PDF must be the report, not a second rendering of it:
it is printed by headless Chromium from the HTML pages Jupyter Book built
(`_build/html/report/<ISO>/<cycle>/<lang>/*.html`, in table-of-contents order), which already
hold the figures (SVG files the build copies beside the pages, linked as file URIs here),
tables, notices and provenance. One print document is assembled per report:

    cover (title, country, cycle, coalition, release date, synthetic-data notice)
    table of contents (chapter titles, page numbers, clickable)
    every chapter's article content (navigation, buttons and header links removed)

and printed once with a page-number footer. Page numbers of the contents are filled in by a
second pass: the first print tells on which page each chapter starts (Chromium writes a named
destination for every in-document link target, here `#ch-<k>`), and the contents are printed
again with those numbers. The numbers sit in a fixed-width column, so filling them in does not
move anything; the passes are repeated (at most `MAX_PASSES`) until the pages agree. Finally,
pypdf adds one bookmark per chapter (the outline a reader opens in the side bar) and fixes the
document information (dates = the cycle's release date), so a re-print of the same book does
not look like a new edition.

Chromium: Debian package `chromium` (`apt-get install -y chromium`, run as root; `make report`
does this when it is missing), driven with Playwright for Python; `VOICESCOUNT_CHROMIUM`
names another binary. Playwright's own browser download is never used.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup

from .book import toc, toc_files
from .errors import ConfigError, InputError
from .estimates import cycle_meta
from .i18n import t
from .registry import Project, label
from .render import Safe, html_macro

__all__ = [
    "CHROMIUM_ARGS",
    "Chapter",
    "assemble",
    "chapter_starts",
    "export_pdf",
    "find_chromium",
    "report_chapters",
]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MAX_PASSES = 3
PAGE_MARGIN = {"top": "18mm", "bottom": "18mm", "left": "16mm", "right": "16mm"}


def _synthetic_notice(lang: str) -> tuple[str, str]:
    return t("notice.synthetic_title", lang), t("notice.synthetic_text", lang)


# --------------------------------------------------------------------------- chapters


@dataclass
class Chapter:
    """One built page of the report: its file, its title (first heading) and its content."""

    page: str  # file name in the cycle's language folder, e.g. 'key_findings.html'
    title: str
    body: str  # the article's HTML after cleaning (ids prefixed, links made print-safe)


def report_pages(project: Project, iso: str, cycle: int | str, lang: str) -> list[str]:
    """Book paths (no suffix) of the report's pages for (iso, cycle, lang), in toc order."""
    prefix = f"report/{iso}/{cycle}/{lang}/"
    files = [f for f in toc_files(toc(project, lang)) if f.startswith(prefix)]  # its edition
    if not files:
        raise ConfigError(
            f"the book has no report pages for {iso} {cycle} in '{lang}'.",
            path=project.cycle_dir(iso, cycle) / "cycle.yml",
            field="languages",
            hint="Check the cycle's languages and analyses/chapters.yml.",
        )
    return files


def report_chapters(
    project: Project,
    iso: str,
    cycle: int | str,
    lang: str,
    html_dir: str | Path,
    base_url: str = "",
) -> list[Chapter]:
    """Read and clean every built page of the report (a missing page is an InputError)."""
    html_dir = Path(html_dir)
    files = report_pages(project, iso, cycle, lang)
    site = ""  # the pages' folder below the book's address
    if files and (html_dir / lang / f"{files[0]}.html").is_file():
        html_dir, site = html_dir / lang, f"{lang}/"  # the book's <lang> edition
    pages = [Path(f).name + ".html" for f in files]
    index = {p: k for k, p in enumerate(pages, start=1)}
    out = []
    for k, (f, page) in enumerate(zip(files, pages, strict=True), start=1):
        path = html_dir / f"{f}.html"
        if not path.is_file():
            raise InputError(
                "built page not found.",
                path=path,
                hint="Build the book first: `voicescount all` (or `make report`).",
            )
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "lxml")
        art = soup.select_one("article.bd-article") or soup.select_one("main") or soup.body
        if art is None:
            raise InputError("page has no article content.", path=path, hint="Rebuild the book.")
        h1 = art.find("h1")
        for a in art.select("a.headerlink"):
            a.decompose()
        title = " ".join(h1.get_text(" ").split()) if h1 else page.removesuffix(".html")
        _clean(art, k, index, path.parent, base_url, f"{site}{f.rsplit('/', 1)[0]}/")
        out.append(Chapter(page, title, art.decode_contents()))
    return out


def _clean(art, k: int, index: dict[str, int], page_dir: Path, base_url: str, rel: str) -> None:
    """Make one article printable inside the combined document.

    Ids are prefixed with the chapter number (pages reuse ids such as table names); links to
    other report pages become in-document links; links to files (CSV downloads) point to the
    published book when `base_url` is known and are otherwise dropped (a file path means
    nothing on paper); relative images become file URIs Chromium can load.
    """
    for el in art.select(".d-print-none, script, button, .voicescount-languages"):
        el.decompose()
    for el in art.find_all(id=True):
        el["id"] = f"c{k}-{el['id']}"
    for det in art.find_all("details"):
        if det.find("figure"):  # charts folded in the web page (intersections) are printed
            det["open"] = ""
    for a in art.find_all("a", href=True):
        href = a["href"]
        parts = urlsplit(href)
        if parts.scheme in ("http", "https", "mailto"):
            continue
        if not parts.path and parts.fragment:
            a["href"] = f"#c{k}-{parts.fragment}"
            continue
        name = Path(parts.path).name
        if not parts.scheme and "/" not in parts.path and name in index:
            j = index[name]
            a["href"] = f"#c{j}-{parts.fragment}" if parts.fragment else f"#ch-{j}"
            continue
        if base_url and not parts.scheme:
            a["href"] = urljoin(base_url.rstrip("/") + "/" + rel, href)
        elif a.has_attr("download"):
            a.decompose()
        else:
            a.unwrap()
    for img in art.find_all("img", src=True):
        src = img["src"]
        if src.startswith(("data:", "http:", "https:", "file:")):
            continue
        target = (page_dir / urlsplit(src).path).resolve()
        img["src"] = target.as_uri() if target.exists() else ""


# --------------------------------------------------------------------------- print document

PRINT_CSS = """
@page { size: A4; }
html { font-family: "DejaVu Sans", "Noto Sans", "Noto Sans Bengali", sans-serif; font-size: 10pt;
       line-height: 1.4; color: #000; }
body { margin: 0; }
h1 { font-size: 18pt; margin: 0 0 10pt; }
h2 { font-size: 13.5pt; margin: 14pt 0 6pt; break-after: avoid; }
h3 { font-size: 11.5pt; margin: 10pt 0 4pt; break-after: avoid; }
a { color: #0b4f8a; text-decoration: none; }
.cover { break-after: page; min-height: 240mm; display: flex; flex-direction: column; }
.cover .kicker { font-size: 12pt; color: #444; margin-top: 40mm; }
.cover h1 { font-size: 26pt; line-height: 1.2; margin: 6mm 0 10mm; }
.cover .meta { font-size: 12pt; }
.cover .foot { margin-top: auto; font-size: 9pt; color: #333; }
.toc { break-after: page; }
.toc ol { list-style: none; padding: 0; margin: 0; }
.toc li a { display: flex; color: #000; padding: 3pt 0; border-bottom: 0.5pt dotted #888; }
.toc li .t { flex: 1; }
.toc li .n { width: 14mm; text-align: right; font-variant-numeric: tabular-nums; }
.chapter { break-before: page; }
table { border-collapse: collapse; margin: 6pt 0; font-size: 8.5pt; break-inside: auto; }
th, td { border: 0.5pt solid #999; padding: 2pt 4pt; text-align: left; vertical-align: top; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
caption { caption-side: top; text-align: left; font-weight: bold; padding-bottom: 3pt; }
figure { margin: 8pt 0; break-inside: avoid; }
figure img, img { max-width: 100%; height: auto; }
figcaption { font-size: 9pt; }
details > summary { font-style: italic; list-style: none; }
blockquote { margin: 6pt 0 6pt 10pt; padding-left: 8pt; border-left: 2pt solid #999; }
.admonition { border: 1pt solid #b35900; padding: 4pt 8pt; margin: 6pt 0; break-inside: avoid; }
.admonition-title { font-weight: bold; margin: 0 0 2pt; }
pre, code { font-family: "DejaVu Sans Mono", monospace; font-size: 8.5pt; white-space: pre-wrap; }
"""


def assemble(
    chapters: Sequence[Chapter],
    *,
    lang: str,
    title: str,
    subtitle: str,
    coalition: str,
    date: str,
    notice: tuple[str, str] | None = None,
    downloads_url: str = "",
    pages: Sequence[int] | None = None,
) -> str:
    """The print document: cover, contents (with `pages` if known) and every chapter
    (templates/pdf.html.j2; the chapters' bodies are the built book's sanitised HTML)."""
    return html_macro(
        "pdf.html.j2",
        "document",
        [{"title": ch.title, "body": Safe(ch.body)} for ch in chapters],
        lang,
        title,
        subtitle,
        coalition,
        date,
        notice,
        downloads_url,
        list(pages) if pages else None,
        Safe(PRINT_CSS),
    )


def _footer(lang: str) -> str:
    return html_macro("pdf.html.j2", "footer", lang)


def _header(title: str) -> str:
    return html_macro("pdf.html.j2", "header", title)


def find_chromium() -> str:
    """Path of the Chromium binary (VOICESCOUNT_CHROMIUM, /usr/bin/chromium, or on PATH)."""
    env = os.environ.get("VOICESCOUNT_CHROMIUM")
    candidates = [env] if env else []
    candidates += ["/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    raise ConfigError(
        "headless Chromium is needed to print the report as PDF, and none was found.",
        hint="Install the Debian package as root: `apt-get update && apt-get install -y "
        "chromium` (`make report` does this), or set VOICESCOUNT_CHROMIUM to a Chromium binary.",
    )


def chapter_starts(pdf: bytes, n: int) -> list[int]:
    """1-based page on which each of the `n` chapters starts (named destinations ch-<k>)."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    dests = reader.named_destinations
    out = []
    for k in range(1, n + 1):
        d = dests.get(f"/ch-{k}") or dests.get(f"ch-{k}")
        if d is None:
            raise InputError(
                f"the printed PDF has no destination for chapter {k}.",
                hint="Chromium did not write in-document link targets; update Chromium.",
            )
        out.append(reader.get_destination_page_number(d) + 1)
    return out


def _finish(
    pdf: bytes, chapters: Sequence[Chapter], starts: Sequence[int], info: dict[str, str]
) -> bytes:
    """Bookmarks per chapter (and the contents), fixed document information, outline shown."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.add_outline_item(info["contents"], 1)
    for ch, page in zip(chapters, starts, strict=True):
        writer.add_outline_item(ch.title, page - 1)
    writer.add_metadata(
        {
            "/Title": info["title"],
            "/Author": info["author"],
            "/Subject": info["subject"],
            "/Creator": "voicescount",
            "/Producer": "voicescount (Chromium, pypdf)",
            "/CreationDate": info["date"],
            "/ModDate": info["date"],
        }
    )
    writer.page_mode = "/UseOutlines"
    buf = io.BytesIO()
    writer.write(buf)
    return stable_node_ids(buf.getvalue())


_NODE_ID = re.compile(rb"\(node(\d+)\)")


def stable_node_ids(pdf: bytes) -> bytes:
    """Renumber the tagged-PDF element ids Chromium takes from its DOM node counter.

    `(node00000882)` names a structure element (and table headers refer to it); the counter
    depends on what the browser did before, so two prints of the same page differ only there.
    Ids are renumbered in order of first appearance with the same number of digits, so byte
    offsets (and the cross-reference table) stay valid.
    """
    seen: dict[bytes, bytes] = {}

    def sub(m: re.Match[bytes]) -> bytes:
        digits = m.group(1)
        if digits not in seen:
            seen[digits] = str(len(seen) + 1).zfill(len(digits)).encode()
        new = seen[digits]
        return b"(node" + new + b")" if len(new) == len(digits) else m.group(0)

    return _NODE_ID.sub(sub, pdf)


def print_pdf(
    browser,
    chapters: Sequence[Chapter],
    doc: dict,
    workdir: Path,
) -> tuple[bytes, list[int]]:
    """Print the document until the contents' page numbers agree with the chapters' pages."""
    page = browser.new_page()
    page.set_default_timeout(300_000)
    pages: list[int] | None = None
    try:
        for _ in range(MAX_PASSES):
            src = workdir / "print.html"
            src.write_text(assemble(chapters, pages=pages, **doc), encoding="utf-8")
            page.goto(src.as_uri(), wait_until="load")
            pdf = page.pdf(
                format="A4",
                print_background=True,
                display_header_footer=True,
                header_template=_header(doc["title"]),
                footer_template=_footer(doc["lang"]),
                margin=PAGE_MARGIN,
                tagged=True,
            )
            starts = chapter_starts(pdf, len(chapters))
            if starts == pages:
                return pdf, starts
            pages = starts
    finally:
        page.close()
    raise InputError(
        f"the contents' page numbers did not settle after {MAX_PASSES} prints.",
        hint="A chapter's length depends on the contents page; report this as a bug.",
    )


# --------------------------------------------------------------------------- export


def export_pdf(
    project: Project,
    iso: str,
    cycle: int | str,
    out_dir: str | Path,
    *,
    html_dir: str | Path | None = None,
    langs: Sequence[str] | None = None,
    base_url: str = "",
    downloads_url: str = "",
) -> list[Path]:
    """Write `report_<ISO>_<cycle>_<lang>.pdf` per language from the built book."""
    from playwright.sync_api import sync_playwright

    html_dir = Path(html_dir) if html_dir else project.root / "_build" / "html"
    cycle = int(cycle)
    cyc = project.cycle(iso, cycle)
    meta = cycle_meta(project, iso, cycle)
    country = project.country(iso)
    langs = list(langs or cyc.languages)
    jobs = []
    for lang in langs:
        chapters = report_chapters(project, iso, cycle, lang, html_dir, base_url)
        title = label(cyc.title, lang, f"{label(country.name, lang, iso)} {cycle}")
        doc = {
            "lang": lang,
            "title": title,
            "subtitle": f"{label(country.name, lang, iso)}, {cycle}",
            "coalition": meta.coalition,
            "date": meta.date_released,
            "notice": _synthetic_notice(lang) if cyc.synthetic else None,
            "downloads_url": downloads_url,
        }
        jobs.append((lang, chapters, doc))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    stamp = "D:" + re.sub(r"\D", "", meta.date_released) + "000000Z"
    with tempfile.TemporaryDirectory(prefix="voicescount-pdf-") as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        try:
            for lang, chapters, doc in jobs:
                pdf, starts = print_pdf(browser, chapters, doc, Path(tmp))
                info = {
                    "contents": t("pdf.contents", lang),
                    "title": doc["title"],
                    "author": meta.coalition,
                    "subject": doc["subtitle"],
                    "date": stamp,
                }
                path = out / f"report_{iso}_{cycle}_{lang}.pdf"
                path.write_bytes(_finish(pdf, chapters, starts, info))
                written.append(path)
        finally:
            browser.close()
    return written
