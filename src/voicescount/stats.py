"""Design-based estimates (proportions and means) that agree with R's survey package.

Why our own kernel and not svy: the issue asks for a maintained library unless a benchmark or
a disagreement with R justifies a kernel. Both happened. Measured with
`benchmarks/bench_stats.py` (2-core machine shared with other jobs, load average 9-14, so CPU
seconds are the fairer figure; 16 groupings = 191 domains a variable, every estimate with SE,
logit CI and deff):

  rows        indicators  this module (wall / CPU)   svy 0.35, scaled from 1 indicator x 1 grouping
  10,000      60          0.26 s / 0.06 s            153 s / 31 s
  1,000,000   60          24.5 s / 3.2 s             7,307 s / 1,383 s (8.1 s per indicator x grouping)
  10,000,000  6           see benchmarks (3.8 GiB peak, data alone 3.6 GiB; CPU ~13 s)

  The previous kernel (column by column) in the same session: 1,000,000 rows 48.0 s / 5.6 s
  CPU (1.7x more CPU). Under the load the wall time is several times the CPU time; on an
  unloaded 2-core machine the 10^6-row run takes about its CPU time spread over two threads.
  R's survey (svymean + svyby with deff, no CIs) at 10,000 rows took ~21 s per indicator
  under that load, ~4,900x this module.
  Re-measured on a quiet machine (2026-11-24, `make bench`): 10^4 rows 0.04 s, 10^6 rows
  1.75 s wall / 2.8 s CPU, 10^7 rows (6 indicators) 7.7 s / 8.6 s CPU, 3.7 GiB peak; the
  raked-design variance (`Design.rake`) costs 1.4-1.5x the fixed-weight one.

* agreement: svy treats `drop_nulls` rows as out-of-domain zeros but reports its own domain
  df; we match R exactly (see below) and keep svy only as a cross-check in the tests.

Method (Taylor linearisation, as `survey::svymean` / `svyby` / `svyciprop`):

* A domain estimate is the ratio Y_d / W_d of weighted sums. Its linearised residual for row i
  is w_i 1[i in d] (y_i - p_d) / W_d; rows outside the domain contribute zero but stay in the
  design, so every PSU of every stratum is counted (as R's `subset.survey.design`, which pads
  the missing PSUs with zeros). The variance is the with-replacement between-PSU variance
  within strata: sum_h (1 - f_h) n_h / (n_h - 1) sum_j (Z_hj - Zbar_h)^2.
* Because Z_hj only needs per-(domain, PSU) sums, the rows are collapsed once to cells
  (codes of the dimensions used x PSU): per item one bincount over (cell, y in {0, 1,
  missing}) gives the weight of the 0s and of the 1s, so the weight of present rows is their
  sum and a domain whose rows are all 1 has Y == W exactly (estimate 1, SE 0, whatever the
  weights). Each grouping's table of (codes, PSU) sums comes from the smallest earlier table
  holding its dimensions (one sparse product); a dimension constant within every PSU (region
  or urban/rural when they define the strata) is read off the PSU and never splits a table.
  Each table row is one (domain, PSU) pair: residuals, variances, CIs and deff are computed
  for a block of items at once as contiguous (pairs x items) arrays with sparse domain and
  (domain, stratum) sums, centred in two passes (no sum-of-squares cancellation). Items are
  processed in blocks that bound the cell matrices to ~64 MB; bincounts, sparse products and
  ufuncs release the GIL, so items (rows stage) and groupings run on a small thread pool,
  each result computed by one thread in a fixed order (results do not depend on threads).
* Missing item values (`na.rm = TRUE`): R's `svymean(na.rm = TRUE)` subsets the design to the
  non-missing rows, which (since `[.survey.design2` keeps each stratum's PSU count) is
  identical to treating those rows as outside the domain. n and N count non-missing rows.
* Lonely PSUs: a stratum with a single PSU is handled as `options(survey.lonely.psu =
  "adjust")`: its PSU total is centred at the overall (not the stratum) mean, i.e. it
  contributes Z^2, which is conservative. Strata that only become single-PSU inside a domain
  are treated as ordinary strata (R's default `survey.adjust.domain.lonely = FALSE`).
* Degrees of freedom: R's `degf()` evaluated on the domain (as `svyby(..., svyciprop)` and
  `subset()` do): PSUs with a row in the domain minus strata with a row in the domain. For
  the whole population this is #PSU - #strata. Intervals use the t quantile with these df;
  a domain with df <= 0 gets no interval (NaN), as in R.
* Proportions get the logit interval of `svyciprop(method = "logit")`; an estimate of exactly
  0 or 1 has zero SE and its interval is the point itself, [p, p] (R returns NaN there).
  Means get estimate +- t * se.
* deff follows `svymean(deff = TRUE)`: design variance over the SRS-without-replacement
  variance s^2 / n * (1 - n / N_hat), where s^2 is `svyvar` (weighted, with n/(n - 1)) on the
  domain, n the non-missing rows and N_hat their weight sum.
* Totals, ratios and quantiles (`kind=`; `_estimate_other`, from the rows, per item and
  grouping: few indicators are of these kinds): `svytotal` (score w_i y_i), `svyratio` of an
  item over its denominator (score w_i (y_i - R x_i) / X; rows missing either are left out)
  and `svyquantile` with survey 4.1's defaults (qrule "math": the value where the domain's
  weight share first reaches p; interval.type "mean": Woodruff's, the t interval of the share
  at or below the estimate, svymean(y <= q), mapped back through the same rule, NaN where it
  leaves [0, 1]; se = width / (2 t); its df are degf of the domain's rows where the item is
  present, as svyquantile(na.rm = TRUE) computes them). Variance as above (raked weights
  adjusted the same way); intervals of totals and ratios est +- t se with the domain's df, as
  `confint(svytotal(...), df = degf(subset))` (svyby's own confint uses df = Inf); deff as
  svytotal(deff = TRUE) (for ratios on the scores, as svyratio), NaN for quantiles.
  Agreement with R 4.1.1 (tests/fixtures/r/make_domains.R): estimate, SE, CI and deff to
  2e-13 relative (quantiles exact), on that design raked to two margins to 3e-15.
* fpc: a per-row column holding either the sampling fraction of PSUs in the stratum (<= 1) or
  the number of PSUs in the stratum's population (> 1), as `svydesign(fpc = )`.
* Two-stage (`Design.ssu`, `fpc2`), post-stratified (`poststrata`), calibrated
  (`calibrate`, `base_weight`) and replicate (`replicates`) designs: `estimate` hands them to
  voicescount.designs (same output; its docstring says how each agrees with R).
* Raked weights (`Design(rake = margins)`, which `prepare.design_for` gives the raked
  instrument): the variance of R's `rake()` design, not of fixed weights. R's code path:
  `rake()` postStratifies on each margin in turn and keeps, from its last sweep, each
  margin's cell index with the weights right after that margin's step (psw) as a "raking"
  object in `design$postStrata`; `survey:::svyrecvar` then adjusts the scores x_i = w_i r_i
  (r_i the residual above, 0 outside the domain and for missing items) by ten backfitting
  sweeps, `for (margin in margins) x <- x - psw * apply(x / psw, 2, ave, margin)`, before
  the between-PSU variance. `ave` is the unweighted mean over all rows of the design in the
  cell (rows outside the domain count, with x = 0). Here psw is the final weight (raking
  converged to its tolerance: R's psw of the earlier margins differ from it by about that
  much), so x_i = w_i (r_i - sum_m c_m[cell_m(i)]): a sweep adds to a margin's corrections
  the mean of r - sum c over each of its cells, which needs only the sums of r over each
  (domain, margin cell) -- from per-item unweighted sums of y and counts of present rows on
  a small table of (dimension codes, margin cells), no PSU -- and the cells' cross-tabulated
  row counts. The ten sweeps are one linear map of those sums (K x K for K cells), computed
  once. A PSU total becomes Z_j - sum_k c_k W_jk (W_jk: weight of PSU j's rows in cell k),
  in every PSU of every stratum, so within a stratum sum_j (Z_j - W_j. c - mean)^2 is the
  fixed-weight sum, minus 2 sum_j Z_j Wc_j. c over the domain's (domain, PSU) pairs, plus
  c' (sum_j Wc_j Wc_j') c with Wc centred within the stratum (not in a single-PSU stratum,
  "adjust"); scaled as above and summed over all strata, the last term uses one K x K
  matrix for the whole design. The cost is ~(domain, PSU) pairs x K per item. SE, CI (the
  logit interval uses this SE, as `svyciprop`'s svyglm does), cv and deff use this
  variance; deff keeps the same SRS variance (R's `svymean(deff = TRUE)` on a raked design:
  `svyvar` ignores postStrata); df are unchanged (R's `degf`). Agreement with R 4.1.1's
  survey: SE, CI and deff to 3e-13 (tests/fixtures/r/reference_raked.csv: three designs,
  lonely PSUs, missing items, a PSU-level margin). Rounding: a variance that raking
  removes entirely (the share of a margin's category, R: ~1e-17) is left as rounding of the
  fixed-weight variance, below 1e-6 of its SE, or 0. Measured (same session, load average
  ~1.7 on the 2-core machine, the 16 groupings above, 4 margins with 20 cells): 10^4 rows
  x 60 indicators 0.055 s vs 0.038 s for fixed weights (1.4x); 10^6 rows x 60 indicators
  3.5 s vs 1.9 s (1.5x-1.9x, varying with the load). Without raking nothing changes. Matrix
  products are cut into pieces BLAS runs on the calling thread (`_mm`): inside the thread
  pool a multithreaded OpenBLAS made raked estimation twice as slow.

Public pieces (for `lnob`, whose gap tests linearise on the same design, raked or not, and
must give the same numbers as `estimate`): `design_codes(df, design)` -> `DesignCodes`
(weights, PSU and stratum codes, per-stratum scale); `level_codes(col)` (a dimension's codes
and ordered levels); `item_column(df, col, kind)` (an item as float64, checked);
`raking(df, design, codes)` -> `Raking` (margin cells, PSU x cell weights, the backfitting
sweeps as one map); `rake_table(codes, levels, raking)` -> `RakeTable` (distinct dimension
codes x margin cells of the rows). Everything else here is private to this module.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import designs
from .errors import InputError
from .registry import DesignSpec

SEP = "×"
RESULT_COLUMNS = ["estimate", "se", "ci_low", "ci_high", "deff", "n", "N", "cv", "flag"]
_BLOCK = 8_000_000  # elements of the per-cell item matrices held at once (64 MB)


@dataclass(frozen=True)
class Design:
    """Names of the design columns: weight, strata, PSU (cluster) and finite population
    correction. `weight=None` means equal weights; `psu=None` means each row is its own PSU;
    `strata=None` means one stratum. PSU codes are nested within strata (R's `nest = TRUE`).

    `rake`: the columns whose categories `weight` was raked to, in raking order (each
    category of each column is one margin cell; e.g. ("sex", "age_group", "region")). When
    given, variances are those of R's `rake()` design, not of fixed weights (module
    docstring)."""

    weight: str | None
    strata: str | None = None
    psu: str | None = None
    fpc: str | None = None
    rake: tuple[str, ...] = ()
    # further designs (variance in voicescount.designs): second-stage clusters and fpc,
    # post-stratification cells, calibration variables with the weights before calibration,
    # replicate weights
    ssu: str | None = None
    fpc2: str | None = None
    poststrata: str | None = None
    calibrate: tuple[str, ...] = ()
    base_weight: str | None = None
    replicates: designs.Replicates | None = None

    def __post_init__(self) -> None:
        rake = (self.rake,) if isinstance(self.rake, str) else tuple(self.rake)
        if len(set(rake)) != len(rake):
            raise ValueError(f"rake lists a margin twice: {rake}")
        object.__setattr__(self, "rake", rake)
        cal = (self.calibrate,) if isinstance(self.calibrate, str) else tuple(self.calibrate)
        object.__setattr__(self, "calibrate", cal)
        if self.general and self.rake:
            raise ValueError("a raked design has no further calibration or replicates here")

    @property
    def general(self) -> bool:
        """True for the designs voicescount.designs estimates (not the one-stage fast path)."""
        return bool(self.ssu or self.fpc2 or self.poststrata or self.calibrate or self.replicates)

    @classmethod
    def from_spec(cls, spec: DesignSpec, **kw) -> Design:
        """The design of cycle.yml's `design:` (keywords override, e.g. the final weight)."""
        r = spec.replicates
        rep = None
        if r is not None:
            rs = None if r.rscales is None else tuple(r.rscales)
            rep = designs.Replicates(r.type, r.columns, r.rho, r.scale, rs, r.mse)
        fields = {"weight": spec.weight, "strata": spec.strata, "psu": spec.psu, "fpc": spec.fpc}
        fields.update(ssu=spec.ssu, fpc2=spec.fpc2, replicates=rep)
        return cls(**{**fields, **kw})

    def columns(self) -> list[str]:
        extra = (self.ssu, self.fpc2, self.poststrata, *self.calibrate, self.base_weight)
        return [c for c in (self.weight, self.strata, self.psu, self.fpc, *self.rake, *extra) if c]


def _where(df: pd.DataFrame, mask: np.ndarray) -> object:
    """The first offending row, as the raw file's row number when intake kept it."""
    pos = int(np.flatnonzero(mask)[0])
    if "_source_row" in df.columns:
        return df["_source_row"].iloc[pos]
    return df.index[pos]


def level_codes(col: pd.Series) -> tuple[np.ndarray, list]:
    """Codes 0..L-1 (-1 for missing) and the ordered levels of a dimension column.

    Categorical columns keep their declared order and unused categories (so empty cells are
    reported); other columns use the sorted observed values."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.codes.to_numpy(np.int64), list(col.cat.categories)
    codes, uniques = pd.factorize(col, sort=True)
    return codes.astype(np.int64), list(uniques)


@dataclass
class DesignCodes:
    """The design as integer codes, shared by every item and domain of one call."""

    w: np.ndarray
    psu: np.ndarray  # row -> PSU code (nested within strata)
    psu_stratum: np.ndarray  # PSU -> stratum code
    n_h: np.ndarray  # stratum -> number of PSUs
    scale_h: np.ndarray  # stratum -> (1 - f_h) n_h / (n_h - 1), or (1 - f_h) when lonely


def design_codes(df: pd.DataFrame, design: Design) -> DesignCodes:
    """Check the design columns and turn them into integer codes."""
    missing = [c for c in design.columns() if c not in df.columns]
    if missing:
        raked = missing[0] in design.rake
        raise InputError(
            f"the design names {'raking margin' if raked else 'column'} '{missing[0]}', "
            "which the data do not have.",
            field=missing[0],
            hint="Keep the weighting margins' columns in the data (cycle.yml `weighting:`)."
            if raked
            else "Correct `design:` in cycle.yml or add the column to the data.",
        )
    n = len(df)
    if design.weight:
        w = pd.to_numeric(df[design.weight], errors="coerce").to_numpy(np.float64)
        bad = ~np.isfinite(w) | (w <= 0)
        if bad.any():
            raise InputError(
                "has a missing, non-numeric, zero or negative weight.",
                row=_where(df, bad),
                field=design.weight,
                hint="Every respondent needs a weight > 0 (drop out-of-scope rows before estimating).",
            )
    else:
        w = np.ones(n)
    if design.strata:
        if df[design.strata].isna().any():
            raise InputError(
                "has a missing stratum.",
                row=_where(df, df[design.strata].isna().to_numpy()),
                field=design.strata,
                hint="Every respondent must belong to a stratum.",
            )
        strat, _ = pd.factorize(df[design.strata], sort=True)
    else:
        strat = np.zeros(n, dtype=np.int64)
    if design.psu:
        if df[design.psu].isna().any():
            raise InputError(
                "has a missing PSU (cluster) code.",
                row=_where(df, df[design.psu].isna().to_numpy()),
                field=design.psu,
                hint="Every respondent must belong to a PSU.",
            )
        pcode, _ = pd.factorize(df[design.psu], sort=True)
        key = strat.astype(np.int64) * (int(pcode.max(initial=0)) + 1) + pcode
        psu = _unique_inverse(key, int(strat.max(initial=0) + 1) * (int(pcode.max(initial=0)) + 1))[
            1
        ]
    else:
        psu = np.arange(n)
    n_psu = int(psu.max(initial=-1)) + 1
    psu_stratum = np.zeros(n_psu, dtype=np.int64)
    psu_stratum[psu] = strat
    H = int(strat.max(initial=-1)) + 1
    n_h = np.bincount(psu_stratum, minlength=H).astype(np.float64)
    f_h = np.zeros(H)
    if design.fpc:
        fpc = pd.to_numeric(df[design.fpc], errors="coerce").to_numpy(np.float64)
        if (~np.isfinite(fpc) | (fpc <= 0)).any():
            raise InputError(
                "has a missing or non-positive finite population correction.",
                row=_where(df, ~np.isfinite(fpc) | (fpc <= 0)),
                field=design.fpc,
                hint="Give the sampling fraction (<= 1) or the population number of PSUs.",
            )
        per_h = np.full(H, np.nan)
        per_h[strat] = fpc
        f_h = np.where(per_h <= 1, per_h, n_h / per_h)
        if (f_h > 1).any():
            raise InputError(
                "says a stratum has fewer PSUs in the population than in the sample.",
                field=design.fpc,
                hint="The fpc must be the population number of PSUs in the stratum.",
            )
    with np.errstate(divide="ignore"):
        scale_h = np.where(n_h > 1, (1 - f_h) * n_h / np.maximum(n_h - 1, 1), 1 - f_h)
    return DesignCodes(w=w, psu=psu, psu_stratum=psu_stratum, n_h=n_h, scale_h=scale_h)


_SWEEPS = 10  # backfitting sweeps of survey:::svyrecvar for a "raking" postStrata object
_GEMM = 200_000  # m n k of a matrix product BLAS runs on the calling thread (OpenBLAS: 4 x 65536)


def _mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b, in pieces small enough that BLAS runs each on the calling thread.

    The groupings already run on estimate's thread pool; a multithreaded BLAS inside it
    oversubscribes the cores (measured on 2 cores: raked estimation twice as slow)."""
    m, k = a.shape
    n = b.shape[1]
    if m * n * k <= _GEMM:
        return a @ b
    out = np.empty((m, n))
    cols = min(n, max(1, _GEMM // max(k, 1)))
    rows = max(1, _GEMM // max(cols * k, 1))
    for j in range(0, n, cols):
        bj = b[:, j : j + cols]
        for i in range(0, m, rows):
            out[i : i + rows, j : j + cols] = a[i : i + rows] @ bj
    return out


@dataclass
class Raking:
    """What R's raking adjustment needs from the design, for every domain and item. The K
    margin cells are the categories of each raked column, stacked in raking order (margin m
    holds cells off[m]..off[m+1]-1)."""

    codes: list  # per margin: row -> cell within the margin
    off: np.ndarray  # margin m -> first stacked cell
    ninv: np.ndarray  # cell -> 1 / rows in it (all rows, whatever the domain or item)
    N: np.ndarray  # K x K: rows in both cells (diagonal blocks: rows per cell)
    F: np.ndarray  # PSU x K: scale_h (W_jk - mean of W_.k over stratum h)
    G: np.ndarray  # K x K: sum_j scale_h (W_j. - mean) (W_j. - mean)'
    B: np.ndarray | None = None  # K x K: the backfitting sweeps as one linear map, C = B R

    @property
    def K(self) -> int:
        return int(self.off[-1])


def raking(df: pd.DataFrame, design: Design, prep: DesignCodes) -> Raking:
    """Margin cells, their cross-tabulations and the PSUs' cell weights (domain-free).

    W_jk is the weight of PSU j's rows in cell k; it is centred within strata, except in a
    stratum with a single PSU ("adjust", as the PSU totals themselves)."""
    codes, sizes = [], []
    for col in design.rake:
        miss = df[col].isna().to_numpy()
        if miss.any():
            raise InputError(
                "has no value, but the weights were raked to this column's categories.",
                row=_where(df, miss),
                field=col,
                hint="Every respondent must be in a cell of each raking margin.",
            )
        c, uniq = pd.factorize(df[col], sort=True)
        codes.append(c.astype(np.intp))
        sizes.append(len(uniq))
    off = np.concatenate([[0], np.cumsum(sizes)]).astype(np.intp)
    K, M = int(off[-1]), len(codes)
    N = np.zeros((K, K))
    for a in range(M):
        sa = slice(off[a], off[a + 1])
        N[sa, sa] = np.diag(np.bincount(codes[a], minlength=sizes[a]).astype(np.float64))
        for b in range(a + 1, M):
            sb = slice(off[b], off[b + 1])
            t = np.bincount(codes[a] * sizes[b] + codes[b], minlength=sizes[a] * sizes[b])
            N[sa, sb] = t.reshape(sizes[a], sizes[b])
            N[sb, sa] = N[sa, sb].T
    n_psu, H = len(prep.psu_stratum), len(prep.n_h)
    Wc = np.empty((n_psu, K))
    for m in range(M):
        Wc[:, off[m] : off[m + 1]] = np.bincount(
            prep.psu * sizes[m] + codes[m], weights=prep.w, minlength=n_psu * sizes[m]
        ).reshape(n_psu, sizes[m])
    Hm = _indicator(prep.psu_stratum, H, n_psu)
    mean = np.where((prep.n_h > 1)[:, None], (Hm @ Wc) / prep.n_h[:, None], 0.0)
    Wc -= mean[prep.psu_stratum]
    F = Wc * prep.scale_h[prep.psu_stratum][:, None]
    G = F.T @ Wc
    with np.errstate(divide="ignore"):
        ninv = np.where(np.diag(N) > 0, 1 / np.diag(N), 0.0)
    rk = Raking(codes, off, ninv, N, F, G)
    rk.B = _backfit(np.eye(K), rk)  # the sweeps are linear in R: run them once, on I
    return rk


def _backfit(R: np.ndarray, rk: Raking) -> np.ndarray:
    """Per-cell corrections c (K x columns) of R's raking adjustment for the cell sums R.

    survey:::svyrecvar runs `for (it in 1:10) for (margin in margins) x <- x - psw *
    apply(x / psw, 2, ave, margin)`: with psw the (converged) raked weights, x_i / psw_i is
    the residual r_i less the corrections of its cells, and `ave` its unweighted mean over
    the rows of a cell. So each step adds to margin m's corrections the mean over each of its
    cells of r - sum_m' c_m'[cell], which needs only R (sums of r over each cell) and the
    cells' cross-tabulated row counts N."""
    C = np.zeros_like(R)
    off = rk.off
    for _ in range(_SWEEPS):
        for m in range(len(off) - 1):
            sl = slice(off[m], off[m + 1])
            step = R[sl] - _mm(rk.N[sl], C)
            step *= rk.ninv[sl, None]
            C[sl] += step
    return C


def _item(ser: pd.Series, col: str, kind: str, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """One item as float64 (NaN = missing) and its missing rows, checking proportions are 0/1."""
    y = ser.to_numpy(dtype=np.float64, na_value=np.nan)
    m = np.isnan(y)
    rows = np.flatnonzero(m) if m.any() else np.zeros(0, dtype=np.intp)
    if kind == "proportion":
        bad = (y != 0) & (y != 1)  # also true for NaN: compare the counts
        if np.count_nonzero(bad) > len(rows):
            bad &= ~m
            raise InputError(
                f"has the value {float(y[bad][0]):g}, but a proportion needs 0, 1 or missing.",
                row=_where(df, bad),
                field=col,
                hint="Recode the indicator to 0/1, or estimate it with kind='mean'.",
            )
    elif np.isinf(y).any():
        raise InputError("has an infinite value.", row=_where(df, np.isinf(y)), field=col)
    return y, rows


def _series(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        raise InputError(
            f"item '{col}' is not a column of the data.",
            field=col,
            hint="Check the indicator id, or derive the indicator first.",
        )
    ser = df[col]
    if not (pd.api.types.is_numeric_dtype(ser) or ser.isna().all()):
        raise InputError(
            "is not numeric.", field=col, hint="Estimate numeric items only (0/1 for proportions)."
        )
    return ser


def item_column(df: pd.DataFrame, col: str, kind: str) -> np.ndarray:
    """One item as float64 (NaN = missing), checking that proportions are 0/1."""
    return _item(_series(df, col), col, kind, df)[0]


def _unique_inverse(key: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(key, return_inverse=True)` for non-negative keys below `space`: without a
    sort (a presence mask and its running count) when the key space is not much larger than
    the data, so O(n) instead of O(n log n)."""
    n = len(key)
    if space > 4 * n + (1 << 22):
        uniq, inv = np.unique(key, return_inverse=True)
        return uniq, inv.astype(np.intp, copy=False)
    present = np.zeros(space, dtype=bool)
    present[key] = True
    rank = np.cumsum(present, dtype=np.int32 if n < 2**31 - 1 else np.int64)
    rank -= 1
    return np.flatnonzero(present), rank[key].astype(np.intp)


def _threads(work: int) -> int:
    """Worker threads for the heavy kernels (bincount and sparse products release the GIL)."""
    if work < 2_000_000:
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def _map(fn, args: Sequence, nthreads: int) -> list:
    """`[fn(a) for a in args]`, on a thread pool when nthreads > 1; each result is computed by
    exactly one thread in a fixed order, so results do not depend on scheduling."""
    if nthreads <= 1 or len(args) <= 1:
        return [fn(a) for a in args]
    with ThreadPoolExecutor(max_workers=nthreads) as ex:
        futures = [ex.submit(fn, a) for a in args]
        return [f.result() for f in futures]


def estimate(
    df: pd.DataFrame,
    items: Sequence[str],
    design: Design,
    by: Sequence[Sequence[str]] = ([],),
    kind: Literal["proportion", "mean", "total", "ratio", "quantile"] = "proportion",
    level: float = 0.95,
    caution_min_n: int = 30,
    caution_max_cv: float = 0.30,
    denominators: Sequence[str] | None = None,
    quantile: float = 0.5,
) -> pd.DataFrame:
    """Estimates for every item in every domain of every grouping in `by`, in one pass.

    kind "total" (svytotal), "ratio" (svyratio of each item over its `denominators` entry,
    rows missing either left out) and "quantile" (svyquantile at `quantile`, default
    interval) have the same columns; their deff is svytotal's (totals, ratios) or NaN.

    Returns one row per (variable, grouping, domain): `variable`, `grouping` ("sex×region",
    "" for the whole population), one column per dimension used (missing where not in the
    grouping), then estimate, se, ci_low, ci_high, deff, n (non-missing rows), N (their
    weight sum), cv (se / estimate) and flag ("caution" when n < caution_min_n or
    cv > caution_max_cv). Rows follow `items`, then `by`, then the dimension levels; domains
    with no rows appear with n = 0 and NaN estimate. Rows with a missing dimension value are
    in no domain of a grouping using that dimension (they remain in the whole population).
    """
    if kind not in ("proportion", "mean", *_OTHER_KINDS):
        raise ValueError(f"kind must be proportion, mean, total, ratio or quantile, not {kind!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, not {level}")
    items = list(items)
    groupings = [list(g) for g in by]
    dims: list[str] = []
    for g in groupings:
        if len(set(g)) != len(g):
            raise ValueError(f"grouping {g} repeats a dimension")
        for d in g:
            if d not in dims:
                dims.append(d)
    for d in dims:
        if d not in df.columns:
            raise InputError(
                f"dimension '{d}' is not a column of the data.",
                field=d,
                hint="Derive the LNOB dimensions first, or correct the grouping.",
            )
    prep = design_codes(df, design)
    if not items or not groupings:
        return pd.DataFrame(columns=["variable", "grouping", *dims, *RESULT_COLUMNS])
    if design.general:  # two-stage, post-stratified, calibrated or replicate designs
        if kind not in ("proportion", "mean"):
            raise InputError(
                f"estimates of kind '{kind}' are not available for this design yet.",
                field="design",
                hint="Two-stage, post-stratified, calibrated and replicate designs give "
                "proportions and means.",
            )
        return _general(
            df, items, design, groupings, dims, kind, level, caution_min_n, caution_max_cv
        )
    if kind in _OTHER_KINDS:
        return _estimate_other(df, items, design, prep, groupings, dims, kind, denominators,
                               quantile, level, caution_min_n, caution_max_cv)  # fmt: skip

    # ---- tables of per-(dimension codes, PSU) sums. A dimension constant within every PSU
    # (region or urban/rural when they define the strata) is read off the PSU instead, so it
    # never splits a table. The first table ("cells") is built from the data rows, each
    # grouping's table from the smallest earlier table holding its dimensions.
    codes, levels = [], []
    for d in dims:
        c, lv = level_codes(df[d])
        codes.append(c)
        levels.append(lv)
    n_psu = len(prep.psu_stratum)
    psu_codes: dict[int, np.ndarray] = {}  # dimension -> code of each PSU, if PSU-level
    for i, c in enumerate(codes):
        pc = np.full(n_psu, -1, dtype=np.int64)
        pc[prep.psu] = c
        if np.array_equal(pc[prep.psu], c):
            psu_codes[i] = pc
    split = tuple(i for i in range(len(dims)) if i not in psu_codes)
    cells = _cells([codes[i] for i in split], levels, split, prep)
    tables = [cells]
    gdims = [tuple(dims.index(d) for d in g) for g in groupings]
    tdims = [tuple(i for i in split if i in gd) for gd in gdims]
    table_of = {split: 0}
    for sd in sorted(set(tdims), key=len, reverse=True):
        if sd not in table_of:
            src = min(
                (k for k, t in enumerate(tables) if set(sd) <= set(t.dims)),
                key=lambda k: tables[k].size,
            )
            tables.append(_subtable(tables[src], src, sd, levels, n_psu))
            table_of[sd] = len(tables) - 1
    tq_cache: dict[float, float] = {}
    structs = [
        _group_struct(
            tables[table_of[sd]], table_of[sd], gd, levels, psu_codes, prep, level, tq_cache
        )
        for gd, sd in zip(gdims, tdims, strict=True)
    ]
    # raked weights: the margin cells and, per grouping, what R's adjustment needs
    rk = t0 = None
    if design.rake:
        rk = raking(df, design, prep)
        t0 = rake_table(codes, levels, rk)
        for gs, gd in zip(structs, gdims, strict=True):
            gs.rake = _rake_group(gs, t0, gd, levels, rk)
    depth = [0] * len(tables)
    for k, t in enumerate(tables[1:], 1):
        depth[k] = depth[t.source] + 1
    J, nrow = len(items), len(df)
    nthreads = _threads(nrow * J)
    nvec = 3 if kind == "proportion" else 4  # per item: sum w y, sum w, n, (sum w y^2)
    # items in blocks: bounds the cell matrices to ~64 MB and the tables' to a few times that
    chunk = max(1, min(J, _BLOCK // max(cells.size * nvec, 1)))
    if rk is not None:  # and the raked sums by (dimensions, margin cells)
        big = max([2 * t0.size] + [gs.D * rk.K for gs in structs])
        chunk = max(1, min(chunk, _BLOCK // max(big, 1)))
    keys = ["estimate", "se", "ci_low", "ci_high", "deff", "n", "N", "cv"]
    blocks: list[list[dict]] = []  # per item block: per grouping, (domains x items) arrays
    for s in range(0, J, chunk):
        block = items[s : s + chunk]
        c = len(block)
        series = [_series(df, it) for it in block]
        M = np.empty((nvec, cells.size, c))  # [A, W, n, Q] by cell, each contiguous
        # raked: unweighted sum of y and count of present rows by (dimensions, margin cells)
        R0 = None if t0 is None else np.empty((2, t0.size, c))

        def fill(js, block=block, series=series, M=M, c=c, R0=R0):
            for j in js:
                _cell_sums(series[j], block[j], kind, df, prep.w, cells, M, j, t0, R0)

        parts = np.array_split(np.arange(c), min(nthreads, c))
        _map(fill, parts, nthreads)
        sums = [M] + [None] * (len(tables) - 1)

        def aggregate(k, sums=sums):
            sums[k] = [tables[k].agg @ v for v in sums[tables[k].source]]

        for lev in range(1, max(depth) + 1):  # a table after its source
            _map(aggregate, [k for k in range(len(tables)) if depth[k] == lev], nthreads)
        blocks.append(
            _map(
                lambda gs, sums=sums, c=c, R0=R0: _grouping(gs, sums[gs.table], c, kind, R0, rk),
                structs,
                nthreads,
            )
        )
        del M, sums, R0

    # ---- assemble once: variable, then grouping (as given), then domains in level order
    Ds = [gs.D for gs in structs]
    out = _domain_columns(items, groupings, dims, dict(zip(dims, levels, strict=True)), Ds)
    for k in keys:
        # (domains of all groupings) x (items), then item-major
        mat = np.hstack([np.vstack([r[k] for r in blk]) for blk in blocks])
        out[k] = mat.T.ravel()
    res = pd.DataFrame(out)
    res["n"] = res["n"].astype(np.int64)
    caution = (res["n"] < caution_min_n) | (res["cv"].abs() > caution_max_cv)
    res["flag"] = np.where(caution, "caution", "")
    return res[["variable", "grouping", *dims, *RESULT_COLUMNS]]


# ---------------------------------------------------------------- totals, ratios, quantiles

_OTHER_KINDS = ("total", "ratio", "quantile")


def _estimate_other(
    df, items, design, prep, groupings, dims, kind, denominators, quantile, level, min_n, max_cv
) -> pd.DataFrame:
    """`estimate` for totals (`svytotal`), ratios (`svyratio`) and quantiles (`svyquantile`).

    Few indicators are of these kinds, so this works from the rows: per item and grouping one
    bincount over (domain, PSU) gives the domain's PSU totals of its linearised scores, whose
    between-PSU variance within strata is `estimate`'s (every PSU of every stratum counted,
    lonely PSUs "adjust", raked weights adjusted as R's svyrecvar does). Scores: a total's
    w_i y_i; a ratio's w_i (y_i - R x_i) / X; a quantile's Woodruff interval is the interval
    of the proportion below the estimate, w_i (1[y_i <= q] - p) / W, mapped back through the
    quantile rule (module docstring)."""
    if kind == "ratio":
        if denominators is None or len(denominators) != len(items):
            raise ValueError("kind='ratio' needs one denominator per item (denominators=)")
    elif kind == "quantile" and not 0 < quantile < 1:
        raise ValueError(f"quantile must be between 0 and 1, not {quantile}")
    from scipy import stats as sps  # ~1.1 s to import: only where intervals are computed

    P, H = len(prep.psu_stratum), len(prep.n_h)
    codes, levels = {}, {}
    for d in dims:
        codes[d], levels[d] = level_codes(df[d])
    rk = raking(df, design, prep) if design.rake else None
    lonely = prep.n_h == 1
    doms = []  # per grouping: row -> domain (-1: in none), number of domains, labels
    for g in groupings:
        dcode = np.zeros(len(df), dtype=np.int64)
        inside = np.ones(len(df), dtype=bool)
        for d in g:
            dcode = dcode * len(levels[d]) + np.maximum(codes[d], 0)
            inside &= codes[d] >= 0
        doms.append((np.where(inside, dcode, -1), int(np.prod([len(levels[d]) for d in g]))))
    tq: dict[float, float] = {}
    t_dom: dict[int, np.ndarray] = {}  # grouping -> t quantile per domain (all its rows)

    def tquant(v: np.ndarray) -> np.ndarray:
        out = np.full(len(v), np.nan)
        for k, x in enumerate(v):
            if x > 0:
                if x not in tq:
                    tq[x] = float(sps.t.ppf(0.5 + level / 2, x))
                out[k] = tq[x]
        return out

    def pairs(dom, D, rows):
        """The (domain, PSU) pairs holding a row of `rows`: keys and each row's pair."""
        return _unique_inverse(dom[rows] * P + prep.psu[rows], max(D * P, 1))

    def degf(dom, D, rows):
        """R's degf of each domain's subset: PSUs holding a row of `rows` minus their strata."""
        uniq = pairs(dom, D, rows)[0]
        pd_ = uniq // P
        dh = _unique_inverse(pd_ * H + prep.psu_stratum[uniq % P], max(D * H, 1))[0]
        return (np.bincount(pd_, minlength=D) - np.bincount(dh // H, minlength=D)).astype(float)

    def variance(dom, D, rows, r):
        """Design variance of each domain's statistic with row scores w_i r_i (r given on
        `rows`, 0 elsewhere), as svyrecvar: between PSUs within strata over the domain's
        (domain, PSU) pairs (the stratum's other PSUs count with total 0; a lonely PSU is
        centred at 0), then for raked weights the adjustment of `_rake_correction`:
        - 2 sum_pairs Z_j F_j c_d + c_d' G c_d, with c_d = B R_d."""
        uniq, inv = pairs(dom, D, rows)
        Z = np.bincount(inv, weights=prep.w[rows] * r, minlength=len(uniq))
        pd_, pp = uniq // P, uniq % P
        dh = pd_ * H + prep.psu_stratum[pp]
        nh = np.tile(prep.n_h, D)
        S1 = np.bincount(dh, weights=Z, minlength=D * H)
        zbar = np.where(np.tile(lonely, D), 0.0, S1 / nh)
        dev = Z - zbar[dh]
        S2 = np.bincount(dh, weights=dev * dev, minlength=D * H)
        S2 += (nh - np.bincount(dh, minlength=D * H)) * zbar * zbar
        var = (S2 * np.tile(prep.scale_h, D)).reshape(D, H).sum(1)
        if rk is not None:
            R = np.zeros((D, rk.K))  # sums of r over each (domain, margin cell)
            for m, c in enumerate(rk.codes):
                key = dom[rows] * rk.K + rk.off[m] + c[rows]
                R += np.bincount(key, weights=r, minlength=D * rk.K).reshape(D, rk.K)
            C = _mm(R, rk.B.T)
            cross = np.zeros(D)
            step = 1 << 15
            for i in range(0, len(uniq), step):
                sl = slice(i, i + step)
                fc = np.einsum("pk,pk->p", rk.F[pp[sl]], C[pd_[sl]])
                cross += np.bincount(pd_[sl], weights=Z[sl] * fc, minlength=D)
            var += np.einsum("dk,dk->d", C, _mm(C, rk.G)) - 2 * cross
        return np.maximum(var, 0.0)

    keys = ["estimate", "se", "ci_low", "ci_high", "deff", "n", "N"]
    parts: list[dict] = []
    for j, item in enumerate(items):
        y = item_column(df, item, "mean")
        present = ~np.isnan(y)
        if kind == "ratio":
            x = item_column(df, denominators[j], "mean")
            present &= ~np.isnan(x)
        yorder = None  # quantiles: the item's present rows by value, once for all groupings
        for gi, (dom, D) in enumerate(doms):
            anyrow = dom >= 0
            rows = np.flatnonzero(anyrow & present)
            d, w = dom[rows], prep.w[rows]
            n = np.bincount(d, minlength=D).astype(float)
            W = np.bincount(d, weights=w, minlength=D)
            out = {"n": n, "N": W}
            with np.errstate(divide="ignore", invalid="ignore"):
                if kind in ("total", "ratio"):
                    yr = y[rows]
                    Y = np.bincount(d, weights=w * yr, minlength=D)
                    if kind == "total":
                        est, r = Y, yr
                    else:
                        xr = x[rows]
                        X = np.bincount(d, weights=w * xr, minlength=D)
                        est = Y / X
                        r = (yr - est[d] * xr) / X[d]
                    var = variance(dom, D, rows, r)
                    se = np.sqrt(var)
                    if gi not in t_dom:
                        t_dom[gi] = tquant(degf(dom, D, np.flatnonzero(anyrow)))
                    t = t_dom[gi]
                    lo, hi = est - t * se, est + t * se
                    # svytotal(deff = TRUE): svyvar of the scores' r within the domain
                    m = np.bincount(d, weights=w * r, minlength=D) / W
                    s2 = np.bincount(d, weights=w * (r - m[d]) ** 2, minlength=D) / W * n / (n - 1)
                    deff = np.where(n > 1, var / (s2 * W * W * (W - n) / (W * n)), np.nan)
                else:
                    if yorder is None:  # present rows by value, ties in row order
                        prow = np.flatnonzero(present)
                        yorder = prow[np.argsort(y[prow], kind="stable")]
                    # positions in `rows` by domain, then value (as R's order() in a domain)
                    where = np.empty(len(df), dtype=np.intp)
                    where[rows] = np.arange(len(rows))
                    pos = where[yorder[anyrow[yorder]]]
                    order = pos[np.argsort(d[pos], kind="stable")]
                    est, lo, hi, se = _quantiles(y, rows, d, w, D, quantile, order, variance,
                                                 dom, tquant(degf(dom, D, rows)))  # fmt: skip
                    deff = np.full(D, np.nan)
            empty = n == 0
            for k, v in (("estimate", est), ("se", se), ("ci_low", lo), ("ci_high", hi)):
                out[k] = np.where(empty, np.nan, v)
            out["deff"] = np.where(empty, np.nan, deff)
            parts.append(out)

    # ---- assemble as `estimate` does: variable, grouping, then domains in level order
    res = _domain_columns(items, groupings, dims, levels, [D for _, D in doms])
    for k in keys:
        res[k] = np.concatenate([p[k] for p in parts])
    out = pd.DataFrame(res)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["cv"] = out["se"] / out["estimate"]
    out["n"] = out["n"].astype(np.int64)
    caution = (out["n"] < min_n) | (out["cv"].abs() > max_cv)
    out["flag"] = np.where(caution, "caution", "")
    return out[["variable", "grouping", *dims, *RESULT_COLUMNS]]


def _domain_columns(items, groupings, dims, levels: dict, Ds) -> dict[str, np.ndarray]:
    """variable, grouping and one column per dimension of the result: items, then groupings
    (as given), then each grouping's D domains in level order (last dimension fastest)."""
    out: dict[str, np.ndarray] = {
        "variable": np.repeat(np.asarray(items, dtype=object), int(sum(Ds))),
        "grouping": np.tile(
            np.concatenate(
                [np.full(D, SEP.join(g), dtype=object) for D, g in zip(Ds, groupings, strict=True)]
            ),
            len(items),
        ),
    }
    for d in dims:
        col = []
        for g, D in zip(groupings, Ds, strict=True):
            if d in g:
                rem = np.arange(D)
                for k in reversed(g[g.index(d) + 1 :]):
                    rem = rem // len(levels[k])
                L = len(levels[d])
                col.append(np.asarray(levels[d], dtype=object)[rem % L] if L else rem)
            else:
                col.append(np.full(D, None, dtype=object))
        out[d] = np.tile(np.concatenate(col), len(items))
    return out


def _qrule_math(xs: np.ndarray, cumw: np.ndarray, p: float) -> float:
    """survey's qrule_math on one domain's sorted values and cumulated weights: the value
    where the weight share first reaches p (the next value when it passes p inside one)."""
    tot = cumw[-1]
    pos = max(int(np.searchsorted(cumw, p * tot, side="right")), 1)  # R's last(): 1 if none
    if p - cumw[pos - 1] / tot == 0:
        return float(xs[pos - 1])
    return float(xs[min(pos, len(xs) - 1)])


def _quantiles(y, rows, d, w, D, q, order, variance, dom, t):
    """svyquantile(interval.type = "mean", qrule = "math"): the quantile of each domain, and
    Woodruff's interval: the t interval (domain df) of the share of the domain at or below
    it, svymean(y <= q), mapped back through the same rule (NaN where it leaves [0, 1]);
    se = interval width / (2 t)."""
    yr = y[rows]
    ds, ys, ws = d[order], yr[order], w[order]
    bounds = np.searchsorted(ds, np.arange(D + 1))
    est = np.full(D, np.nan)
    cums = []
    for k in range(D):
        a, b = bounds[k], bounds[k + 1]
        cw = np.cumsum(ws[a:b])
        cums.append(cw)
        if b > a:
            est[k] = _qrule_math(ys[a:b], cw, q)
    below = (yr <= est[d]).astype(np.float64)
    W = np.bincount(d, weights=w, minlength=D)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.bincount(d, weights=w * below, minlength=D) / W
        se_p = np.sqrt(variance(dom, D, rows, (below - p[d]) / W[d]))
    lo, hi = np.full(D, np.nan), np.full(D, np.nan)
    for k in range(D):
        a, b = bounds[k], bounds[k + 1]
        if b == a or np.isnan(t[k]):
            continue
        pl, ph = p[k] - t[k] * se_p[k], p[k] + t[k] * se_p[k]
        if pl >= 0:
            lo[k] = _qrule_math(ys[a:b], cums[k], pl)
        if ph <= 1:
            hi[k] = _qrule_math(ys[a:b], cums[k], ph)
    return est, lo, hi, (hi - lo) / (2 * t)


@dataclass
class _Table:
    """Rows = distinct (codes of `dims`, PSU); for the first table ("cells") `index` maps each
    data row to a cell, for the others `agg` sums the source table's rows into this one's."""

    dims: tuple
    codes: dict  # dimension -> code of each table row (-1 = missing)
    psu: np.ndarray
    source: int = -1
    agg: sp.csr_matrix | None = None
    index: np.ndarray | None = None
    index3: np.ndarray | None = None  # cells: 3 * index
    w: np.ndarray | None = None  # cells: weight sum (all rows, before item missingness)
    n: np.ndarray | None = None  # cells: row count

    @property
    def size(self) -> int:
        return len(self.psu)


def _key(codes, dims, levels, psu, n_psu) -> tuple[np.ndarray, int]:
    key = np.zeros(len(psu), dtype=np.int64)
    space = 1
    for i, c in zip(dims, codes, strict=True):
        key *= len(levels[i]) + 1
        key += c + 1
        space *= len(levels[i]) + 1
    key *= n_psu
    key += psu
    return key, space * n_psu


def _decode(uniq, dims, levels, n_psu) -> tuple[dict, np.ndarray]:
    rest = uniq // n_psu
    codes = {}
    for i in reversed(dims):
        codes[i] = rest % (len(levels[i]) + 1) - 1
        rest = rest // (len(levels[i]) + 1)
    return codes, uniq % n_psu


def _cells(codes, levels, dims, prep: DesignCodes) -> _Table:
    n_psu = len(prep.psu_stratum)
    key, space = _key(codes, dims, levels, prep.psu, n_psu)
    uniq, index = _unique_inverse(key, space)
    del key
    size = len(uniq)
    tcodes, tpsu = _decode(uniq, dims, levels, n_psu)
    cw = np.bincount(index, weights=prep.w, minlength=size)
    cn = np.bincount(index, minlength=size).astype(np.float64)
    return _Table(dims, tcodes, tpsu, index=index, index3=3 * index, w=cw, n=cn)


def _subtable(t: _Table, source: int, dims, levels, n_psu) -> _Table:
    key, space = _key([t.codes[i] for i in dims], dims, levels, t.psu, n_psu)
    uniq, index = _unique_inverse(key, space)
    tcodes, tpsu = _decode(uniq, dims, levels, n_psu)
    return _Table(dims, tcodes, tpsu, source=source, agg=_indicator(index, len(uniq), t.size))


def _cell_sums(
    ser, col, kind, df, w, cells: _Table, M: np.ndarray, j: int, t0=None, R0=None
) -> None:
    """Column j of each M[v]: per cell, sum of w y, sum of w and count over the rows where
    the item is present (and sum of w y^2 for means). With raked weights also column j of
    R0[0] and R0[1]: per cell of the table `t0`, the unweighted sum of y and the count of
    the rows where the item is present.

    For a proportion one bincount over (cell, y in {0, 1, missing}) gives the weight of the
    0s and of the 1s; the weight of present rows is their sum, so a domain whose rows are all
    1 has exactly Y == W (estimate exactly 1, zero residuals) whatever the weights."""
    y, rows = _item(ser, col, kind, df)
    size = cells.size
    if kind == "proportion":
        with np.errstate(invalid="ignore"):
            key = y.astype(np.intp)  # 0 or 1; missing rows are overwritten next
        if len(rows):
            key[rows] = 2
        if t0 is not None:
            s3 = np.bincount(key + t0.index3, minlength=3 * t0.size).reshape(t0.size, 3)
            R0[0, :, j] = s3[:, 1]
            np.add(s3[:, 0], s3[:, 1], out=R0[1, :, j])
        key += cells.index3
        s3 = np.bincount(key, weights=w, minlength=3 * size).reshape(size, 3)
        del key
        M[0, :, j] = s3[:, 1]
        np.add(s3[:, 0], s3[:, 1], out=M[1, :, j])
    else:
        wy = y * w
        if len(rows):
            wy[rows] = 0.0
            wn = w.copy()
            wn[rows] = 0.0
            M[1, :, j] = np.bincount(cells.index, weights=wn, minlength=size)
            del wn
        else:
            M[1, :, j] = cells.w
        M[0, :, j] = np.bincount(cells.index, weights=wy, minlength=size)
        y = np.where(np.isnan(y), 0.0, y) if len(rows) else y
        wy *= y
        M[3, :, j] = np.bincount(cells.index, weights=wy, minlength=size)
        if t0 is not None:
            R0[0, :, j] = np.bincount(t0.index, weights=y, minlength=t0.size)
            R0[1, :, j] = t0.n
            if len(rows):
                R0[1, :, j] -= np.bincount(t0.index[rows], minlength=t0.size)
    if len(rows):
        M[2, :, j] = cells.n - np.bincount(cells.index[rows], minlength=size)
    else:
        M[2, :, j] = cells.n


def _indicator(rows: np.ndarray, nrows: int, ncols: int) -> sp.csr_matrix:
    """Sparse 0/1 matrix with a 1 at (rows[i], i): sums columns i into groups rows[i]."""
    return sp.csr_matrix((np.ones(len(rows)), (rows, np.arange(len(rows)))), shape=(nrows, ncols))


@dataclass
class _GroupStruct:
    """What one grouping needs from the design, computed once for all items. Each row of its
    table inside the grouping (no missing code) is one (domain, PSU) pair."""

    table: int
    rows: np.ndarray | None  # table rows inside the grouping (None: all)
    Dm: sp.csr_matrix  # domains x pairs
    Hm: sp.csr_matrix  # (domain, stratum) x pairs
    DHm: sp.csr_matrix  # domains x (domain, stratum)
    dom: np.ndarray  # domain of each pair
    dh: np.ndarray  # (domain, stratum) of each pair
    D: int
    nh: np.ndarray  # PSUs in the stratum of each (domain, stratum)
    absent: np.ndarray  # PSUs of that stratum outside the domain (their residual is 0)
    scale: np.ndarray
    tq: np.ndarray  # t quantile per domain (NaN when df <= 0)
    pair_psu: np.ndarray  # PSU of each pair
    rake: _RakeGroup | None = None  # raked weights: what R's adjustment needs


def _group_struct(t: _Table, ti, gd, levels, psu_codes, prep, level, tq_cache) -> _GroupStruct:
    inside = np.ones(t.size, dtype=bool)
    dcode = np.zeros(t.size, dtype=np.int64)
    for i in gd:
        ci = t.codes[i] if i in t.codes else psu_codes[i][t.psu]
        dcode = dcode * len(levels[i]) + np.maximum(ci, 0)
        inside &= ci >= 0
    D = int(np.prod([len(levels[i]) for i in gd])) if gd else 1
    rows = None if inside.all() else np.flatnonzero(inside)
    dom = dcode if rows is None else dcode[rows]
    psu = t.psu if rows is None else t.psu[rows]
    npair = len(dom)
    H = len(prep.n_h)
    dh_key, dh = _unique_inverse(dom * H + prep.psu_stratum[psu], max(D * H, 1))
    h = dh_key % H
    dh_dom = dh_key // H
    # degrees of freedom per domain: PSUs holding the domain minus their strata (R's degf)
    dfree = (np.bincount(dom, minlength=D) - np.bincount(dh_dom, minlength=D)).astype(float)
    tq = np.full(D, np.nan)
    for k, v in enumerate(dfree):
        if v > 0:
            if v not in tq_cache:
                # scipy.stats costs ~1.1 s to import (measured, -X importtime); only the t
                # quantile needs it, so `import voicescount.stats` (the CLI, prepare) does not
                from scipy import stats as sps

                tq_cache[v] = float(sps.t.ppf(0.5 + level / 2, v))
            tq[k] = tq_cache[v]
    nh = prep.n_h[h]
    return _GroupStruct(
        table=ti,
        rows=rows,
        Dm=_indicator(dom, D, npair),
        Hm=_indicator(dh, len(dh_key), npair),
        DHm=_indicator(dh_dom, D, len(dh_key)),
        dom=dom,
        dh=dh,
        D=D,
        nh=nh[:, None],
        absent=(nh - np.bincount(dh, minlength=len(dh_key)))[:, None],
        scale=prep.scale_h[h][:, None],
        tq=tq[:, None],
        pair_psu=psu,
    )


@dataclass
class RakeTable:
    """Rows = distinct (codes of every dimension used, margin cells): no PSU, so small."""

    index: np.ndarray  # data row -> table row
    index3: np.ndarray
    n: np.ndarray  # rows
    codes: list  # per dimension: code of each table row (-1 = missing)
    mcodes: list  # per margin: cell of each table row

    @property
    def size(self) -> int:
        return len(self.n)


def rake_table(codes: list, levels: list, rk: Raking) -> RakeTable:
    """Distinct (codes of each dimension, margin cells) of the rows: an item's sums by margin
    cell and domain are then one bincount over this small table (no PSU in it)."""
    parts = [(c + 1, len(lv) + 1) for c, lv in zip(codes, levels, strict=True)]
    parts += [(c, int(rk.off[m + 1] - rk.off[m])) for m, c in enumerate(rk.codes)]
    n = len(rk.codes[0])
    key = np.zeros(n, dtype=np.int64)
    space = 1
    for c, L in parts:
        if space * L > 1 << 40:  # keep the key in int64: renumber the combinations seen
            uniq, inv = _unique_inverse(key, space)
            key, space = inv.astype(np.int64), max(len(uniq), 1)
        key *= L
        key += c
        space *= L
    uniq, index = _unique_inverse(key, space)
    size = len(uniq)
    rep = np.empty(size, dtype=np.intp)
    rep[index] = np.arange(n)  # a row of each table row
    return RakeTable(
        index=index,
        index3=3 * index,
        n=np.bincount(index, minlength=size).astype(np.float64),
        codes=[c[rep] for c in codes],
        mcodes=[c[rep] for c in rk.codes],
    )


@dataclass
class _RakeGroup:
    """One grouping's part of the raking adjustment: its (domain, margin cell) sums and its
    pairs grouped by domain."""

    Gg: sp.csr_matrix  # (domain, margin cell) x t0 rows
    order: np.ndarray | None  # pairs by domain (None: they are)
    bounds: np.ndarray  # domain -> its first pair in that order (and the number of pairs)
    psu: np.ndarray  # PSU of each pair, in that order


def _rake_group(gs: _GroupStruct, t0: RakeTable, gd, levels, rk: Raking) -> _RakeGroup:
    K, M, D = rk.K, len(rk.codes), gs.D
    inside = np.ones(t0.size, dtype=bool)
    dcode = np.zeros(t0.size, dtype=np.int64)
    for i in gd:
        ci = t0.codes[i]
        dcode = dcode * len(levels[i]) + np.maximum(ci, 0)
        inside &= ci >= 0
    cols = np.flatnonzero(inside)
    rows = np.concatenate([dcode[cols] * K + rk.off[m] + t0.mcodes[m][cols] for m in range(M)])
    Gg = sp.csr_matrix((np.ones(len(rows)), (rows, np.tile(cols, M))), shape=(D * K, t0.size))
    order = None if (np.diff(gs.dom) >= 0).all() else np.argsort(gs.dom, kind="stable")
    dom = gs.dom if order is None else gs.dom[order]
    psu = gs.pair_psu if order is None else gs.pair_psu[order]
    return _RakeGroup(Gg, order, np.searchsorted(dom, np.arange(D + 1)), psu)


def _rake_correction(gs: _GroupStruct, rk: Raking, z, p, Winv, R0, c: int) -> np.ndarray:
    """What R's raking adjustment adds to the fixed-weight variance (domains x items).

    survey:::svyrecvar with a "raking" postStrata object turns each row's score w_i r_i into
    w_i (r_i - sum_m c_m[cell_m(i)]) (see _backfit), so a PSU total becomes Z_j - W_j. c
    (W_jk: weight of PSU j's rows in cell k). Within a stratum sum_j (Z_j - W_j. c - mean)^2
    = sum_j (Z_j - mean Z)^2 - 2 sum_j Z_j Wc_j. c + c' Wc' Wc c, with Wc centred in the
    stratum (Z_j = 0 where the domain has no rows): the fixed-weight variance, a sum over
    the domain's (domain, PSU) pairs and a quadratic form in c, summed over every stratum
    (a stratum without the domain's rows still contributes through the correction)."""
    g = gs.rake
    D, K = gs.D, rk.K
    # sums of the domain's residuals r_i = (y_i - p) / W over each margin cell
    R = (g.Gg @ R0[0]).reshape(D, K, c)
    R -= p[:, None, :] * (g.Gg @ R0[1]).reshape(D, K, c)
    R *= Winv[:, None, :]
    C = _mm(rk.B, R.transpose(1, 0, 2).reshape(K, D * c))
    C = np.ascontiguousarray(C.reshape(K, D, c).transpose(1, 0, 2))  # D x K x items
    zs = z if g.order is None else np.take(z, g.order, axis=0)
    cross = np.zeros((D, c))
    step = 1 << 15  # pairs whose cell weights are gathered at once
    for d in range(D):
        X = np.zeros((K, c))  # sum over the domain's pairs of Z_j Wc_j (scaled)
        for i in range(g.bounds[d], g.bounds[d + 1], step):
            j = min(g.bounds[d + 1], i + step)
            X += _mm(rk.F[g.psu[i:j]].T, zs[i:j])
        cross[d] = np.einsum("kc,kc->c", X, C[d])
    return np.einsum("dkc,dkc->dc", C, np.matmul(rk.G, C)) - 2 * cross


def _grouping(gs: _GroupStruct, S: list, c: int, kind: str, R0=None, rk=None) -> dict:
    """Estimates for one grouping, all items of a block at once: arrays (domains, items).

    S holds the grouping's table sums [sum w y, sum w, n, (sum w y^2)] of the items present,
    each (table rows, items); sparse products sum them to domains and (domain, stratum).
    R0 and rk: the raked design's cell sums and margins (None for fixed weights)."""
    if gs.rows is not None:
        S = [np.take(v, gs.rows, axis=0) for v in S]
    a, wp = S[0], S[1]  # per (domain, PSU) pair
    Y, W, n = (gs.Dm @ v for v in S[:3])
    Qd = Y if kind == "proportion" else gs.Dm @ S[3]
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(W > 0, Y / W, 0.0)
        Winv = np.where(W > 0, 1 / W, 0.0)
    # linearised residual of each (domain, PSU) total, (a - p w) / W; PSUs outside give 0
    z = np.take(p, gs.dom, axis=0)
    z *= wp
    np.subtract(a, z, out=z)
    z *= np.take(Winv, gs.dom, axis=0)
    # raked weights: R's adjustment, from the PSU totals before they are centred below
    extra = None if gs.rake is None else _rake_correction(gs, rk, z, p, Winv, R0, c)
    # between-PSU variance within (domain, stratum), centred in two passes; a stratum with a
    # single PSU ("adjust") contributes its total squared
    S1 = gs.Hm @ z
    zbar = S1 / gs.nh
    z -= np.take(zbar, gs.dh, axis=0)
    z *= z
    S2 = gs.Hm @ z
    S2 += gs.absent * zbar * zbar
    del z
    contrib = gs.scale * np.where(gs.nh > 1, S2, S1 * S1)
    var = gs.DHm @ contrib
    if extra is not None:
        var += extra
    var = np.maximum(var, 0.0)
    est = np.where(n > 0, p, np.nan)
    se = np.where(n > 0, np.sqrt(var), np.nan)
    tq = np.broadcast_to(gs.tq, est.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "proportion":
            inner = (est > 0) & (est < 1)
            logit = np.log(est / (1 - est))
            sel = se / (est * (1 - est))
            lo = np.where(inner, 1 / (1 + np.exp(-(logit - tq * sel))), est)
            hi = np.where(inner, 1 / (1 + np.exp(-(logit + tq * sel))), est)
            edge = ~inner & np.isnan(tq)
            lo[edge] = np.nan
            hi[edge] = np.nan
        else:
            lo = est - tq * se
            hi = est + tq * se
        s2 = (Qd - W * est * est) / W * n / (n - 1)
        vsrs = s2 / n * (W - n) / W
        deff = np.where((n > 1) & (n < W), var / vsrs, np.nan)  # R: NA when N_hat < n
        cv = se / est
    return {
        "estimate": est,
        "se": se,
        "ci_low": lo,
        "ci_high": hi,
        "deff": deff,
        "n": n,
        "N": W,
        "cv": cv,
    }


def _general(df, items, design, groupings, dims, kind, level, min_n, max_cv) -> pd.DataFrame:
    """estimate() for the designs of voicescount.designs: same rows and columns."""
    levels = {d: level_codes(df[d]) for d in dims}
    gcodes = []
    for g in groupings:
        dom = np.zeros(len(df), dtype=np.int64)
        ok = np.ones(len(df), dtype=bool)
        for d in g:
            c, lv = levels[d]
            dom = dom * len(lv) + np.maximum(c, 0)
            ok &= c >= 0
        gcodes.append((np.where(ok, dom, -1), int(np.prod([len(levels[d][1]) for d in g]))))
    cols = {it: item_column(df, it, kind) for it in items}
    res = designs.estimate(df, items, design, gcodes, kind, level, cols)
    # item-major, then grouping, then domains in level order (as the fast path)
    Ds = [D for _, D in gcodes]
    names = [np.full(D, SEP.join(g), dtype=object) for g, D in zip(groupings, Ds, strict=True)]
    out = {
        "variable": np.repeat(np.asarray(items, dtype=object), sum(Ds)),
        "grouping": np.tile(np.concatenate(names), len(items)),
    }
    for d in dims:
        col = []
        for g, D in zip(groupings, Ds, strict=True):
            if d not in g:
                col.append(np.full(D, None, dtype=object))
                continue
            rem = np.arange(D)
            for k in reversed(g[g.index(d) + 1 :]):
                rem = rem // max(len(levels[k][1]), 1)
            lv = np.asarray(levels[d][1], dtype=object)
            col.append(lv[rem % len(lv)] if len(lv) else rem)
        out[d] = np.tile(np.concatenate(col), len(items))
    for k in res[0] if res else ():
        out[k] = np.vstack([r[k] for r in res]).T.ravel()
    out = pd.DataFrame(out)
    out["n"] = out["n"].astype(np.int64)
    caution = (out["n"] < min_n) | (out["cv"].abs() > max_cv)
    out["flag"] = np.where(caution, "caution", "")
    return out.reindex(columns=["variable", "grouping", *dims, *RESULT_COLUMNS])


def grouping_name(dims: Sequence[str]) -> str:
    """The `grouping` label of a list of dimensions, e.g. ['sex', 'region'] -> 'sex×region'."""
    return SEP.join(dims)
