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
  one suppressed cell, the unsuppressed non-empty cell with the smallest n (ties: first in
  table order) is suppressed too; if the suppressed cell is the line's only non-empty cell,
  its margin (which equals it) is suppressed instead. Lines are revisited until nothing
  changes (fixed point).
* suppressed rows keep variable, grouping, dimension codes and n; estimate, se, ci_low,
  ci_high, deff, cv and N are blanked (NaN), `suppressed` is True and `suppression` says
  "primary" or "secondary".
"""

from __future__ import annotations

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
    dims = _dims(out)
    n = out["n"].to_numpy()
    out["flag"] = np.where(_caution(out, rules), "caution", "")
    primary = (n > 0) & (n < threshold(rules, population))
    kind = np.where(primary, "primary", "").astype(object)
    suppressed = primary.copy()
    lines = _lines(out, dims)
    index = {_key(r): i for i, r in out.iterrows()}
    changed = True
    while changed:
        changed = False
        for line, margin in lines:
            live = line[n[line] > 0]
            if suppressed[live].sum() != 1:
                continue
            cand = live[~suppressed[live]]
            if len(cand):
                pick = cand[np.argmin(n[cand])]  # smallest n; ties: first in table order
            else:  # the suppressed cell is alone: the margin equals it, hide the margin
                pick = index.get(margin)
                if pick is None or suppressed[pick]:
                    continue
            suppressed[pick] = True
            kind[pick] = "secondary"
            changed = True
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
    index = {_key(r): i for i, r in t.iterrows()}
    for line, margin in _lines(t, dims):
        live = line[n[line] > 0]
        m = index.get(margin)
        margin_shown = m is not None and shown[m]
        if hidden[live].sum() == 1 and (len(live) > 1 or margin_shown):
            i = int(live[hidden[live]][0])
            raise DisclosureError(
                f"suppresses only one cell of a line whose total is published, so it can be "
                f"recovered by subtraction: {where(i)}.",
                row=i + 1,
                field="estimate",
                hint="Run disclosure.apply, which adds the secondary suppression.",
            )
