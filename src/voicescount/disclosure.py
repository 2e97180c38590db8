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
* suppressed rows keep variable, grouping, dimension codes and n; estimate, se, ci_low,
  ci_high, deff, cv and N are blanked (NaN), `suppressed` is True and `suppression` says
  "primary" or "secondary".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from .errors import VoicesError
from .registry import Rules

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


def apply(est: pd.DataFrame, rules: Rules, population: Population = "adults") -> pd.DataFrame:
    """Flag and suppress an `stats.estimate` table; returns a new table (same row order)."""
    out = est.reset_index(drop=True).copy()
    n = out["n"].to_numpy()
    out["flag"] = np.where(_caution(out, rules), "caution", "")
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
    for rel in relations(out).values():  # what the line rule misses: routes through chains
        _protect(rel, n[rel.cells], order[rel.cells], suppressed, kind)
    out["suppressed"] = suppressed
    out["suppression"] = kind
    out.loc[suppressed, [c for c in BLANKED if c in out.columns]] = np.nan
    return out


def check_published(table: pd.DataFrame, rules: Rules, population: Population = "adults") -> None:
    """Raise DisclosureError naming the first row that breaks the rules; None if all hold."""
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
    for rel in relations(t).values():
        unknown = np.zeros(rel.width, dtype=bool)
        unknown[: len(rel.cells)] = hidden[rel.cells]
        unknown[len(rel.cells) :] = True
        fixed, coef = recoverable(rel, unknown)
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


def _protect(rel: Relations, n: np.ndarray, order: np.ndarray, suppressed, kind) -> None:
    """Secondary suppression for one variable, in place on the table-wide arrays: while a
    hidden cell can be worked out, hide the published cell of its route (or of its lines)
    that costs least: the first, in the order highest-order grouping (an intersection goes
    before a main breakdown), smallest n, table order, whose hiding closes the route; if
    none does alone, the cheapest, and look again."""
    ncell = len(rel.cells)
    unknown = np.ones(rel.width, dtype=bool)
    unknown[:ncell] = suppressed[rel.cells]
    live = n > 0
    unknown[:ncell] &= live  # an empty cell is known: 0
    while True:
        fixed, coef = recoverable(rel, unknown)
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
            after = recoverable(rel, trial)[0]
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
