"""Chapter builders called by the template notebooks in `analyses/`.

Notebooks stay thin (a call or two per cell) so the logic lives here, where it is tested once
and shared by every country, cycle and language. Each builder returns a display object that
Jupyter shows and Jupyter Book renders; text comes from the registry in the page's language.

Chapters per (country, cycle, language), in analyses/chapters.yml order: overview,
key_findings, who_heard, sdg (one page per SDG in focus, `foreach: sdgs`), inequalities,
trends, official, scorecards, voices, recommendations, synthesis, methods. All estimate
chapters read the cycle store (`estimates.load`, computed once per input state): one table
weighted, design-based (stats.estimate with the cycle's design), disclosed (disclosure.apply
with the instrument population's rule, children stricter), gaps tested (lnob.gaps, adjusted
per indicator) and checked with disclosure.check_published when it was stored, and what
follows from it (changes, trend, furthest-behind probabilities, official comparison,
coverage, counts); pages only label and show it. Charts go through figures (alt text,
table alternative, CSV in tables/); respondents' words only through voices.as_text.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from . import disclosure, estimates, quality
from . import recommendations as rc
from . import scorecards as sc
from . import voices as vo
from .errors import ConfigError, VoicesError

# The cycle store's functions (issue 12); those the pages no longer call are thin
# re-exports for tests and notebooks.
from .estimates import (  # noqa: F401
    HEARD_DIMENSIONS,
    LNOB_GROUPS,
    PUBLIC_COLUMNS,
    CycleStore,
    behind_probability,
    changes,
    check_published,
    coverage,
    declared_codes,
    disclose,
    furthest_behind,
    gap_tests,
    gaps,
    groupings_for,
    kish_deff,
    previous_cycle,
    public,
    trend_table,
)
from .figures import (
    MAX_CHANGE_FINDINGS,  # noqa: F401 (re-exported)
    MAX_GAP_FINDINGS,  # noqa: F401 (re-exported)
    Chart,
    chart_name,
    counts_bar,
    dot_whisker,
    dot_whisker_panels,
    findings,
    fmt_gap,
    fmt_value,
    formula_safe,
    heatmap,
    official_grid,
    scorecard_dumbbell,
    trend,
)
from .i18n import (
    CHAPTER_KEYS,
    FALLBACK,
    autonym,
    catalogue,
    code_label,
    dim_label,
    fmt_number,
    fmt_percent,
    split_dims,
    t,
)
from .prepare import WEIGHT_FINAL
from .provenance import page_notices, provenance_record
from .registry import (
    Country,
    Cycle,
    DimensionSet,
    Indicator,
    Project,
    Rules,
    label,
)
from .render import (
    Figure,
    Page,
    Quote,
    Safe,
    Table,
    figure_view,
    myst_text,
    render_html,
    table_view,
)

__all__ = [
    "Html",
    "Markdown",
    "chapter_title",
    "header",
    "inequalities",
    "key_findings",
    "methods",
    "official_chapter",
    "overview",
    "recommendations_chapter",
    "scorecards_chapter",
    "sdg_chapter",
    "title",
    "voices_chapter",
    "who_heard",
]


def _t(key: str, lang: str, **fmt: Any) -> str:
    """An overview-page message (`report.overview.<key>` in the i18n catalogue)."""
    return t(f"report.overview.{key}", lang, **fmt)


class Markdown:
    """Markdown for the book (MyST parses text/markdown outputs), plain text for the console."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_markdown_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


class Html:
    """HTML for the book and Jupyter, plain text for the console."""

    def __init__(self, text: str, plain: str = "") -> None:
        self.text = text
        self.plain = plain

    def _repr_html_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.plain or self.text


def title(project: Project, iso: str, cycle: int | str, lang: str) -> Markdown:
    """The page title: '<cycle title>: Overview', in the page's language (escaped MyST)."""
    cyc = project.cycle(iso, cycle)
    country = project.country(iso)
    name = label(cyc.title, lang, f"{label(country.name, lang)} {cycle}")
    return Markdown(f"# {myst_text(name)}: {myst_text(_t('overview', lang))}")


def overview(
    project: Project, iso: str, cycle: int | str, lang: str, out_dir: str | Path = "."
) -> Page:
    """Cycle overview: SDGs in focus, instruments, fieldwork dates and regions, from the
    registry; it opens with the cycle's headline (`overview_headline`) when the cycle has a
    store (a cycle without microdata still gets its overview)."""
    cyc = project.cycle(iso, cycle)
    country = project.country(iso)
    cname = label(country.name, lang, iso)
    facts = [(_t("sdgs", lang), [", ".join(_t("goal", lang, goal=g) for g in sorted(cyc.sdgs))])]
    facts.append(
        (_t("instruments", lang), [label(i.label, lang, n) for n, i in cyc.instruments.items()])
    )
    if cyc.fieldwork is not None:
        dates = f"{cyc.fieldwork.start} {_t('to', lang)} {cyc.fieldwork.end}"
        facts.append((_t("fieldwork", lang), [dates]))
    regions = ", ".join(label(r.name, lang, r.code) for r in country.regions)
    facts.append((_t("regions", lang), [regions]))
    headline = None
    with contextlib.suppress(VoicesError):  # no store (e.g. no microdata): no headline
        headline = overview_headline(_ctx(project, iso, cycle, lang, out_dir))
    return _view(
        "overview",
        ["headline", "intro", "facts"] if headline is not None else ["intro", "facts"],
        iso,
        cycle,
        lang,
        headline=headline,
        intro=_t("intro", lang, cycle=cyc.cycle, country=cname),
        facts=facts,  # (term, [values]): a definition list
        sdgs=sorted(cyc.sdgs),
        instruments=list(cyc.instruments),
        regions=country.region_codes(),
    )


# =========================================================================== report chapters
#
# The chapters below share one estimate table per (country, cycle): every indicator of the
# cycle's SDGs, overall and by every LNOB dimension and declared intersection its population
# carries, weighted and design-based (stats.estimate), with disclosure control applied and each
# group's gap to the overall tested. It is computed once, in the cycle store
# (`estimates.load`: build/<ISO>/<cycle>/store/, checked when written), with everything else
# the pages quote (changes, history, trend, furthest-behind probabilities, official
# comparison, coverage, counts), so pages only read and label it.


def estimate_cycle(project: Project, iso: str, cycle: int | str, prepared=None) -> pd.DataFrame:
    """The cycle's published estimate table (`estimates.load(...).estimates`)."""
    return estimates.load(project, iso, cycle).estimates


def rt(key: str, lang: str, **fmt: Any) -> str:
    """A report message (`report.<key>` in the i18n catalogue)."""
    return t(f"report.{key}", lang, **fmt)


# --------------------------------------------------------------------------- disclosure


def suppress_threshold(rules: Rules, population: str) -> int:
    """Cells with fewer respondents than this are suppressed; children get the stricter rule."""
    return disclosure.threshold(rules, population)


# --------------------------------------------------------------------------- page helpers


# An estimate and a difference as the pages show them (figures, shared with the VNR chapter).
_fmt, _fmt_gap = fmt_value, fmt_gap


# --------------------------------------------------------------------------- view models
#
# Converted chapters return a render.Page: the page's data (values, codes, render.Table and
# render.Figure views) for the section macros of templates/<chapter>.md.j2, which put the
# catalogue's words around them and emit MyST (escaped: see render). Files the page links are
# written here, when the view is built: tables/<name>.csv, figures/<name>.svg.


def page_prefix(iso: str, cycle: int | str, lang: str) -> str:
    """The start of every reference label of a page ('vn-2022-en'): labels are global to the
    book, and every (country, cycle, language) has the same chapters."""
    return f"{iso}-{cycle}-{lang}".lower()


def _view(
    chapter: str, sections: Sequence[str], iso: str, cycle: int | str, lang: str, **data: Any
) -> Page:
    return Page(f"{chapter}.md.j2", sections, lang, prefix=page_prefix(iso, cycle, lang), **data)


def _write_csv(df: pd.DataFrame, out_dir: str | Path, name: str) -> Path:
    """tables/<name>.csv (formula-safe, UTF-8 with BOM for Excel), the table's download."""
    path = Path(out_dir) / "tables" / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        df.map(formula_safe).to_csv(index=False, lineterminator="\n"), encoding="utf-8-sig"
    )
    return path


def _tab(
    df: pd.DataFrame,
    out_dir: str | Path,
    name: str,
    lang: str,
    caption: str,
    decimals: Mapping[str, int] | None = None,
) -> Table:
    """A table view, its CSV written beside the page."""
    _write_csv(df, out_dir, name)
    return table_view(df, name, caption, lang, decimals)


def _fig(chart: Chart, out_dir: str | Path, name: str, aliases: Sequence[str] = ()) -> Figure:
    """A figure view, its SVG and CSV written beside the page. `aliases`: names of charts
    this one shows instead (a faceted chart shows what one chart per grouping used to), so
    links to those (key findings, bookmarks) still land on it."""
    chart.save(out_dir, name)
    return figure_view(chart, name, aliases=aliases)


@dataclass
class _Ctx:
    """What every chapter of one (country, cycle, language) page needs."""

    project: Project
    iso: str
    cycle: int
    lang: str
    out_dir: Path

    @cached_property
    def cyc(self) -> Cycle:
        return self.project.cycle(self.iso, self.cycle)

    @cached_property
    def country(self) -> Country:
        return self.project.country(self.iso)

    @cached_property
    def rules(self) -> Rules:
        return self.project.rules

    @cached_property
    def store(self) -> CycleStore:
        """The cycle store: every number the page quotes, computed and checked once."""
        return estimates.load(self.project, self.iso, self.cycle)

    @cached_property
    def est(self) -> pd.DataFrame:
        return self.store.estimates

    def ind(self, var: str) -> Indicator:
        return self.project.indicators.get(var)

    def label(self, var: str) -> str:
        return label(self.ind(var).label, self.lang, var)

    def group(self, grouping: str, row: Mapping[str, Any]) -> str:
        if not grouping:
            return t("group.overall", self.lang)
        code = "|".join(str(row[d]) for d in split_dims(grouping))
        return code_label(self.project.dimensions, self.country, grouping, code, self.lang)

    def side(self, attr: str) -> Path | None:
        rel = getattr(self.cyc, attr)
        return self.project.cycle_dir(self.iso, self.cycle) / rel if rel else None


def _ctx(project: Project, iso: str, cycle: int | str, lang: str, out_dir: str | Path) -> _Ctx:
    return _Ctx(project, iso, int(cycle), lang, Path(out_dir))


def page_context(
    project: Project, iso: str, cycle: int | str, lang: str, out_dir: str | Path
) -> _Ctx:
    """A chapter's context (store, cycle, rules, labels, figure folder) for a page built
    outside this module from this module's pieces (the explorer's headline)."""
    return _ctx(project, iso, cycle, lang, out_dir)


# --------------------------------------------------------------------------- titles, header

CHAPTERS = CHAPTER_KEYS  # chapter stem -> catalogue key of its title (i18n)


def chapter_title(
    project: Project, iso: str, cycle: int | str, lang: str, chapter: str, sdg: int | None = None
) -> Markdown:
    """A chapter's page title in the page's language (the runner makes it the Markdown title)."""
    if chapter == "sdg":
        if sdg is None:
            raise ValueError("the sdg chapter needs its goal number")
        goal = f"{t('chapter.sdg', lang, goal=sdg)}: {rt(f'goal.{sdg}', lang)}"
        return Markdown(f"# {myst_text(goal)}")
    return Markdown(f"# {myst_text(t(CHAPTERS[chapter], lang))}")


def _language_name(lang: str) -> str:
    """A language's name in its own language (`language.<code>`, the same in every catalogue)."""
    return catalogue(FALLBACK).get(f"language.{lang}") or autonym(lang)


def header(
    project: Project,
    iso: str,
    cycle: int | str,
    lang: str,
    page: str,
    params: Mapping | None = None,
) -> Html:
    """The page's notices (synthetic data, machine-drafted wording: provenance.page_notices), a
    collapsed provenance block (provenance_record: every input of the page's scope with its
    hash, the parameters and versions) and a link to the same page in the cycle's other
    languages (pages of a cycle sit in report/<ISO>/<cycle>/<lang>/); templates/header.html.j2.

    `params={..., "inputs": "all"}` for a page that reads every country; a cycle-scope page
    quotes the hashes the cycle store recorded instead of hashing the files again.
    """
    if params is None:
        params = {"country": iso, "cycle": int(cycle), "lang": lang}
    recorded = None
    if str(params.get("inputs", "cycle")) == "cycle":
        with contextlib.suppress(VoicesError):  # no store (e.g. no microdata): hash the files
            recorded = estimates.load(project, iso, cycle).provenance["inputs"]
    rec = provenance_record(project, iso, cycle, lang, params, recorded)
    notices = page_notices(project, iso, cycle, lang)
    cyc = project.cycle(iso, cycle)
    others = [{"code": lg, "name": _language_name(lg)} for lg in cyc.languages if lg != lang]
    param_text = ", ".join(f"{k}={v!r}" for k, v in rec["parameters"].items())
    summary = t("notice.provenance_title", lang)
    text = render_html(
        "header.html.j2",
        notices=notices,
        summary=summary,
        made=t("notice.provenance_made", lang),
        version=rec["voicescount"],
        source=rec["source"][:12],
        parameters=param_text,
        packages=", ".join(f"{k} {v}" for k, v in rec["packages"].items()),
        input_file=t("notice.provenance_input_file", lang),
        inputs=list(rec["inputs"].items()),
        languages=others,
        other_languages=rt("other_languages", lang),
        page=page,
    )
    plain = [f"{n['title']}: {n['body']}" for n in notices]
    plain.append(t("notice.provenance_plain", lang, title=summary, n=len(rec["inputs"]),
                   parameters=param_text))  # fmt: skip
    return Html(text, "\n".join(plain))


# --------------------------------------------------------------------------- 1. key findings


def key_findings(
    project: Project, iso: str, cycle: int | str, lang: str, out_dir: str | Path = "."
) -> Page:
    """Chapter 1: the headline statements, each linked ({ref}, checked by the build) to the
    chart on the SDG page that shows it."""
    c = _ctx(project, iso, cycle, lang, out_dir)
    prev = c.store.previous
    change, notes = None, []
    if prev is not None:
        error = c.store.note_for(iso, prev)
        if error is None:
            change = c.store.changes
        else:
            notes.append(rt("previous_unavailable", lang, cycle=prev, error=error))
    items = findings(
        c.est, project.indicators, project.dimensions, c.country, lang, change,
        (c.cycle, prev) if prev is not None else None,
    )  # fmt: skip
    prefix = page_prefix(iso, cycle, lang)
    for f in items:  # 'sdg-1.html#fig-<chart>' -> the chart's label on that page
        f["target"] = f"{prefix}-{f['href'].split('#', 1)[1]}"
    return _view(
        "key_findings",
        ["headline", "intro", "findings", "changes"],
        iso,
        cycle,
        lang,
        headline=gap_headline(c, list(dict.fromkeys(c.est["variable"])), "headline-key-findings"),
        alpha=c.rules.alpha,
        method=c.rules.multiple_comparisons,
        findings=items,  # text, href (the chart's old HTML anchor), target (its label)
        previous=prev,
        changes_tested=change is not None,
        any_change=bool(change is not None and change["significant"].any()),
        notes=notes,
    )


# --------------------------------------------------------------------------- 2. who was heard


def label_counts(
    counts: pd.DataFrame, dim: str, dimensions: DimensionSet, country: Country | None, lang: str
) -> pd.DataFrame:
    """Respondent counts of one dimension as the store holds them (code, n; code '' = not
    stated) labelled in `lang`: columns code, label, n (undeclared codes show as they are)."""
    declared = declared_codes(dim, dimensions, country)
    rows = [
        (
            c,
            rt("not_stated", lang) if c == ""
            else code_label(dimensions, country, dim, c, lang) if c in declared
            else str(c),
            int(n),
        )
        for c, n in zip(counts["code"], counts["n"], strict=True)
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["code", "label", "n"])


def respondent_counts(
    df: pd.DataFrame, dim: str, dimensions: DimensionSet, country: Country | None, lang: str
) -> pd.DataFrame:
    """`estimates.respondent_counts` labelled in `lang`: columns code, label, n."""
    counts = estimates.respondent_counts(df, dim, dimensions, country)
    return label_counts(counts, dim, dimensions, country, lang)


def label_groups(counts: pd.DataFrame, lang: str) -> pd.DataFrame:
    """LNOB group counts (group, n) labelled in `lang`: columns code, label, n."""
    return pd.DataFrame(
        {
            "code": counts["group"],
            "label": [t(f"lnob_group.{g}", lang) for g in counts["group"]],
            "n": counts["n"].astype(int),
        }
    )


def group_counts(
    data: Mapping[str, pd.DataFrame], populations: Mapping[str, str], lang: str
) -> pd.DataFrame:
    """`estimates.group_counts` labelled in `lang`: columns code, label, n."""
    return label_groups(estimates.group_counts(data, populations), lang)


def who_heard(
    project: Project, iso: str, cycle: int | str, lang: str, out_dir: str | Path = "."
) -> Page:
    """Chapter 2: who took part, against the population, and what was kept (the store's
    counts, labelled here in the page's language)."""
    c = _ctx(project, iso, cycle, lang, out_dir)
    s = c.store.summary
    rows = []
    for name in c.store.instruments:
        i = s["instruments"][name]
        lab = label(c.cyc.instruments[name].label, lang, name)
        rows.append((lab, i["received"], i["kept"], i["quarantined"]))
    rows.append((t("table.total", lang), s["received"], s["kept"], s["quarantined"]))
    tab = pd.DataFrame(rows, columns=[rt("col.instrument", lang), rt("col.received", lang),
                                      rt("col.kept", lang), rt("col.quarantined", lang)])  # fmt: skip
    gc = label_groups(c.store.groups, lang)
    chart = counts_bar(gc, what=rt("what.group", lang), lang=lang)
    # Groups overlap, so a share of their sum means nothing: the table keeps the counts only.
    chart.table = chart.table.drop(columns=[t("table.share_pct", lang)])
    heard = c.store.respondents
    dims = []  # (dimension, figure): one chart each
    for dim in HEARD_DIMENSIONS:
        counts = heard[heard["dimension"] == dim]
        if counts.empty:
            continue
        counts = label_counts(counts, dim, project.dimensions, c.country, lang)
        what = dim_label(project.dimensions, dim, lang)
        dims.append((dim, _fig(counts_bar(counts, what=what, lang=lang), out_dir, f"heard-{dim}")))

    cov = c.store.coverage  # adults against data/<ISO>/population.csv, when both exist
    coverage_t = None
    if not cov.empty:
        cov_t = pd.DataFrame(
            {
                t("table.dimension", lang): [
                    dim_label(project.dimensions, d, lang) for d in cov["dimension"]
                ],
                t("table.group", lang): [
                    code_label(project.dimensions, c.country, d, k, lang)
                    for d, k in zip(cov["dimension"], cov["code"], strict=True)
                ],
                t("table.n", lang): cov["n"],
                rt("col.sample_pct", lang): (100 * cov["sample_share"]).round(1),
                rt("col.weighted_pct", lang): (100 * cov["weighted_share"]).round(1),
                rt("col.population_pct", lang): (100 * cov["population_share"]).round(1),
            }
        )
        pct = {col: 1 for col in cov_t.columns[3:]}
        coverage_t = _tab(cov_t, out_dir, "heard-coverage", lang, rt("cap.coverage", lang), pct)
    act = c.side("activities")
    activities_t = None
    if act is not None:
        summary = vo.activities_summary(vo.read_activities(act), lang)
        activities_t = _tab(summary, out_dir, "heard-activities", lang,
                            rt("cap.activities", lang))  # fmt: skip
    groups_fig = _fig(chart, out_dir, "heard-group")
    return _view(
        "who_heard",
        ["headline", "intro", "groups", "coverage", "activities"],
        iso,
        cycle,
        lang,
        headline=heard_headline(c, gc, groups_fig),
        received=s["received"],
        kept=s["kept"],
        quarantined=s["quarantined"],
        instruments=_tab(tab, out_dir, "heard-instruments", lang, rt("cap.instruments", lang)),
        groups=groups_fig,  # shown in the headline
        group_counts=c.store.groups,  # codes: group, n
        dimensions=dims,
        coverage=coverage_t,
        activities=activities_t,
    )


# --------------------------------------------------------------------------- 3. SDG chapters


def _behind_sentence(c: _Ctx, var: str, fb: pd.Series) -> str:
    """'Taking sampling error into account, the probability ... is 97%', or '' when the store
    has no probability for the group (no microdata, or the group was not ranked)."""
    g = fb["grouping"]
    code = "|".join(str(fb[d]) for d in split_dims(g))
    b = c.store.behind
    row = b[(b["variable"] == var) & (b["grouping"] == g) & (b["code"] == code)]
    if row.empty:
        return ""
    p, k = float(row["prob"].iloc[0]), int(row["k"].iloc[0])
    shown = (
        rt("more_than_99", c.lang) if p > 0.99
        else rt("less_than_1", c.lang) if p < 0.01
        else fmt_percent(p, c.lang, 0)
    )  # fmt: skip
    return rt("behind_probability", c.lang, k=k, p=shown,
              dimension=dim_label(c.project.dimensions, g, c.lang))  # fmt: skip


def indicator_summary(c: _Ctx, var: str) -> list[str]:
    """Definition, overall estimate with CI and the furthest-behind group with the probability
    that it is the furthest behind of its breakdown: the paragraphs, as text."""
    lang, ind = c.lang, c.ind(var)
    rows = c.est[(c.est["variable"] == var) & (c.est["grouping"] == "")]
    parts = [label(ind.definition, lang, "")]
    if not rows.empty and pd.notna(rows.iloc[0]["estimate"]):
        o = rows.iloc[0]
        text = rt("overall_estimate", lang, value=_fmt(o["estimate"], ind.unit, lang),
                  low=_fmt(o["ci_low"], ind.unit, lang), high=_fmt(o["ci_high"], ind.unit, lang),
                  n=fmt_number(o["n"], lang))  # fmt: skip
        if o["caution"]:
            text += " " + rt("caution_note", lang)
        parts.append(text)
    fb = furthest_behind(c.est, var)
    if fb is None:
        parts.append(rt("none_behind", lang))
    else:
        text = rt("furthest_behind", lang, group=c.group(fb["grouping"], fb),
                  value=_fmt(fb["estimate"], ind.unit, lang), gap=_fmt_gap(fb["gap"], ind.unit, lang))  # fmt: skip
        parts.append(" ".join(x for x in (text, _behind_sentence(c, var, fb)) if x))
    return [p for p in parts if p]


def sdg_chapter(
    project: Project, iso: str, cycle: int | str, lang: str, sdg: int, out_dir: str | Path = "."
) -> Page:
    """Chapter 3 (one page per SDG in focus): every indicator, overall, by every LNOB dimension
    and declared intersection, furthest behind, and trend.

    Per indicator (a section, label <prefix>-ind-<var>): summary paragraphs, one faceted
    dot-and-whisker chart with a panel per dimension (`<var>--groups`), one for the
    intersections folded away (`<var>--intersections`, its CSV link outside the fold) and the
    trend (`<var>--trend`); a chart per grouping made the page long and slow to build (up to
    ~90 SVGs a page). The per-grouping chart names are labels of the chart now showing them.
    """
    c = _ctx(project, iso, cycle, lang, out_dir)
    sdg = int(sdg)
    if sdg not in c.cyc.sdgs:
        raise ConfigError(f"SDG {sdg} is not in focus in {iso} {cycle}.", field="sdgs",
                          hint="Use one of the goals listed under `sdgs` in cycle.yml.")  # fmt: skip
    variables = [
        i.id for i in project.indicators.for_goals([sdg]) if i.id in set(c.est["variable"])
    ]
    hist = c.store.history
    indicators = []
    for var in variables:
        ind = c.ind(var)
        rows = applicable(ind, c.est[c.est["variable"] == var])  # no 'Male' for women only
        thr = suppress_threshold(c.rules, rows["population"].iloc[0])
        groupings = [g for g in dict.fromkeys(rows["grouping"]) if g]
        single = [g for g in groupings if len(split_dims(g)) == 1]
        inter = [g for g in groupings if len(split_dims(g)) > 1]
        kw = dict(dimensions=project.dimensions, country=c.country, lang=lang,
                  indicator_label=c.label(var), unit=ind.unit, suppress_n=thr)  # fmt: skip
        item: dict[str, Any] = {
            "variable": var,
            "title": f"{c.label(var)} ({ind.sdg.indicator or ind.sdg.target})",
            "summary": indicator_summary(c, var),
            "groups": None,
            "intersections": None,
            "n_intersections": len(inter),
            "trend": None,
        }
        if single:
            ch = dot_whisker_panels(rows, var, single, **kw)
            item["groups"] = _fig(ch, out_dir, chart_name(var, "groups"),
                                  [chart_name(var, g) for g in single])  # fmt: skip
        if inter:
            ch = dot_whisker_panels(rows, var, inter, **kw)
            item["intersections"] = _fig(ch, out_dir, chart_name(var, "intersections"),
                                         [chart_name(var, g) for g in inter])  # fmt: skip
        past = hist[hist["variable"] == var] if not hist.empty else hist
        if not past.empty and past["cycle"].nunique() >= 2:
            ch = trend(public(past).assign(cycle=past["cycle"]), var, dimensions=project.dimensions,
                       country=c.country, lang=lang, indicator_label=c.label(var), unit=ind.unit,
                       suppress_n=thr)  # fmt: skip
            item["trend"] = _fig(ch, out_dir, chart_name(var, "trend"))
        indicators.append(item)
    return _view(
        "sdg",
        ["headline", "intro", "indicators", "notes"],
        iso,
        cycle,
        lang,
        headline=gap_headline(c, variables, f"headline-sdg-{sdg}"),
        goal=sdg,
        variables=variables,
        indicators=indicators,
        notes=list(c.store.notes),
    )


# --------------------------------------------------------------------------- 4. inequalities


def inequalities(
    project: Project, iso: str, cycle: int | str, lang: str, out_dir: str | Path = "."
) -> Page:
    """Chapter 4: indicators x groups heat maps (gap to overall, significance), per population,
    and how many cells disclosure control suppressed."""
    c = _ctx(project, iso, cycle, lang, out_dir)
    est = c.est
    maps = []  # (population, figure)
    for pop in ("adults", "children", "cso"):
        sub = est[est["population"] == pop]
        if sub.empty:
            continue
        variables = list(dict.fromkeys(sub["variable"]))
        groupings = [g for g in dict.fromkeys(sub["grouping"]) if g and len(split_dims(g)) == 1]
        if not groupings:
            continue
        ch = heatmap(sub, variables, groupings, dimensions=project.dimensions, country=c.country,
                     lang=lang, labels={v: c.label(v) for v in variables},
                     higher_is_better={v: c.ind(v).higher_is_better for v in variables},
                     alpha=c.rules.alpha, suppress_n=suppress_threshold(c.rules, pop))  # fmt: skip
        maps.append((pop, _fig(ch, out_dir, f"heatmap-{pop}")))
    return _view(
        "inequalities",
        ["headline", "intro", "maps", "suppression"],
        iso,
        cycle,
        lang,
        headline=inequalities_headline(c),
        method=c.rules.multiple_comparisons,
        maps=maps,
        n=c.rules.suppress_min_n,
        n_children=c.rules.suppress_min_n_children,
        primary=int((est["suppression"] == "primary").sum()),
        secondary=int((est["suppression"] == "secondary").sum()),
        total=len(est),
    )


# --------------------------------------------------------------------------- 5. official data

STATUSES = ["agree", "differ", "official data missing", "suppressed", "not comparable"]


def official_comparison(c: _Ctx) -> pd.DataFrame:
    """CGD estimates (overall and single dimensions) beside the official data (the store's)."""
    return c.store.official


def official_chapter(
    project: Project, iso: str, cycle: int | str, lang: str, out_dir: str | Path = "."
) -> Page:
    """Chapter 5: where CGD and official data agree (CIs overlap), differ, and what official
    data misses (groups it has no value for)."""
    c = _ctx(project, iso, cycle, lang, out_dir)
    cmp = official_comparison(c)
    if cmp.empty:
        return _view("official", ["intro"], iso, cycle, lang, available=False)
    counts = cmp["status"].value_counts()
    tab = pd.DataFrame(
        [(rt(f"status.{s.replace(' ', '_')}", lang), int(counts.get(s, 0))) for s in STATUSES],
        columns=[t("table.status", lang), rt("col.comparisons", lang)],
    )
    shown = cmp[cmp["status"].isin(["agree", "differ"])]
    rows = []
    for _, r in shown.iterrows():
        rows.append(
            {
                t("table.indicator", lang): f"{c.label(r['variable'])} ({r['indicator']})",
                t("table.group", lang): c.group(r["grouping"], r),
                rt("col.cgd", lang): round(float(r["cgd_estimate"]), 1),
                t("table.ci_low", lang): round(float(r["cgd_ci_low"]), 1),
                t("table.ci_high", lang): round(float(r["cgd_ci_high"]), 1),
                rt("col.official", lang): round(float(r["official_value"]), 1),
                rt("col.official_year", lang): r["official_year_label"] or str(r["official_year"]),
                t("table.status", lang): rt(f"status.{r['status'].replace(' ', '_')}", lang),
            }
        )
    matched = None
    if rows:
        df = pd.DataFrame(rows)
        dec = {col: 1 for col in df.columns[2:6]}
        matched = _tab(df, out_dir, "official-compare", lang, rt("cap.official_compare", lang), dec)
    miss = cmp[cmp["status"] == "official data missing"]
    missing = [  # (indicator label, groups official data has no value for)
        (c.label(var), "; ".join(c.group(r["grouping"], r) for _, r in grp.iterrows()))
        for var, grp in miss.groupby("variable", sort=True)
    ]
    return _view(
        "official",
        ["headline", "intro", "matched", "missing"],
        iso,
        cycle,
        lang,
        headline=official_headline(c, cmp),
        available=True,
        status=_tab(tab, out_dir, "official-status", lang, rt("cap.official_status", lang)),
        status_counts={s: int(counts.get(s, 0)) for s in STATUSES},
        matched=matched,
        missing=missing,
    )


# --------------------------------------------------------------------------- 6. score cards


def scorecards_chapter(
    project: Project, iso: str, cycle: int | str, lang: str, out_dir: str | Path = "."
) -> Page:
    """Chapter 6: community and provider scores per service and criterion, the gap, and how
    the agreed actions were followed up across cycles (each cycle's action file up to this one)."""
    c = _ctx(project, iso, cycle, lang, out_dir)
    path = c.side("scorecards")
    if path is None:
        none = Headline([rt("scorecards_none", lang)])
        return _view("scorecards", ["headline", "intro"], iso, cycle, lang, available=False,
                     headline=none)  # fmt: skip
    scores = sc.read_scorecards(path)
    now = scores[scores["cycle"] == c.cycle]
    summ = sc.summarise(now, by=("service", "criterion"))
    headline = scorecards_headline(c, summ)
    services = []  # (code, label, figure): a section each
    for service, grp in summ.groupby("service", sort=True):
        name = sc.label("service", service, lang)
        data = grp.assign(criterion=[sc.label("criterion", x, lang) for x in grp["criterion"]])
        ch = scorecard_dumbbell(data, service=name, lang=lang)
        services.append((str(service), name, _fig(ch, out_dir, f"scorecard-{service}")))
    shown = summ.assign(
        service=[sc.label("service", x, lang) for x in summ["service"]],
        criterion=[sc.label("criterion", x, lang) for x in summ["criterion"]],
    )
    table = sc.scorecard_table(shown, lang)
    scores_t = _tab(table, out_dir, "scorecards", lang, rt("cap.scorecards", lang),
                    {col: 2 for col in table.columns[-3:]})  # fmt: skip
    files = []
    for _code, cy in project.cycles(iso):
        if cy <= c.cycle:
            own = project.cycle(iso, cy).scorecards
            f = project.cycle_dir(iso, cy) / own if own else None
            if f is not None and (f.parent / "scorecard_actions.csv").exists():
                files.append(f.parent / "scorecard_actions.csv")
    followup = actions_t = None
    if files:
        actions = sc.read_actions_across(files)
        actions = actions[actions["cycle_raised"] <= c.cycle]
        follow = sc.action_followup(actions)
        follow = follow[follow["cycle"] <= c.cycle]
        ft = sc.followup_table(follow, lang)
        followup = _tab(ft, out_dir, "scorecard-followup", lang, rt("cap.followup", lang),
                        {ft.columns[-1]: 1})  # fmt: skip
        actions_t = _tab(sc.action_table(actions, c.cycle, lang), out_dir, "scorecard-actions",
                         lang, rt("cap.actions", lang, cycle=c.cycle))  # fmt: skip
    return _view(
        "scorecards",
        ["headline", "intro", "services", "scores", "actions"],
        iso,
        cycle,
        lang,
        headline=headline,
        available=True,
        services=services,
        scores=scores_t,
        followup=followup,
        actions=actions_t,
    )


# --------------------------------------------------------------------------- 7. voices


def voices_chapter(
    project: Project, iso: str, cycle: int | str, lang: str, out_dir: str | Path = "."
) -> Page:
    """Chapter 7: themes by group (counted), stories counted, and anonymised quotes per theme
    raised in at least `min_quote_group` activities; the template shows respondents' words
    as text (render escapes every value: nothing they wrote is read as markup)."""
    c = _ctx(project, iso, cycle, lang, out_dir)
    path = c.side("qualitative")
    k = c.rules.min_quote_group
    if path is None:
        return _view("voices", ["intro"], iso, cycle, lang, k=k, available=False)
    seg = vo.read_segments(path)
    themes_path = path.parent / "themes.csv"
    themes = vo.read_themes(themes_path) if themes_path.exists() else None
    summ = vo.theme_summary(seg, themes, lang)
    st = pd.DataFrame(
        {
            t("table.theme", lang): summ["theme_label"],
            t("table.segments", lang): summ["segments"],
            t("table.activities", lang): summ["activities"],
            rt("col.groups", lang): summ["groups"],
            t("table.stories", lang): summ["stories"],
        }
    )
    bg = vo.themes_by_group(seg, themes, lang)
    pivot = bg.pivot_table(index="theme_label", columns="group_label", values="segments",
                           aggfunc="sum", fill_value=0, sort=False)  # fmt: skip
    pivot = pivot.reset_index().rename(columns={"theme_label": t("table.theme", lang)})
    quotes = vo.select_quotes(seg, min_activities=k, themes=themes, lang=lang)
    by_theme = []  # (theme label, theme code, quotes): one section each
    for theme, grp in quotes.groupby("theme_label", sort=False):
        said = []
        for _, q in grp.iterrows():
            kind = t(f"activity.{q['type']}", lang)
            said.append(Quote(q["text"], f"{vo.group_label(q['group'], lang)}, {kind}"))
        by_theme.append((str(theme), str(grp["theme"].iloc[0]), said))
    return _view(
        "voices",
        ["headline", "intro", "themes", "quotes"],
        iso,
        cycle,
        lang,
        headline=voices_headline(c, summ, len(seg)),
        k=k,
        available=True,
        segments=len(seg),
        activities=int(seg["activity_id"].nunique()),
        stories=int(seg["story"].sum()),
        themes=_tab(st, out_dir, "voices-themes", lang, rt("cap.themes", lang)),
        by_group=_tab(
            pivot, out_dir, "voices-themes-by-group", lang, rt("cap.themes_by_group", lang)
        ),
        quotes=by_theme,
    )


# --------------------------------------------------------------------------- 8. recommendations


def _recommendations_until(project: Project, iso: str, cycle: int) -> pd.DataFrame:
    """`recommendations.recommendations_until` (the community brief reads the same list)."""
    return rc.recommendations_until(project, iso, cycle)


def recommendations_chapter(
    project: Project, iso: str, cycle: int | str, lang: str, out_dir: str | Path = "."
) -> Page:
    """Chapter 8: uptake per cycle (integrated in full; partly stated apart) and each
    recommendation made up to this cycle with its target and status."""
    c = _ctx(project, iso, cycle, lang, out_dir)
    if c.side("recommendations") is None:
        return _view("recommendations", ["intro"], iso, cycle, lang, available=False)
    recs = _recommendations_until(project, iso, c.cycle)
    up = rc.uptake(recs)
    ut = rc.uptake_table(up, lang)
    ut[ut.columns[0]] = ut[ut.columns[0]].astype(str)
    rt_ = rc.recommendations_table(recs, lang)
    rt_[rt_.columns[1]] = rt_[rt_.columns[1]].astype(str)
    pct = {col: 1 for col in ut.columns[-2:]}
    sentences = rc.uptake_sentences(up, lang)
    return _view(
        "recommendations",
        ["headline", "intro", "uptake", "recommendations"],
        iso,
        cycle,
        lang,
        headline=Headline(sentences[-1:]),  # this cycle's uptake (no chart: the table follows)
        available=True,
        uptake=_tab(ut, out_dir, "recommendations-uptake", lang, rt("cap.uptake", lang), pct),
        sentences=rc.uptake_sentences(up, lang),
        recommendations=_tab(
            rt_, out_dir, "recommendations", lang, rt("cap.recommendations", lang)
        ),
    )


# --------------------------------------------------------------------------- 9. methods


METHODS_SECTIONS = ("design", "validation", "rules", "limitations", "quality", "provenance",
                    "downloads")  # fmt: skip


def methods(
    project: Project, iso: str, cycle: int | str, lang: str, out_dir: str | Path = "."
) -> Page:
    """Chapter 9: design, weights, validation and cleaning, the rules applied, limitations,
    and provenance (every input file with its hash, parameters, versions)."""
    c = _ctx(project, iso, cycle, lang, out_dir)
    d, s, r = c.cyc.design, c.store.summary, c.rules
    design = [
        rt("design_text", lang, weight=f"{WEIGHT_FINAL} ({d.weight or 1})",
           strata=d.strata or "–", psu=d.psu or "–")
    ]  # fmt: skip
    w = c.cyc.weighting
    if w is not None and w.instrument in c.cyc.instruments:
        inst = label(c.cyc.instruments[w.instrument].label, lang, w.instrument)
        margins = ", ".join(dim_label(project.dimensions, m, lang) for m in w.margins)
        design.append(rt("variance_raking", lang, instrument=inst, margins=margins))
    design.append(rt("intervals_df", lang))
    design.append(rt("behind_method", lang))
    rows = []
    for wr in c.store.weights.itertuples(index=False):
        name, final, fit = wr.instrument, float(wr.kish_deff), float(wr.margin_fit)
        rows.append(
            (label(c.cyc.instruments[name].label, lang, name),
             rt(f"weighting.{'raked' if wr.raked else 'design'}", lang),
             int(wr.n), round(float(wr.deff_design), 2), round(final, 2),
             round(float(wr.effective_n)) if final == final else None,
             round(100 * fit, 2) if fit == fit else None)
        )  # fmt: skip
    cols = [rt("col.instrument", lang), rt("col.weights", lang), t("table.n", lang),
            rt("col.deff_design", lang), rt("col.kish_deff", lang), rt("col.effective_n", lang),
            rt("col.margin_fit", lang)]  # fmt: skip
    wt = pd.DataFrame(rows, columns=cols)
    weights = _tab(wt, out_dir, "methods-weights", lang, rt("cap.weights", lang),
                   {cols[3]: 2, cols[4]: 2, cols[6]: 2})  # fmt: skip
    cleaning = None
    by_rule = sorted(s.get("issues_by_rule", {}).items())
    if by_rule:
        lt = pd.DataFrame(
            [
                (k.split(":", 1)[1], rt(f"severity.{k.split(':', 1)[0]}", lang), v)
                for k, v in by_rule
            ],
            columns=[rt("col.rule", lang), rt("col.severity", lang), rt("col.issues", lang)],
        )
        cleaning = _tab(lt, out_dir, "methods-cleaning-log", lang, rt("cap.cleaning", lang))
    rules = [
        rt("rule_caution", lang, n=r.caution_min_n, cv=fmt_percent(r.caution_max_cv, lang)),
        rt("rule_suppress", lang, n=r.suppress_min_n, n_children=r.suppress_min_n_children),
        rt("rule_secondary", lang),
        rt(
            "rule_precision",
            lang,
            step=fmt_number(
                10.0 ** -r.publish_decimals["percent"], lang, r.publish_decimals["percent"]
            ),
            points=fmt_number(100 * r.protection, lang),
        ),
        rt("rule_counts", lang),
        rt("rule_quotes", lang, k=r.min_quote_group),
        rt(
            "rule_gaps",
            lang,
            alpha=fmt_number(r.alpha, lang, 2),
            method=rt(f"method.{r.multiple_comparisons}", lang),
        ),
    ]
    rec = provenance_record(
        project, iso, cycle, lang, {"country": iso, "cycle": int(cycle), "lang": lang},
        inputs=c.store.provenance["inputs"],
    )  # fmt: skip
    pv = pd.DataFrame(sorted(rec["inputs"].items()), columns=[rt("col.file", lang), "SHA-256"])
    qs = quality.sentences(project, quality.statement(project, iso, int(cycle)), lang)
    return _view(
        "methods",
        ["headline", *METHODS_SECTIONS],
        iso,
        cycle,
        lang,
        headline=methods_headline(c),
        design=design,
        weights=weights,
        received=s["received"],
        kept=s["kept"],
        quarantined=s["quarantined"],
        cleaning=cleaning,
        rules=rules,
        limitations=["sample", "self_report", "official", "qualitative"],
        quality=qs,  # the CGD quality statement in words (its JSON is a download)
        version=rec["voicescount"],
        source=rec["source"][:12],
        inputs=_tab(pv, out_dir, "methods-inputs", lang, rt("cap.inputs", lang)),
        # raw HTML: the files are exported after the book is built, so Sphinx cannot check them
        downloads=Safe(downloads_list(project, iso, cycle, lang)),
    )


def downloads_section(project: Project, iso: str, cycle: int | str, lang: str) -> str:
    """HTML section of a report page linking every download of the cycle in the built book
    (`estimates.download_files`, the files `make report` exports).

    Links are relative (../../../../downloads/<ISO>/<cycle>/...), so they work wherever the
    book is served; the files are written after the book build (`make report`), which is why
    the links are raw HTML the Sphinx build does not check.
    """
    return downloads_list(project, iso, cycle, lang, section=True)


def downloads_list(
    project: Project, iso: str, cycle: int | str, lang: str, section: bool = False
) -> str:
    """The <ul> of `downloads_section` (the methods template puts it under a real heading)."""
    up = f"../../../../{estimates.BOOK_DOWNLOADS}/{iso}/{int(cycle)}/"
    items = []
    for kind, rel in estimates.download_files(project, iso, int(cycle)):
        key, _, lg = kind.partition(":")
        language = t(f"language.{lg}", lang) if lg else ""
        items.append((t(f"downloads.{key}", lang, language=language), up + rel))
    return render_html("downloads.html.j2", items=items, section=section,
                       title=t("downloads.title", lang), intro=t("downloads.intro", lang))  # fmt: skip


# --------------------------------------------------------------------------- across cycles
#
# Design choice: the country trend page and the cross-country synthesis are chapters of every
# cycle's report (templates `trends` and `synthesis`), showing the picture *as of that cycle*
# (earlier cycles only; other countries' latest cycle up to that year). The latest cycle's
# pages are therefore the country's trend page and the current synthesis. This needs no new
# job type in the runner, and a page never quotes data from a cycle after its own.

TREND_GROUPINGS = ["", "disability"]


def trends_chapter(
    project: Project, iso: str, cycle: int | str, lang: str, out_dir: str | Path = "."
) -> Page:
    """The country's trend page (as of this cycle): every indicator measured in at least two
    cycles, overall and by disability, and which changes since the previous cycle are
    statistically significant."""
    c = _ctx(project, iso, cycle, lang, out_dir)
    hist, notes = c.store.history, list(c.store.notes)
    variables = estimates.repeated(hist)
    if not variables:
        prev = c.store.previous  # nothing measured twice yet
        first = Headline([t("headline.first_cycle", lang) if prev is None
                          else t("headline.not_measured_before", lang, cycle=prev)])  # fmt: skip
        return _view("trends", ["headline", "intro", "notes"], iso, cycle, lang, variables=[],
                     notes=notes, headline=first)  # fmt: skip
    sub = hist[hist["variable"].isin(variables)]
    tt = c.store.trend
    cycles = sorted(sub["cycle"].unique())
    ind = {v: c.ind(v) for v in variables}
    shown = pd.DataFrame({t("table.indicator", lang): [c.label(v) for v in tt["variable"]]})
    for cy in cycles:
        shown[str(cy)] = [
            _fmt(x, ind[v].unit, lang) for v, x in zip(tt["variable"], tt[cy], strict=True)
        ]
    shown[rt("change_col", lang)] = [
        _fmt_gap(x, ind[v].unit, lang) if pd.notna(x) else "–"
        for v, x in zip(tt["variable"], tt["change"], strict=True)
    ]
    shown[t("table.significant", lang)] = [
        t("table.sig_yes", lang) if s else "" for s in tt["significant"]
    ]
    cap = rt("trends_cap", lang, first=cycles[0], last=cycles[-1])
    charts = []  # (variable, indicator label, [figures]): a section each
    for v in variables:
        rows = sub[sub["variable"] == v]
        thr = suppress_threshold(c.rules, rows["population"].iloc[0])
        figs = []
        for g in TREND_GROUPINGS:
            if g and g not in set(rows["grouping"]):
                continue
            ch = trend(public(rows).assign(cycle=rows["cycle"]), v, grouping=g,
                       dimensions=project.dimensions, country=c.country, lang=lang,
                       indicator_label=c.label(v), unit=ind[v].unit, suppress_n=thr)  # fmt: skip
            figs.append(_fig(ch, out_dir, f"trend-{chart_name(v, g)}"))
        charts.append((v, c.label(v), figs))
    return _view(
        "trends",
        ["headline", "intro", "table", "indicators", "notes"],
        iso,
        cycle,
        lang,
        headline=trends_headline(c, sub, tt),
        variables=variables,
        cycles=[int(x) for x in cycles],
        table=_tab(shown, out_dir, "trends", lang, cap),
        charts=charts,
        notes=notes,
    )


def synthesis_chapter(
    project: Project, iso: str, cycle: int | str, lang: str, out_dir: str | Path = "."
) -> Page:
    """Across countries (as of this cycle's year): the indicators the countries share, overall,
    from each country's latest cycle up to that year, with 95% CIs and caution flags."""
    c = _ctx(project, iso, cycle, lang, out_dir)
    latest: dict[str, int] = {}
    for code, cy in project.cycles():
        if cy <= c.cycle:
            latest[code] = max(cy, latest.get(code, cy))
    tables, notes = {}, []
    for code, cy in sorted(latest.items()):
        try:  # a broken cycle of another country must not stop the page
            tables[(code, cy)] = estimates.load(project, code, cy).estimates
        except VoicesError as err:
            notes.append(f"{code} {cy}: {err}")
    frames = [
        e[e["grouping"] == ""].assign(country=code, cycle=cy) for (code, cy), e in tables.items()
    ]
    allc = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    countries = sorted(allc["country"].unique()) if not allc.empty else []
    if len(countries) < 2:
        none = Headline([rt("synthesis_none", lang)])
        return _view("synthesis", ["headline", "intro", "notes"], iso, cycle, lang,
                     countries=countries, notes=notes, headline=none)  # fmt: skip
    shared = allc.groupby("variable")["country"].nunique()
    variables = sorted(v for v in shared.index if shared[v] >= 2)
    names = {code: label(project.country(code).name, lang, code) for code in countries}
    shared_sentence = t("headline.synthesis", lang, countries=", ".join(names.values()),
                        k=fmt_number(len(variables), lang),
                        m=fmt_number(len(countries), lang))  # fmt: skip
    rows = []
    for v in variables:
        ind = c.ind(v)
        for code in countries:
            r = allc[(allc["variable"] == v) & (allc["country"] == code)]
            if r.empty:
                continue
            r = r.iloc[0]
            est = "–" if pd.isna(r["estimate"]) else _fmt(r["estimate"], ind.unit, lang)
            ci = (
                ""
                if pd.isna(r["ci_low"])
                else f"{_fmt(r['ci_low'], ind.unit, lang)} – {_fmt(r['ci_high'], ind.unit, lang)}"
            )
            rows.append(
                {
                    t("table.indicator", lang): c.label(v),
                    rt("country_col", lang): f"{names[code]} ({int(r['cycle'])})",
                    t("table.estimate", lang): est,
                    rt("ci_col", lang): ci,
                    t("table.n", lang): "" if pd.isna(r["n"]) else fmt_number(r["n"], lang),
                    t("table.note", lang): t("legend.caution", lang) if r["caution"] else "",
                }
            )
    return _view(
        "synthesis",
        ["headline", "intro", "shared", "notes"],
        iso,
        cycle,
        lang,
        headline=Headline([shared_sentence]),  # the page's own counts; a table, no chart
        countries=countries,
        variables=variables,
        table=_tab(pd.DataFrame(rows), out_dir, "synthesis", lang, rt("synthesis_cap", lang)),
        notes=notes,
    )


# --------------------------------------------------------------------------- headlines
#
# Every page opens with its main message (issue 14): two or three short sentences written from
# the store's tested results (a gap only if `behind`: significant after correction, not
# caution-flagged, not suppressed; a change only if the store's test says so) and one small
# chart, before the notices and the detail. Nothing is said that the tests do not support.


@dataclass
class Headline:
    """A page's main message: sentences (plain text) and at most one chart."""

    sentences: list[str]
    figure: Figure | None = None


def population_allows(ind: Indicator, dim: str, code: str) -> bool:
    """False when the indicator's population rule asks only other codes of `dim` (e.g. women
    only: sex 'male' is not asked), so the group is not drawn; True otherwise. Only the
    conditions every respondent must meet count (the rule itself or its `all` parts)."""
    rules = [ind.population] if ind.population is not None else []
    while rules:
        r = rules.pop()
        if r.all is not None:
            rules.extend(r.all)
        elif r.item == dim:
            if r.equals is not None and str(r.equals) != code:
                return False
            if r.in_ is not None and code not in {str(v) for v in r.in_}:
                return False
    return True


def applicable(ind: Indicator, rows: pd.DataFrame) -> pd.DataFrame:
    """`rows` (one indicator's estimates) without the groups the indicator is not asked of:
    no respondents (n = 0) and excluded by its population (`population_allows`). A group with
    respondents is always kept; the downloads keep every row."""
    if ind.population is None or rows.empty:
        return rows
    keep = []
    for _, r in rows.iterrows():
        g = r["grouping"]
        out = (
            bool(g)
            and int(r["n"]) == 0
            and any(not population_allows(ind, d, str(r[d])) for d in split_dims(g))
        )
        keep.append(not out)
    return rows[keep]


def _largest_gap(c: _Ctx, variables: Sequence[str]) -> pd.Series | None:
    """The tested gap the page leads with: the largest among groups significantly behind
    (the store's `behind`), not caution-flagged or suppressed; None when there is none."""
    e = c.est
    cand = e[
        e["variable"].isin(list(variables)) & e["behind"].fillna(False).astype(bool)
        & ~e["caution"].fillna(False).astype(bool) & ~e["suppressed"].fillna(False).astype(bool)
        & (e["grouping"] != "")
    ]  # fmt: skip
    if cand.empty:
        return None
    cand = cand.assign(_abs=cand["gap"].abs()).sort_values(
        ["_abs", "variable", "grouping"], ascending=[False, True, True], kind="mergesort"
    )
    return cand.iloc[0]


def _change_sentence(c: _Ctx, var: str) -> str:
    """The tested overall change of `var` since the previous cycle, in plain words."""
    prev = c.store.previous
    if prev is None:
        return t("headline.first_cycle", c.lang)
    if c.store.note_for(c.iso, prev) is not None:
        return ""
    ch = c.store.changes
    row = ch[ch["variable"] == var] if not ch.empty else ch
    if row.empty:
        return t("headline.not_measured_before", c.lang, cycle=prev)
    r, ind = row.iloc[0], c.ind(var)
    if not bool(r["significant"]):
        return t("headline.no_change", c.lang, cycle=prev)
    better = (r["change"] > 0) == ind.higher_is_better
    return t("headline.change_better" if better else "headline.change_worse", c.lang, cycle=prev,
              previous=_fmt(r["previous"], ind.unit, c.lang), value=_fmt(r["estimate"], ind.unit, c.lang))  # fmt: skip


def gap_headline(c: _Ctx, variables: Sequence[str], name: str) -> Headline:
    """The largest tested gap among `variables`: what it is, that it is significant, whether
    the indicator changed since the previous cycle, and a dot chart of that one breakdown
    (figures/<name>.svg); or that no group is significantly behind."""
    r = _largest_gap(c, variables)
    if r is None:
        return Headline([t("headline.no_gap", c.lang)])
    var, g, ind = r["variable"], r["grouping"], c.ind(r["variable"])
    overall = c.est[(c.est["variable"] == var) & (c.est["grouping"] == "")]
    sentences = [
        t("headline.gap", c.lang, indicator=c.label(var), group=c.group(g, r),
           value=_fmt(r["estimate"], ind.unit, c.lang),
           overall=_fmt(overall["estimate"].iloc[0], ind.unit, c.lang) if not overall.empty else "–"),
        t("headline.significant", c.lang),
        _change_sentence(c, var),
    ]  # fmt: skip
    rows = applicable(ind, c.est[c.est["variable"] == var])
    # Only the groups with a value: the hidden ones are named in the full chart further down,
    # and the headline must fit one screen.
    rows = rows[~rows["suppressed"].fillna(False).astype(bool) & (rows["n"] > 0)]
    ch = dot_whisker(rows, var, g, dimensions=c.project.dimensions, country=c.country,
                     lang=c.lang, indicator_label=c.label(var), unit=ind.unit,
                     suppress_n=suppress_threshold(c.rules, rows["population"].iloc[0]))  # fmt: skip
    return Headline([s for s in sentences if s], _fig(ch, c.out_dir, name))


def official_headline(c: _Ctx, cmp: pd.DataFrame, name: str = "official-grid") -> Headline:
    """The official page's message: for how many comparisons official data has no value for
    the group, where the two differ, and the grid of goals by groups (figures/<name>.svg; the
    explorer shows the same grid under its own name, as labels are global to the book)."""
    counts = cmp["status"].value_counts()
    n, miss = len(cmp), int(counts.get("official data missing", 0))
    differ, agree = int(counts.get("differ", 0)), int(counts.get("agree", 0))
    sentences = [
        t("headline.official_missing", c.lang, k=fmt_number(miss, c.lang), n=fmt_number(n, c.lang)),
        t("headline.official_differ", c.lang, k=fmt_number(differ, c.lang),
           m=fmt_number(differ + agree, c.lang)),
    ]  # fmt: skip
    goals = {v: c.ind(v).sdg.goal for v in dict.fromkeys(cmp["variable"])}
    ch = official_grid(cmp, goals, dimensions=c.project.dimensions, country=c.country,
                       lang=c.lang)  # fmt: skip
    return Headline(sentences, _fig(ch, c.out_dir, name))


def inequalities_headline(c: _Ctx) -> Headline:
    """How many group gaps (single breakdowns, not suppressed) the tests call significant,
    then the largest one (`gap_headline`)."""
    e = c.est
    one = e[(e["grouping"] != "") & ~e["suppressed"].fillna(False).astype(bool)]
    one = one[[len(split_dims(g)) == 1 for g in one["grouping"]]]
    k = int(one["significant"].fillna(False).astype(bool).sum())
    h = gap_headline(c, list(dict.fromkeys(e["variable"])), "headline-inequalities")
    count = t(
        "headline.gaps_count", c.lang, k=fmt_number(k, c.lang), m=fmt_number(len(one), c.lang)
    )
    return Headline([count, *h.sentences[:2]], h.figure)


def heard_headline(c: _Ctx, groups: pd.DataFrame, fig: Figure) -> Headline:
    """Who was heard: how many answered, the three largest groups reached, and the chart of
    the groups (it moves from the detail to the top of the page)."""
    kept = fmt_number(c.store.summary["kept"], c.lang)
    top = groups.sort_values("n", ascending=False, kind="mergesort").head(3)
    named = ", ".join(f"{r['label']} ({fmt_number(r['n'], c.lang)})" for _, r in top.iterrows())
    sentences = [t("headline.heard", c.lang, kept=kept)]
    if named:
        sentences.append(t("headline.heard_groups", c.lang, groups=named))
    return Headline(sentences, fig)


def trends_headline(c: _Ctx, hist: pd.DataFrame, tt: pd.DataFrame) -> Headline:
    """How many indicators changed significantly since the previous cycle (the store's tests)
    and the largest such change with its overall trend chart; without one, the largest change
    is drawn and the page says that no change is significant."""
    tested = tt[tt["change"].notna()]
    sig = tested[tested["significant"].fillna(False).astype(bool)]
    prev = c.store.previous
    if tested.empty or prev is None:
        return Headline([t("headline.first_cycle", c.lang)])
    pool = sig if not sig.empty else tested
    r = pool.assign(_abs=pool["change"].abs())
    r = r.sort_values("_abs", ascending=False, kind="mergesort").iloc[0]
    var, ind = r["variable"], c.ind(r["variable"])
    if sig.empty:
        sentences = [t("headline.trends_none", c.lang, cycle=prev)]
    else:
        k, m = fmt_number(len(sig), c.lang), fmt_number(len(tested), c.lang)
        better = (r["change"] > 0) == ind.higher_is_better
        key = "headline.trends_better" if better else "headline.trends_worse"
        sentences = [
            t("headline.trends_count", c.lang, k=k, m=m, cycle=prev),
            t(key, c.lang, indicator=c.label(var), change=_fmt_gap(r["change"], ind.unit, c.lang)),
        ]
    rows = hist[hist["variable"] == var]
    ch = trend(public(rows).assign(cycle=rows["cycle"]), var, grouping="",
               dimensions=c.project.dimensions, country=c.country, lang=c.lang,
               indicator_label=c.label(var), unit=ind.unit,
               suppress_n=suppress_threshold(c.rules, rows["population"].iloc[0]))  # fmt: skip
    return Headline(sentences, _fig(ch, c.out_dir, "headline-trends"))


def voices_headline(c: _Ctx, summ: pd.DataFrame, segments: int) -> Headline:
    """What people raised: how many coded segments in how many themes, the theme raised most,
    and a bar chart of the themes (counts, not estimates)."""
    if summ.empty:
        return Headline([])
    top = summ.sort_values("segments", ascending=False, kind="mergesort")
    first = top.iloc[0]
    sentences = [t("headline.voices", c.lang, segments=fmt_number(segments, c.lang),
                   k=fmt_number(len(summ), c.lang), theme=first["theme_label"],
                   n=fmt_number(first["segments"], c.lang))]  # fmt: skip
    data = pd.DataFrame({"label": top["theme_label"].head(8), "n": top["segments"].head(8)})
    ch = counts_bar(data, what=t("table.theme", c.lang), lang=c.lang,
                    title=t("headline.voices_title", c.lang))  # fmt: skip
    return Headline(sentences, _fig(ch, c.out_dir, "headline-voices"))


def overview_headline(c: _Ctx) -> Headline:
    """The cycle's landing page: the largest tested gap of the cycle and that it is
    significant, with its chart (the key findings' headline, `gap_headline`, under its own
    name); two sentences, as the cycle's long title stands above them in the same screen."""
    h = gap_headline(c, list(dict.fromkeys(c.est["variable"])), "headline-overview")
    return Headline(h.sentences[:2], h.figure)


def scorecards_headline(c: _Ctx, summ: pd.DataFrame) -> Headline:
    """The largest community-provider gap of the cycle's score cards (mean scores, as the
    table publishes them), how many criteria communities scored lower, and the chart of the
    service with that gap (figures/headline-scorecards.svg)."""
    scored = summ[summ["gap"].notna()]
    if scored.empty:
        return Headline([rt("scorecards_none", c.lang)])
    big = scored.assign(_abs=scored["gap"].abs()).sort_values(
        ["_abs", "service", "criterion"], ascending=[False, True, True], kind="mergesort"
    )
    r = big.iloc[0]
    service = sc.label("service", r["service"], c.lang)
    lower = int((scored["gap"].round(2) < 0).sum())  # as the table rounds the gap
    sentences = [
        t("headline.scorecards", c.lang, service=service,
          criterion=sc.label("criterion", r["criterion"], c.lang),
          community=fmt_number(r["community"], c.lang, 1),
          provider=fmt_number(r["provider"], c.lang, 1)),
        t("headline.scorecards_lower", c.lang, k=fmt_number(lower, c.lang),
          m=fmt_number(len(scored), c.lang)),
    ]  # fmt: skip
    grp = summ[summ["service"] == r["service"]]
    data = grp.assign(criterion=[sc.label("criterion", x, c.lang) for x in grp["criterion"]])
    ch = scorecard_dumbbell(data, service=service, lang=c.lang)
    return Headline(sentences, _fig(ch, c.out_dir, "headline-scorecards"))


def methods_headline(c: _Ctx) -> Headline:
    """The technical page's short headline: who was asked (the cycle's questionnaires, its
    regions) and how many questionnaires passed the checks; no chart."""
    instruments = "; ".join(label(i.label, c.lang, n) for n, i in c.cyc.instruments.items())
    regions = ", ".join(label(r.name, c.lang, r.code) for r in c.country.regions)
    s = c.store.summary
    sentences = [t("headline.methods_who", c.lang, instruments=instruments, regions=regions)]
    if "kept" in s and "received" in s:
        sentences.append(t("headline.methods_count", c.lang, kept=fmt_number(s["kept"], c.lang),
                           received=fmt_number(s["received"], c.lang)))  # fmt: skip
    return Headline(sentences)
