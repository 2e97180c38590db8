"""Design-based estimates (proportions and means) that agree with R's survey package.

Why our own kernel and not svy: the issue asks for a maintained library unless a benchmark or
a disagreement with R justifies a kernel. Both happened (numbers from
`benchmarks/bench_stats.py` on the 2-core CI-class machine; see its docstring):

* speed: svy 0.35 `Sample.estimation.prop(y, by=...)` took about 1.1 s for ONE indicator and
  ONE single-dimension grouping on 1,000,000 rows; the benchmark needs 60 indicators x 16
  groupings, i.e. roughly 15 minutes. This module does the whole benchmark in a few seconds.
* agreement: svy computes a domain's degrees of freedom from the PSUs holding the domain (as
  R's `svyby(..., svyciprop)` does), but treats `drop_nulls` rows as out-of-domain zeros with
  its own n; we match R exactly (see below) and keep svy only as a cross-check in the tests.

Method (Taylor linearisation, as `survey::svymean` / `svyby` / `svyciprop`):

* A domain estimate is the ratio Y_d / W_d of weighted sums. Its linearised residual for row i
  is w_i 1[i in d] (y_i - p_d) / W_d; rows outside the domain contribute zero but stay in the
  design, so every PSU of every stratum is counted (as R's `subset.survey.design`, which pads
  the missing PSUs with zeros). The variance is the with-replacement between-PSU variance
  within strata: sum_h (1 - f_h) n_h / (n_h - 1) sum_j (Z_hj - Zbar_h)^2.
* Because Z_hj only needs per-(domain, PSU) sums of w*y and w, the data are first collapsed
  once to cells (full cross of all dimensions used x PSU) with one sparse matrix product;
  each grouping then works on those cells, never on the rows again.
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
* fpc: a per-row column holding either the sampling fraction of PSUs in the stratum (<= 1) or
  the number of PSUs in the stratum's population (> 1), as `svydesign(fpc = )`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse
from scipy import stats as sps

from .errors import InputError
from .registry import DesignSpec

SEP = "×"
RESULT_COLUMNS = ["estimate", "se", "ci_low", "ci_high", "deff", "n", "N", "cv", "flag"]


@dataclass(frozen=True)
class Design:
    """Names of the design columns: weight, strata, PSU (cluster) and finite population
    correction. `weight=None` means equal weights; `psu=None` means each row is its own PSU;
    `strata=None` means one stratum. PSU codes are nested within strata (R's `nest = TRUE`)."""

    weight: str | None
    strata: str | None = None
    psu: str | None = None
    fpc: str | None = None

    @classmethod
    def from_spec(cls, spec: DesignSpec) -> Design:
        return cls(weight=spec.weight, strata=spec.strata, psu=spec.psu, fpc=spec.fpc)

    def columns(self) -> list[str]:
        return [c for c in (self.weight, self.strata, self.psu, self.fpc) if c]


def _where(df: pd.DataFrame, mask: np.ndarray) -> object:
    """The first offending row, as the raw file's row number when intake kept it."""
    pos = int(np.flatnonzero(mask)[0])
    if "_source_row" in df.columns:
        return df["_source_row"].iloc[pos]
    return df.index[pos]


def _levels(col: pd.Series) -> tuple[np.ndarray, list]:
    """Codes 0..L-1 (-1 for missing) and the ordered levels of a dimension column.

    Categorical columns keep their declared order and unused categories (so empty cells are
    reported); other columns use the sorted observed values."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.codes.to_numpy(np.int64), list(col.cat.categories)
    codes, uniques = pd.factorize(col, sort=True)
    return codes.astype(np.int64), list(uniques)


@dataclass
class _Prepared:
    w: np.ndarray
    psu: np.ndarray  # row -> PSU code (nested within strata)
    psu_stratum: np.ndarray  # PSU -> stratum code
    n_h: np.ndarray  # stratum -> number of PSUs
    scale_h: np.ndarray  # stratum -> (1 - f_h) n_h / (n_h - 1), or (1 - f_h) when lonely


def _prepare(df: pd.DataFrame, design: Design) -> _Prepared:
    """Check the design columns and turn them into integer codes."""
    missing = [c for c in design.columns() if c not in df.columns]
    if missing:
        raise InputError(
            f"the design names column '{missing[0]}', which the data do not have.",
            field=missing[0],
            hint="Correct `design:` in cycle.yml or add the column to the data.",
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
        uniq, psu = np.unique(key, return_inverse=True)
    else:
        psu = np.arange(n)
        uniq = None
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
    return _Prepared(w=w, psu=psu, psu_stratum=psu_stratum, n_h=n_h, scale_h=scale_h)


def _item_block(df: pd.DataFrame, cols: list[str], kind: str) -> np.ndarray:
    """Items as a float matrix (NaN = missing), checking proportions are 0/1."""
    for c in cols:
        if c not in df.columns:
            raise InputError(
                f"item '{c}' is not a column of the data.",
                field=c,
                hint="Check the indicator id, or derive the indicator first.",
            )
    try:
        y = df[cols].to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    except (TypeError, ValueError):
        bad = next(c for c in cols if not pd.api.types.is_numeric_dtype(df[c]))
        raise InputError(
            "is not numeric.",
            field=bad,
            hint="Estimate numeric items only (0/1 for proportions).",
        ) from None
    if kind == "proportion":
        bad = ~np.isnan(y) & (y != 0) & (y != 1)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise InputError(
                f"has the value {y[r, c]!r}, but a proportion needs 0, 1 or missing.",
                row=_where(df, bad[:, c]),
                field=cols[c],
                hint="Recode the indicator to 0/1, or estimate it with kind='mean'.",
            )
    elif np.isinf(y).any():
        r, c = np.argwhere(np.isinf(y))[0]
        raise InputError(
            "has an infinite value.", row=_where(df, np.isinf(y[:, c])), field=cols[c]
        )
    return y


def _tquantile(level: float, df: np.ndarray) -> np.ndarray:
    out = np.full(df.shape, np.nan)
    ok = df > 0
    out[ok] = sps.t.ppf(0.5 + level / 2, df[ok])
    return out


def estimate(
    df: pd.DataFrame,
    items: Sequence[str],
    design: Design,
    by: Sequence[Sequence[str]] = ([],),
    kind: Literal["proportion", "mean"] = "proportion",
    level: float = 0.95,
    caution_min_n: int = 30,
    caution_max_cv: float = 0.30,
) -> pd.DataFrame:
    """Estimates for every item in every domain of every grouping in `by`, in one pass.

    Returns one row per (variable, grouping, domain): `variable`, `grouping` ("sex×region",
    "" for the whole population), one column per dimension used (missing where not in the
    grouping), then estimate, se, ci_low, ci_high, deff, n (non-missing rows), N (their
    weight sum), cv (se / estimate) and flag ("caution" when n < caution_min_n or
    cv > caution_max_cv). Rows follow `items`, then `by`, then the dimension levels; domains
    with no rows appear with n = 0 and NaN estimate. Rows with a missing dimension value are
    in no domain of a grouping using that dimension (they remain in the whole population).
    """
    if kind not in ("proportion", "mean"):
        raise ValueError(f"kind must be 'proportion' or 'mean', not {kind!r}")
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
    prep = _prepare(df, design)
    n_rows = len(df)

    # ---- collapse rows to cells: (dimension codes..., PSU)
    codes, levels, radix = [], [], []
    for d in dims:
        c, lv = _levels(df[d])
        codes.append(c + 1)  # 0 = missing
        levels.append(lv)
        radix.append(len(lv) + 1)
    key = np.zeros(n_rows, dtype=np.int64)
    for c, r in zip(codes, radix, strict=True):
        key = key * r + c
    n_psu = len(prep.psu_stratum)
    key = key * n_psu + prep.psu
    cell_key, row_cell = np.unique(key, return_inverse=True)
    n_cells = len(cell_key)
    cell_psu = cell_key % n_psu
    rest = cell_key // n_psu
    cell_codes = []
    for r in reversed(radix):
        cell_codes.append(rest % r - 1)
        rest = rest // r
    cell_codes.reverse()
    cols = np.arange(n_rows)
    S_w = sparse.csr_matrix((prep.w, (row_cell, cols)), shape=(n_cells, n_rows))
    S_1 = sparse.csr_matrix((np.ones(n_rows), (row_cell, cols)), shape=(n_cells, n_rows))

    J = len(items)
    A = np.empty((n_cells, J))  # sum w y
    B = np.empty((n_cells, J))  # sum w (non-missing)
    K = np.empty((n_cells, J))  # count non-missing
    Q = np.empty((n_cells, J))  # sum w y^2
    w_cell = S_w @ np.ones(n_rows)
    n_cell = S_1 @ np.ones(n_rows)
    chunk = 8  # bounds memory: one chunk of items as float64 at a time
    for s in range(0, J, chunk):
        block = items[s : s + chunk]
        y = _item_block(df, block, kind)
        miss = np.isnan(y)
        sl = slice(s, s + len(block))
        if miss.any():
            y[miss] = 0.0
            m = (~miss).astype(np.float64)
            B[:, sl] = S_w @ m
            K[:, sl] = S_1 @ m
        else:
            B[:, sl] = w_cell[:, None]
            K[:, sl] = n_cell[:, None]
        A[:, sl] = S_w @ y
        Q[:, sl] = A[:, sl] if kind == "proportion" else S_w @ (y * y)
        del y, miss

    tq_cache: dict[float, float] = {}
    frames = []
    for g in groupings:
        idx = [dims.index(d) for d in g]
        D = int(np.prod([len(levels[i]) for i in idx])) if idx else 1
        dcode = np.zeros(n_cells, dtype=np.int64)
        inside = np.ones(n_cells, dtype=bool)
        for i in idx:
            dcode = dcode * len(levels[i]) + np.maximum(cell_codes[i], 0)
            inside &= cell_codes[i] >= 0
        res = _grouping(
            dcode[inside],
            cell_psu[inside],
            A[inside],
            B[inside],
            K[inside],
            Q[inside],
            D,
            prep,
            kind,
            level,
            tq_cache,
        )
        # domain labels in mixed-radix order = sorted by levels
        lab = {}
        rem = np.arange(D)
        for i in reversed(idx):
            L = len(levels[i])
            lab[dims[i]] = np.asarray(levels[i], dtype=object)[rem % L] if L else []
            rem = rem // L
        for j, item in enumerate(items):
            part = {"variable": item, "grouping": SEP.join(g)}
            for d in dims:
                part[d] = lab[d] if d in lab else None
            for k, v in res.items():
                part[k] = v[:, j]
            frames.append(pd.DataFrame(part, index=range(D)))
    if not frames:
        return pd.DataFrame(columns=["variable", "grouping", *dims, *RESULT_COLUMNS])
    out = pd.concat(frames, ignore_index=True)
    order = {v: i for i, v in enumerate(items)}
    out["_o"] = out["variable"].map(order)
    out = out.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)
    out["n"] = out["n"].astype(np.int64)
    for d in dims:
        out[d] = out[d].astype(object).where(out[d].notna(), None)
    caution = (out["n"] < caution_min_n) | (out["cv"].abs() > caution_max_cv)
    out["flag"] = np.where(caution, "caution", "")
    return out[["variable", "grouping", *dims, *RESULT_COLUMNS]]


def _grouping(dcode, psu, A, B, K, Q, D, prep, kind, level, tq_cache) -> dict[str, np.ndarray]:
    """Estimates for one grouping from cell sums: arrays of shape (domains, items)."""
    n_psu = len(prep.psu_stratum)
    J = A.shape[1]
    pair_key, pair = np.unique(dcode * n_psu + psu, return_inverse=True)
    P = len(pair_key)
    G = sparse.csr_matrix((np.ones(len(pair)), (pair, np.arange(len(pair)))), shape=(P, len(pair)))
    Ap, Bp = G @ A, G @ B
    pd_ = pair_key // n_psu
    pp = pair_key % n_psu
    Dm = sparse.csr_matrix((np.ones(P), (pd_, np.arange(P))), shape=(D, P))
    Y = Dm @ Ap
    W = Dm @ Bp
    n = Dm @ (G @ K)
    Qd = Dm @ (G @ Q)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = np.where(n > 0, Y / W, np.nan)
        Z = (Ap - est[pd_] * Bp) / W[pd_]
    Z = np.nan_to_num(Z)
    H = len(prep.n_h)
    ph = prep.psu_stratum[pp]
    dh_key, dh = np.unique(pd_ * H + ph, return_inverse=True)
    E = sparse.csr_matrix((np.ones(P), (dh, np.arange(P))), shape=(len(dh_key), P))
    S1 = E @ Z
    S2 = E @ (Z * Z)
    h = dh_key % H
    nh = prep.n_h[h][:, None]
    contrib = prep.scale_h[h][:, None] * np.where(nh > 1, S2 - S1 * S1 / nh, S2)
    Fd = sparse.csr_matrix(
        (np.ones(len(dh_key)), (dh_key // H, np.arange(len(dh_key)))), shape=(D, len(dh_key))
    )
    var = np.maximum(Fd @ contrib, 0.0)
    se = np.where(n > 0, np.sqrt(var), np.nan)
    # degrees of freedom per domain: PSUs holding the domain minus their strata
    dfree = (
        np.bincount(pd_, minlength=D) - np.bincount(dh_key // H, minlength=D)
    ).astype(np.float64)
    tq = np.full(D, np.nan)
    for k, v in enumerate(dfree):
        if v > 0:
            if v not in tq_cache:
                tq_cache[v] = float(sps.t.ppf(0.5 + level / 2, v))
            tq[k] = tq_cache[v]
    tq = np.repeat(tq[:, None], J, axis=1)
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
        deff = np.where((n > 1) & (W > n), var / vsrs, np.nan)  # R: NA when N_hat < n
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


def grouping_name(dims: Sequence[str]) -> str:
    """The `grouping` label of a list of dimensions, e.g. ['sex', 'region'] -> 'sex×region'."""
    return SEP.join(dims)

