"""The community brief: one or two printed pages for the people who gave their answers.

Collecting data with communities is also giving something back to them: the brief tells them,
in their language and in plain words, what was heard, what changed since the last cycle, what
was asked of the authorities and what was taken up, and who took part. Every statement comes
from the cycle store or the side files the pages read, so it never says more than the report:

* what was heard: the store's tested gaps (`figures.findings`, as the key findings page and
  the VNR chapter), at most `MAX_FINDINGS`; the themes raised in the most activities, each
  with one anonymised quote chosen as the voices page chooses them (`voices.select_quotes`,
  only themes raised in at least `rules.min_quote_group` activities);
* what changed: the store's significant changes since the previous cycle only;
* recommendations: `recommendations.uptake` over those made up to this cycle, with a few
  taken up in full;
* who took part: respondents per group and the activities held, every count under the
  suppression threshold written as "fewer than k" (children: the children's threshold).

Synthetic example data says so at the top. The HTML is self-contained (inline style, no
script, no external request); the PDF is the same HTML printed by the headless Chromium the
report PDF uses (A4, `pdf.find_chromium`), with fixed document information.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import estimates
from . import recommendations as rc
from . import voices as vo
from .figures import findings
from .i18n import fmt_number, t
from .pdf import CHROMIUM_ARGS, find_chromium, stable_node_ids
from .registry import Project, label
from .render import Safe, html_macro
from .stats import SEP

__all__ = [
    "BRIEF_DIR",
    "MAX_FINDINGS",
    "MAX_THEMES",
    "brief_files",
    "brief_html",
    "brief_links",
    "brief_view",
    "export_brief",
    "shown_count",
]

BRIEF_DIR = "brief"
MAX_FINDINGS = 3
MAX_THEMES = 3
MAX_TAKEN_UP = 3
PAGE_MARGIN = {"top": "14mm", "bottom": "14mm", "left": "15mm", "right": "15mm"}

BRIEF_CSS = """
@page { size: A4; }
html { font-family: "DejaVu Sans", "Noto Sans", "Noto Sans Bengali", sans-serif;
       font-size: 10.5pt; line-height: 1.45; color: #111; }
body { margin: 0 auto; max-width: 46em; padding: 0 0.5em; }
h1 { font-size: 19pt; line-height: 1.2; margin: 0 0 4pt; color: #0b4f8a; }
h2 { font-size: 13pt; margin: 12pt 0 4pt; color: #0b4f8a; break-after: avoid; }
p, li { margin: 3pt 0; }
ul { padding-left: 16pt; margin: 3pt 0; }
.by { color: #444; margin: 0 0 6pt; }
.notice { border: 1.5pt solid #b35900; padding: 4pt 8pt; margin: 6pt 0; }
.notice strong { display: block; }
blockquote { margin: 3pt 0 6pt 8pt; padding-left: 8pt; border-left: 2.5pt solid #0b4f8a;
             font-style: italic; }
blockquote footer { font-style: normal; font-size: 9pt; color: #444; }
.who { columns: 2; margin-top: 0; }
.who li { break-inside: avoid; margin: 0 0 3pt; }
.small { font-size: 9pt; color: #333; }
section { break-inside: avoid; }
"""


def brief_files(iso: str, cycle: int | str, lang: str) -> tuple[str, str]:
    """(HTML, PDF) paths of a brief in a cycle's export folder (`estimates.download_files`)."""
    stem = f"{BRIEF_DIR}/brief_{iso}_{int(cycle)}_{lang}"
    return f"{stem}.html", f"{stem}.pdf"


def shown_count(n: int, threshold: int, lang: str) -> str:
    """A count as the brief prints it: 'fewer than k' below the threshold (0 is shown)."""
    if 0 < n < threshold:
        return t("brief.fewer_than", lang, k=fmt_number(threshold, lang))
    return fmt_number(n, lang)


def _quotes(project: Project, iso: str, cycle: int, lang: str) -> list[dict[str, Any]]:
    """The themes raised in most activities, one anonymised quote each (voices page rule)."""
    cyc = project.cycle(iso, cycle)
    if not cyc.qualitative:
        return []
    path = project.cycle_dir(iso, cycle) / cyc.qualitative
    seg = vo.read_segments(path)
    themes_path = path.parent / "themes.csv"
    themes = vo.read_themes(themes_path) if themes_path.exists() else None
    k = project.rules.min_quote_group
    # exactly the voices page's selection (same call), so the brief quotes nothing new
    quotes = vo.select_quotes(seg, min_activities=k, themes=themes, lang=lang)
    spoken = dict(zip(seg["segment_id"], seg["language"], strict=True))
    summ = vo.theme_summary(seg, themes, lang)
    out, heard = [], set()
    for row in summ.itertuples(index=False):
        q = quotes[quotes["theme"] == row.theme]
        if q.empty:  # raised in fewer than k activities: no quote, and not named either
            continue
        # the reader's own language first, then a group not yet quoted (one does not speak
        # for all), then the page's order
        order = sorted(
            range(len(q)),
            key=lambda i: (spoken.get(q["segment_id"].iloc[i]) != lang,
                           q["group"].iloc[i] in heard, i),
        )  # fmt: skip
        q = q.iloc[order[0]]
        heard.add(q["group"])
        by = t("brief.quote_by", lang, group=vo.group_label(q["group"], lang),
               activity=t(f"activity.{q['type']}", lang))  # fmt: skip
        out.append(
            {
                "theme": t(
                    "brief.theme_line",
                    lang,
                    theme=row.theme_label,
                    n=fmt_number(int(row.activities), lang),
                ),  # fmt: skip
                "quote": str(q["text"]),
                "by": by,
            }
        )
        if len(out) == MAX_THEMES:
            break
    return out


def _recommendations(project: Project, iso: str, cycle: int, lang: str) -> dict | None:
    if project.cycle(iso, cycle).recommendations is None:
        return None
    recs = rc.recommendations_until(project, iso, cycle)
    if recs.empty:
        return {"summary": t("brief.recs_none", lang), "taken": []}
    n = len(recs)
    counts = recs["status"].value_counts()
    own = f"text_{lang}"
    taken = []
    for _, r in recs[recs["status"] == "integrated"].iterrows():
        text = r[own] if own in recs.columns and str(r[own]).strip() else r["text_en"]
        taken.append(str(text))
    return {
        "summary": t(
            "brief.recs_summary",
            lang,
            n=fmt_number(n, lang),
            integrated=fmt_number(int(counts.get("integrated", 0)), lang),
            partly=fmt_number(int(counts.get("partly", 0)), lang),
        ),  # fmt: skip
        "taken": taken[-MAX_TAKEN_UP:],
    }


def _who(project: Project, iso: str, cycle: int, store, lang: str) -> dict[str, Any]:
    rules = project.rules
    lines = []
    for g in store.groups.itertuples(index=False):
        if int(g.n) == 0:  # a group the cycle did not survey (e.g. no CSO questionnaire)
            continue
        k = rules.suppress_min_n_children if g.group == "children" else rules.suppress_min_n
        lines.append(
            t(
                "brief.group_line",
                lang,
                group=t(f"lnob_group.{g.group}", lang),
                n=shown_count(int(g.n), k, lang),
            )  # fmt: skip
        )
    activities = None
    cyc = project.cycle(iso, cycle)
    if cyc.activities:
        act = vo.read_activities(project.cycle_dir(iso, cycle) / cyc.activities)
        if len(act):
            activities = t(
                "brief.activities_line", lang,
                n=shown_count(len(act), rules.suppress_min_n, lang),
                participants=shown_count(int(act["participants"].sum()), rules.suppress_min_n,
                                         lang),
            )  # fmt: skip
    return {"groups": lines, "activities": activities}


def brief_view(project: Project, iso: str, cycle: int | str, lang: str) -> dict[str, Any]:
    """Everything the brief says, as words in `lang` (the template only lays it out)."""
    cycle = int(cycle)
    cyc = project.cycle(iso, cycle)
    country = project.country(iso)
    meta = estimates.cycle_meta(project, iso, cycle)
    store = estimates.load(project, iso, cycle)
    prev = store.previous
    usable_prev = prev is not None and store.note_for(iso, prev) is None
    # one group at a time (women, people with disabilities...): plainer words than a crossing
    est = store.estimates[~store.estimates["grouping"].str.contains(SEP, regex=False)]
    items = findings(
        est, project.indicators, project.dimensions, country, lang,
        store.changes if usable_prev else None, (cycle, prev) if usable_prev else None,
    )  # fmt: skip
    gaps = [f["text"] for f in items if f["kind"] == "gap"][:MAX_FINDINGS]
    changes = [f["text"] for f in items if f["kind"] == "change"]
    if prev is None or not usable_prev:
        changed_title, no_change = t("brief.changed_title_first", lang), t("brief.first", lang)
    else:
        changed_title = t("brief.changed_title", lang, prev=prev)
        no_change = t("brief.no_change", lang, prev=prev)
    s = store.summary
    people = sum(int(v["kept"]) for v in s["instruments"].values() if v["population"] != "cso")
    orgs = sum(int(v["kept"]) for v in s["instruments"].values() if v["population"] == "cso")
    cname = label(country.name, lang, iso)
    k = project.rules.suppress_min_n
    if orgs:
        intro = t("brief.intro", lang, cycle=cycle, people=shown_count(people, k, lang),
                  orgs=shown_count(orgs, k, lang))  # fmt: skip
    else:  # no CSO questionnaire this cycle: do not thank "0 groups"
        intro = t("brief.intro_people", lang, cycle=cycle, people=shown_count(people, k, lang))
    return {
        "lang": lang,
        "title": t("brief.title", lang, country=cname, cycle=cycle),
        "by": t("brief.by", lang, coalition=meta.coalition, date=meta.date_released),
        "notice": (
            (t("notice.synthetic_title", lang), t("notice.synthetic_text", lang))
            if cyc.synthetic
            else None
        ),
        "intro": intro,
        "heard_title": t("brief.heard_title", lang),
        "gaps": gaps,
        "no_gaps": t("brief.no_gaps", lang),
        "themes_title": t("brief.themes_title", lang),
        "themes": _quotes(project, iso, cycle, lang),
        "changed_title": changed_title,
        "changes": changes,
        "no_change": no_change,
        "recs_title": t("brief.recs_title", lang),
        "recs": _recommendations(project, iso, cycle, lang),
        "taken_title": t("brief.recs_taken", lang),
        "who_title": t("brief.who_title", lang),
        "who_intro": t("brief.who_intro", lang),
        "who": _who(project, iso, cycle, store, lang),
        "privacy": t(
            "brief.privacy",
            lang,
            k=fmt_number(project.rules.suppress_min_n, lang),
            q=fmt_number(project.rules.min_quote_group, lang),
        ),
        "more": t("brief.more", lang),
        "links": brief_links(project, iso, cycle, lang),
        "printed": False,
    }


def brief_links(project: Project, iso: str, cycle: int, lang: str) -> list[tuple[str, str]]:
    """(text, href) of the report PDF, the estimates and the quality statement, relative to
    the brief's folder, all among `estimates.download_files` (so `export all` writes them)."""
    files = dict(estimates.download_files(project, iso, cycle))
    picks = [(f"pdf:{lang}", "pdf", t(f"language.{lang}", lang)), ("csv", "csv", ""),
             ("quality", "quality", "")]  # fmt: skip
    return [
        (t(f"downloads.{key}", lang, language=language), f"../{files[kind]}")
        for kind, key, language in picks
        if kind in files
    ]


def brief_html(project: Project, iso: str, cycle: int | str, lang: str) -> str:
    """The brief as one self-contained HTML page (templates/brief.html.j2)."""
    return _document(brief_view(project, iso, cycle, lang))


def _document(view: dict[str, Any]) -> str:
    return html_macro("brief.html.j2", "document", view, Safe(BRIEF_CSS)) + "\n"


def _print(browser, html: str, info: dict[str, str]) -> bytes:
    """Print the paper version (links as text: a file path means nothing on paper, and an
    absolute one would make two prints of the same brief differ)."""
    from pypdf import PdfReader, PdfWriter

    page = browser.new_page()
    try:
        page.set_content(html, wait_until="load")
        pdf = page.pdf(format="A4", print_background=True, margin=PAGE_MARGIN, tagged=True)
    finally:
        page.close()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.add_metadata(
        {
            "/Title": info["title"],
            "/Author": info["author"],
            "/Creator": "voicescount",
            "/Producer": "voicescount (Chromium, pypdf)",
            "/CreationDate": info["date"],
            "/ModDate": info["date"],
        }
    )
    buf = io.BytesIO()
    writer.write(buf)
    return stable_node_ids(buf.getvalue())


def export_brief(
    project: Project,
    iso: str,
    cycle: int | str,
    out_dir: str | Path,
    *,
    langs: Sequence[str] | None = None,
    pdf: bool = True,
) -> list[Path]:
    """Write `brief/brief_<ISO>_<cycle>_<lang>.html` (and `.pdf`) per language of the cycle."""
    cycle = int(cycle)
    cyc = project.cycle(iso, cycle)
    meta = estimates.cycle_meta(project, iso, cycle)
    out = Path(out_dir)
    written: list[Path] = []
    pages = []
    for lang in langs or cyc.languages:
        rel_html, rel_pdf = brief_files(iso, cycle, lang)
        path = out / rel_html
        path.parent.mkdir(parents=True, exist_ok=True)
        view = brief_view(project, iso, cycle, lang)
        path.write_bytes(_document(view).encode("utf-8"))
        written.append(path)
        pages.append((_document({**view, "printed": True}), out / rel_pdf, view["title"]))
    if not pdf:
        return written
    from playwright.sync_api import sync_playwright

    stamp = "D:" + re.sub(r"\D", "", meta.date_released) + "000000Z"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        try:
            for html, pdf_path, title in pages:
                info = {"title": title, "author": meta.coalition, "date": stamp}
                pdf_path.write_bytes(_print(browser, html, info))
                written.append(pdf_path)
        finally:
            browser.close()
    return written
