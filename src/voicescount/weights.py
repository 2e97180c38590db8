"""Survey weights: design weights, non-response adjustment, post-stratification, raking,
trimming, and Kish's design effect of weighting.

Why numpy and not svy's weighting namespace: these steps are a few vectorised lines each,
the tests check them against R's `postStratify()` and `rake()` (1e-9), and our own code can
name the population file, row and field when a margin is wrong, which is what an analyst
needs. (svy's `Sample.weighting` was not benchmarked here; its raking can replace `rake` if
it ever needs features we lack, such as calibration bounds.)

Population margins live in `data/<ISO>/population.csv`, one row per category:

    dimension,code,population
    sex,female,48000000
    sex,male,47000000
    region,north,...

Every dimension's categories must add up to the same total (raking cannot reach margins
that disagree); `load_margins` checks that.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ConfigError, InputError

Margins = dict[str, dict[str, float]]


def load_margins(path: str | Path, rel_tol: float = 1e-6) -> Margins:
    """Read population margins: {dimension: {code: population}}, checked row by row."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            "file not found.", path=path, hint="Add the population margins for this country."
        )
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ConfigError(
            f"cannot be read as UTF-8 CSV ({exc}).", path=path, hint="Save it as UTF-8 CSV."
        ) from None
    raw.columns = [c.strip() for c in raw.columns]
    for col in ("dimension", "code", "population"):
        if col not in raw.columns:
            raise ConfigError(
                f"has no '{col}' column (found: {', '.join(raw.columns)}).",
                path=path,
                field=col,
                hint="The header must be: dimension,code,population.",
            )
    out: Margins = {}
    for i, r in raw.iterrows():
        row = i + 2  # 1-based, after the header
        dim, code, pop = r["dimension"].strip(), r["code"].strip(), r["population"].strip()
        for field, val in (("dimension", dim), ("code", code)):
            if not val:
                raise ConfigError("is empty.", path=path, row=row, field=field)
        try:
            value = float(pop.replace("_", ""))
        except ValueError:
            value = float("nan")
        if not np.isfinite(value) or value <= 0:
            raise ConfigError(
                f"'{pop}' is not a positive number.",
                path=path,
                row=row,
                field="population",
                hint="Write the population count as digits, e.g. 48000000.",
            )
        if code in out.setdefault(dim, {}):
            raise ConfigError(
                f"repeats {dim}={code}.", path=path, row=row, field="code", hint="Keep one row."
            )
        out[dim][code] = value
    if not out:
        raise ConfigError("has no rows.", path=path, hint="Add one row per category.")
    totals = {d: sum(v.values()) for d, v in out.items()}
    first = next(iter(totals))
    for d, t in totals.items():
        if abs(t - totals[first]) > rel_tol * totals[first]:
            raise ConfigError(
                f"dimension '{d}' adds up to {t:,.0f} but '{first}' to {totals[first]:,.0f}.",
                path=path,
                field="population",
                hint="Every dimension's categories must cover the same population.",
            )
    return out


def _positive(w: pd.Series, what: str) -> np.ndarray:
    a = pd.to_numeric(w, errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(a) | (a <= 0)
    if bad.any():
        raise InputError(
            f"has a missing or non-positive {what}.",
            row=w.index[np.flatnonzero(bad)[0]],
            field=str(w.name),
            hint="Check the sampling records for this respondent.",
        )
    return a


def design_weights(prob: pd.Series) -> pd.Series:
    """Base weights: the inverse of each respondent's overall selection probability."""
    p = _positive(prob, "selection probability")
    if (p > 1).any():
        raise InputError(
            "has a selection probability above 1.",
            row=prob.index[np.flatnonzero(p > 1)[0]],
            field=str(prob.name),
            hint="Probabilities are between 0 and 1; weights are their inverse.",
        )
    return pd.Series(1 / p, index=prob.index, name="weight")


def nonresponse_adjust(
    weight: pd.Series, responded: pd.Series, classes: pd.DataFrame | pd.Series
) -> pd.Series:
    """Weighting-class adjustment: respondents carry the weight of their class's
    non-respondents (factor = class weight sum / respondent weight sum); non-respondents get 0.
    """
    w = _positive(weight, "weight")
    r = responded.astype(bool).to_numpy()
    keys = classes if isinstance(classes, pd.DataFrame) else classes.to_frame()
    cls, uniq = pd.factorize(pd.MultiIndex.from_frame(keys.astype(str)))
    tot = np.bincount(cls, weights=w)
    resp = np.bincount(cls, weights=w * r, minlength=len(tot))
    empty = np.flatnonzero(resp == 0)
    if len(empty):
        raise InputError(
            f"weighting class {tuple(uniq[empty[0]])} has no respondents, so its weight "
            "cannot be carried by anyone.",
            field=", ".join(map(str, keys.columns)),
            hint="Merge this class with a similar one.",
        )
    return pd.Series(np.where(r, w * (tot / resp)[cls], 0.0), index=weight.index, name="weight")


def poststratify(
    df: pd.DataFrame, weight: str, cells: Sequence[str], totals: pd.DataFrame
) -> pd.Series:
    """Scale weights so each cell (cross of `cells`) sums to its population in `totals`
    (columns: the cell columns plus `population`), as R's `postStratify()`."""
    w = _positive(df[weight], "weight")
    key = df[list(cells)].astype(str).agg("\x1f".join, axis=1)
    tkey = totals[list(cells)].astype(str).agg("\x1f".join, axis=1)
    pop = dict(zip(tkey, totals["population"].astype(float), strict=True))
    sums = pd.Series(w, index=df.index).groupby(key.to_numpy()).sum()
    for k in sums.index:
        if k not in pop:
            raise InputError(
                f"cell {k.replace(chr(31), ' × ')} has respondents but no population total.",
                field=", ".join(cells),
                hint="Add the cell to the population totals or collapse cells.",
            )
    for k in pop:
        if k not in sums.index:
            raise InputError(
                f"cell {k.replace(chr(31), ' × ')} has a population but no respondents.",
                field=", ".join(cells),
                hint="Collapse it with a neighbouring cell before post-stratifying.",
            )
    factor = key.map({k: pop[k] / s for k, s in sums.items()}).to_numpy()
    return pd.Series(w * factor, index=df.index, name="weight")


def rake(
    df: pd.DataFrame,
    weight: str,
    margins: Margins,
    max_iter: int = 100,
    tol: float = 1e-10,
    source: str | Path | None = None,
) -> pd.Series:
    """Iterative proportional fitting to population margins (R's `rake()`).

    Stops when every margin is within `tol` (relative) of its target; raises if it has not
    converged after `max_iter` sweeps, or if a margin category has no sample (no weight can
    reach it). `source` (the margins file) is named in errors.
    """
    w = _positive(df[weight], "weight").copy()
    codes = {}
    for dim, targets in margins.items():
        if dim not in df.columns:
            raise InputError(
                f"margins name dimension '{dim}', which the data do not have.",
                path=source,
                field="dimension",
                hint="Derive the dimension first or remove it from population.csv.",
            )
        values = df[dim].astype(str).to_numpy()
        cats = list(targets)
        c = pd.Index(cats).get_indexer(values)
        if (c < 0).any():
            odd = sorted(set(values[c < 0]))[:3]
            raise InputError(
                f"respondents have {dim} = {', '.join(odd)}, which has no population margin.",
                path=source,
                field=dim,
                hint="Add the category to population.csv or recode it.",
            )
        counts = np.bincount(c, minlength=len(cats))
        if (counts == 0).any():
            missing = cats[int(np.flatnonzero(counts == 0)[0])]
            raise InputError(
                f"margin {dim}={missing} has no respondents, so raking cannot reach it.",
                path=source,
                field="code",
                hint="Collapse the category with a neighbour in population.csv and the data.",
            )
        codes[dim] = (c, np.array([targets[k] for k in cats]))
    for _ in range(max_iter):
        for c, target in codes.values():
            w *= (target / np.bincount(c, weights=w, minlength=len(target)))[c]
        worst = max(
            np.max(np.abs(np.bincount(c, weights=w, minlength=len(t)) / t - 1))
            for c, t in codes.values()
        )
        if worst < tol:
            return pd.Series(w, index=df.index, name="weight")
    raise InputError(
        f"raking did not converge in {max_iter} iterations (worst margin off by {worst:.2g}).",
        path=source,
        hint="Margins may be inconsistent with the sample; collapse sparse categories.",
    )


def trim(weight: pd.Series, lower: float | None = None, upper: float | None = None,
         max_iter: int = 100) -> pd.Series:  # fmt: skip
    """Cap weights to [lower, upper] and spread the removed (or added) weight over the
    untrimmed respondents in proportion to their weights, so the total is kept; repeated
    until no weight is outside the bounds."""
    w = _positive(weight, "weight").copy()
    total = w.sum()
    lo = -np.inf if lower is None else lower
    hi = np.inf if upper is None else upper
    if (
        lo > hi
        or (upper is not None and upper * len(w) < total)
        or (lower is not None and lower * len(w) > total)
    ):
        raise InputError(
            "the trimming bounds cannot hold the total weight.",
            field=str(weight.name),
            hint="Widen the bounds.",
        )
    fixed = np.zeros(len(w), dtype=bool)
    for _ in range(max_iter):
        out = (w > hi * (1 + 1e-12)) | (w < lo * (1 - 1e-12))
        if not out.any():
            break
        fixed |= out
        w = np.clip(w, lo, hi)
        free = ~fixed
        w[free] *= (total - w[fixed].sum()) / w[free].sum()
    return pd.Series(w, index=weight.index, name="weight")


def kish_deff(weight: pd.Series | np.ndarray) -> float:
    """Kish's design effect of unequal weighting, 1 + CV^2 = n sum(w^2) / sum(w)^2."""
    w = np.asarray(weight, dtype=float)
    return float(len(w) * np.sum(w * w) / np.sum(w) ** 2)
