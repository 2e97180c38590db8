"""Leave No One Behind measures: gaps to the rest of the population, ratios to the best-off
group, and who is furthest behind, each with its uncertainty.

Why a module of its own: a gap between a group and everyone else is a difference of two
domain estimates from the same sample, so the two are correlated through shared PSUs; their
variance needs the covariance, linearised jointly on the same design (R: `svyby(...,
covmat = TRUE)` then `svycontrast`, which the tests reproduce to 1e-12; raked designs below).

Definitions (one indicator, one dimension, its levels g):

* estimate_g and rest_g: design-based means (proportions) of the item among rows of level g
  and among rows of the other known levels (rows whose dimension is missing are in neither),
  missing item values excluded as in `stats.estimate`.
* gap = estimate_g - rest_g; var = var_g + var_rest - 2 cov, all from the PSU totals of the
  two domains' linearised residuals (with-replacement, within strata, lonely PSUs "adjust",
  as `stats`). CI and p-value use the t distribution with R's `degf` of the subset the gap
  is estimated on: PSUs with a row where the item is present and the dimension known, minus
  their strata -- `confint(svycontrast(svyby(~y, ~in_g, sub, svymean, covmat = TRUE),
  c(-1, 1)), df = degf(sub))`. It is the design's #PSU - #strata unless the item or the
  dimension is missing in whole PSUs (a question not asked in some regions);
  `svyttest(y ~ in_g, sub)` gives the same gap, SE and t with one df fewer (svyglm's residual
  df). Agreement (tests/fixtures/r/reference_domain_gaps.csv): gap, SE, CI and p to ~1e-13.
* Raked weights (`Design(rake = margins)`, as `prepare.design_for` gives the raked
  instrument): variances and covariances are those of R's `rake()` design, whose
  `svyrecvar` adjusts every domain's scores by ten backfitting sweeps over the margins
  before the between-PSU covariance (`svyby(covmat = TRUE)` passes all the domains' scores
  at once, so the covariance of two domain means is that of their adjusted scores). The
  adjustment is `stats`' own (`stats.raking`: margin cells, PSU x cell weights, the sweeps
  as one linear map B): a domain's scores w_i (r_i - sum_m c_m[cell_m(i)]) with c = B R, R
  the sums of its residuals r over each margin cell; so the PSU totals become Z - W c and
  cov(X - W c_X, Y - W c_Y) = cov(X, Y) - c_X' F'Y - (F'X)' c_Y + c_X' G c_Y, with F and G
  the stratum-centred, scaled cell weights and their cross-products (`stats.Raking`).
  df are unchanged (R's `degf`). Agreement with R (tests/fixtures/r/reference_raked_gaps.csv
  and reference_raked_vcov.csv: three designs raked to three margins, a dimension that is a
  margin, one that is not, one with missing values, missing items, lonely PSUs): SE 3e-15,
  p-values (also Holm's) 2e-14, gap 3e-13, covariance of level and rest 3e-12 (relative; the
  worst is a covariance of 4e-6 beside variances of 1e-2), the level means' covariance
  matrix 5e-15 of its largest entry. The per-cell sums come from one pass over an item's
  rows (`stats.rake_table`), so raking adds little: VN 2022 adults, 16 items x 14
  dimensions, 0.17 s (0.11 s with fixed weights).
* Two-stage, post-stratified, calibrated and replicate designs (`Design.general`):
  `designs.Levels` gives the level and rest means with their joint covariance, the matrix
  R's `svyby(covmat = TRUE)` gives -- Taylor designs: svyrecvar on the domains' stacked
  scores (both stages, calibration residuals); replicate designs: the replicate covariance,
  a replicate with no weight in either domain of a gap (or, for furthest_behind, in any
  level) dropped for all, as svrVar's na.omit. df: `degf` of the subset, #PSU - #strata or,
  for replicates, the rank of the subset's replicate weights minus 1 (R's
  `[.svyrep.design` recomputes it), used as `confint(svycontrast(.), df = degf(sub))`.
  Agreement (tests/fixtures/r/make_design_gaps.R, tests/test_design_gaps.py: 13 designs x
  3 items x 5 dimensions, a level in one PSU, a dimension with missing values): gap 7e-13,
  SE 3e-14, CI 4e-12, p 7e-13, covariances 1.4e-12 relative. survey 4.1.1's svyby stops on
  calibrated subsets, so the script stacks the influence functions as svyby does and checks
  them against svymean and svyglm (svyttest).
* p_value: two-sided t test of gap = 0; p_adjusted corrects across all the comparisons made
  for one indicator (every level of every dimension asked for): Holm (default), Bonferroni
  or Benjamini-Hochberg ("fdr_bh"); significant = p_adjusted < alpha.
* ratio_to_best = estimate_g / estimate of the best-off level of that dimension (highest when
  higher is better, else lowest).
* furthest behind: the level with the worst estimate, and for every level the probability
  that it is the worst, from `n_sims` seeded draws of the levels' joint normal distribution
  (estimates and their full linearised covariance matrix), with its mean rank and a 90% rank
  interval. The seed is fixed, so the report is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from . import designs
from .errors import InputError
from .stats import Design, design_codes, item_column, level_codes, rake_table, raking

Method = Literal["holm", "bonferroni", "fdr_bh"]


def adjust_pvalues(p: Sequence[float], method: Method = "holm") -> np.ndarray:
    """Multiple-comparison adjusted p-values (NaN kept out of the family, returned as NaN)."""
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = len(q)
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    s = q[order]
    if method == "bonferroni":
        adj = np.minimum(q * m, 1.0)
    elif method == "holm":
        a = np.minimum(np.maximum.accumulate(s * (m - np.arange(m))), 1.0)
        adj = np.empty(m)
        adj[order] = a
    elif method == "fdr_bh":
        a = np.minimum.accumulate((s * m / np.arange(1, m + 1))[::-1])[::-1]
        adj = np.empty(m)
        adj[order] = np.minimum(a, 1.0)
    else:
        raise ValueError(f"unknown method {method!r}: use holm, bonferroni or fdr_bh")
    out[ok] = adj
    return out


class _Design:
    """What every item and dimension of one call of `gaps` or `furthest_behind` shares, worked
    out once: the design's codes (`stats.design_codes`), each dimension's level codes and, for
    raked weights, the margin cells with the backfitting map (`stats.raking`) and the table
    of distinct (dimension codes, margin cells) of the rows (`stats.rake_table`), on which
    an item's residual sums by margin cell are taken in one pass over the rows."""

    def __init__(self, df: pd.DataFrame, design: Design, dimensions: Sequence[str]):
        self.df = df
        # two-stage, calibrated, post-stratified and replicate designs: designs.Levels
        self.general = designs.prepare(df, design) if design.general else None
        self.prep = design_codes(df, design)
        self.dims: dict[str, int] = {}
        codes, levels = [], []
        for dim in dimensions:
            if dim in self.dims:
                continue
            if dim not in df.columns:
                raise InputError(
                    f"dimension '{dim}' is not a column of the data.",
                    field=dim,
                    hint="Derive the LNOB dimensions first, or correct the list of dimensions.",
                )
            self.dims[dim] = len(codes)
            c, lv = level_codes(df[dim])
            codes.append(c)
            levels.append(lv)
        self.codes, self.levels = codes, levels
        self.rk = self.t0 = None
        if design.rake and self.general is None:
            self.rk = raking(df, design, self.prep)
            self.t0 = rake_table(codes, levels, self.rk)
        self._item: tuple = ()

    def item(self, item: str, kind: str) -> tuple:
        """The item's values (NaN = missing), its present rows and, for raked weights, the
        unweighted sum of y and count of present rows by row of the table t0 (the last item
        asked is kept: `gaps` asks for each dimension of an item in turn)."""
        if self._item[:2] != (item, kind):
            y = item_column(self.df, item, kind)
            present = ~np.isnan(y)
            sums = None
            if self.t0 is not None:
                idx = self.t0.index[present]
                sums = (
                    np.bincount(idx, weights=y[present], minlength=self.t0.size),
                    np.bincount(idx, minlength=self.t0.size).astype(np.float64),
                )
            self._item = (item, kind, y, present, sums)
        return self._item[2:]


class _Scores(NamedTuple):
    """Linearised scores of some domain means: PSU totals Z (PSU x domains) and, for raked
    weights, each domain's per-cell corrections C (margin cells x domains), else None."""

    Z: np.ndarray
    C: np.ndarray | None

    def take(self, cols: np.ndarray) -> _Scores:
        return _Scores(self.Z[:, cols], None if self.C is None else self.C[:, cols])


class _System:
    """Per-PSU linearised scores of the level means of one item over one dimension (`level`)
    and of the means of the rest of each level (`rest_scores`; the means: `est`, `rest`)."""

    def __init__(self, d: _Design, item: str, dim: str, kind: str):
        i = d.dims[dim]
        codes, self.levels = d.codes[i], d.levels[i]
        prep, rk = d.prep, d.rk
        y, present, sums = d.item(item, kind)
        L, P = len(self.levels), len(prep.psu_stratum)
        ok = present & (codes >= 0)
        key = prep.psu[ok] * L + codes[ok]
        wy = prep.w[ok] * y[ok]
        A = np.bincount(key, weights=wy, minlength=P * L).reshape(P, L)
        B = np.bincount(key, weights=prep.w[ok], minlength=P * L).reshape(P, L)
        self.n = np.bincount(codes[ok], minlength=L)
        self.prep, self.rk = prep, rk
        with np.errstate(invalid="ignore", divide="ignore"):
            self.W = B.sum(0)
            self.est = A.sum(0) / self.W
            Z = np.nan_to_num((A - self.est * B) / self.W)
            Ar, Br = A.sum(1, keepdims=True) - A, B.sum(1, keepdims=True) - B
            self.Wr = Br.sum(0)
            self.rest = Ar.sum(0) / self.Wr
            Zr = np.nan_to_num((Ar - self.rest * Br) / self.Wr)
        C = Cr = None
        if rk is not None:
            # sums of the residuals r_i = (y_i - mean) / W over each margin cell, for each
            # level and for its rest, from the unweighted sums of y and counts by (cell,
            # level), which the item's sums by row of the table t0 give
            t0, M = d.t0, len(rk.codes)
            rows = np.flatnonzero(t0.codes[i] >= 0)
            key = np.concatenate([rk.off[m] + t0.mcodes[m][rows] for m in range(M)]) * L
            key += np.tile(t0.codes[i][rows], M)
            Sy, Sn = (
                np.bincount(key, weights=np.tile(v[rows], M), minlength=rk.K * L).reshape(rk.K, L)
                for v in sums
            )
            Syr, Snr = Sy.sum(1, keepdims=True) - Sy, Sn.sum(1, keepdims=True) - Sn
            with np.errstate(invalid="ignore", divide="ignore"):
                C = rk.B @ np.nan_to_num((Sy - self.est * Sn) / self.W)
                Cr = rk.B @ np.nan_to_num((Syr - self.rest * Snr) / self.Wr)
        self.level, self.rest_scores = _Scores(Z, C), _Scores(Zr, Cr)
        # R's degf of the subset the gap is estimated on (rows with the item present and the
        # dimension known): PSUs holding such a row minus their strata
        held = np.bincount(prep.psu[ok], minlength=P) > 0
        self.df = float(held.sum() - np.unique(prep.psu_stratum[held]).size)

    def gap_moments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Variances of each level and of its rest, and their covariance."""
        g, r = self.level, self.rest_scores
        return np.diag(self.cov(g, g)), np.diag(self.cov(r, r)), np.diag(self.cov(g, r))

    def cov(self, X: _Scores, Y: _Scores) -> np.ndarray:
        """Design covariance of the domain means of X with those of Y, R's svyrecvar: with
        raked weights, of the raking-adjusted scores (module docstring)."""
        prep = self.prep
        H = len(prep.n_h)
        h = prep.psu_stratum

        def centred(M):
            sums = np.zeros((H, M.shape[1]))
            np.add.at(sums, h, M)
            means = sums / prep.n_h[:, None]
            lonely = (prep.n_h == 1)[h]
            return np.where(lonely[:, None], M, M - means[h])  # lonely: centred at 0

        out = (centred(X.Z) * prep.scale_h[h][:, None]).T @ centred(Y.Z)
        if self.rk is not None:
            F = self.rk.F
            out -= X.C.T @ (F.T @ Y.Z) + (F.T @ X.Z).T @ Y.C
            out += X.C.T @ (self.rk.G @ Y.C)
        return out


def _system(d: _Design, item: str, dim: str, kind: str) -> _System | designs.Levels:
    """The level and rest means of an item over a dimension, with their covariance."""
    if d.general is None:
        return _System(d, item, dim, kind)
    i = d.dims[dim]
    return designs.Levels(d.general, d.item(item, kind)[0], d.codes[i], d.levels[i])


def gaps(
    df: pd.DataFrame,
    items: Sequence[str],
    design: Design,
    dimensions: Sequence[str],
    kind: Literal["proportion", "mean"] = "proportion",
    higher_is_better: bool | dict[str, bool] = True,
    level: float = 0.95,
    alpha: float = 0.05,
    method: Method = "holm",
) -> pd.DataFrame:
    """Gap of every level of every dimension to the rest, per item (see the module docstring).

    Columns: variable, dimension, code, n, estimate, rest_estimate, gap, se, ci_low, ci_high,
    cov (between the level and the rest), p_value, p_adjusted, significant, ratio_to_best.
    Rows follow `items`, `dimensions`, then the dimension's level order.
    """
    # scipy.stats costs ~1.1-1.3 s to import (measured, -X importtime): only the t tests need
    # it, so importing lnob (estimates, publish, the CLI) does not
    from scipy import stats as sps

    d = _Design(df, design, dimensions)
    rows = []
    for item in items:
        hib = (
            higher_is_better.get(item, True)
            if isinstance(higher_is_better, dict)
            else higher_is_better
        )
        first = len(rows)
        for dim in dimensions:
            s = _system(d, item, dim, kind)
            var_g, var_r, cov = s.gap_moments()
            se = np.sqrt(np.maximum(var_g + var_r - 2 * cov, 0.0))
            gap = s.est - s.rest
            tq = sps.t.ppf(0.5 + level / 2, s.df) if s.df > 0 else np.nan
            with np.errstate(invalid="ignore", divide="ignore"):
                pval = 2 * sps.t.sf(np.abs(gap / se), s.df) if s.df > 0 else gap * np.nan
                best = np.nanmax(s.est) if hib else np.nanmin(s.est)
                ratio = s.est / best
            for k, code in enumerate(s.levels):
                rows.append(
                    dict(variable=item, dimension=dim, code=code, n=int(s.n[k]),
                         estimate=s.est[k], rest_estimate=s.rest[k], gap=gap[k], se=se[k],
                         ci_low=gap[k] - tq * se[k], ci_high=gap[k] + tq * se[k], cov=cov[k],
                         p_value=pval[k], ratio_to_best=ratio[k])
                )  # fmt: skip
        fam = [r["p_value"] for r in rows[first:]]
        for r, pa in zip(rows[first:], adjust_pvalues(fam, method), strict=True):
            r["p_adjusted"] = pa
            r["significant"] = bool(pa < alpha) if not np.isnan(pa) else False
    cols = ["variable", "dimension", "code", "n", "estimate", "rest_estimate", "gap", "se",
            "ci_low", "ci_high", "cov", "p_value", "p_adjusted", "significant", "ratio_to_best"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def furthest_behind(
    df: pd.DataFrame,
    items: Sequence[str],
    design: Design,
    dimensions: Sequence[str],
    kind: Literal["proportion", "mean"] = "proportion",
    higher_is_better: bool | dict[str, bool] = True,
    n_sims: int = 10_000,
    seed: int = 20240601,
) -> pd.DataFrame:
    """Who is furthest behind, per item and dimension, with the probability of being so.

    Columns: variable, dimension, code, estimate, se, rank (1 = furthest behind),
    prob_furthest_behind, mean_rank, rank_low, rank_high (5th and 95th percentile of the
    simulated ranks). Levels with no respondents are left out of the ranking.
    """
    rng = np.random.default_rng(seed)
    d = _Design(df, design, dimensions)
    rows = []
    for item in items:
        hib = higher_is_better
        if isinstance(hib, dict):
            hib = hib.get(item, True)
        for dim in dimensions:
            s = _system(d, item, dim, kind)
            keep = np.flatnonzero(s.n > 0)
            if len(keep) == 0:
                continue
            est = s.est[keep]
            lv = s.level.take(keep)
            cov = s.cov(lv, lv)
            draws = rng.multivariate_normal(est, cov, size=n_sims, method="eigh")
            worse = draws if hib else -draws  # rank 1 = lowest (or highest if lower is better)
            ranks = worse.argsort(1).argsort(1) + 1
            point = (est if hib else -est).argsort(kind="stable").argsort() + 1
            for k, lv in enumerate(keep):
                rows.append(
                    dict(variable=item, dimension=dim, code=s.levels[lv], estimate=est[k],
                         se=float(np.sqrt(max(cov[k, k], 0.0))), rank=int(point[k]),
                         prob_furthest_behind=float((ranks[:, k] == 1).mean()),
                         mean_rank=float(ranks[:, k].mean()),
                         rank_low=int(np.percentile(ranks[:, k], 5, method="lower")),
                         rank_high=int(np.percentile(ranks[:, k], 95, method="higher")))
                )  # fmt: skip
    cols = ["variable", "dimension", "code", "estimate", "se", "rank", "prob_furthest_behind",
            "mean_rank", "rank_low", "rank_high"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)
