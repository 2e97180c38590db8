"""Variance of the designs partners bring beyond one-stage strata/PSU: two-stage sampling
with a finite population correction at each stage, post-stratified and calibrated weights,
and replicate weights. `stats.estimate` hands a `Design` with any of these to `estimate`
here (the one-stage fast path in stats is untouched); each agrees with R's survey package
(tests/fixtures/r/make_designs.R, tests/test_designs.py).

Why a second, simpler kernel: these designs are rarer and smaller than the one-stage ones,
and their variances need per-stage or per-replicate sums the fast path's tables do not
keep. Everything is still sums over (domain, PSU), (domain, SSU), (domain, calibration cell)
or (domain, replicate-weight pattern); no per-domain loop over the data rows.

Taylor designs (as `survey:::svyrecvar`). A domain mean's score for row i is x_i = w_i r_i,
r_i = 1[i in d, item present] (y_i - p_d) / W_d.

* Calibration (`calibrate(design, ~a + b, totals, calfun = "linear" | "raking", bounds)`)
  and post-stratification (`postStratify`, the calibration on one variable's cells) keep a
  "greg_calibration" or post-stratum object, and svyrecvar replaces the scores by their
  residuals from the weighted regression on the calibration variables: x_i = w_i (r_i -
  X_i beta_d), beta_d = (X' W0 X)^-1 X' W0 r with W0 the weights before calibration (for
  post-stratification W0 may be the final weights: their ratio is constant in a cell). X is
  R's model matrix of the main effects (intercept and dummies), so X' W0 r needs only the
  domain's sums by calibration cell, and a PSU total becomes Z_j - (sum_{i in j} w_i X_i)
  beta_d. The calibrated weights themselves are `calibrate_weights` (R's `grake`: Newton
  steps with a generalised inverse, bounds on g = w / w0, epsilon 1e-7, 50 iterations).
* Two stages (`svydesign(id = ~psu + ssu, strata = ~stratum, fpc = ~fpc1 + fpc2)`, R's
  default `survey.ultimate.cluster = FALSE`): the first-stage between-PSU variance with
  (1 - f_1h), plus, for every PSU, f_1h times the between-SSU variance within it with
  (1 - f_2j) n_2j / (n_2j - 1) (a PSU with one sampled SSU: its total squared times
  (1 - f_2j), R's "adjust"). Without a first-stage fpc the second stage adds nothing, as in R.
* df, deff and the logit interval are those of the one-stage path (stats' docstring).
* Gap tests (lnob): `Levels`, the joint covariance of a dimension's level and rest means.

Replicate designs (as `svrepdesign` / `as.svrepdesign` and `svrVar`): each replicate's
domain estimate theta_r = sum rw_r y / sum rw_r over the domain's present rows; variance
scale * sum_r rscales_r (theta_r - mean theta)^2 (mse = TRUE: about the full-sample
estimate); replicates whose domain weight is 0 are dropped, as R's na.omit. Defaults as R's
`svrepdesign`: JK1 scale (R-1)/R, BRR 1/R, Fay 1/(R (1 - rho)^2), bootstrap 1/(R-1), rscales
1; JKn needs rscales (given columns) or computes (n_h - 1)/n_h (created from the design).
Replicates created from the design (JK1, JKn) are R's `jk1weights` / `jknweights`.
Proportions get `svyciprop(method = "logit")`'s interval on a replicate design: svyglm's
replicate coefficients, so the logit interval uses the replicate variance of logit(theta_r),
not the delta method, with df = `degf` of the domain's design: the rank of its rows'
replicate weights minus 1. Rows are grouped by their pattern of replicate-to-full weight
ratios (the PSU, for every standard method), so each replicate's sums are a (domain, pattern)
table times the pattern x replicate matrix.

Agreement with R 4.1.1's survey (tests/test_designs.py; 12 designs x 3 items x 14 domains,
with a domain in 5 of 18 PSUs and proportions of 0): estimates, SEs and deff to 2e-13
relative, calibrated weights to 4e-15; means' CIs to 1e-15, proportions' logit CIs to 5e-8
(R fits them by svyglm's iterations). Two cases differ on purpose: df = 1, where R's
svyciprop loses its interval to rounding (1 - 2 pnorm(qt(.)) is 1) and gives [0, NaN]; and
a replicate whose domain estimate is 0 or 1, where R's glm diverges to about [0, 1] and we
give [0, 1]. Measured (benchmarks/bench_replicates.py, load ~8 on 2 cores): 10^6 rows x 60
indicators x 191 domains, 80 jackknife columns 3.0 s CPU, 100 bootstrap columns over 1,000
PSUs 9.5 s CPU. Two-stage and calibrated designs use bincounts over the rows per item and
grouping (slower than stats' fast path, not benchmarked).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import InputError

if TYPE_CHECKING:
    from .stats import Design

TYPES = ("JK1", "JKn", "BRR", "Fay", "bootstrap")
_SPARSE = 0.5  # replicate products on the present (domain, pattern) pairs below this share


@dataclass(frozen=True)
class Replicates:
    """Replicate weights: `columns` a glob of the export's replicate weight columns (e.g.
    "rw_*"; data column order), or None to create them from the design's PSUs (JK1, JKn)."""

    type: str
    columns: str | None = None
    rho: float | None = None
    scale: float | None = None
    rscales: tuple[float, ...] | None = None
    mse: bool = False

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"replicate type must be one of {TYPES}, not {self.type!r}")
        if self.type == "Fay" and not (self.rho is not None and 0 < self.rho < 1):
            raise ValueError("Fay replicates need rho between 0 and 1")
        if self.columns is None and self.type not in ("JK1", "JKn"):
            raise ValueError(f"{self.type} replicates must be given as columns")
        if self.rscales is not None:
            object.__setattr__(self, "rscales", tuple(float(r) for r in self.rscales))


def _where(df: pd.DataFrame, mask: np.ndarray) -> object:
    pos = int(np.flatnonzero(mask)[0])
    return df["_source_row"].iloc[pos] if "_source_row" in df.columns else df.index[pos]


def _codes(df: pd.DataFrame, col: str, what: str) -> tuple[np.ndarray, list]:
    if df[col].isna().any():
        raise InputError(
            f"has a missing {what}.",
            row=_where(df, df[col].isna().to_numpy()),
            field=col,
            hint=f"Every respondent needs a {what}.",
        )
    c, u = pd.factorize(df[col], sort=True)
    return c.astype(np.intp), list(u)


def _numeric(df: pd.DataFrame, col: str, what: str, positive: bool = True) -> np.ndarray:
    v = pd.to_numeric(df[col], errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(v) | ((v <= 0) if positive else (v < 0))
    if bad.any():
        raise InputError(
            f"has a missing, non-numeric or {'non-positive' if positive else 'negative'} {what}.",
            row=_where(df, bad),
            field=col,
            hint=f"Every respondent needs a {what}.",
        )
    return v


# --------------------------------------------------------------------------- calibration


def model_matrix(df: pd.DataFrame, cols) -> tuple[np.ndarray, list[str]]:
    """R's `model.matrix(~a + b)` of categorical main effects: intercept, then per column the
    dummies of its sorted levels but the first (names as R's, e.g. 'sexmale')."""
    parts, names = [np.ones((len(df), 1))], ["(Intercept)"]
    for col in cols:
        c, lv = _codes(df, col, f"value of calibration variable {col}")
        parts.append((c[:, None] == np.arange(1, len(lv))[None, :]).astype(np.float64))
        names += [f"{col}{v}" for v in lv[1:]]
    return np.hstack(parts), names


def calibrate_weights(
    X: np.ndarray,
    w0: np.ndarray,
    totals: np.ndarray,
    calfun: str = "linear",
    bounds: tuple[float, float] = (-np.inf, np.inf),
    maxit: int = 50,
    epsilon: float = 1e-7,
) -> np.ndarray:
    """Calibrated weights w0 g with sum w X = totals, as R's `calibrate()` (`grake`).

    linear: g = 1 + clip(X eta); raking: g = clip(exp(X eta)), clip to `bounds` on g. Newton
    steps with a generalised inverse, halved while g is not finite; converged when every
    |misfit| / (1 + |total|) < epsilon. Raises InputError when it does not converge (R: stop)."""
    lo, hi = bounds
    if calfun not in ("linear", "raking"):
        raise ValueError(f"calfun must be 'linear' or 'raking', not {calfun!r}")
    if calfun == "linear":

        def Fm1(u):
            return np.minimum(np.maximum(u + 1, lo), hi) - 1

        def dF(u):
            return ((u < hi - 1) & (u > lo - 1)).astype(np.float64)
    else:

        def Fm1(u):
            with np.errstate(over="ignore"):
                return np.minimum(np.maximum(np.exp(u), lo), hi) - 1

        def dF(u):
            with np.errstate(over="ignore"):
                return np.where((u < hi - 1) & (u > lo - 1), np.exp(u), 0.0)

    ww = w0.astype(np.float64).copy()
    sample = X.T @ ww
    keep = ~((sample == 0) & (totals == 0) & ~X.any(axis=0))
    X, totals, sample = X[:, keep], totals[keep], sample[keep]
    scale = None
    scales = totals / sample
    if scales.min() > 20:  # R rescales the weights first (bounds then apply after it)
        scale = scales.mean()
        ww *= scale
        sample *= scale
    eta = np.zeros(X.shape[1])
    xeta = X @ eta
    deriv = dF(xeta)
    it = 1
    while True:
        T = (X * (ww * deriv)[:, None]).T @ X
        misfit = totals - sample - X.T @ (ww * Fm1(xeta))
        deta = np.linalg.pinv(T, rcond=256 * np.finfo(float).eps) @ misfit
        eta = eta + deta
        xeta = X @ eta
        g = 1 + Fm1(xeta)
        deriv = dF(xeta)
        while it < maxit and not (np.isfinite(g).all() and np.isfinite(deriv).all()):
            it += 1
            deta = deta / 2
            eta = eta - deta
            xeta = X @ eta
            g = 1 + Fm1(xeta)
            deriv = dF(xeta)
        misfit = totals - sample - X.T @ (ww * Fm1(xeta))
        worst = float(np.max(np.abs(misfit) / (1 + np.abs(totals))))
        if worst < epsilon:
            break
        it += 1
        if it > maxit:
            raise InputError(
                f"calibration did not converge (relative misfit {worst:.3g} after {maxit} "
                "iterations).",
                field="design.calibration",
                hint="Widen the bounds, collapse small cells or drop a calibration variable.",
            )
    if scale is not None:
        g = g * scale
    return w0 * g


# --------------------------------------------------------------------------- replicates


def replicate_weights(df: pd.DataFrame, design: Design, w: np.ndarray):
    """(row -> pattern, patterns x replicates ratios to the full weight, scale, rscales) of
    the design's `replicates`; a row's replicate weights are w_i pmat[pattern_i]."""
    rep = design.replicates
    if rep.columns is not None:
        cols = [c for c in df.columns if fnmatch.fnmatchcase(str(c), rep.columns)]
        if not cols:
            raise InputError(
                f"no column of the data matches the replicate weights '{rep.columns}'.",
                field="design.replicates.columns",
                hint="Give a pattern such as 'rw_*' matching the export's replicate columns.",
            )
        R = len(cols)
        pattern, pmat = _patterns(df, cols, w)
        rscales = None
        if rep.type == "JKn" and rep.rscales is None:
            raise InputError(
                "JKn replicate weight columns need their rscales ((n_h - 1) / n_h each).",
                field="design.replicates.rscales",
                hint="Copy them from the survey's documentation, one per replicate column.",
            )
    else:
        if design.fpc:
            raise InputError(
                "replicates created from a design with an fpc are not supported.",
                field="design.replicates",
                hint="Drop the fpc or give the replicate weights as columns.",
            )
        psu = _codes(df, design.psu, "PSU")[0] if design.psu else np.arange(len(df))
        strat = _codes(df, design.strata, "stratum")[0] if design.strata else np.zeros(len(df), int)
        key = pd.factorize(pd.Series(strat).astype(str) + "\x1f" + pd.Series(psu).astype(str))[0]
        n_psu = int(key.max()) + 1
        psu_h = np.zeros(n_psu, dtype=np.intp)
        psu_h[key] = strat
        if n_psu > 8000:  # one replicate per PSU: a PSU x replicate matrix of n_psu^2 numbers
            raise InputError(
                f"has {n_psu:,} PSUs, too many to create one jackknife replicate per PSU.",
                field=design.psu,
                hint="Use the strata/PSU linearisation (drop `replicates`), or give grouped "
                "replicate weight columns.",
            )
        if rep.type == "JK1":
            mult = np.full((n_psu, n_psu), n_psu / (n_psu - 1))
            np.fill_diagonal(mult, 0.0)
            rscales = np.ones(n_psu)
        else:
            n_h = np.bincount(psu_h)
            if (n_h[psu_h] < 2).any():
                raise InputError(
                    "has a stratum with a single PSU, which JKn replicates cannot drop.",
                    field=design.strata,
                    hint="Collapse single-PSU strata, or use JK1 or given replicate columns.",
                )
            same = psu_h[:, None] == psu_h[None, :]
            mult = np.where(same, (n_h / (n_h - 1))[psu_h][:, None], 1.0)
            np.fill_diagonal(mult, 0.0)
            rscales = ((n_h - 1) / n_h)[psu_h]
        pattern, pmat = key.astype(np.intp), mult
        R = n_psu
    if rep.rscales is not None:
        if len(rep.rscales) != R:
            raise InputError(
                f"gives {len(rep.rscales)} rscales for {R} replicates.",
                field="design.replicates.rscales",
            )
        rscales = np.asarray(rep.rscales)
    elif rscales is None:
        rscales = np.ones(R)
    if rep.scale is not None:
        scale = rep.scale
    else:
        scale = {
            "JK1": (R - 1) / R,
            "JKn": 1.0,
            "BRR": 1 / R,
            "Fay": 1 / (R * (1 - (rep.rho or 0)) ** 2),
            "bootstrap": 1 / (R - 1),
        }[rep.type]
    return pattern, pmat, float(scale), np.asarray(rscales, dtype=np.float64)


def _patterns(df: pd.DataFrame, cols: list, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's pattern of replicate / full weight ratios (code), and the patterns' ratios.

    Rows with equal ratio vectors (the same PSU, for every standard method) share a code, so
    a domain's replicate sums are its (domain, pattern) sums times the pattern matrix. Read
    column by column (memory of a few columns, not rows x replicates); ratios written with
    ~15 digits differ in the last bits within a PSU, so patterns are keyed on 12 decimals."""
    vec = np.random.default_rng(0).standard_normal(len(cols))
    proj = np.zeros(len(w))
    for r, c in enumerate(cols):
        ratio = _numeric(df, c, "replicate weight", positive=False) / w
        proj += np.round(ratio, 12) * vec[r]
    # rows with equal projections (a random direction) share a pattern; the check below
    # falls back to one pattern per row should two different ones ever project alike
    code = pd.factorize(proj)[0].astype(np.intp)
    first = np.zeros(int(code.max(initial=-1)) + 1, dtype=np.intp)
    first[code] = np.arange(len(code))
    pmat = np.empty((len(first), len(cols)))
    for r, c in enumerate(cols):
        ratio = pd.to_numeric(df[c]).to_numpy(np.float64) / w
        pmat[:, r] = ratio[first]
        if np.abs(ratio - pmat[code, r]).max(initial=0) > 1e-9 * max(ratio.max(), 1):
            break  # rows share no pattern (e.g. replicates calibrated one by one)
    else:
        return code, pmat
    RW = np.column_stack([pd.to_numeric(df[c]).to_numpy(np.float64) / w for c in cols])
    return np.arange(len(w), dtype=np.intp), RW


# --------------------------------------------------------------------------- estimates


def _t_quantiles(dfree: np.ndarray, level: float) -> np.ndarray:
    from scipy import stats as sps

    tq = np.full(len(dfree), np.nan)
    ok = dfree > 0
    tq[ok] = sps.t.ppf(0.5 + level / 2, dfree[ok])
    return tq


@dataclass
class _Prep:
    w: np.ndarray
    psu: np.ndarray  # row -> PSU (nested in strata)
    psu_h: np.ndarray
    scale1: np.ndarray  # PSU -> stratum's (1 - f) n / (n - 1) (or 1 - f when lonely)
    lonely1: np.ndarray  # PSU -> its stratum has one PSU
    f1: np.ndarray  # PSU -> first-stage sampling fraction (0 without fpc)
    ssu: np.ndarray | None = None  # row -> SSU (nested in PSUs)
    ssu_psu: np.ndarray | None = None
    scale2: np.ndarray | None = None  # SSU -> its PSU's (1 - f2) n2 / (n2 - 1)
    lonely2: np.ndarray | None = None
    X: np.ndarray | None = None  # calibration model matrix (rows x K)
    Tinv: np.ndarray | None = None  # (X' W0 X)^-1
    w0: np.ndarray | None = None
    WX1: np.ndarray | None = None  # PSU x K: sum of w X
    WX2: np.ndarray | None = None  # SSU x K
    replicated: bool = False
    pattern: np.ndarray | None = None
    pmat: np.ndarray | None = None  # patterns x replicates (ratios)
    scale: float = 1.0
    rscales: np.ndarray | None = None
    mse: bool = False


def _fraction(v: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Sampling fraction from an fpc given as a fraction (<= 1) or a population size."""
    return np.where(v <= 1, v, n / v)


def _prepare(df: pd.DataFrame, design: Design) -> _Prep:
    n = len(df)
    w = _numeric(df, design.weight, "weight") if design.weight else np.ones(n)
    strat = _codes(df, design.strata, "stratum")[0] if design.strata else np.zeros(n, np.intp)
    if design.psu:
        pc = _codes(df, design.psu, "PSU (cluster) code")[0]
        psu = pd.factorize(strat.astype(np.int64) * (int(pc.max()) + 1) + pc, sort=True)[0]
    else:
        psu = np.arange(n)
    n_psu = int(psu.max()) + 1
    psu_h = np.zeros(n_psu, dtype=np.intp)
    psu_h[psu] = strat
    n_h = np.bincount(psu_h).astype(np.float64)
    f1 = np.zeros(n_psu)
    if design.fpc:
        v = _numeric(df, design.fpc, "finite population correction")
        f1[psu] = _fraction(v, n_h[strat])
    if (f1 > 1).any():
        raise InputError(
            "says a stratum has fewer PSUs in the population than in the sample.",
            field=design.fpc,
            hint="The fpc must be the population number of PSUs in the stratum.",
        )
    nh = n_h[psu_h]
    scale1 = np.where(nh > 1, (1 - f1) * nh / np.maximum(nh - 1, 1), 1 - f1)
    p = _Prep(w=w, psu=psu, psu_h=psu_h, scale1=scale1, lonely1=nh < 2, f1=f1)
    if design.ssu:
        sc = _codes(df, design.ssu, "SSU (second-stage cluster) code")[0]
        ssu = pd.factorize(psu.astype(np.int64) * (int(sc.max()) + 1) + sc, sort=True)[0]
        ssu_psu = np.zeros(int(ssu.max()) + 1, dtype=np.intp)
        ssu_psu[ssu] = psu
        n2 = np.bincount(ssu_psu, minlength=n_psu).astype(np.float64)[ssu_psu]
        f2 = np.zeros(len(ssu_psu))
        if design.fpc2:
            f2[ssu] = _fraction(_numeric(df, design.fpc2, "second-stage fpc"), n2[ssu])
            if (f2 > 1).any():
                raise InputError(
                    "says a PSU has fewer SSUs in the population than in the sample.",
                    field=design.fpc2,
                    hint="The second-stage fpc is the population number of SSUs in the PSU.",
                )
        p.ssu, p.ssu_psu = ssu, ssu_psu
        p.scale2 = np.where(n2 > 1, (1 - f2) * n2 / np.maximum(n2 - 1, 1), 1 - f2)
        p.lonely2 = n2 < 2
    cal = list(design.calibrate) or ([design.poststrata] if design.poststrata else [])
    if cal:
        X, _ = model_matrix(df, cal)
        w0 = (
            _numeric(df, design.base_weight, "weight before calibration")
            if (design.calibrate and design.base_weight)
            else w
        )
        p.X, p.w0 = X, w0
        p.Tinv = np.linalg.pinv((X * w0[:, None]).T @ X)
        p.WX1 = _rowsum(X * w[:, None], psu, n_psu)
        if p.ssu is not None:
            p.WX2 = _rowsum(X * w[:, None], p.ssu, len(p.ssu_psu))
    if design.replicates is not None:
        p.pattern, p.pmat, p.scale, p.rscales = replicate_weights(df, design, w)
        p.replicated, p.mse = True, design.replicates.mse
    return p


def _rowsum(M: np.ndarray, groups: np.ndarray, k: int) -> np.ndarray:
    return (
        sp.csr_matrix((np.ones(len(groups)), (groups, np.arange(len(groups)))), (k, len(groups)))
        @ M
    )


def _stage(Z: np.ndarray, unit_group: np.ndarray, scale: np.ndarray, lonely: np.ndarray):
    """sum over groups of scale * sum_units (Z_u - mean of the group)^2, lonely units not
    centred ("adjust"); Z is (units x domains)."""
    dev = _deviations(Z, unit_group, lonely)
    return (scale[:, None] * dev * dev).sum(axis=0)


def _deviations(Z: np.ndarray, unit_group: np.ndarray, lonely: np.ndarray) -> np.ndarray:
    """Z_u minus its group's mean (a lonely unit not centred, "adjust")."""
    G = int(unit_group.max()) + 1 if len(unit_group) else 0
    cnt = np.bincount(unit_group, minlength=G).astype(np.float64)
    mean = _rowsum(Z, unit_group, G) / cnt[:, None]
    return Z - np.where(lonely[:, None], 0.0, mean[unit_group])


def _taylor_var(p: _Prep, dom: np.ndarray, D: int, xw: np.ndarray, rr: np.ndarray) -> np.ndarray:
    """Variance per domain of the scores x_i = xw_i (rows in a domain `dom`, else -1): xw the
    weighted residuals w r, rr = r (for the calibration regression)."""
    inside = dom >= 0
    n_psu = len(p.psu_h)
    d, x = dom[inside], xw[inside]

    def table(unit: np.ndarray, size: int) -> np.ndarray:  # (units x domains) sums of x
        return np.bincount(unit[inside] * D + d, weights=x, minlength=size * D).reshape(size, D)

    Z1 = table(p.psu, n_psu)
    Z2 = None if p.ssu is None else table(p.ssu, len(p.ssu_psu))
    if p.X is not None:  # residuals from the calibration regression: beta_d per domain
        v = (p.w0 * rr)[inside]
        Xi = p.X[inside]
        B = np.column_stack(  # D x K: X' W0 r per domain
            [np.bincount(d, weights=v * Xi[:, k], minlength=D) for k in range(Xi.shape[1])]
        )
        beta = B @ p.Tinv  # D x K
        Z1 = Z1 - p.WX1 @ beta.T
        if Z2 is not None:
            Z2 = Z2 - p.WX2 @ beta.T
    var = _stage(Z1, p.psu_h, p.scale1, p.lonely1)
    if Z2 is not None and p.f1.any():
        var = var + _second_stage(p, Z2, _stage)
    return var


def _second_stage(p: _Prep, Z2: np.ndarray, stage) -> np.ndarray:
    """f1 times the between-SSU variance within each PSU (module docstring), by `stage`
    (`_stage`: variances; `_stage_cov`: the covariance matrix)."""
    f1 = p.f1[p.ssu_psu]
    keep = (f1 > 0) & (p.scale2 > 1e-12)
    grp = pd.factorize(p.ssu_psu[keep])[0]
    return stage(Z2[keep] * np.sqrt(f1[keep])[:, None], grp, p.scale2[keep], p.lonely2[keep])


def _rep_var(p: _Prep, theta: np.ndarray, full: np.ndarray, mse: bool) -> np.ndarray:
    """svrVar per domain: theta (D x R) replicate estimates, NaN replicates dropped."""
    ok = np.isfinite(theta)
    rs = np.where(ok, p.rscales[None, :], 0.0)
    use = ok & (p.rscales[None, :] > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = full if mse else np.where(use, theta, 0).sum(1) / use.sum(1)
    dev = np.where(ok, theta - centre[:, None], 0.0)
    return p.scale * (dev * dev * rs).sum(axis=1)


def _rank(M: np.ndarray) -> int:
    """Rank as R's qr(tol = 1e-5) finds it (columns with small residual norm are dropped),
    from the singular values of M (or of the small R x R Gram matrix of a tall M)."""
    if M.size == 0:
        return 0
    if M.shape[0] > 2 * M.shape[1]:
        ev = np.linalg.eigvalsh(M.T @ M)[::-1]
        s = np.sqrt(np.maximum(ev, 0.0))
    else:
        s = np.linalg.svd(M, compute_uv=False)
    return int((s > 1e-5 * s[0]).sum()) if s[0] > 0 else 0


KEYS = ("estimate", "se", "ci_low", "ci_high", "deff", "n", "N", "cv")


def _finish(kind, est, se, lse, tq, W, Q, n) -> dict:
    """CI (logit for proportions, on the logit-scale SE `lse`), deff and cv, as stats."""
    se = np.where(n > 0, se, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "proportion":
            inner = (est > 0) & (est < 1)
            lg = np.log(est / (1 - est))
            lo = np.where(inner, 1 / (1 + np.exp(-(lg - tq * lse))), est)
            hi = np.where(inner, 1 / (1 + np.exp(-(lg + tq * lse))), est)
            edge = ~inner & np.isnan(tq)
            lo[edge] = np.nan
            hi[edge] = np.nan
        else:
            lo, hi = est - tq * se, est + tq * se
        s2 = (Q - W * est * est) / W * n / (n - 1)
        vsrs = s2 / n * (W - n) / W
        deff = np.where((n > 1) & (n < W), se * se / vsrs, np.nan)  # R: NA when N_hat < n
        cv = se / est
    return dict(zip(KEYS, (est, se, lo, hi, deff, n, W, cv), strict=True))


def _collapse(arrays: list[np.ndarray]) -> np.ndarray:
    """Row -> cell: the distinct combinations of the given non-negative-or--1 code arrays."""
    key = np.zeros(len(arrays[0]), dtype=np.int64)
    for a in arrays:
        key = pd.factorize(key * (int(a.max(initial=0)) + 2) + (a + 1))[0].astype(np.int64)
    return key


def estimate(
    df: pd.DataFrame,
    items: list,
    design: Design,
    gcodes: list[tuple[np.ndarray, int]],
    kind: str,
    level: float,
    columns: dict,
) -> list[dict]:
    """Per grouping (codes of each row's domain, -1 = none; number of domains): a dict of
    (domains x items) arrays with stats' result keys. `columns` maps item -> float64 values."""
    p = _prepare(df, design)
    if p.replicated:
        return _estimate_replicates(p, items, design.replicates.mse, gcodes, kind, level, columns)
    w = p.w
    H = len(p.psu_h)
    out = []
    for dom_all, D in gcodes:
        inside_all = dom_all >= 0
        # df per domain: R's degf of the domain's subset design (PSUs minus strata)
        key = np.unique(dom_all[inside_all] * H + p.psu[inside_all])
        dh = np.unique((key // H) * H + p.psu_h[key % H])
        dfree = np.bincount(key // H, minlength=D) - np.bincount(dh // H, minlength=D)
        tq = _t_quantiles(dfree.astype(float), level)
        res = {k: np.full((D, len(items)), np.nan) for k in KEYS}
        for j, it in enumerate(items):
            y = columns[it]
            present = ~np.isnan(y)
            dom = np.where(inside_all & present, dom_all, -1)
            sel = dom >= 0
            y0 = np.where(present, y, 0.0)
            W = np.bincount(dom[sel], weights=w[sel], minlength=D)
            Y = np.bincount(dom[sel], weights=(w * y0)[sel], minlength=D)
            Q = np.bincount(dom[sel], weights=(w * y0 * y0)[sel], minlength=D)
            n = np.bincount(dom[sel], minlength=D).astype(float)
            with np.errstate(divide="ignore", invalid="ignore"):
                est = np.where(n > 0, Y / W, np.nan)
                d0 = np.maximum(dom, 0)
                rr = np.where(sel, (y0 - est[d0]) / W[d0], 0.0)
                se = np.sqrt(np.maximum(_taylor_var(p, dom, D, w * rr, rr), 0.0))
                lse = se / (est * (1 - est))
            for k, v in _finish(kind, est, se, lse, tq, W, Q, n).items():
                res[k][:, j] = v
        out.append(res)
    return out


def _estimate_replicates(p: _Prep, items, mse, gcodes, kind, level, columns) -> list[dict]:
    """Replicate designs: rows collapsed once to cells of (domain of every grouping, weight
    pattern); per item four bincounts over the cells, per grouping a (domain x pattern)
    table times the pattern x replicate ratios."""
    w = p.w
    P = len(p.pmat)
    cell = _collapse([d for d, _ in gcodes] + [p.pattern])
    C = int(cell.max(initial=-1)) + 1
    first = np.zeros(C, dtype=np.intp)
    first[cell] = np.arange(len(cell))
    cpat = p.pattern[first]
    cache: dict[bytes, int] = {}

    def ranks(rows: np.ndarray) -> int:  # domains holding the same patterns share a rank
        key = np.packbits(rows).tobytes()
        if key not in cache:
            cache[key] = _rank(p.pmat[rows])
        return cache[key]

    groups = []
    for dom_all, D in gcodes:
        cdom = dom_all[first]
        ok = cdom >= 0
        idx = cdom[ok] * P + cpat[ok]
        seen = np.bincount(idx, minlength=D * P).reshape(D, P) > 0
        dfree = np.array([ranks(seen[d]) - 1 for d in range(D)], dtype=float)
        # a PSU-level dimension (region when it defines strata) leaves most (domain,
        # pattern) pairs empty: multiply only the pairs present (CSR of `seen`)
        csr = None
        if seen.mean() < _SPARSE:
            csr = (np.flatnonzero(seen) % P, np.concatenate([[0], np.cumsum(seen.sum(1))]))
        groups.append((ok, idx, D, _t_quantiles(dfree, level), seen, csr))
    res = [{k: np.full((D, len(items)), np.nan) for k in KEYS} for _, _, D, *_ in groups]

    def times(M: np.ndarray, seen: np.ndarray, csr) -> np.ndarray:  # M @ pmat
        if csr is None:
            return M @ p.pmat
        return sp.csr_matrix((M[seen], *csr), shape=M.shape) @ p.pmat

    for j, it in enumerate(items):
        y = columns[it]
        present = ~np.isnan(y)
        y0 = np.where(present, y, 0.0)
        wp = np.where(present, w, 0.0)
        wy = wp * y0
        sums = [
            np.bincount(cell, weights=v, minlength=C)
            for v in (wy, wp, wy * y0, present.astype(np.float64))
        ]
        for g, (ok, idx, D, tq, seen, csr) in enumerate(groups):
            Yp, Wp, Qp, Np = (
                np.bincount(idx, weights=v[ok], minlength=D * P).reshape(D, P) for v in sums
            )
            W, Y, Q, n = Wp.sum(1), Yp.sum(1), Qp.sum(1), Np.sum(1)
            with np.errstate(divide="ignore", invalid="ignore"):
                est = np.where(n > 0, Y / W, np.nan)
                Wr = times(Wp, seen, csr)
                theta = np.where(Wr > 0, times(Yp, seen, csr) / Wr, np.nan)
                se = np.sqrt(_rep_var(p, theta, est, mse))
                lt = np.log(theta / (1 - theta))
                lse = np.sqrt(_rep_var(p, lt, np.log(est / (1 - est)), mse))
            # a replicate estimate of 0 or 1 has no finite logit (R's svyglm then gives a
            # huge coefficient and an interval of about [0, 1]): the interval is [0, 1]
            lse[(np.isinf(lt) & (p.rscales > 0)[None, :]).any(axis=1)] = np.inf
            for k, v in _finish(kind, est, se, lse, tq, W, Q, n).items():
                res[g][k][:, j] = v
    return res


# --------------------------------------------------------------------------- gaps (lnob)


def prepare(df: pd.DataFrame, design: Design) -> _Prep:
    """The design's codes, weights, calibration and replicates, once per call of lnob's
    `gaps` or `furthest_behind` (then `Levels` per item and dimension)."""
    return _prepare(df, design)


class Levels:
    """One item's means in every level of a dimension (`est`) and in each level's rest (the
    other known levels, `rest`), with their joint design covariance, for lnob's gap tests on
    these designs. Domains are numbered 0..L-1 (levels) and L..2L-1 (rests); `level` and
    `rest_scores` are those index arrays, `cov(X, Y)` the covariance of domains X with Y.

    Taylor designs: the domains' scores w_i r_i as in `estimate` (module docstring), with
    their calibration residuals and both stages, crossed: the matrix R's svyrecvar gives on
    the domains' stacked influence functions (what `svyby(covmat = TRUE)` does). Replicate
    designs: the domains' replicate estimates, covariance scale sum_r rscales_r (theta_r -
    mean)(phi_r - mean); a replicate that is NaN (no weight) in any domain asked for is
    dropped for all of them, as svyby's svrVar (na.omit on the replicate matrix): so a gap's
    variance is over the replicates where both the level and its rest have weight. df: R's
    degf of the subset (rows with the item present and the dimension known): its PSUs minus
    their strata, or the rank of its replicate weights minus 1."""

    def __init__(self, p: _Prep, y: np.ndarray, codes: np.ndarray, levels: list):
        L = len(levels)
        self.p, self.levels = p, levels
        ok = ~np.isnan(y) & (codes >= 0)
        c, yo, w = codes[ok], y[ok], p.w[ok]
        self.n = np.bincount(c, minlength=L)
        W = np.bincount(c, weights=w, minlength=L)
        Y = np.bincount(c, weights=w * yo, minlength=L)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.est, self.rest = Y / W, (Y.sum() - Y) / (W.sum() - W)
        self.level, self.rest_scores = np.arange(L), np.arange(L, 2 * L)
        if p.replicated:
            P = len(p.pmat)
            key = c * P + p.pattern[ok]
            Wp, Yp = (
                np.bincount(key, weights=v, minlength=L * P).reshape(L, P) for v in (w, w * yo)
            )
            Wr, Yr = Wp @ p.pmat, Yp @ p.pmat
            with np.errstate(invalid="ignore", divide="ignore"):
                th = np.where(Wr > 0, Yr / Wr, np.nan)
                Wo, Yo = Wr.sum(0) - Wr, Yr.sum(0) - Yr
                tr = np.where(Wo > 0, Yo / Wo, np.nan)
            self.theta = np.vstack([th, tr])  # (2L x R) replicate estimates
            self.df = float(_rank(p.pmat[np.unique(p.pattern[ok])]) - 1)
        else:
            held = np.bincount(p.psu[ok], minlength=len(p.psu_h)) > 0
            self.df = float(held.sum() - np.unique(p.psu_h[held]).size)
            onehot = c[:, None] == np.arange(L)[None, :]
            with np.errstate(invalid="ignore", divide="ignore"):
                r = np.hstack(
                    [
                        np.where(onehot, (yo[:, None] - self.est) / W, 0.0),
                        np.where(onehot, 0.0, (yo[:, None] - self.rest) / (W.sum() - W)),
                    ]
                )
            rr = np.zeros((len(y), 2 * L))
            rr[ok] = np.nan_to_num(r)
            self.V = _taylor_cov(p, rr)

    def cov(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        if not self.p.replicated:
            return self.V[np.ix_(X, Y)]
        both = np.union1d(X, Y)
        keep = np.isfinite(self.theta[both]).all(axis=0)  # svrVar's na.omit
        t = self.theta[:, keep]
        dev = t - self._centre(t, keep, np.concatenate([self.est, self.rest]))[:, None]
        return self.p.scale * (dev[X] * self.p.rscales[keep]) @ dev[Y].T

    def gap_moments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Variances of each level and of its rest and their covariance (each pair as
        `svyby(~y, ~in_g, covmat = TRUE)`: replicates NaN in either are dropped)."""
        if not self.p.replicated:
            L = len(self.levels)
            d = np.diag(self.V)
            return d[:L], d[L:], np.diag(self.V[:L, L:])
        L = len(self.levels)
        tg, tr = self.theta[:L], self.theta[L:]
        keep = np.isfinite(tg) & np.isfinite(tr)
        rs = np.where(keep, self.p.rscales[None, :], 0.0)
        use = keep & (self.p.rscales[None, :] > 0)

        def dev(t, full):
            if self.p.mse:
                centre = full
            else:
                with np.errstate(invalid="ignore", divide="ignore"):
                    centre = np.where(use, t, 0.0).sum(1) / use.sum(1)
            return np.where(keep, t - centre[:, None], 0.0)

        dg, dr = dev(tg, self.est), dev(tr, self.rest)
        s = self.p.scale
        return s * (dg * dg * rs).sum(1), s * (dr * dr * rs).sum(1), s * (dg * dr * rs).sum(1)

    def _centre(self, t: np.ndarray, keep: np.ndarray, full: np.ndarray) -> np.ndarray:
        if self.p.mse:
            return full
        use = self.p.rscales[keep] > 0
        return t[:, use].mean(axis=1)


def _taylor_cov(p: _Prep, rr: np.ndarray) -> np.ndarray:
    """Covariance matrix of the domains whose residuals r are the columns of rr (rows x D,
    0 outside a domain): `_taylor_var`'s stages and calibration, crossed between domains."""
    xw = p.w[:, None] * rr
    Z1 = _rowsum(xw, p.psu, len(p.psu_h))
    Z2 = None if p.ssu is None else _rowsum(xw, p.ssu, len(p.ssu_psu))
    if p.X is not None:  # residuals from the calibration regression: beta_d per domain
        beta = (p.X.T @ (p.w0[:, None] * rr)).T @ p.Tinv  # D x K
        Z1 = Z1 - p.WX1 @ beta.T
        if Z2 is not None:
            Z2 = Z2 - p.WX2 @ beta.T
    V = _stage_cov(Z1, p.psu_h, p.scale1, p.lonely1)
    if Z2 is not None and p.f1.any():
        V = V + _second_stage(p, Z2, _stage_cov)
    return V


def _stage_cov(Z: np.ndarray, unit_group: np.ndarray, scale: np.ndarray, lonely: np.ndarray):
    """`_stage` crossed: sum over groups of scale * (Z_u - mean)' (Z_u - mean), D x D."""
    dev = _deviations(Z, unit_group, lonely)
    return (dev * scale[:, None]).T @ dev
