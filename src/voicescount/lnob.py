"""Leave No One Behind measures: gaps to the rest of the population, ratios to the best-off
group, and who is furthest behind, each with its uncertainty.

Why a module of its own: a gap between a group and everyone else is a difference of two
domain estimates from the same sample, so the two are correlated through shared PSUs; their
variance needs the covariance, linearised jointly on the same design (R: `svyby(...,
covmat = TRUE)` then `svycontrast`, which the tests reproduce to 1e-6).

Definitions (one indicator, one dimension, its levels g):

* estimate_g and rest_g: design-based means (proportions) of the item among rows of level g
  and among rows of the other known levels (rows whose dimension is missing are in neither),
  missing item values excluded as in `stats.estimate`.
* gap = estimate_g - rest_g; var = var_g + var_rest - 2 cov, all from the PSU totals of the
  two domains' linearised residuals (with-replacement, within strata, lonely PSUs "adjust",
  as `stats`). CI uses the t quantile with the design's df (#PSU - #strata).
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
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats as sps

from .errors import InputError
from .stats import Design, _item_column, _levels, _prepare

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


class _System:
    """Per-PSU linearised totals of the level means of one item over one dimension."""

    def __init__(self, df: pd.DataFrame, item: str, dim: str, design: Design, kind: str):
        if dim not in df.columns:
            raise InputError(
                f"dimension '{dim}' is not a column of the data.",
                field=dim,
                hint="Derive the LNOB dimensions first, or correct the list of dimensions.",
            )
        prep = _prepare(df, design)
        y = _item_column(df, item, kind)
        codes, self.levels = _levels(df[dim])
        L, P = len(self.levels), len(prep.psu_stratum)
        ok = ~np.isnan(y) & (codes >= 0)
        key = prep.psu[ok] * L + codes[ok]
        wy = prep.w[ok] * y[ok]
        A = np.bincount(key, weights=wy, minlength=P * L).reshape(P, L)
        B = np.bincount(key, weights=prep.w[ok], minlength=P * L).reshape(P, L)
        self.n = np.bincount(codes[ok], minlength=L)
        self.prep = prep
        self.A, self.B = A, B
        with np.errstate(invalid="ignore", divide="ignore"):
            self.W = B.sum(0)
            self.est = A.sum(0) / self.W
            self.Z = np.nan_to_num((A - self.est * B) / self.W)
            Ar, Br = A.sum(1, keepdims=True) - A, B.sum(1, keepdims=True) - B
            self.Wr = Br.sum(0)
            self.rest = Ar.sum(0) / self.Wr
            self.Zr = np.nan_to_num((Ar - self.rest * Br) / self.Wr)
        self.df = float(P - len(prep.n_h))

    def cov(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Design covariance of columns of X with columns of Y (PSU totals), R's svyrecvar."""
        prep = self.prep
        H = len(prep.n_h)
        h = prep.psu_stratum

        def centred(M):
            sums = np.zeros((H, M.shape[1]))
            np.add.at(sums, h, M)
            means = sums / prep.n_h[:, None]
            lonely = (prep.n_h == 1)[h]
            return np.where(lonely[:, None], M, M - means[h])  # lonely: centred at 0

        cx, cy = centred(X), centred(Y)
        return (cx * prep.scale_h[h][:, None]).T @ cy


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
    rows = []
    for item in items:
        hib = (
            higher_is_better.get(item, True)
            if isinstance(higher_is_better, dict)
            else higher_is_better
        )
        first = len(rows)
        for dim in dimensions:
            s = _System(df, item, dim, design, kind)
            var_g = np.diag(s.cov(s.Z, s.Z))
            var_r = np.diag(s.cov(s.Zr, s.Zr))
            cov = np.diag(s.cov(s.Z, s.Zr))
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
    rows = []
    for item in items:
        hib = higher_is_better
        if isinstance(hib, dict):
            hib = hib.get(item, True)
        for dim in dimensions:
            s = _System(df, item, dim, design, kind)
            keep = np.flatnonzero(s.n > 0)
            if len(keep) == 0:
                continue
            est = s.est[keep]
            cov = s.cov(s.Z[:, keep], s.Z[:, keep])
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
