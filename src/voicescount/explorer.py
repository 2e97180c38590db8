"""The indicator explorer and tracker page (issue 14, items 2 and 4): one page per (country,
cycle, language) where a reader picks an indicator, a breakdown and a cycle and sees a chart
or a table of the estimates with their confidence intervals, the official value beside them
(or that official data has none for the group), and the change since the previous cycle.

Why a payload: the page is static (it must work from a folder opened with file:// and
offline), so everything the script shows is written once here, from the cycle store, into
one JSON document per cycle and language (tables/explorer.json beside the page, and inline in
the page, because browsers do not let file:// pages fetch files). The payload holds only what
the pages publish, rounded and worded as the pages word it: suppressed cells carry the reason,
never a value; change statuses come from the store's tested changes (the script never
computes a statistic). `assets/voicescount-explorer.js` only filters, draws and downloads.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup

from . import disclosure, estimates
from .errors import VoicesError
from .figures import OKABE_ITO, fmt_gap, fmt_value
from .i18n import MINUS, code_label, dim_label, fmt_number, split_dims, t
from .registry import Project, label
from .render import Page, render_html
from .report import Headline, Html, official_headline, page_context, page_prefix

PAYLOAD_VERSION = 1
DATA_NAME = "explorer"  # tables/explorer.json beside the page
ASSETS = Path(__file__).parent / "assets"
SCRIPT = "voicescount-explorer.js"
STYLE = "voicescount-explorer.css"
# Statuses of a change since the previous cycle (explorer.status_<code> in the catalogue).
STATUSES = ("improving", "worsening", "no_change", "not_tested")
# Statuses of official.compare (report.status.<code> in the catalogue).
OFFICIAL_STATUSES = ("agree", "differ", "official data missing", "suppressed", "not comparable")
# The words the script needs (explorer.<key>); placeholders are filled by the script.
TEXT_KEYS = (
    "controls", "indicator", "grouping", "cycle", "view", "chart", "table", "download",
    "caption", "col_group", "col_estimate", "col_ci", "col_n", "col_note", "col_official",
    "col_official_year", "col_comparison", "official_missing", "misses", "misses_all",
    "misses_none", "no_official", "progress", "progress_none", "progress_overall",
    "status_improving", "status_worsening", "status_no_change", "status_not_tested",
    "chart_desc", "legend_cgd", "legend_official", "axis_percent", "axis_score", "updated",
    "no_rows",
)  # fmt: skip


def _published(x: float, unit: str) -> float:
    """The number as the pages print it (fmt_value's rounding: percent with one decimal,
    scores with two), as a number for the chart: read back from the English formatting, so
    it is the same digits whatever the rounding rule of fmt_number."""
    text = fmt_value(x, unit, "en").rstrip("%").replace(",", "").replace(MINUS, "-")
    return float(text)


def _official_text(x: float, unit: str, lang: str) -> str:
    """An official value as the official page shows it (report.official_chapter: Python's
    round to one decimal, then written; already in percent)."""
    return fmt_number(round(x, 1), lang, 1) + ("%" if unit == "percent" else "")


def change_status(row: Mapping[str, Any], higher_is_better: bool) -> str:
    """A tested change as a status: not tested (a caution-flagged estimate: no p-value),
    no significant change, or improving / worsening given the indicator's direction."""
    if pd.isna(row.get("p_adj")):
        return "not_tested"
    if not bool(row["significant"]):
        return "no_change"
    better = (float(row["change"]) > 0) == bool(higher_is_better)
    return "improving" if better else "worsening"


def _code(row: Mapping[str, Any], grouping: str) -> str:
    return "|".join(str(row[d]) for d in split_dims(grouping)) if grouping else ""


def _stores(project: Project, store: estimates.CycleStore) -> dict[int, dict[str, pd.DataFrame]]:
    """Per cycle of the store's history: its estimates, changes and official comparison
    (earlier cycles from their own stores; one that cannot be read keeps its estimates from
    the history, without changes or official values)."""
    out: dict[int, dict[str, pd.DataFrame]] = {}
    hist = store.history
    for cy in sorted(int(c) for c in hist["cycle"].unique()):
        if cy == store.cycle:
            s = store
        else:
            try:
                s = estimates.load(project, store.iso, cy)
            except VoicesError:
                est = hist[hist["cycle"] == cy].drop(columns="cycle")
                out[cy] = {"estimates": est, "changes": pd.DataFrame(), "official": pd.DataFrame()}
                continue
        out[cy] = {"estimates": s.estimates, "changes": s.changes, "official": s.official,
                   "previous": s.previous}  # fmt: skip
    return out


def build_payload(
    project: Project, iso: str, cycle: int, lang: str, tables: Mapping[int, Mapping[str, Any]]
) -> dict:
    """The explorer's data for one cycle and language from `tables` (cycle -> estimates,
    changes, official, previous): see the module docstring. Rows are sorted and every value
    is a published string or a rounded number, so the JSON is the same bytes on every run."""
    dims, country, rules = project.dimensions, project.country(iso), project.rules
    known = {i.id: i for i in project.indicators.indicators}
    rows, official, changes = [], [], []
    labels: dict[str, str] = {}  # "<grouping>|<code>" -> the group's label (once, not per row)
    used: dict[str, list[str]] = {}
    for cy in sorted(tables):
        est = tables[cy]["estimates"]
        for r in est.to_dict("records"):
            var, grouping = r["variable"], r["grouping"] or ""
            if var not in known:
                continue
            unit = known[var].unit
            suppressed = bool(r["suppressed"])
            if not suppressed and pd.isna(r["estimate"]):
                continue  # no respondents in the group: nothing to show (not a suppression)
            code = _code(r, grouping)
            row: dict[str, Any] = {
                "cycle": cy,
                "variable": var,
                "grouping": grouping,
                "code": code,
            }
            labels.setdefault(
                f"{grouping}|{code}", code_label(dims, country, grouping, code or None, lang)
            )
            if suppressed:
                thr = disclosure.threshold(rules, r.get("population") or "adults")
                row["suppressed"] = (
                    t("legend.suppressed_secondary", lang)
                    if r.get("suppression") == "secondary"
                    else t("legend.suppressed", lang, n=thr)
                )
            else:
                row.update(
                    estimate=_published(r["estimate"], unit),
                    text=fmt_value(r["estimate"], unit, lang),
                    ci=f"{fmt_value(r['ci_low'], unit, lang)} – {fmt_value(r['ci_high'], unit, lang)}",
                    n=fmt_number(int(r["n"]), lang, 0),  # as the tables write it (2.262 in vi)
                )
                if bool(r["caution"]):  # only when flagged (a third of the rows are not)
                    row["caution"] = True
                if pd.notna(r["ci_low"]) and pd.notna(r["ci_high"]):  # else no whisker
                    row.update(ci_low=_published(r["ci_low"], unit),
                               ci_high=_published(r["ci_high"], unit))  # fmt: skip
                else:
                    row["ci"] = "–"
            rows.append(row)
            groups = used.setdefault(var, [])
            if grouping not in groups:
                groups.append(grouping)
        off = tables[cy].get("official")
        if off is not None and not off.empty:
            for r in off.to_dict("records"):
                grouping = r["grouping"] or ""
                status = str(r["status"])
                item: dict[str, Any] = {
                    "cycle": cy,
                    "variable": r["variable"],
                    "grouping": grouping,
                    "code": _code(r, grouping),
                    "indicator": str(r["indicator"]),
                    "status": status,
                }
                if pd.notna(r["official_value"]):
                    unit = str(r.get("unit") or "percent")
                    item["official"] = round(float(r["official_value"]), 1)
                    item["official_text"] = _official_text(float(r["official_value"]), unit, lang)
                    item["year"] = str(r["official_year_label"] or r["official_year"])
                official.append(item)
        ch = tables[cy].get("changes")
        if ch is not None and not ch.empty:
            for r in ch.to_dict("records"):
                if r["variable"] not in known:
                    continue
                ind = known[r["variable"]]
                status = change_status(r, ind.higher_is_better)
                changes.append({
                    "cycle": cy,
                    "previous": int(tables[cy]["previous"]),
                    "variable": r["variable"],
                    "change": fmt_gap(r["change"], ind.unit, lang),
                    "status": status,
                    "status_text": t(f"explorer.status_{status}", lang),
                })  # fmt: skip
    indicators = []
    for var, ind in known.items():
        if var not in used:
            continue
        order = sorted(used[var], key=lambda g: (len(split_dims(g)) if g else 0, 0))
        indicators.append(
            {
                "id": var,
                "label": label(ind.label, lang, var),
                "sdg": ind.sdg.goal,
                "code": ind.sdg.indicator or ind.sdg.target,
                "unit": ind.unit,
                "higher_is_better": ind.higher_is_better,
                "groupings": [{"id": g, "label": dim_label(dims, g, lang)} for g in order],
            }
        )
    key = ("cycle", "variable", "grouping", "code")
    return {
        "version": PAYLOAD_VERSION,
        "country": iso,
        "cycle": int(cycle),
        "lang": lang,
        "cycles": sorted(int(c) for c in tables),
        "colours": {"cgd": OKABE_ITO["blue"], "official": OKABE_ITO["vermillion"]},
        "text": {
            **{k: t(f"explorer.{k}", lang) for k in TEXT_KEYS},
            "caution": t("legend.caution", lang),
        },
        "indicators": indicators,
        "groups": dict(sorted(labels.items())),
        "official_statuses": {
            s: t(f"report.status.{s.replace(' ', '_')}", lang) for s in OFFICIAL_STATUSES
        },
        "rows": sorted(rows, key=lambda r: tuple(str(r[k]) for k in key)),
        "official": sorted(official, key=lambda r: tuple(str(r[k]) for k in key)),
        "changes": sorted(changes, key=lambda r: (r["cycle"], r["variable"])),
    }


def payload(project: Project, iso: str, cycle: int | str, lang: str) -> dict:
    """The explorer's data for (iso, cycle, lang), read from the cycle store."""
    store = estimates.load(project, iso, cycle)
    return build_payload(project, iso, int(cycle), lang, _stores(project, store))


def payload_json(data: Mapping) -> str:
    """The payload as the file and the page carry it: sorted keys, no spaces, UTF-8 text."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _inline(text: str) -> str:
    """JSON safe inside <script type="application/json">: no '<' can end the element."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def write_payload(data: Mapping, out_dir: str | Path) -> Path:
    """tables/explorer.json beside the page (a static data file the page also links)."""
    path = Path(out_dir) / "tables" / f"{DATA_NAME}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(payload_json(data) + "\n", encoding="utf-8")
    return path


def widget(data: Mapping, prefix: str) -> str:
    """The explorer's HTML (controls, live region, chart and table slots, the inline data)."""
    return render_html(
        "explorer.html.j2",
        prefix=prefix,
        lang=data["lang"],
        text=data["text"],
        data=Markup(_inline(payload_json(data))),
    )


def explorer_chapter(
    project: Project, iso: str, cycle: int | str, lang: str, out_dir: str | Path = "."
) -> Page:
    """The explorer page's view: its headline (`explorer_headline`), its intro (MyST) and the
    widget (`view.widget()`, HTML)."""
    data = payload(project, iso, cycle, lang)
    write_payload(data, out_dir)
    prefix = page_prefix(iso, cycle, lang)
    page = Page("explorer.md.j2", ["headline", "intro"], lang, prefix=prefix, data_name=DATA_NAME,
                n_indicators=len(data["indicators"]), cycles=data["cycles"],
                headline=explorer_headline(project, iso, cycle, lang, out_dir))  # fmt: skip
    page.data["widget"] = lambda: Html(widget(data, prefix), plain=t("explorer.noscript", lang))
    return page


def explorer_headline(
    project: Project, iso: str, cycle: int | str, lang: str, out_dir: str | Path
) -> Headline:
    """What official data misses, above the interactive part: the official page's counts and
    SDG x group grid (its alt text and table alternative), from the store's comparison, as
    figures/explorer-official-grid.svg (its own name: labels are global to the book). The
    intro below says what the explorer holds. Without official data for the cycle, the
    headline says so, as the official page does."""
    c = page_context(project, iso, cycle, lang, out_dir)
    cmp = c.store.official
    if cmp.empty:
        return Headline([t("report.official_none", lang)])
    return official_headline(c, cmp, "explorer-official-grid")


def write_standalone(data: Mapping, out_dir: str | Path) -> Path:
    """A self-contained folder (index.html, the script, its style, tables/explorer.json) for
    a payload: the explorer outside the book, e.g. on a USB stick for a community meeting,
    and what the browser tests open with file://."""
    out = Path(out_dir)
    write_payload(data, out)
    for name in (SCRIPT, STYLE):
        shutil.copyfile(ASSETS / name, out / name)
    prefix = page_prefix(data["country"], data["cycle"], data["lang"])
    html = render_html(
        "explorer_page.html.j2",
        lang=data["lang"],
        title=t("chapter.explorer", data["lang"]),
        script=SCRIPT,
        style=STYLE,
        body=Markup(widget(data, prefix)),
    )
    path = out / "index.html"
    path.write_text(html + "\n", encoding="utf-8")
    return path
