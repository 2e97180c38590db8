"""The prepared cycle: read, validate, derive and compute indicators once per input state.

Every chapter notebook of a cycle needs the same clean data. Notebooks run in parallel
processes, so the work is done once, under a file lock, and cached in `build/<ISO>/<cycle>/`
by a hash of the cycle's inputs (Project.cycle_inputs, the data contract) and the package's
code; later callers reuse it. Files are written atomically (temp file + os.replace) and
deterministically (sorted rows, fixed parquet options, no timestamps), so the same inputs
give byte-identical outputs.

Written per cycle: `<instrument>.parquet` (kept rows with derived and indicator columns, no
identifiers), `quarantine.csv`, `issues.csv`, `cleaning_log.csv`, and `summary.json` (written
last: its presence with a matching `input_key` marks a complete, current build).

Weighting (declared per cycle in `cycle.yml` under `weighting:`, applied after derivation so
derived dimensions such as `age_group` can be margins). Every instrument's parquet gets a
`weight_final` column, and estimates use it through `design_for(cycle, instrument)` (the
cycle's `design:` keeps naming the export's design weight, which stays in the data):

1. design weight: the export's weight column (`design.weight`; 1 when it is null);
2. non-response adjustment, if `weighting.nonresponse` is declared: respondents who refused
   consent (quarantined with rule `consent`) are the non-respondents; within each class of
   `nonresponse.classes` the kept respondents carry their weight (`weights.nonresponse_adjust`);
3. raking to the declared `margins` of `data/<ISO>/population.csv` (`weights.load_margins`,
   `weights.rake`; IPF, matches R's `survey::rake`) until every margin is within `tolerance`;
4. trimming, if `weighting.trim` is declared: bounds are multiples of the mean final weight
   (population total / respondents), e.g. `{lower: 0.3, upper: 3.0}`, so one setting suits
   any country. Trimming keeps the total but moves the margins, so raking and trimming
   alternate (at most `TRIM_ROUNDS` rounds) until the trimmed weights also fit the margins;
   the bounds always hold and the fit reached is reported, never hidden.

Only the declared instrument is raked (the example population.csv holds adult margins);
other instruments (children, CSOs) keep their design weights as `weight_final`, and
summary.json says so. Per instrument summary.json records under `weighting`: the method,
margins, Kish's deff of the design and of the final weights, the margin fit (largest
relative deviation from a population margin), raking iterations (sweeps of the first raking), rake/trim rounds and trimmed respondents.

Variance: estimates of the raked instrument follow R's raked-design linearisation.
`design_for` names its margins (in raking order) and `stats.estimate` adjusts the linearised
scores as `survey:::svyrecvar` does for a `rake()` design (ten backfitting sweeps over the
margins' cells; a `keep_sample_share` category such as intersex is a cell like any other).
So SE, CI, cv and deff are R's `svymean` / `svyby` / `svyciprop` on `rake(svydesign(ids,
strata, weights = ~<weight after non-response>), margins)`; df are unchanged. The
non-response adjustment is part of the starting weights, as in R (no design object holds
it). On the VN 2022 example this agrees with R to 2e-13 (tests/fixtures/r/weighting/, with
the R script). Treating the final weights as fixed moves SEs by a few per cent either way
(basic_water: R's raked SE 3.8% larger, community_voice 2.8% smaller) and far more in small
raking cells (the 4 intersex respondents: 2.3x).

Trimming (`weighting.trim`) has no R design object for our alternation of raking and
trimming: `trimWeights()` after `rake()` keeps the raking adjustment of each `rake()` with
that step's untrimmed weights. We apply one raking adjustment with the final weights, which
fit the margins to `tolerance`: R's raking linearisation as if the final weights came from
`rake()`. On R's own trimmed weights of the VN example (bounds 0.2 and 5 times the mean;
`trimWeights` once, or alternating with `rake()` until the margins fit), R's SEs are 1.4% to
2.2% larger than ours on the same weights, where fixed weights would be 2.4% smaller to 2.9%
larger (reference_trimmed.csv; the test pins the range).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__, derive, designs, recommendations, scorecards, voices, weights
from .errors import ConfigError, InputError, ValidationFailed
from .fileio import atomic_write_bytes, locked, write_parquet
from .provenance import file_hashes, source_fingerprint
from .registry import Cycle, Project, Weighting
from .stats import Design
from .validate import ISSUE_COLUMNS, CycleValidation, validate_cycle

SUMMARY = "summary.json"
LOCK = ".prepare.lock"
WEIGHT_FINAL = "weight_final"
WEIGHT_BASE = "weight_base"  # weighting.method linear/raking: the weight calibration started from
TRIM_ROUNDS = 50


def input_key(project: Project, iso: str, cycle: int | str) -> str:
    """Hash of everything the prepared data depend on: inputs, contract, code, version."""
    files = list(project.cycle_inputs(iso, cycle))
    contract = project.data_dir / "contract.yml"
    if contract.exists():
        files.append(contract)
    h = hashlib.sha256()
    h.update(f"voicescount {__version__}\0{source_fingerprint()}\0".encode())
    for rel, digest in file_hashes(files, root=project.root).items():
        h.update(f"{rel}\0{digest}\0".encode())
    return h.hexdigest()


def _rel(path: Path, root: Path) -> str:
    """A path relative to the project root when it lies under it (summary.json is portable)."""
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _identifier_columns(cyc, name: str) -> set[str]:
    inst = cyc.instruments[name]
    return set(cyc.identifiers) | set(inst.identifiers)


# --------------------------------------------------------------------------- weighting


def design_for(cycle: Cycle, instrument: str) -> Design:
    """The design estimates of a prepared instrument use: the cycle's strata, PSU and fpc
    with the final (calibrated, or design when not calibrated) weight `weight_final`; for
    the raked instrument also its margins (in raking order), so that variances are those of
    R's raked design (see Variance above)."""
    if instrument not in cycle.instruments:
        known = ", ".join(sorted(cycle.instruments))
        raise KeyError(f"no instrument '{instrument}' in {cycle.key} (have: {known})")
    spec = cycle.design
    w = cycle.weighting
    if spec.ssu or spec.replicates or (w is not None and w.method != "rake"):
        kw: dict = {"weight": WEIGHT_FINAL}
        if w is not None and w.instrument == instrument:
            if w.method == "rake":
                kw["rake"] = tuple(w.margins)
            elif w.method == "poststratify":
                kw["poststrata"] = w.margins[0]
            else:  # calibrate(): the regression on the margins, from the starting weights
                kw.update(calibrate=tuple(w.margins), base_weight=WEIGHT_BASE)
        return Design.from_spec(spec, **kw)
    rake = tuple(w.margins) if w is not None and w.instrument == instrument else ()
    return Design(weight=WEIGHT_FINAL, strata=spec.strata, psu=spec.psu, fpc=spec.fpc, rake=rake)


def _calibrate_to(
    work: pd.DataFrame, margins: weights.Margins, spec: Weighting, info: dict, source: Path
) -> tuple[pd.Series, dict]:
    """Post-stratified (R's postStratify) or calibrated (R's calibrate(calfun = "linear" |
    "raking", bounds)) final weights; for calibration the starting weights go along as
    WEIGHT_BASE (the variance regresses on the margins with them, voicescount.designs)."""
    info["method"] = spec.method
    w0 = work["_w"].to_numpy()
    cols = list(margins)
    work[cols] = work[cols].astype(str)
    if spec.method == "poststratify":
        totals = pd.DataFrame(
            {cols[0]: list(margins[cols[0]]), "population": list(margins[cols[0]].values())}
        )
        fw = weights.poststratify(work, "_w", cols, totals).to_numpy()
    else:
        X, _ = designs.model_matrix(work, cols)
        want = [sum(margins[cols[0]].values())]
        for col in cols:
            seen = sorted(work[col].unique())
            extra = sorted(set(seen) ^ set(margins[col]))
            if extra:
                raise InputError(
                    f"category '{extra[0]}' of {col} is in the data or in {source.name} but "
                    "not in both, so the weights cannot be calibrated to it.",
                    field=col,
                    hint=f"Recode {col} to the categories of {source.name}, or add the row.",
                )
            want += [margins[col][v] for v in seen[1:]]
        lo, hi = spec.bounds or (-np.inf, np.inf)
        fw = designs.calibrate_weights(X, w0, np.array(want, float), spec.method, (lo, hi))
        info["bounds"] = None if spec.bounds is None else list(spec.bounds)
    info.update(
        {
            "margin_fit": _fmt(margin_fit(work, fw, margins)),
            "deff_final": _fmt(weights.kish_deff(fw)),
            "total": _fmt(float(fw.sum())),
        }
    )
    out = pd.Series(fw, index=work.index, name=WEIGHT_FINAL)
    out.attrs["base"] = w0
    return out, info


def _fmt(x: float) -> float:
    """Fixed precision for summary.json, so rebuilds are byte-identical across machines."""
    return float(f"{x:.10g}")


def margin_fit(df: pd.DataFrame, w: np.ndarray, margins: weights.Margins) -> float:
    """Largest relative deviation of a weighted category total from its population margin."""
    worst = 0.0
    for dim, targets in margins.items():
        sums = pd.Series(w, index=df.index).groupby(df[dim].astype(str).to_numpy()).sum()
        for code, target in targets.items():
            worst = max(worst, abs(float(sums.get(code, 0.0)) / target - 1))
    return worst


def _rake_sweeps(
    df: pd.DataFrame, col: str, margins: weights.Margins, spec: Weighting, source: Path
) -> int:
    """How many sweeps `weights.rake` needs from the weights in `col` (it converges).

    weights.rake (the stats engineer's, checked against R) does not report its sweeps, so
    they are found by bisection on `max_iter`: deterministic (the fewest sweeps that
    converge) and a few extra calls, milliseconds at survey sizes.
    """
    lo, hi = 0, spec.max_iter  # fails with lo sweeps, converges with hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            weights.rake(df, col, margins, max_iter=mid, tol=spec.tolerance, source=source)
            hi = mid
        except InputError:
            lo = mid
    return hi


def _weighting_spec(project: Project, cyc: Cycle, iso: str) -> tuple[Weighting | None, dict]:
    """The declared weighting, checked against the instruments and population.csv."""
    spec = cyc.weighting
    if spec is None:
        return None, {}
    path = project.cycle_dir(iso, cyc.cycle) / "cycle.yml"
    if spec.instrument not in cyc.instruments:
        raise ConfigError(
            f"names instrument '{spec.instrument}', which the cycle does not have "
            f"(have: {', '.join(sorted(cyc.instruments))}).",
            path=path,
            field="weighting.instrument",
            hint="Use one of the instrument keys under `instruments:`.",
        )
    if len(set(spec.margins)) != len(spec.margins):
        raise ConfigError(
            "lists a margin twice.", path=path, field="weighting.margins", hint="Keep one."
        )
    pop_path = project.data_dir / iso / "population.csv"
    allm = weights.load_margins(pop_path)
    unknown = [m for m in spec.margins if m not in allm]
    if unknown:
        raise ConfigError(
            f"names margin '{unknown[0]}', which {pop_path.name} does not have "
            f"(it has: {', '.join(sorted(allm))}).",
            path=path,
            field="weighting.margins",
            hint=f"Add the dimension's rows to {pop_path} or remove it from the margins.",
        )
    return spec, {m: allm[m] for m in spec.margins}


def calibrate(
    df: pd.DataFrame,
    design_weight: str | None,
    spec: Weighting,
    margins: weights.Margins,
    source: Path,
    refused: pd.DataFrame | None = None,
    config: Path | None = None,
) -> tuple[pd.Series, dict]:
    """Final weights of one instrument (design -> non-response -> raking -> trimming) and
    what summary.json records about them. `refused`: rows that declined consent; `source`
    (population.csv) and `config` (cycle.yml) are named in errors."""
    base = _design_weight(df, design_weight)
    info: dict = {"method": "raking", "margins": list(spec.margins)}
    info["deff_design"] = _fmt(weights.kish_deff(base))
    w = base
    if spec.nonresponse is not None:
        w, n_refused = _nonresponse(df, w, spec, refused, design_weight, config)
        info["nonresponse_classes"] = list(spec.nonresponse.classes)
        info["nonrespondents"] = n_refused
    for dim in margins:
        miss = df[dim].isna().to_numpy()
        if miss.any():
            row = (
                df["_source_row"].iloc[int(np.flatnonzero(miss)[0])]
                if "_source_row" in df
                else None
            )
            raise InputError(
                f"{int(miss.sum())} respondent(s) have no {dim}, so they cannot be raked to "
                f"the {dim} margins of {source}.",
                row=row,
                field=dim,
                hint=f"Fill in {dim} or remove it from `weighting.margins` in cycle.yml.",
            )
    work = df[list(margins)].copy()
    work["_w"] = w.to_numpy()
    if spec.method != "rake":
        return _calibrate_to(work, margins, spec, info, source)
    margins, kept_share = _make_room(work, margins, spec, source)
    if kept_share:
        info["kept_sample_share"] = kept_share
    rounds = trimmed = 0
    final = None
    for rounds in range(1, TRIM_ROUNDS + 1):  # noqa: B007 - the count is reported
        raked = weights.rake(
            work, "_w", margins, max_iter=spec.max_iter, tol=spec.tolerance, source=source
        )
        if rounds == 1:
            sweeps = _rake_sweeps(work, "_w", margins, spec, source)
        final = raked
        if spec.trim is None:
            break
        mean = float(raked.sum()) / len(raked)
        lo = None if spec.trim.lower is None else spec.trim.lower * mean
        hi = None if spec.trim.upper is None else spec.trim.upper * mean
        final = weights.trim(raked.rename("_w"), lo, hi)
        out = (raked.to_numpy() > (hi or np.inf) * (1 + 1e-12)) | (
            raked.to_numpy() < (lo or 0) * (1 - 1e-12)
        )
        trimmed = max(trimmed, int(out.sum()))
        if margin_fit(work, final.to_numpy(), margins) <= spec.tolerance:
            break
        work["_w"] = final.to_numpy()
    assert final is not None
    fw = final.to_numpy()
    info.update(
        {
            "iterations": sweeps,
            "rounds": rounds,
            "margin_fit": _fmt(margin_fit(work, fw, margins)),
            "deff_final": _fmt(weights.kish_deff(fw)),
            "total": _fmt(float(fw.sum())),
        }
    )
    if spec.trim is not None:
        info["trim"] = {"lower": spec.trim.lower, "upper": spec.trim.upper, "relative_to": "mean"}
        info["trimmed"] = trimmed
    return pd.Series(fw, index=df.index, name=WEIGHT_FINAL), info


def _make_room(
    work: pd.DataFrame, margins: weights.Margins, spec: Weighting, source: Path
) -> tuple[weights.Margins, dict]:
    """Margins with the declared `keep_sample_share` categories added.

    A census counts intersex people within female and male, so population.csv has no
    margin for them; dropping or recoding them would be wrong. Their target is their
    weighted share of the sample times the population total, and the dimension's other
    targets shrink by the same share, so every dimension still adds up to the total.
    """
    out = {d: dict(t) for d, t in margins.items()}
    kept: dict = {}
    w = work["_w"].to_numpy()
    for dim, codes in sorted(spec.keep_sample_share.items()):
        if dim not in margins:
            raise ConfigError(
                f"names '{dim}', which is not one of the margins.",
                field="weighting.keep_sample_share",
                hint="List categories of a dimension named under `weighting.margins`.",
            )
        total = sum(margins[dim].values())
        values = work[dim].astype(str).to_numpy()
        for code in codes:
            if code in margins[dim]:
                raise ConfigError(
                    f"{dim}={code} has a margin in {source}, so its sample share is not needed.",
                    field="weighting.keep_sample_share",
                    hint="Remove it from `keep_sample_share`.",
                )
        share = {c: float(w[values == c].sum() / w.sum()) for c in codes}
        room = 1 - sum(share.values())
        out[dim] = {c: t * room for c, t in margins[dim].items()}
        for c in codes:
            if share[c] > 0:
                out[dim][c] = share[c] * total
        kept[dim] = {
            c: {"respondents": int((values == c).sum()), "share": _fmt(share[c])} for c in codes
        }
    return out, kept


def _design_weight(df: pd.DataFrame, col: str | None) -> pd.Series:
    if col is None:
        return pd.Series(1.0, index=df.index, name="_w")
    if col not in df.columns:
        raise InputError(
            f"the design names weight column '{col}', which the data do not have.",
            field=col,
            hint="Correct `design.weight` in cycle.yml or map the column in the instrument.",
        )
    w = pd.to_numeric(df[col], errors="coerce").astype(float)
    bad = ~np.isfinite(w.to_numpy()) | (w.to_numpy() <= 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(
            "has a missing or non-positive design weight.",
            row=df["_source_row"].iloc[first] if "_source_row" in df else first,
            field=col,
            hint="Every kept respondent needs a weight > 0; check the sampling records.",
        )
    return w.rename("_w")


def _nonresponse(
    df: pd.DataFrame,
    w: pd.Series,
    spec: Weighting,
    refused: pd.DataFrame | None,
    design_weight: str | None,
    config: Path | None,
) -> tuple[pd.Series, int]:
    """Weighting-class adjustment with consent refusals as the non-respondents."""
    assert spec.nonresponse is not None
    classes = list(spec.nonresponse.classes)
    refused = refused if refused is not None else pd.DataFrame(columns=df.columns)
    for c in classes:
        if c not in df.columns or (len(refused) and c not in refused.columns):
            raise ConfigError(
                f"names class column '{c}', which the instrument's data do not have.",
                path=config,
                field="weighting.nonresponse.classes",
                hint="Use contract columns recorded for refusals too, e.g. stratum or region.",
            )
    rw = _design_weight(refused, design_weight) if len(refused) else pd.Series(dtype=float)
    keys = pd.concat([df[classes], refused.reindex(columns=classes)], ignore_index=True)
    both = pd.concat([w, rw], ignore_index=True).rename("_w")
    responded = pd.Series([True] * len(df) + [False] * len(refused))
    adj = weights.nonresponse_adjust(both, responded, keys)
    return pd.Series(adj.to_numpy()[: len(df)], index=df.index, name="_w"), len(refused)


@dataclass
class PreparedCycle:
    """A prepared cycle on disk: what the notebooks read."""

    dir: Path
    summary: dict
    validation: CycleValidation | None = field(default=None, repr=False)

    @property
    def instruments(self) -> list[str]:
        return sorted(self.summary["instruments"])

    def data(self, instrument: str) -> pd.DataFrame:
        """Clean rows of one instrument with derived and indicator columns."""
        if instrument not in self.summary["instruments"]:
            raise KeyError(f"no instrument '{instrument}' (have: {', '.join(self.instruments)})")
        return pd.read_parquet(self.dir / f"{instrument}.parquet")

    def all_respondents(self) -> pd.DataFrame:
        """Adults and children stacked (for 'who was heard'); CSOs are organisations."""
        frames = [
            self.data(name)
            for name in self.instruments
            if self.summary["instruments"][name]["population"] in ("adults", "children")
        ]
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True, sort=False)

    @cached_property
    def quarantine(self) -> pd.DataFrame:
        return pd.read_csv(self.dir / "quarantine.csv", dtype={"respondent_id": "str"})

    @cached_property
    def issues(self) -> pd.DataFrame:
        df = pd.read_csv(self.dir / "issues.csv", dtype={"respondent_id": "str"})
        return df.reindex(columns=ISSUE_COLUMNS)

    @cached_property
    def cleaning_log(self) -> pd.DataFrame:
        return pd.read_csv(self.dir / "cleaning_log.csv")


def _load_cached(bdir: Path, key: str) -> PreparedCycle | None:
    path = bdir / SUMMARY
    if not path.exists():
        return None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if summary.get("input_key") != key:
        return None
    needed = ["quarantine.csv", "issues.csv", "cleaning_log.csv"]
    needed += [f"{n}.parquet" for n in summary.get("instruments", {})]
    if not all((bdir / n).exists() for n in needed):
        return None
    return PreparedCycle(bdir, summary)


def _validation_from(prepared: PreparedCycle, iso: str, cycle: int) -> CycleValidation:
    counts = {
        n: {k: v for k, v in s.items() if k != "population"}
        for n, s in prepared.summary["instruments"].items()
    }
    return CycleValidation(
        iso=iso,
        cycle=int(cycle),
        issues=prepared.issues,
        counts=counts,
        paths={
            "issues": prepared.dir / "issues.csv",
            "cleaning_log": prepared.dir / "cleaning_log.csv",
            "quarantine": prepared.dir / "quarantine.csv",
        },
    )


def prepare_cycle(
    project: Project, iso: str, cycle: int | str, force: bool = False
) -> PreparedCycle:
    """Prepare (or reuse) a cycle's clean data in build/<ISO>/<cycle>/.

    Raises `ValidationFailed` (after writing issues.csv) when validation finds errors that
    stop the run; quarantined rows and warnings do not.
    """
    bdir = project.build_dir(iso, cycle)
    key = input_key(project, iso, cycle)
    with locked(bdir / LOCK):
        if not force and (cached := _load_cached(bdir, key)) is not None:
            cached.validation = _validation_from(cached, iso, int(cycle))
            return cached
        (bdir / SUMMARY).unlink(missing_ok=True)
        cv = validate_cycle(
            project, iso, cycle, out_dir=bdir, side_files=side_files(project, iso, cycle)
        )
        cv.raise_if_stopped()
        cyc = project.cycle(iso, cycle)
        country = project.country(iso)
        combos = project.dimensions.intersections
        catalogue = project.indicators
        spec, margins = _weighting_spec(project, cyc, iso)
        pop_path = project.data_dir / iso / "population.csv"
        instruments: dict[str, dict] = {}
        for name in sorted(cv.results):
            vr = cv.results[name]
            df = derive.derive(vr.kept, country, vr.population, combos)
            ind = derive.indicators(df, catalogue, name)
            df = pd.concat([df.drop(columns=list(ind.columns), errors="ignore"), ind], axis=1)
            if spec is not None and spec.instrument == name:
                q = vr.quarantine
                refused = q[q["reason"].astype(str).str.split(" ").str[0] == "consent"]
                final, winfo = calibrate(
                    df,
                    cyc.design.weight,
                    spec,
                    margins,
                    source=pop_path,
                    refused=refused,
                    config=project.cycle_dir(iso, cycle) / "cycle.yml",
                )
                winfo["source"] = _rel(pop_path, project.data_dir.parent)
            else:
                final = _design_weight(df, cyc.design.weight).rename(WEIGHT_FINAL)
                d = _fmt(weights.kish_deff(final)) if len(final) else None
                winfo = {
                    "method": "design",
                    "note": "no population margins declared for this instrument: design "
                    "weights are the final weights",
                    "deff_design": d,
                    "deff_final": d,
                }
            df[WEIGHT_FINAL] = final.to_numpy()
            if "base" in final.attrs and spec.method in ("linear", "raking"):
                df[WEIGHT_BASE] = final.attrs["base"]
            df = df.drop(columns=sorted(_identifier_columns(cyc, name) & set(df.columns)))
            df = df.drop(columns=["instrument"], errors="ignore")
            df.insert(0, "instrument", name)
            sort = [c for c in ("respondent_id", "_source_row") if c in df]
            df = df.sort_values(sort, kind="stable").reset_index(drop=True)
            write_parquet(df, bdir / f"{name}.parquet")
            gaps = derive.indicator_gaps(vr.kept, catalogue, name)
            instruments[name] = {
                "population": vr.population,
                **cv.counts[name],
                "indicators": sorted(c for c in ind.columns if not c.endswith(derive.DENOMINATOR)),
                "indicators_without_items": {k: gaps[k] for k in sorted(gaps)},
                "weighting": winfo,
            }
        summary = {
            "country": iso,
            "cycle": int(cycle),
            "input_key": key,
            "voicescount": __version__,
            "instruments": instruments,
            "received": int(sum(v["received"] for v in instruments.values())),
            "kept": int(sum(v["kept"] for v in instruments.values())),
            "quarantined": int(sum(v["quarantined"] for v in instruments.values())),
            "warnings": int((cv.issues["severity"] == "warning").sum()),
            "issues_by_rule": {
                f"{sev}:{rule}": int(n)
                for (sev, rule), n in cv.issues.groupby(["severity", "rule"]).size().items()
            },
        }
        assert summary["received"] == summary["kept"] + summary["quarantined"]
        text = json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        atomic_write_bytes(bdir / SUMMARY, text.encode("utf-8"))
        prepared = PreparedCycle(bdir, summary, validation=cv)
        return prepared


def side_files(project: Project, iso: str, cycle: int | str) -> list[tuple[str, Path, Callable]]:
    """(cycle.yml key, path, reader) of every side file the cycle declares, for validation:
    the same readers the pages use, so a file that validates is a file the pages can read."""
    cyc = project.cycle(iso, cycle)
    cdir = project.cycle_dir(iso, cycle)
    out: list[tuple[str, Path, Callable]] = []
    if cyc.qualitative:
        path = cdir / cyc.qualitative
        out.append(("qualitative", path, voices.read_segments))
        if (path.parent / "themes.csv").exists():
            out.append(("qualitative", path.parent / "themes.csv", voices.read_themes))
    if cyc.activities:
        out.append(("activities", cdir / cyc.activities, voices.read_activities))
    if cyc.scorecards:
        path = cdir / cyc.scorecards
        out.append(("scorecards", path, scorecards.read_scorecards))
        if (path.parent / "scorecard_actions.csv").exists():
            out.append(
                ("scorecards", path.parent / "scorecard_actions.csv", scorecards.read_actions)
            )
    if cyc.recommendations:
        path = cdir / cyc.recommendations
        out.append(("recommendations", path, recommendations.read_recommendations))
    return out


def validate(
    project: Project, iso: str, cycle: int | str, out_dir: str | Path | None = None
) -> CycleValidation:
    """`validate_cycle` with the cycle's side files: what `voicescount validate` runs."""
    return validate_cycle(project, iso, cycle, out_dir, side_files=side_files(project, iso, cycle))


def check_cycle(project: Project, iso: str, cycle: int | str) -> CycleValidation:
    """Validate (and prepare) a cycle before any notebook runs: the runner's gate.

    Returns the validation when the run may go on (possibly with quarantined rows and
    warnings); raises `ValidationFailed` naming issues.csv when errors stop the run.
    """
    prepared = prepare_cycle(project, iso, cycle)
    assert prepared.validation is not None
    return prepared.validation


__all__ = [
    "WEIGHT_FINAL",
    "PreparedCycle",
    "ValidationFailed",
    "calibrate",
    "check_cycle",
    "design_for",
    "input_key",
    "margin_fit",
    "prepare_cycle",
    "side_files",
    "validate",
    "write_parquet",
]
