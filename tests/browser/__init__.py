"""Helpers for the trust checks: serve a built book, crawl it, build a fixture.

Kept apart from the tests so test_browser.py reads as a list of claims about the book.
Chromium is found and launched as the PDF export does it (`voicescount.pdf.find_chromium`,
`CHROMIUM_ARGS`): Debian's package (`make test` installs it), driven by Playwright
(`executable_path`), which never downloads a browser of its own.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import yaml

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
TINY = TESTS / "fixtures" / "tiny"

# WCAG 2.1 A and AA rules of axe-core; serious and critical violations fail the audit.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_FAILING_IMPACTS = ("serious", "critical")

# Respondent text as hostile as real exports get: HTML, script, event handlers, javascript:
# links, MyST roles and directives. Each one would set window.__pwned if it ever ran.
# The first three are the segments planted in the example data (data/VN/2022).
HOSTILE_TEXTS = [
    "The form said <img src=x onerror=alert(1)> when I opened it.",
    "<script>alert(1)</script>",
    "They told us to click {download}`x` to get the report, but we have no internet.",
    "<script>window.__pwned = 1</script>",
    '<img src="nowhere.png" onerror="window.__pwned = 2">',
    '[read more](javascript:window.__pwned=3) and <a href="javascript:window.__pwned=4">here</a>',
    "```{raw} html\n<script>window.__pwned = 5</script>\n```",
    ":::{admonition} Injected\nwindow.__pwned = 6\n:::",
    "{eval-rst}`.. raw:: html` and $x^2$ and **bold** and <b onmouseover=window.__pwned=7>hover</b>",
    '=HYPERLINK("http://example.invalid","click")',
]
HOSTILE_LABELS = ['=HYPERLINK("http://example.invalid","click")', "+1 call me", "-2", "@SUM(A1)"]


def axe_source() -> str:
    """axe.min.js as shipped inside the axe-playwright-python wheel (no network at test time)."""
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve `directory` on 127.0.0.1 (a free port) in a thread; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _is_redirect(path: Path) -> bool:
    head = path.read_text(encoding="utf-8", errors="replace")[:2000].lower()
    return 'http-equiv="refresh"' in head


def book_pages(html_dir: Path) -> list[str]:
    """Every HTML page of a built book (relative POSIX paths; the editions' pages are under
    <lang>/): theme folders and redirect stubs (index.html -> the root page) left out."""
    return sorted(
        p.relative_to(html_dir).as_posix()
        for p in html_dir.rglob("*.html")
        if not any(part.startswith("_") for part in p.relative_to(html_dir).parts[:-1])
        and not _is_redirect(p)
    )


# --------------------------------------------------------------------------- fixture book

TRUST_CELLS = [
    "from voicescount import figures, report, voices\n"
    "from voicescount.registry import Project\n"
    "import pandas as pd\n"
    "project = Project(project_root, data_dir=data_dir)",
    'report.header(project, country, cycle, lang, "trust")',
    # Quotes as the voices chapter renders them (HTML output)...
    "HOSTILE = {hostile!r}\n"
    "report.Html(''.join(f'<blockquote class=\"voicescount-quote\"><p>{{voices.as_text(s)}}</p>'\n"
    "                    '</blockquote>' for s in HOSTILE))",
    # ...and as Markdown, which MyST parses: the riskier path.
    "report.Markdown('\\n\\n'.join(voices.as_text(s) for s in HOSTILE))",
    "chart = figures.counts_bar(\n"
    "    pd.DataFrame({{'label': {labels!r} + ['women'], 'n': [3, 5, 2, 4, 6]}}),\n"
    "    what='people heard', lang=lang)\n"
    "figures.show(chart, '.', 'hostile-counts')",
]


def _trust_template(path: Path) -> None:
    from conftest import write_template

    cells = [c.format(hostile=HOSTILE_TEXTS, labels=HOSTILE_LABELS) for c in TRUST_CELLS]
    write_template(path, "Trust checks", cells)


def build_fixture_book(dest: Path) -> Path:
    """The tiny fixture project (one cycle, en + vi) plus a page of hostile respondent text
    and a chart with hostile labels; executed by the runner and built by `build_book`."""
    from voicescount.book import build_book
    from voicescount.registry import Project
    from voicescount.runner import execute

    shutil.copytree(TINY, dest)
    shutil.rmtree(dest / "data" / "ZZ" / "2023")
    # The real book's theme fixes (voicescount.sphinxext, enabled in the root _config.yml).
    cfg_path = dest / "_config.yml"
    cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
    real = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    extra = real.get("sphinx", {}).get("extra_extensions")
    if extra:
        cfg.setdefault("sphinx", {})["extra_extensions"] = extra
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    _trust_template(dest / "analyses" / "trust.ipynb")
    chapters = dest / "analyses" / "chapters.yml"
    chapters.write_text(chapters.read_text(encoding="utf-8") + "  - trust\n", encoding="utf-8")
    project = Project(dest)
    out, err = io.StringIO(), io.StringIO()
    summary = execute(project, jobs=2, progress=False, check=False, out=out, err=err)
    if not summary.ok:
        raise RuntimeError("fixture book: " + "; ".join(f.message for f in summary.failed))
    return build_book(project)


# --------------------------------------------------------------------------- crawling

# Theme-internal problems we cannot fix from the book's side, matched against console
# messages and failed requests. Each is listed (and printed by the tests), never hidden.
KNOWN_THEME_ISSUES = {
    # pydata-sphinx-theme 0.16: after load, a request for "../basic.css" is resolved against
    # the page instead of _static/styles/theme.css (which @imports it and loads fine).
    "basic.css 404": r"basic\.css",
    # pydata-sphinx-theme logs this with console.error on genindex when no mode is stored.
    "theme mode reset": r"Got invalid theme mode",
}

PAGE_PROBE_JS = """() => {
  // Event-handler attributes inside the page's content (the theme's own buttons are outside).
  const onAttrs = [];
  for (const el of document.querySelectorAll('.bd-article *, article *')) {
    for (const a of el.attributes) {
      if (/^on/i.test(a.name)) onAttrs.push(el.tagName.toLowerCase() + '[' + a.name + ']');
    }
  }
  const jsLinks = [...document.querySelectorAll('[href],[src],[action],[formaction]')]
    .map(e => e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('action') || '')
    .filter(h => /^\\s*(javascript|vbscript|data:text\\/html)/i.test(h));
  const badScripts = [...document.querySelectorAll('script')]
    .filter(s => /alert\\(|__pwned/.test(s.textContent)).length;
  const imgs = [...document.querySelectorAll('article img, main img, figure img')].map(i => ({
    src: (i.getAttribute('src') || '').slice(0, 60), alt: (i.getAttribute('alt') || '').trim()}));
  const charts = [...document.querySelectorAll('figure.voicescount-chart, table.voicescount-table')]
    .map(f => f.id);
  return {onAttrs, jsLinks, badScripts, imgs, charts,
          pwned: typeof window.__pwned !== 'undefined', title: document.title};
}"""

AXE_RUN_JS = """async (tags) => {
  const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""


# What a page may load besides the served book itself: inline and generated content.
LOCAL_SCHEMES = ("data:", "blob:", "about:")
# Counted, then aborted, by the offline crawl: they cannot start further requests of their own
# (a stylesheet or script could, so those are loaded), and skipping them keeps it fast.
ABORTED_TYPES = ("image", "font", "media")


def request_log(context, base: str, pages: list[str]) -> dict[str, dict]:
    """Visit every page and record every request it makes until its `load` event and a
    short wait for late scripts (MathJax typesets after load): `external` (any host but the
    local server), `local` (paths on it) and `mathjax` (whether a math page typeset).
    External requests are aborted, so nothing leaves the machine."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    rec: dict[str, list[str]] = {"external": [], "local": []}

    def route(r):
        url = r.request.url
        if url.startswith(base) or url.startswith(LOCAL_SCHEMES):
            rec["local"].append(url.removeprefix(base))
            if r.request.resource_type in ABORTED_TYPES:
                r.abort()
            else:
                r.continue_()
        else:
            rec["external"].append(url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    out = {}
    try:
        for p in pages:
            rec["external"], rec["local"] = [], []
            page.goto(base + p, wait_until="load")
            math = page.locator(".math").count()
            if math:  # MathJax replaces each formula with an mjx-container
                with contextlib.suppress(PlaywrightTimeout):  # reported as typeset == 0
                    page.wait_for_selector("mjx-container", state="attached", timeout=15_000)
            page.wait_for_timeout(30)
            out[p] = {
                "external": sorted(set(rec["external"])),
                "local": sorted(set(rec["local"])),
                "math": math,
                "typeset": page.locator("mjx-container").count(),
            }
    finally:
        page.close()
        context.unroute("**/*")
    return out


def crawl(context, base: str, pages: list[str], axe_js: str) -> dict[str, dict]:
    """Visit every page once: console errors, page errors, failed and external requests,
    dialogs, injected-markup probes and the axe-core audit. Returns one record per page."""
    import re

    known = re.compile("|".join(KNOWN_THEME_ISSUES.values()))
    external: list[str] = []

    def route(r):
        url = r.request.url
        if url.startswith(base) or url.startswith("data:") or url.startswith("blob:"):
            r.continue_()
        else:
            external.append(url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    rec: dict = {}
    page.on(
        "console",
        lambda m: rec["errors"].append(m.text) if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: rec["errors"].append(f"uncaught: {e}"))
    page.on(
        "response",
        lambda r: rec["failed"].append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None,
    )
    page.on("dialog", lambda d: (rec["dialogs"].append(d.message), d.dismiss()))
    out = {}
    for p in pages:
        rec = {"errors": [], "failed": [], "dialogs": [], "known": []}
        external.clear()
        page.goto(base + p, wait_until="load")
        page.wait_for_timeout(50)
        probe = page.evaluate(PAGE_PROBE_JS)
        page.add_script_tag(content=axe_js)
        violations = page.evaluate(AXE_RUN_JS, AXE_TAGS)
        failed = [f for f in rec["failed"] if not known.search(f)]
        rec["known"] = [f for f in rec["failed"] if known.search(f)]
        rec["known"] += [e for e in rec["errors"] if known.search(e)]
        errors = [
            e
            for e in rec["errors"]
            if not known.search(e)
            # the console repeats each failed request; those are judged above
            if not (e.startswith("Failed to load resource") and (rec["failed"] or external))
        ]
        out[p] = {
            **probe,
            "errors": errors,
            "failed": failed,
            "known": sorted(set(rec["known"])),
            "dialogs": list(rec["dialogs"]),
            "external": sorted(set(external)),
            "axe": [v for v in violations if v["impact"] in AXE_FAILING_IMPACTS],
            "axe_minor": [v for v in violations if v["impact"] not in AXE_FAILING_IMPACTS],
        }
    page.close()
    context.unroute("**/*")
    return out
