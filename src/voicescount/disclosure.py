"""Reliability flags and disclosure control for published estimate tables: one rule set.

Why: the partnership exists to make small groups visible, so unreliable estimates are
published with a "caution" flag, never dropped; but a cell built on a handful of people
could identify them, so it is suppressed, and so is a second cell wherever the suppressed one
could be recovered from a published total or difference. The group is still listed (its
dimension codes stay in the row), so the text can name it and point to qualitative evidence.

Rules (registry.Rules, data/rules.yml):

* caution: n < caution_min_n or cv > caution_max_cv -> flag "caution" (kept, not blanked).
* primary suppression: 0 < n < suppress_min_n (suppress_min_n_children for the children
  instrument). Empty cells (n = 0) have no estimate and reveal nobody; they are neither
  suppressed nor used as complements.
* secondary suppression, per variable: a "line" is the set of cells whose values add up to a
  published margin. For a one-dimension grouping it is all its domains (they add up to the
  whole population); for a multi-dimension grouping it is every set of cells that agree on
  all dimensions but one (they add up to the lower-order margin). If a line holds exactly
  one suppressed cell and its margin is published, the unsuppressed non-empty cell with the
  smallest n (ties: first in table order) is suppressed too; if the suppressed cell is the
  line's only non-empty cell, its margin (which equals it) is suppressed instead. Lines are
  revisited until nothing changes (fixed point). A line whose margin is itself hidden, or
  whose cells miss respondents of its margin (not stated), has two unknowns and needs
  nothing locally (VN 2022: 208 secondary cells instead of 391, and
  Female × disability stays published); the exact attacker (`recoverable`: every route by
  linear algebra, chains included) then adds the cheapest complement wherever a hidden
  cell can still be worked out, and `check_published` runs the same attacker.
* precision-aware publication (rules.yml `publish_decimals`, `protection`; `Precision`):
  every output publishes estimates, se and CI bounds rounded to a declared step (a
  percentage to 0.1 point), cv to 3 decimals. A route p_s = Σ ±N_d·p_d / N_s over rounded
  p_d leaves p_s uncertain by Σ |g_d|·N_d·h_d / N_s (h_d: half the step, or what se / cv
  give if narrower): the rounding amplified by N / N_s. A hidden cell counts as protected
  when that is at least ±protection (5 points; a mean: 5% of its overall value), and
  complements (line rule and attacker alike) are added only for routes that still pin a
  cell. So 4 intersex respondents beside 2,258 women and men are uncertain by ±0.5 and
  Male stays published (VN 2022: in the 15 adult indicators men answered, the 16th asks
  women only; secondary cells 233 -> 46); a small margin (3 hidden among 40) is still
  pinned, and protected.
  Why not merge the tiny category into "not stated" instead: VN 2022 has no respondent
  without a stated sex, so the merged group is the same 4 people and still the residual.
* respondent counts (n) are published for every group, suppressed ones included (the pages'
  "Who was heard"): a count says how many of a group took part, not who they are or what
  they answered, and it tells readers why a cell is hidden; the rules protect answers.
* suppressed rows keep variable, grouping, dimension codes and n; estimate, se, ci_low,
  ci_high, deff, cv and N are blanked (NaN), `suppressed` is True and `suppression` says
  "primary" or "secondary".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from .errors import VoicesError
from .registry import IndicatorCatalogue, Rules

BLANKED = ["estimate", "se", "ci_low", "ci_high", "deff", "cv", "N"]
Population = Literal["adults", "children", "cso"]


class DisclosureError(VoicesError):
    """A table about to be published breaks the declared reliability or disclosure rules."""


def threshold(rules: Rules, population: str) -> int:
    """The minimum n of a published cell for this instrument's population."""
    return rules.suppress_min_n_children if population == "children" else rules.suppress_min_n


def _dims(est: pd.DataFrame) -> list[str]:
    cols = list(est.columns)
    return cols[cols.index("grouping") + 1 : cols.index("estimate")]


def _key(row: pd.Series) -> tuple:
    gd = row["grouping"].split("×") if row["grouping"] else []
    return (row["variable"], row["grouping"], tuple(row[d] for d in gd))


def _lines(table: pd.DataFrame, dims: list[str]) -> list[tuple[np.ndarray, tuple]]:
    """(positional index of the cells, key of the margin they add up to), see the module."""
    out = []
    for (var, grouping), part in table.groupby(["variable", "grouping"], sort=False):
        if grouping == "":
            continue
        gdims = [d for d in grouping.split("×") if d in dims]
        if len(gdims) == 1:
            out.append((part.index.to_numpy(), (var, "", ())))
            continue
        for free in gdims:
            fixed = [d for d in gdims if d != free]
            for vals, line in part.groupby(fixed, sort=False, dropna=False):
                vals = vals if isinstance(vals, tuple) else (vals,)
                out.append((line.index.to_numpy(), (var, "×".join(fixed), tuple(vals))))
    return out


def _caution(est: pd.DataFrame, rules: Rules) -> pd.Series:
    return (est["n"] < rules.caution_min_n) | (est["cv"].abs() > rules.caution_max_cv)


# --------------------------------------------------------------------------- precision


@dataclass(frozen=True)
class Precision:
    """How one variable is published: estimates, se and CI bounds rounded to `step` (on the
    table's scale: 0.001 for a proportion shown to 0.1 percentage point); a route discloses
    when it pins a hidden cell closer than the protection (times |overall| if `relative`)."""

    step: float
    relative: bool


CV_STEP = 0.001  # cv is published to 3 decimals
DEFF_STEP = 0.01


def precision_for(indicators: IndicatorCatalogue, rules: Rules) -> dict[str, Precision]:
    """Each indicator's published precision (rules.publish_decimals per unit)."""
    out = {}
    for i in indicators.indicators:
        percent = i.kind == "proportion" and i.unit == "percent"
        step = 10.0 ** -(rules.publish_decimals[i.unit] + (2 if percent else 0))
        out[i.id] = Precision(step, relative=i.kind != "proportion")
    return out


def _round(x: np.ndarray, step: np.ndarray) -> np.ndarray:
    dec = np.round(-np.log10(step)).astype(int)
    return np.array([round(v, d) if v == v else v for v, d in zip(x, dec, strict=True)])


def round_published(est: pd.DataFrame, precision: Mapping[str, Precision]) -> pd.DataFrame:
    """Round estimate, se and CI bounds to each variable's step, cv and deff to theirs: every
    output then carries no finer number than declared (so neither does p = se / cv)."""
    out = est.copy()
    has = out["variable"].map(lambda v: v in precision).to_numpy(dtype=bool)
    if not has.any():
        return out
    step = out["variable"].map(lambda v: precision[v].step if v in precision else 1.0).to_numpy()
    for c in ("estimate", "se", "ci_low", "ci_high"):
        if c in out:
            out.loc[has, c] = _round(out[c].to_numpy(dtype=float)[has], step[has])
    for c, st in (("cv", CV_STEP), ("deff", DEFF_STEP)):
        if c in out:
            out.loc[has, c] = _round(out[c].to_numpy(dtype=float)[has], np.full(has.sum(), st))
    return out


def half_widths(t: pd.DataFrame, precision: Mapping[str, Precision] | None) -> np.ndarray:
    """Per row, how closely a reader knows the published estimate: half its step, or what
    se / cv (both rounded) give if narrower; 0 (exact) for a variable without a precision."""
    if not precision:
        return np.zeros(len(t))
    step = t["variable"].map(lambda v: precision[v].step if v in precision else 0.0).to_numpy()
    half = step / 2
    p, se, cv = (t[c].to_numpy(dtype=float) for c in ("estimate", "se", "cv"))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.abs(p) * (half / np.abs(se) + CV_STEP / 2 / np.abs(cv))
    ok = np.isfinite(ratio) & (np.abs(se) > 0) & (np.abs(cv) > 0)
    return np.where(ok, np.minimum(half, ratio), half)


def tolerances(t: pd.DataFrame, rules: Rules, precision: Mapping[str, Precision] | None) -> dict:
    """Per variable, the narrowest interval that still protects (inf: exact, any route pins)."""
    out: dict[str, float] = {}
    overall = t[t["grouping"] == ""].set_index("variable")["estimate"]
    for v in t["variable"].unique():
        pr = (precision or {}).get(v)
        if pr is None:
            out[v] = np.inf
        else:
            o = abs(float(overall.get(v, np.nan))) if pr.relative else 1.0
            out[v] = rules.protection * (o if o == o and o > 0 else 1.0)
    return out


def _pinned(rel, fixed, coef, unknown, big_n, half, tol) -> np.ndarray:
    """`fixed`, keeping only the cells whose route gives them to within `tol`: a route
    p_s = Σ g_d N_d p_d / Σ g_d N_d over rounded p_d is uncertain by Σ |g_d| N_d h_d / N_s
    (the rounding amplified by N / N_s), which for a small cell is wide."""
    if not np.isfinite(tol):
        return fixed
    ncell = len(rel.cells)
    out = fixed.copy()
    known = ~unknown[:ncell]
    nk = np.where(known, np.nan_to_num(big_n), 0.0)
    hk = np.where(known, np.nan_to_num(big_n) * half, 0.0)
    for s in np.flatnonzero(fixed[:ncell]):
        g = coef[s, :ncell]
        n_s = abs(float(g @ nk))
        if n_s <= 0 or float(np.abs(g) @ hk) / n_s >= tol:
            out[s] = False
    return out


def apply(
    est: pd.DataFrame,
    rules: Rules,
    population: Population = "adults",
    precision: Mapping[str, Precision] | None = None,
) -> pd.DataFrame:
    """Flag and suppress an `stats.estimate` table; returns a new table (same row order).
    With `precision`, the published statistics are rounded to it and only routes that still
    pin a hidden cell (see the module) get a complement; without, every route does."""
    out = est.reset_index(drop=True).copy()
    n = out["n"].to_numpy()
    out["flag"] = np.where(_caution(out, rules), "caution", "")
    if precision:
        out = round_published(out, precision)
    half = half_widths(out, precision)
    big_n = out["N"].to_numpy(dtype=float)
    tol = tolerances(out, rules, precision)
    primary = (n > 0) & (n < threshold(rules, population))
    kind = np.where(primary, "primary", "").astype(object)
    suppressed = primary.copy()
    lines = _lines(out, _dims(out))
    index = {_key(r): i for i, r in out.iterrows()}
    changed = True
    while changed:  # the line rule (fast, local): see the module docstring
        changed = False
        for line, margin in lines:
            live = line[n[line] > 0]
            if suppressed[live].sum() != 1:
                continue
            m = index.get(margin)
            if m is not None and len(live) > 1 and (suppressed[m] or n[m] > n[line].sum()):
                continue  # a second unknown (the margin, or the not stated): see below
            if m is not None and len(live) > 1:  # N_s p_s = N p − Σ N_d p_d: how closely?
                s = live[suppressed[live]][0]
                others = np.concatenate([[m], live[~suppressed[live]]])
                if float(big_n[others] @ half[others]) / big_n[s] >= tol[margin[0]]:
                    continue  # the rounding of the others hides it: no complement
            cand = live[~suppressed[live]]
            if len(cand):
                pick = cand[np.argmin(n[cand])]  # smallest n; ties: first in table order
            else:  # the suppressed cell is alone: the margin equals it, hide the margin
                pick = m
                if pick is None or suppressed[pick]:
                    continue
            suppressed[pick] = True
            kind[pick] = "secondary"
            changed = True
    order = out["grouping"].map(lambda g: len(g.split("×")) if g else 0).to_numpy()
    for var, rel in relations(out).items():  # what the line rule misses: chains of routes
        c = rel.cells
        _protect(rel, n[c], order[c], suppressed, kind, (big_n[c], half[c], tol[var]))
    out["suppressed"] = suppressed
    out["suppression"] = kind
    out.loc[suppressed, [c for c in BLANKED if c in out.columns]] = np.nan
    return out


def check_published(
    table: pd.DataFrame,
    rules: Rules,
    population: Population = "adults",
    precision: Mapping[str, Precision] | None = None,
) -> None:
    """Raise DisclosureError naming the first row that breaks the rules; None if all hold
    (with `precision`: no hidden cell can be worked out closer than the protection)."""
    t = table.reset_index(drop=True)
    need = {"variable", "grouping", "estimate", "n", "cv", "flag"}
    if not need <= set(t.columns):
        raise DisclosureError(
            f"the table lacks the columns {sorted(need - set(t.columns))}.",
            hint="Publish tables made by stats.estimate and disclosure.apply.",
        )
    dims = _dims(t)

    def where(i: int) -> str:
        r = t.iloc[i]
        cell = ", ".join(f"{d}={r[d]}" for d in dims if pd.notna(r[d]))
        return f"{r['variable']} / {r['grouping'] or 'all'}" + (f" ({cell})" if cell else "")

    shown = t["estimate"].notna().to_numpy()
    n = t["n"].to_numpy()
    small = shown & (n > 0) & (n < threshold(rules, population))
    if small.any():
        i = int(np.flatnonzero(small)[0])
        raise DisclosureError(
            f"publishes an estimate from n={n[i]} respondents: {where(i)}.",
            row=i + 1,
            field="estimate",
            hint="Run disclosure.apply on the table before publishing it.",
        )
    unflagged = shown & _caution(t, rules).to_numpy() & (t["flag"] != "caution").to_numpy()
    if unflagged.any():
        i = int(np.flatnonzero(unflagged)[0])
        raise DisclosureError(
            f"publishes an unreliable estimate without the caution flag: {where(i)}.",
            row=i + 1,
            field="flag",
            hint="Run disclosure.apply on the table before publishing it.",
        )
    hidden = ~shown & (n > 0)
    half = half_widths(t, precision)
    tol = tolerances(t, rules, precision)
    big_n = t["N"].to_numpy(dtype=float)
    for var, rel in relations(t).items():
        unknown = np.zeros(rel.width, dtype=bool)
        unknown[: len(rel.cells)] = hidden[rel.cells]
        unknown[len(rel.cells) :] = True
        fixed, coef = recoverable(rel, unknown)
        c = rel.cells
        fixed = _pinned(rel, fixed, coef, unknown, big_n[c], half[c], tol[var])
        hit = np.flatnonzero(fixed[: len(rel.cells)] & hidden[rel.cells])
        if len(hit):
            i = int(rel.cells[hit[0]])
            used = [int(rel.cells[j]) for j in np.flatnonzero(np.abs(coef[hit[0]]) > 1e-9)
                    if j < len(rel.cells)]  # fmt: skip
            raise DisclosureError(
                f"publishes enough to work out a suppressed cell by subtraction: {where(i)}, "
                f"from {'; '.join(where(j) for j in used[:6])}"
                f"{' and more' if len(used) > 6 else ''}.",
                row=i + 1,
                field="estimate",
                hint="Run disclosure.apply, which adds the secondary suppression.",
            )


# --------------------------------------------------------------------------- the attacker
# Published cells are tied by linear relations: every line (see the module docstring) holds
# N_margin = sum of N_cell and N_margin * p_margin = sum of N_cell * p_cell (the weighted
# total T = N * p adds up like N). A hidden cell's estimate p_s = T_s / N_s is recoverable
# when both T_s and N_s are fixed by the published cells, i.e. when the cell lies outside
# the null space of the relations restricted to the hidden cells: this finds every route
# (totals minus parts, complements, intersections against margins, and chains of them),
# not only lines with a single hidden cell. A margin the table does not carry, and the
# respondents a line misses (its n adds up to less than its margin's: "not stated"), enter
# as unknowns nobody publishes.


@dataclass
class Relations:
    """One variable's cells (table positions) and the lines tying them: matrix rows are
    lines, columns are the cells then the unpublished unknowns (margins the table lacks,
    respondents a line misses)."""

    cells: np.ndarray  # table positions of the variable's rows, column order
    matrix: np.ndarray  # (lines, cells + unknowns): -1 for the margin, +1 for each part
    lines: list[tuple[int, np.ndarray]]  # (margin column, part columns) per matrix row

    @property
    def width(self) -> int:
        return self.matrix.shape[1]


def relations(table: pd.DataFrame) -> dict[str, Relations]:
    """The linear relations of every variable of a disclosed (or published) table."""
    t = table.reset_index(drop=True)
    dims = _dims(t)
    n = t["n"].to_numpy(dtype=float)
    index = {_key(r): i for i, r in t.iterrows()}
    out: dict[str, Relations] = {}
    by_var: dict[str, list[tuple[np.ndarray, tuple]]] = {}
    for line, margin in _lines(t, dims):
        by_var.setdefault(margin[0], []).append((line, margin))
    for var, part in t.groupby("variable", sort=False):
        cells = part.index.to_numpy()
        col = {int(i): j for j, i in enumerate(cells)}
        extra: dict[tuple, int] = {}
        rows: list[tuple[int, list[int]]] = []
        for line, margin in by_var.get(var, []):
            m = index.get(margin)
            mcol = extra.setdefault(margin, len(cells) + len(extra)) if m is None else col[m]
            parts = [col[int(i)] for i in line]
            if m is not None and n[m] - n[line].sum() > 0.5:  # respondents the line misses
                parts.append(len(cells) + len(extra))
                extra[("missing", len(extra))] = parts[-1]
            rows.append((mcol, parts))
        a = np.zeros((len(rows), len(cells) + len(extra)))
        for r, (mcol, parts) in enumerate(rows):
            a[r, mcol] = -1.0
            a[r, parts] = 1.0
        out[str(var)] = Relations(cells, a, [(m, np.array(p)) for m, p in rows])
    return out


def recoverable(rel: Relations, unknown: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which unknown columns the known ones fix, and the coefficients that do it.

    `unknown`: bool per column (hidden cells, and the unpublished unknowns). Returns
    (fixed: bool per column, coef: (columns, columns) with x_s = coef[s] @ x over the
    known columns for every fixed s); exact linear algebra, no rounding considered."""
    unknown = np.asarray(unknown, dtype=bool)
    fixed = np.zeros(rel.width, dtype=bool)
    coef = np.zeros((rel.width, rel.width))
    u = np.flatnonzero(unknown)
    if not len(u) or not len(rel.matrix):
        return fixed, coef
    a_u = rel.matrix[:, u]
    _, s, vt = np.linalg.svd(a_u)
    rank = int((s > 1e-9).sum())
    null = vt[rank:].T  # (unknowns, dim of the null space)
    det = np.linalg.norm(null, axis=1) < 1e-9 if null.size else np.ones(len(u), dtype=bool)
    det &= np.abs(a_u).sum(axis=0) > 0  # in no relation: never fixed
    fixed[u[det]] = True
    # A_u x_u = -A_k x_k: x_u = pinv(A_u) @ (-A_k x_k) for the determined entries
    k = np.flatnonzero(~unknown)
    g = np.linalg.pinv(a_u) @ (-rel.matrix[:, k])
    for j in np.flatnonzero(det):
        coef[u[j], k] = g[j]
    return fixed, coef


def _protect(rel: Relations, n: np.ndarray, order: np.ndarray, suppressed, kind, prec) -> None:
    """Secondary suppression for one variable, in place on the table-wide arrays: while a
    hidden cell can be worked out, hide the published cell of its route (or of its lines)
    that costs least: the first, in the order highest-order grouping (an intersection goes
    before a main breakdown), smallest n, table order, whose hiding closes the route; if
    none does alone, the cheapest, and look again. `prec`: (N, half-widths, tolerance) of
    the cells; a route wider than the tolerance does not count (see `_pinned`)."""
    ncell = len(rel.cells)
    unknown = np.ones(rel.width, dtype=bool)
    unknown[:ncell] = suppressed[rel.cells]
    live = n > 0
    unknown[:ncell] &= live  # an empty cell is known: 0

    def solve(u):
        f, c = recoverable(rel, u)
        return _pinned(rel, f, c, u, *prec), c

    while True:
        fixed, coef = solve(unknown)
        hit = np.flatnonzero(fixed[:ncell] & unknown[:ncell])
        if not len(hit):
            return
        s = int(min(hit, key=lambda j: (-order[j], j)))  # intersections before margins
        known = ~unknown[:ncell] & live
        route = [j for j in np.flatnonzero(np.abs(coef[s, :ncell]) > 1e-9) if known[j]]
        neighbours = {
            int(j)
            for m, parts in rel.lines
            if m == s or s in parts
            for j in [m, *parts]
            if j < ncell and known[j]
        }
        best = None
        for j in sorted(set(route) | neighbours, key=lambda j: (-order[j], n[j], j)):
            trial = unknown.copy()
            trial[j] = True
            after = solve(trial)[0]
            score = (bool(after[s]), -order[j], n[j], j)
            if best is None or score < best[0]:
                best = (score, j)
            if not after[s]:
                break
        if best is None:
            return
        pick = best[1]
        unknown[pick] = True
        suppressed[rel.cells[pick]] = True
        kind[rel.cells[pick]] = "secondary"
