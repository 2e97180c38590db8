"""The cycle store: every number a cycle's pages and exports quote, computed once.

A cycle's pages (about twenty per language) and its exports (Open SDG, SDMX, downloads, VNR,
PDF) all quote the same estimate table and what follows from it: gaps, changes since the
previous cycle, the trend, the furthest-behind probabilities, the official comparison,
coverage and respondent counts. Computing them in every page (and re-reading and re-checking
every earlier cycle there) was about half of a page's time, so this pipeline stage computes,
discloses, gap-tests and checks (`check_published`) each cycle's tables once and stores them
in build/<ISO>/<cycle>/store/ (one parquet per table and store.json with the key, notes,
the prepared summary and one provenance record). `load` reads them back, rebuilding under a
file lock when the key changed.

The key is the prepared data's input key (inputs, contract, package source), the keys (or
error notes) of the earlier cycles' stores it reads, the official codes file and the package
source fingerprint: an edit to 2020's data rebuilds 2022's store, a later cycle never an
earlier one. Labels (a language) are never stored: pages label codes at render time.
Tables are sorted and written with fixed parquet options, so the same inputs give the same
bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__, disclosure, lnob
from .derive import denominator_column
from .errors import ConfigError, VoicesError
from .fileio import atomic_write_text, locked, write_parquet
from .official import compare, load_official_codes, read_official_dir
from .prepare import WEIGHT_FINAL, design_for, prepare_cycle
from .provenance import (
    cycle_input_files,
    file_hashes,
    package_versions,
    relpath,
    source_fingerprint,
)
from .registry import Country, Cycle, DimensionSet, Project, Rules
from .stats import RESULT_COLUMNS, SEP, Design, estimate

STORE_DIR = "store"
STORE_JSON = "store.json"
LOCK = ".store.lock"
STORE_FORMAT = 1

# Columns a published estimate table carries (stats + disclosure); the rest are ours.
_KINDS = ("proportion", "mean", "total", "ratio", "quantile")  # order of the estimate calls
PUBLIC_COLUMNS = [*RESULT_COLUMNS, "suppressed", "suppression", "caution"]
# Who-was-heard dimensions, in the order the chapter shows them.
HEARD_DIMENSIONS = ["region", "sex", "age_group", "disability", "ethnicity"]
# LNOB groups a respondent counts in (one person may be in several): (group, column, code).
LNOB_GROUPS = [
    ("youth", "youth", "youth"),
    ("women", "sex", "female"),
    ("pwd", "disability", "with_disability"),
    ("lgbt", "lgbt", "lgbt"),
    ("ethnic_minority", "ethnicity", "minority"),
]
CHANGE_COLUMNS = ["variable", "estimate", "previous", "change", "p_value", "p_adj", "significant"]
BEHIND_COLUMNS = ["variable", "grouping", "instrument", "code", "estimate", "gap", "prob", "k"]
COVERAGE_COLUMNS = ["dimension", "code", "n", "sample_share", "weighted_share", "population_share"]
WEIGHT_COLUMNS = [
    "instrument", "raked", "n", "deff_design", "kish_deff", "effective_n", "margin_fit",
]  # fmt: skip
TABLES = (
    "estimates", "changes", "history", "trend", "behind", "official", "coverage",
    "respondents", "groups", "weights",
)  # fmt: skip


@dataclass(frozen=True)
class CycleStore:
    """One cycle's stored tables (see STORE_API in the project notes and DEVELOPING.md)."""

    iso: str
    cycle: int
    estimates: pd.DataFrame
    previous: int | None
    changes: pd.DataFrame
    history: pd.DataFrame
    notes: list[str]
    trend: pd.DataFrame
    behind: pd.DataFrame
    official: pd.DataFrame
    coverage: pd.DataFrame
    respondents: pd.DataFrame
    groups: pd.DataFrame
    weights: pd.DataFrame
    summary: dict
    provenance: dict

    @property
    def key(self) -> str:
        return str(self.provenance["key"])

    @property
    def instruments(self) -> list[str]:
        """The prepared instruments, in the order the pages list them."""
        return sorted(self.summary["instruments"])

    def note_for(self, iso: str, cycle: int) -> str | None:
        """The error text of an earlier cycle that could not be prepared, if it is one."""
        head = f"{iso} {int(cycle)}: "
        return next((n[len(head) :] for n in self.notes if n.startswith(head)), None)


# --------------------------------------------------------------------------- disclosure


def disclose(est: pd.DataFrame, rules: Rules, population: str, precision=None) -> pd.DataFrame:
    """`disclosure.apply` (caution flags, rounding to the declared precision, primary and
    secondary suppression over every line of cells that adds up to a published margin) plus
    `caution` as a boolean column, which official.compare and the chapters read; suppressed
    cells are never 'caution'."""
    out = disclosure.apply(est, rules, population, precision)  # type: ignore[arg-type]
    out["caution"] = out["flag"].fillna("").eq("caution") & ~out["suppressed"]
    return out


def public(est: pd.DataFrame) -> pd.DataFrame:
    """The published columns only (variable, grouping, dimensions, statistics, flags)."""
    drop = ["instrument", "population", "gap", "p_value", "p_adj", "significant", "behind"]
    return est.drop(columns=[c for c in drop if c in est.columns])


def check_published(est: pd.DataFrame, rules: Rules, precision=None) -> None:
    """`disclosure.check_published` per population of the cycle table (children are held to
    their stricter threshold): nothing that breaks the declared rules is stored, so no page
    or export shows it."""
    pops = est["population"] if "population" in est else pd.Series("adults", index=est.index)
    for pop in sorted(set(pops)):
        disclosure.check_published(public(est[pops == pop]), rules, pop, precision)


# --------------------------------------------------------------------------- gaps (LNOB)


def gap_tests(
    df: pd.DataFrame,
    items: Sequence[str],
    design: Design,
    by: Sequence[Sequence[str]],
    kind: str,
    rules: Rules,
    higher_is_better: Mapping[str, bool],
) -> pd.DataFrame:
    """`lnob.gaps` for every grouping of `by` (single dimensions and the intersection key
    columns derive made, e.g. 'sex×disability'): each group against the rest of the
    population, linearised jointly on the design, adjusted per indicator over every group
    compared with `rules.multiple_comparisons`."""
    cols = [SEP.join(g) for g in by if g and SEP.join(g) in df.columns]
    if not cols:
        return pd.DataFrame(columns=["variable", "dimension", "code", "p_value", "p_adjusted"])
    return lnob.gaps(df, items, design, cols, kind=kind, higher_is_better=dict(higher_is_better),
                     alpha=rules.alpha, method=rules.multiple_comparisons)  # fmt: skip


def _split(grouping: str) -> list[str]:
    return grouping.split(SEP) if grouping else []


def gaps(
    est: pd.DataFrame, tests: pd.DataFrame, rules: Rules, higher_is_better: Mapping[str, bool]
) -> pd.DataFrame:
    """Each group's gap to the overall value and whether it is significantly left behind.

    `gap` (shown on pages) is estimate - overall; the test is `lnob.gaps`' group-versus-rest
    test (`gap_tests`), which is the same hypothesis (a group equals the overall exactly when
    it equals the rest) with the correlation through shared PSUs taken into account.
    `significant` = adjusted p < alpha; `behind` = significant and on the worse side given the
    indicator's direction. Suppressed cells are never called significant.
    """
    out = est.copy()
    overall = out[out["grouping"] == ""].drop_duplicates("variable").set_index("variable")
    out["gap"] = np.where(
        out["grouping"] == "", np.nan, out["estimate"] - out["variable"].map(overall["estimate"])
    )
    keyed = {
        (r.variable, r.dimension, str(r.code)): (r.p_value, r.p_adjusted)
        for r in tests.itertuples(index=False)
    }

    def key(row) -> tuple:
        g = row["grouping"]
        return (row["variable"], g, "|".join(str(row[d]) for d in _split(g)) if g else "")

    found = [keyed.get(key(r), (np.nan, np.nan)) for _, r in out.iterrows()]
    out["p_value"] = [f[0] for f in found]
    out["p_adj"] = [f[1] for f in found]
    hidden = out["suppressed"].fillna(False).astype(bool) | out["gap"].isna()
    out.loc[hidden, ["p_value", "p_adj"]] = np.nan
    out["significant"] = out["p_adj"] < rules.alpha
    sign = out["variable"].map(lambda v: 1.0 if higher_is_better.get(v, True) else -1.0)
    out["behind"] = out["significant"] & (out["gap"] * sign < 0)
    return out


def furthest_behind(est: pd.DataFrame, variable: str) -> pd.Series | None:
    """The group significantly worst off for `variable` (largest gap on the worse side),
    excluding caution-flagged estimates; None when no group is significantly behind."""
    rows = est[(est["variable"] == variable) & est["behind"] & ~est["caution"]]
    if rows.empty:
        return None
    order = rows["gap"].abs().sort_values(ascending=False, kind="mergesort")
    return rows.loc[order.index[0]]


def changes(current: pd.DataFrame, previous: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    """Overall change per indicator since the previous cycle, tested and adjusted.

    The two cycles are independent samples: z = (p1 - p0) / sqrt(se1^2 + se0^2); p-values are
    adjusted over all indicators compared. Returns variable, estimate, previous, change,
    p_value, p_adj, significant (caution-flagged or suppressed estimates are not tested).
    """
    from scipy.stats import norm

    cols = ["variable", "estimate", "se", "caution"]
    a = current[current["grouping"] == ""][cols]
    b = previous[previous["grouping"] == ""][cols]
    m = a.merge(b, on="variable", suffixes=("", "_prev"))
    m = m[m["estimate"].notna() & m["estimate_prev"].notna()].copy()
    m["change"] = m["estimate"] - m["estimate_prev"]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = m["change"] / np.sqrt(m["se"] ** 2 + m["se_prev"] ** 2)
    p = 2 * norm.sf(np.abs(z.to_numpy(dtype=float)))
    p[(m["caution"] | m["caution_prev"]).to_numpy(bool)] = np.nan
    m["p_value"] = p
    m["p_adj"] = lnob.adjust_pvalues(p, rules.multiple_comparisons)
    m["significant"] = m["p_adj"] < rules.alpha
    m = m.rename(columns={"estimate_prev": "previous"})
    return m[CHANGE_COLUMNS]


def trend_table(hist: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    """Overall estimate per indicator and cycle, and the change from the previous cycle with
    its adjusted significance (`changes`, per pair of consecutive cycles)."""
    cycles = sorted(hist["cycle"].unique())
    rows = hist[hist["grouping"] == ""].pivot_table(
        index="variable", columns="cycle", values="estimate", aggfunc="first", sort=True
    )
    # a cycle whose overall estimates are all suppressed keeps its (empty) column
    out = rows.reindex(columns=cycles).reset_index()
    if len(cycles) >= 2:
        a, b = cycles[-1], cycles[-2]
        ch = changes(hist[hist["cycle"] == a], hist[hist["cycle"] == b], rules).set_index(
            "variable"
        )
        out["change"] = out["variable"].map(ch["change"])
        out["significant"] = out["variable"].map(ch["significant"]).fillna(False).astype(bool)
    return out


def repeated(hist: pd.DataFrame) -> list[str]:
    """Indicators measured in at least two cycles of `hist` (what the trend page shows)."""
    if hist.empty:
        return []
    n = hist.groupby("variable")["cycle"].nunique()
    return [v for v in n.index if n[v] >= 2]


def behind_probability(
    df: pd.DataFrame,
    est: pd.DataFrame,
    var: str,
    grouping: str,
    design: Design,
    kind: str,
    higher_is_better: bool,
) -> pd.Series:
    """For each published group of `grouping`, the probability that it is the furthest behind
    of the published groups (`lnob.furthest_behind`: seeded draws of the group estimates with
    their design covariance), indexed by code ('female|with_disability' for intersections).

    Suppressed groups are left out of the ranking (their rows stay in the design, outside every
    group), so the numbers say nothing about a hidden cell. Empty when the grouping's column
    is not in the data.
    """
    col = SEP.join(_split(grouping))
    if col not in df.columns:
        return pd.Series(dtype=float)
    rows = est[(est["variable"] == var) & (est["grouping"] == grouping) & ~est["suppressed"]]
    published = {"|".join(str(r[d]) for d in _split(grouping)) for _, r in rows.iterrows()}
    data = df.assign(**{col: df[col].where(df[col].astype(str).isin(published))})
    fb = lnob.furthest_behind(data, [var], design, [col], kind=kind,  # type: ignore[arg-type]
                              higher_is_better=higher_is_better)  # fmt: skip
    return fb.set_index(fb["code"].astype(str))["prob_furthest_behind"]


def behind_table(
    est: pd.DataFrame,
    data: Mapping[str, pd.DataFrame],
    designs: Mapping[str, Design],
    catalogue,
) -> pd.DataFrame:
    """Per indicator with a group significantly furthest behind (`furthest_behind`): that
    group and the probability that it is the furthest behind of its grouping's published
    groups (`behind_probability`, k = groups ranked). Indicators whose instrument has no
    microdata in `data`, or whose group was not ranked, have no row."""
    rows = []
    for var in dict.fromkeys(est["variable"]):
        fb = furthest_behind(est, var)
        if fb is None or fb["instrument"] not in data:
            continue
        ind, g = catalogue.get(var), fb["grouping"]
        probs = behind_probability(data[fb["instrument"]], est, var, g, designs[fb["instrument"]],
                                   ind.kind, ind.higher_is_better)  # fmt: skip
        code = "|".join(str(fb[d]) for d in _split(g))
        if code not in probs.index:
            continue
        rows.append((var, g, fb["instrument"], code, float(fb["estimate"]), float(fb["gap"]),
                     float(probs[code]), len(probs)))  # fmt: skip
    out = pd.DataFrame(rows, columns=BEHIND_COLUMNS)
    return out.sort_values("variable", kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------- estimates


def groupings_for(
    dimensions: DimensionSet, population: str, columns: Sequence[str]
) -> list[list[str]]:
    """Overall, every LNOB dimension the population carries, then the declared intersections
    whose dimensions all apply (a CSO has no sex or disability; lgbt is asked of adults)."""
    dims = [d.id for d in dimensions.dimensions if population in d.populations and d.id in columns]
    out: list[list[str]] = [[]] + [[d] for d in dims]
    out += [list(c) for c in dimensions.intersections if all(d in dims for d in c)]
    return out


def compute_estimates(project: Project, iso: str, cycle: int | str, prepared) -> pd.DataFrame:
    """The cycle's estimate table: every indicator of the cycle's SDGs, overall and by every
    LNOB dimension and intersection its population carries (stats.estimate on the cycle's
    design), disclosed (`disclose`), gap-tested (`gap_tests`, `gaps`), with `instrument`
    and `population`."""
    cyc = project.cycle(iso, cycle)
    rules = project.rules
    hib = {i.id: i.higher_is_better for i in project.indicators.indicators}
    frames = []
    for name in prepared.instruments:
        info = prepared.summary["instruments"][name]
        pop = info["population"]
        have = set(info["indicators"])
        inds = [
            i
            for i in project.indicators.for_goals(cyc.sdgs)
            if i.instrument == name and i.id in have
        ]
        if not inds:
            continue
        df = prepared.data(name)
        present = [c for c in df.columns if df[c].notna().any()]
        by = groupings_for(project.dimensions, pop, present)
        design = design_for(cyc, name)  # final (calibrated) weight, the cycle's strata and PSUs
        # one estimate call per estimator: proportions, means, totals, ratios, each quantile
        groups: dict[tuple[str, float], list] = {}
        for i in inds:
            groups.setdefault(i.estimator, []).append(i)
        for (kind, q), group in sorted(groups.items(), key=lambda kv: _KINDS.index(kv[0][0])):
            items = [i.id for i in group]
            est = estimate(
                df,
                items,
                design,
                by=by,
                kind=kind,  # type: ignore[arg-type]
                caution_min_n=rules.caution_min_n,
                caution_max_cv=rules.caution_max_cv,
                denominators=[denominator_column(i) for i in items] if kind == "ratio" else None,
                quantile=q,
            )
            est = disclose(est, rules, pop, disclosure.precision_for(project.indicators, rules))
            # group-versus-rest tests are of domain means (lnob); other kinds are not tested
            tests = (
                gap_tests(df, items, design, by, kind, rules, hib)
                if kind in ("proportion", "mean")
                else gap_tests(df, [], design, [], kind, rules, hib)
            )
            est = gaps(est, tests, rules, hib)
            if kind == "total":  # a group's total is a part of the overall one, not a level
                est["gap"] = np.nan
            est.insert(2, "instrument", name)
            est.insert(3, "population", pop)
            frames.append(est)
    if not frames:
        return pd.DataFrame(
            columns=["variable", "grouping", "instrument", "population", *PUBLIC_COLUMNS]
        )
    est = pd.concat(frames, ignore_index=True, sort=False)
    dims = [c for c in est.columns if c in {d.id for d in project.dimensions.dimensions}]
    for d in dims:
        est[d] = est[d].astype("object").where(est[d].notna(), None)
    lead = ["variable", "grouping", "instrument", "population", *dims]
    rest = [c for c in est.columns if c not in lead]
    return est[lead + rest].reset_index(drop=True)


def previous_cycle(project: Project, iso: str, cycle: int | str) -> int | None:
    """The country's latest cycle before `cycle`, if any."""
    earlier = [c for _code, c in project.cycles(iso) if c < int(cycle)]
    return max(earlier) if earlier else None


# --------------------------------------------------------------------------- who was heard


def declared_codes(dim: str, dimensions: DimensionSet, country: Country | None) -> list[str]:
    """The codes of `dim` in declared order: the country's regions and age bands, or the
    dimension's codes in dimensions.yml (empty when undeclared)."""
    if dim == "region" and country is not None:
        return country.region_codes()
    if dim == "age_group" and country is not None:
        return [f"{country.child_band.min}-{country.child_band.max}", *country.age_band_labels()]
    with contextlib.suppress(KeyError):
        return list(dimensions.get(dim).codes)
    return []


def respondent_counts(
    df: pd.DataFrame, dim: str, dimensions: DimensionSet, country: Country | None
) -> pd.DataFrame:
    """Respondents per code of `dim` (declared codes first, in declared order, then others
    sorted; a missing answer is counted under code '' = not stated): columns code, n."""
    if dim not in df.columns:
        return pd.DataFrame(columns=["code", "n"])
    vals = df[dim].astype("object").where(df[dim].notna(), None)
    counts = vals.value_counts(dropna=False)
    declared = declared_codes(dim, dimensions, country)
    seen = [k for k in counts.index if k is not None]
    order = [c for c in declared if c in seen] + sorted(str(c) for c in seen if c not in declared)
    rows = [(str(c), int(counts[c])) for c in order]
    missing = int(vals.isna().sum())
    if missing:
        rows.append(("", missing))
    return pd.DataFrame(rows, columns=["code", "n"])


def group_counts(data: Mapping[str, pd.DataFrame], populations: Mapping[str, str]) -> pd.DataFrame:
    """Respondents in each LNOB group (a person can be in several), children and CSOs:
    columns group, n."""
    people = [d for n, d in data.items() if populations[n] in ("adults", "children")]
    allp = pd.concat(people, ignore_index=True, sort=False) if people else pd.DataFrame()
    rows = []
    for group, col, code in LNOB_GROUPS:
        n = int((allp[col] == code).sum()) if col in allp else 0
        rows.append((group, n))
    for group in ("children", "cso"):
        n = sum(len(d) for name, d in data.items() if populations[name] == group)
        rows.append((group, n))
    return pd.DataFrame(rows, columns=["group", "n"])


def coverage(df: pd.DataFrame, margins: pd.DataFrame, weight: str | None) -> pd.DataFrame:
    """Sample shares (unweighted and weighted) beside the population margins, per dimension.

    `margins` is population.csv (dimension, code, population). Shares are within the
    dimension, over respondents with a stated value; weighted shares show what weighting
    corrects. Columns: dimension, code, n, sample_share, weighted_share, population_share.
    """
    rows = []
    for dim, grp in margins.groupby("dimension", sort=False):
        if dim not in df.columns:
            continue
        pop = grp.set_index("code")["population"].astype(float)
        known = df[df[dim].isin(pop.index)]
        w = (
            known[weight].astype(float)
            if weight and weight in known
            else pd.Series(1.0, index=known.index)
        )
        n = known[dim].value_counts()
        wsum = w.groupby(known[dim]).sum()
        for code in pop.index:
            rows.append(
                {
                    "dimension": dim,
                    "code": code,
                    "n": int(n.get(code, 0)),
                    "sample_share": n.get(code, 0) / max(len(known), 1),
                    "weighted_share": wsum.get(code, 0.0) / w.sum() if w.sum() else np.nan,
                    "population_share": pop[code] / pop.sum(),
                }
            )
    return pd.DataFrame(rows, columns=COVERAGE_COLUMNS)


def kish_deff(w: pd.Series) -> float:
    """Kish's design effect from unequal weights: n sum(w^2) / (sum w)^2 = 1 + CV(w)^2."""
    w = pd.to_numeric(w, errors="coerce").dropna().astype(float)
    return float(len(w) * (w**2).sum() / w.sum() ** 2) if len(w) and w.sum() else float("nan")


def weight_table(data: Mapping[str, pd.DataFrame], summary: Mapping) -> pd.DataFrame:
    """The methods page's weights per instrument, as codes and unrounded numbers."""
    rows = []
    for name in sorted(data):
        df = data[name]
        info = summary["instruments"][name].get("weighting") or {}
        final = kish_deff(df[WEIGHT_FINAL]) if WEIGHT_FINAL in df else float("nan")
        fit = info.get("margin_fit")
        rows.append((name, bool(info.get("margins")), len(df),
                     float(info.get("deff_design", final)), final,
                     len(df) / final if final == final else float("nan"),
                     float(fit) if fit is not None else float("nan")))  # fmt: skip
    return pd.DataFrame(rows, columns=WEIGHT_COLUMNS)


def official_comparison(project: Project, iso: str, est: pd.DataFrame) -> pd.DataFrame:
    """CGD estimates (overall and single dimensions) beside the official data for the country
    (`official.compare`); empty when the project declares no official codes."""
    path = project.data_dir / "official_codes.yml"
    if not path.exists():
        return pd.DataFrame()
    codes = load_official_codes(path)
    off = read_official_dir(
        project.data_dir / "official" / iso, codes=codes, country=project.country(iso)
    )
    single = est[est["grouping"].map(lambda g: len(_split(g)) <= 1 if g else True)]
    return compare(public(single), off, project.indicators)


# --------------------------------------------------------------------------- the store


def store_dir(project: Project, iso: str, cycle: int | str) -> Path:
    """build/<ISO>/<cycle>/store/: the stored tables and store.json."""
    return project.build_dir(iso, cycle) / STORE_DIR


def _extra_inputs(project: Project) -> list[Path]:
    """Files the store reads beyond the prepared inputs (the official codes mapping)."""
    return [p for p in (project.data_dir / "official_codes.yml",) if p.exists()]


def _key(prepared_key: str, earlier: Sequence[tuple[str, int, str]], extra: Mapping) -> str:
    h = hashlib.sha256()
    h.update(f"store {STORE_FORMAT}\0{prepared_key}\0{source_fingerprint()}\0".encode())
    for code, cy, k in earlier:
        h.update(f"{code} {cy}\0{k}\0".encode())
    for rel, digest in extra.items():
        h.update(f"{rel}\0{digest}\0".encode())
    return h.hexdigest()


def _write_table(df: pd.DataFrame, path: Path) -> None:
    # Parquet column names are text: the trend table's cycle columns go in as '2022'.
    write_parquet(df.rename(columns=str), path)


def _read_table(path: Path, name: str) -> pd.DataFrame:
    df = pd.read_parquet(path)
    if name == "trend":
        df = df.rename(columns=lambda c: int(c) if str(c).isdigit() else c)
    return df


def _read(sdir: Path, meta: dict) -> CycleStore:
    tables = {n: _read_table(sdir / f"{n}.parquet", n) for n in TABLES}
    return CycleStore(
        iso=meta["country"],
        cycle=int(meta["cycle"]),
        previous=meta["previous"],
        notes=list(meta["notes"]),
        summary=meta["summary"],
        provenance=meta["provenance"],
        **tables,
    )


def _meta(sdir: Path) -> dict | None:
    try:
        meta = json.loads((sdir / STORE_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not all((sdir / f"{n}.parquet").exists() for n in TABLES):
        return None
    return meta


def _signature(project: Project, iso: str, cycle: int) -> tuple:
    """What the process cache trusts without hashing: the stat of every input file and of
    the store files this and earlier cycles' stores were written to, and the source."""
    files = [*cycle_input_files(project, iso, cycle), *_extra_inputs(project)]
    files.append(project.data_dir / "contract.yml")
    files += [store_dir(project, code, cy) / STORE_JSON for code, cy in project.cycles(iso)
              if cy <= cycle]  # fmt: skip
    out = []
    for f in files:
        try:
            st = f.stat()
            out.append((str(f), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(f), None, None))
    return (source_fingerprint(), tuple(out))


_CACHE: dict[tuple[str, str, int], tuple[tuple, CycleStore]] = {}


def load(project: Project, iso: str, cycle: int | str) -> CycleStore:
    """The cycle's store: read from build/<ISO>/<cycle>/store/, (re)built under a file lock
    when it is missing or its key changed. Raises what preparing the cycle raises (a cycle
    that cannot be prepared has no store); earlier cycles that cannot be prepared become
    notes. Within a process (a runner kernel executes many pages), a store whose files and
    inputs did not change is reused; each caller gets its own copies of the tables, so a page
    that changes one cannot change what the next page reads."""
    store = _load(project, iso, int(cycle), {})
    return replace(store, **{n: getattr(store, n).copy() for n in TABLES})


def _load(project: Project, iso: str, cycle: int, memo: dict) -> CycleStore:
    if (iso, cycle) in memo:
        return memo[(iso, cycle)]
    ck = (str(project.root.resolve()), iso, cycle)
    sig = _signature(project, iso, cycle)
    hit = _CACHE.get(ck)
    if hit is not None and hit[0] == sig:
        memo[(iso, cycle)] = hit[1]
        return hit[1]
    prepared = prepare_cycle(project, iso, cycle)
    earlier: dict[int, CycleStore] = {}
    notes: list[str] = []
    parts: list[tuple[str, int, str]] = []
    for code, cy in project.cycles(iso):
        if cy >= cycle:
            continue
        try:
            earlier[cy] = _load(project, code, cy, memo)
            parts.append((code, cy, earlier[cy].key))
        except VoicesError as err:
            notes.append(f"{code} {cy}: {err}")
            parts.append((code, cy, f"note: {err}"))
    extra = file_hashes(_extra_inputs(project), root=project.root)
    key = _key(prepared.summary["input_key"], parts, extra)
    sdir = store_dir(project, iso, cycle)
    with locked(sdir / LOCK):
        meta = _meta(sdir)
        if meta is None or meta.get("key") != key:
            meta = _build(project, iso, cycle, prepared, earlier, notes, key, sdir)
        store = _read(sdir, meta)
    # the stat after writing: the next load in this process trusts these files
    _CACHE[ck] = (_signature(project, iso, cycle), store)
    memo[(iso, cycle)] = store
    return store


def across_cycles(
    est: pd.DataFrame,
    cycle: int,
    earlier: Mapping[int, pd.DataFrame],
    previous: int | None,
    rules: Rules,
) -> dict[str, pd.DataFrame]:
    """The store's tables over time from this cycle's estimates and the earlier cycles' that
    could be read: `changes` since `previous` (empty when it could not be read), `history`
    (every cycle stacked with `cycle`) and `trend` (`trend_table` over the indicators
    measured in at least two cycles; empty when none is)."""
    if previous is not None and previous in earlier:
        change = changes(est, earlier[previous], rules).reset_index(drop=True)
    else:
        change = pd.DataFrame(columns=CHANGE_COLUMNS)
    frames = [earlier[cy].assign(cycle=cy) for cy in sorted(earlier)]
    history = pd.concat([*frames, est.assign(cycle=cycle)], ignore_index=True, sort=False)
    reps = repeated(history)
    trend = trend_table(history[history["variable"].isin(reps)], rules) if reps else pd.DataFrame()
    return {"changes": change, "history": history, "trend": trend}


def _build(
    project: Project,
    iso: str,
    cycle: int,
    prepared,
    earlier: Mapping[int, CycleStore],
    notes: list[str],
    key: str,
    sdir: Path,
) -> dict:
    """Compute, check and write every table of the store; store.json last (its key marks a
    complete store)."""
    rules = project.rules
    cyc = project.cycle(iso, cycle)
    est = compute_estimates(project, iso, cycle, prepared)
    precision = disclosure.precision_for(project.indicators, rules)
    check_published(est, rules, precision)  # once per store: pages and exports read checked ones
    prev = previous_cycle(project, iso, cycle)
    over_time = across_cycles(est, cycle, {cy: s.estimates for cy, s in earlier.items()}, prev,
                              rules)  # fmt: skip
    data = {n: prepared.data(n) for n in prepared.instruments}
    pops = {n: prepared.summary["instruments"][n]["population"] for n in data}
    designs = {n: design_for(cyc, n) for n in data}
    behind = behind_table(est, data, designs, project.indicators)
    official = official_comparison(project, iso, est)
    country = project.country(iso)
    people = prepared.all_respondents()
    counts = [
        respondent_counts(people, dim, project.dimensions, country).assign(dimension=dim)
        for dim in HEARD_DIMENSIONS
    ]
    respondents = pd.concat(counts, ignore_index=True)[["dimension", "code", "n"]]
    pop_path = project.data_dir / iso / "population.csv"
    adults = [d for n, d in data.items() if pops[n] == "adults"]
    if pop_path.exists() and adults:
        margins = pd.read_csv(pop_path, dtype={"code": "str"})
        cov = coverage(pd.concat(adults, ignore_index=True), margins, WEIGHT_FINAL)
    else:
        cov = pd.DataFrame(columns=COVERAGE_COLUMNS)
    tables = {
        "estimates": est,
        **over_time,
        "behind": behind,
        "official": official,
        "coverage": cov,
        "respondents": respondents,
        "groups": group_counts(data, pops),
        "weights": weight_table(data, prepared.summary),
    }
    sdir.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        _write_table(df, sdir / f"{name}.parquet")
    provenance = {
        "country": iso,
        "cycle": cycle,
        "inputs": file_hashes(cycle_input_files(project, iso, cycle), root=project.root),
        "extra_inputs": file_hashes(_extra_inputs(project), root=project.root),
        "parameters": {"country": iso, "cycle": cycle},
        "prepared_key": prepared.summary["input_key"],
        "earlier_stores": {f"{iso} {cy}": earlier[cy].key for cy in sorted(earlier)},
        "voicescount": __version__,
        "source": source_fingerprint(),
        "packages": package_versions(),
        "store": relpath(sdir, project.root),
        "key": key,
    }
    meta = {
        "country": iso,
        "cycle": cycle,
        "key": key,
        "previous": prev,
        "notes": notes,
        "summary": prepared.summary,
        "provenance": provenance,
    }
    text = json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write_text(sdir / STORE_JSON, text)
    return meta


def estimate_cycle(project: Project, iso: str, cycle: int | str) -> pd.DataFrame:
    """The cycle's published estimate table (the store's `estimates`, checked when stored)."""
    return load(project, iso, cycle).estimates


# --------------------------------------------------------------------------- cycle meta
#
# What the exports (Open SDG, SDMX, downloads, VNR chapter, PDF) say about a cycle beyond its
# numbers: one record, so every format names the same coalition and release date.


@dataclass(frozen=True)
class CycleMeta:
    """What the writers need to know about the (country, cycle) beyond the estimates."""

    country: Country
    cycle: Cycle
    dimensions: DimensionSet
    coalition: str
    date_released: str  # YYYY-MM-DD, never "today": outputs must not change between runs
    license: str = "CC-BY-4.0"
    report_url: str | None = None

    @property
    def source(self) -> str:
        return (
            f"{self.coalition}: citizen-generated data survey, {self.country.name.get('en', '')} "
            f"{self.cycle.cycle}"
        )


def cycle_meta(
    project: Project,
    iso: str,
    cycle: int,
    *,
    coalition: str | None = None,
    date_released: str | None = None,
    license: str = "CC-BY-4.0",
    report_url: str | None = None,
) -> CycleMeta:
    """Build `CycleMeta` from the registry; the release date defaults to fieldwork end."""
    cyc = project.cycle(iso, cycle)
    country = project.country(iso)
    released = date_released or (cyc.fieldwork.end if cyc.fieldwork else None)
    path = project.cycle_dir(iso, cycle) / "cycle.yml"
    if not released:
        raise ConfigError(
            "has no fieldwork end date, needed as the release date of the citation.",
            path=path,
            field="fieldwork.end",
            hint="Add fieldwork: {start: YYYY-MM-DD, end: YYYY-MM-DD} or pass date_released.",
        )
    try:
        date.fromisoformat(str(released))
    except ValueError:
        raise ConfigError(
            f"release date '{released}' is not a YYYY-MM-DD date.",
            path=path,
            field="fieldwork.end",
            hint="Write dates as 2022-11-30.",
        ) from None
    name = coalition or f"Leave No One Behind partnership, {country.name.get('en', iso)}"
    return CycleMeta(country, cyc, project.dimensions, name, str(released), license, report_url)


# --------------------------------------------------------------------------- downloads
#
# What a cycle publishes for download is a naming convention shared by the exporter (which
# writes the files) and the pages (which link them), so it lives here, below both.

DOWNLOADS_DIR = "downloads"
# Where `make report` puts each cycle's exports inside the built book, and how a report page
# (report/<ISO>/<cycle>/<lang>/<page>.html) reaches them.
BOOK_DOWNLOADS = "downloads"


def download_files(project: Project, iso: str, cycle: int) -> list[tuple[str, str]]:
    """(kind, file path relative to the cycle's export folder) of every published download;
    kinds are 'csv', 'parquet', ... and 'vnr_docx:<lang>' etc. per language of the cycle.

    The book's download links are these; `publish.export(..., EXPORT_KINDS)` writes them all.
    """
    cyc = project.cycle(iso, cycle)
    stem = f"estimates_{iso}_{cycle}"
    d = DOWNLOADS_DIR
    files = [
        ("csv", f"{d}/{stem}.csv"),
        ("parquet", f"{d}/{stem}.parquet"),
        ("dictionary", f"{d}/data_dictionary.csv"),
        ("dictionary_md", f"{d}/data_dictionary.md"),
        ("citation", f"{d}/CITATION.cff"),
        ("opensdg", f"opensdg_{iso}_{cycle}.zip"),
        ("sdmx", f"sdmx/{iso}_{cycle}.csv"),
    ]
    for lg in cyc.languages:
        files += [
            (f"vnr_docx:{lg}", f"vnr/vnr_{iso}_{cycle}_{lg}.docx"),
            (f"vnr_md:{lg}", f"vnr/vnr_{iso}_{cycle}_{lg}.md"),
            (f"pdf:{lg}", f"pdf/report_{iso}_{cycle}_{lg}.pdf"),
            (f"brief_html:{lg}", f"brief/brief_{iso}_{cycle}_{lg}.html"),
            (f"brief_pdf:{lg}", f"brief/brief_{iso}_{cycle}_{lg}.pdf"),
        ]
    files.append(("quality", f"quality/quality_{iso}_{cycle}.json"))
    return files


__all__ = [
    "BOOK_DOWNLOADS",
    "DOWNLOADS_DIR",
    "HEARD_DIMENSIONS",
    "LNOB_GROUPS",
    "PUBLIC_COLUMNS",
    "CycleMeta",
    "CycleStore",
    "behind_probability",
    "across_cycles",
    "behind_table",
    "changes",
    "check_published",
    "compute_estimates",
    "coverage",
    "cycle_meta",
    "declared_codes",
    "disclose",
    "download_files",
    "estimate_cycle",
    "furthest_behind",
    "gap_tests",
    "gaps",
    "group_counts",
    "groupings_for",
    "kish_deff",
    "load",
    "previous_cycle",
    "public",
    "respondent_counts",
    "store_dir",
    "trend_table",
    "weight_table",
]
