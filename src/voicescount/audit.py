"""Disclosure audit: can anything a cycle publishes be used to work out a suppressed cell?

Why: suppression runs table by table (`disclosure.apply`), but a reader holds every output
at once: the pages (the cycle store's published rows), the downloads (CSV, Parquet), Open
SDG and SDMX. This audit reads the actual files where they exist (else the store), puts
every published cell in one place (the finest precision any output gives it), and attacks
the suppressed cells as a reader would: each line of cells adds up to its margin, in N and
in the weighted total N·p (p_s = (N·p − Σ N_d·p_d) / N_s, N_s = N − Σ N_d), so overall
minus the other groups, complements within a dimension, intersections against their
margins, one output's cell against another's margin, and chains of these are all linear
routes (`disclosure.recoverable` finds every one). A route is a disclosure when it pins
the cell down to within PROTECTION given the rounding of the published numbers; the
audit then fails naming the cell and the route. A suppressed cell that any output
publishes outright fails too.

The VNR chapter and the PDF quote the store's published rows (rounded), so the store
stands for them. The store and Parquet hold numbers rounded to the declared precision
(`disclosure.Precision`): a number on that grid is known to half its step, any other as
exact; a CSV number to half its last written digit (or what se / cv give, if narrower). Respondent counts (n) of suppressed cells are published on purpose (the
group is named and counted, its answers are not), so n is not attacked.

`voicescount export` runs the audit for every cycle it exports (so `make report` does).
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import estimates
from .disclosure import CV_STEP, half_widths, precision_for, recoverable, relations
from .errors import VoicesError
from .publish import dimension_columns, indicator_codes
from .registry import Project

# A route that pins a suppressed proportion to within ±PROTECTION (a mean: within this
# share of the variable's overall value) discloses it; rounding wider than that protects.
# The default of rules.yml `protection`, which audit_cycle uses.
PROTECTION = 0.05
EXACT = 1e-15  # relative half-step of a float64 (the store, Parquet)
_STORE = "the pages (cycle store)"


class AuditError(VoicesError):
    """A suppressed cell can be worked out from what the cycle publishes."""


@dataclass
class AuditReport:
    """What the audit looked at and found (a failure raises AuditError instead)."""

    iso: str
    cycle: int
    sources: list[str]
    cells: int
    suppressed: int
    routes: int  # suppressed cells reachable by a route that rounding still protects
    seconds: float
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"audit {self.iso} {self.cycle}: {self.suppressed} suppressed of {self.cells} cells "
            f"across {', '.join(self.sources)}: none can be worked out"
            + (f" ({self.routes} reachable only to within the rounding)" if self.routes else "")
            + f"; {self.seconds:.1f} s"
        )


# --------------------------------------------------------------------------- reading


def _grouping_dims(grouping: str) -> list[str]:
    return grouping.split("×") if grouping else []


def cell_key(row) -> tuple:
    """(variable, grouping, codes of the grouping's dimensions) of a table row or record."""
    g = "" if row["grouping"] is None or row["grouping"] != row["grouping"] else row["grouping"]
    return (str(row["variable"]), str(g), tuple(str(row[d]) for d in _grouping_dims(str(g))))


def half_step(text: str) -> float:
    """Half the last published digit of a number written as text ('0.123' -> 0.0005)."""
    text = text.strip().lower()
    mant, _, exp = text.partition("e")
    decimals = len(mant.split(".")[1]) if "." in mant else 0
    return 0.5 * 10.0 ** (int(exp or 0) - decimals)


@dataclass
class Published:
    """One output's cells: key -> (estimate, N or None, half-step of each); `hidden` keys
    the output marks as suppressed (value withheld)."""

    name: str
    cells: dict[tuple, tuple[float, float | None, float, float]]


def _on_grid(x: float, step: float) -> bool:
    return x != x or abs(x / step - round(x / step)) < 1e-6


def _text_half(rec: dict, est: str) -> float:
    """Half the last digit of the estimate, or what se / cv (as written) give if narrower."""
    half = half_step(est)
    se, cv = str(rec.get("se") or ""), str(rec.get("cv") or "")
    if se and cv and float(se) and float(cv):
        half = min(half, abs(float(est)) * (half_step(se) / abs(float(se))
                                            + half_step(cv) / abs(float(cv))))  # fmt: skip
    return half


def from_table(name: str, table: pd.DataFrame, text: bool = False, precision=None) -> Published:
    """Cells of a tidy estimate table (the store, a download read back as text or numbers).
    Numbers (not text) on the grid of the declared `precision` (estimate, se, cv) are known
    to half its step (`disclosure.half_widths`); any other number is taken as exact."""
    cells = {}
    half = half_widths(table, precision) if precision and not text else np.zeros(len(table))
    for k, rec in enumerate(table.to_dict("records")):
        est, big_n = rec.get("estimate"), rec.get("N")
        if text:
            if est in ("", None):
                continue
            cells[cell_key(rec)] = (
                float(est),
                float(big_n) if big_n not in ("", None) else None,
                _text_half(rec, str(est)),
                half_step(str(big_n)) if big_n not in ("", None) else math.inf,
            )
        elif est is not None and est == est:
            ok = big_n is not None and big_n == big_n
            pr = (precision or {}).get(str(rec["variable"]))
            grid = pr is not None and all(
                _on_grid(float(rec.get(c, np.nan)), st)
                for c, st in (("estimate", pr.step), ("se", pr.step), ("cv", CV_STEP))
            )
            cells[cell_key(rec)] = (
                float(est),
                float(big_n) if ok else None,
                max(half[k], EXACT * abs(float(est))) if grid else EXACT * abs(float(est)),
                EXACT * abs(float(big_n)) if ok else math.inf,
            )
    return Published(name, cells)


def _read_text_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _by_row_order(name: str, order: list[tuple], rows: list[dict], value: str, scale) -> Published:
    """An output that writes one row per store row, in publish's sorted order (Open SDG per
    SDG code, SDMX), but names cells by labels and codes: matched back by position."""
    if len(order) != len(rows):
        raise AuditError(
            f"cannot match {name}: it has {len(rows)} rows where the store has {len(order)}.",
            hint="Export again (voicescount export) so the files match the cycle store.",
        )
    cells = {}
    for key, row in zip(order, rows, strict=True):
        text = (row.get(value) or "").strip()
        if text:
            f = scale(key[0])
            cells[key] = (float(text) / f, None, half_step(text) / f, math.inf)
    return Published(name, cells)


def read_outputs(project: Project, iso: str, cycle: int, est: pd.DataFrame, out_dir: Path | None):
    """Every output's cells: the store, and each export file found under `out_dir`."""
    pub = estimates.public(est)
    precision = precision_for(project.indicators, project.rules)
    found = [from_table(_STORE, pub, precision=precision)]
    if out_dir is None:
        return found
    out_dir = Path(out_dir)
    files = dict(estimates.download_files(project, iso, cycle))
    csv_path, pq_path = out_dir / files["csv"], out_dir / files["parquet"]
    if csv_path.exists():
        found.append(from_table("the downloads (CSV)", _read_text_csv(csv_path), text=True))
    if pq_path.exists():
        table = pd.read_parquet(pq_path)
        for d in dimension_columns(table):
            if table[d].dtype == "string":
                table[d] = table[d].astype(object).where(table[d].notna(), None)
        found.append(from_table("the downloads (Parquet)", table, precision=precision))
    by_id = {i.id: i for i in project.indicators.indicators}

    def scale(var: str) -> float:
        ind = by_id[var]
        return 100.0 if ind.kind == "proportion" and ind.unit == "percent" else 1.0

    dims = dimension_columns(pub)
    key = pub[["variable", "grouping", *dims]].astype(object)
    key = key.where(key.notna(), "").astype(str)
    ordered = pub.loc[key.sort_values(list(key.columns), kind="mergesort").index]
    order = [cell_key(r) for r in ordered.to_dict("records")]
    sdmx = out_dir / files["sdmx"]
    if sdmx.exists():
        with sdmx.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        found.append(_by_row_order("SDMX", order, rows, "OBS_VALUE", scale))
    osdg = out_dir / "opensdg" / "data"
    if osdg.is_dir():
        codes = indicator_codes(project.indicators)
        cells: dict = {}
        for code in sorted({codes[k[0]] for k in order}):
            path = osdg / f"indicator_{code.replace('.', '-')}.csv"
            if not path.exists():
                continue
            with path.open(encoding="utf-8", newline="") as fh:
                rows = list(csv.DictReader(fh))
            part = [k for k in order if codes[k[0]] == code]
            cells |= _by_row_order("Open SDG", part, rows, "Value", scale).cells
        found.append(Published("Open SDG", cells))
    return found


# --------------------------------------------------------------------------- attacking


def _where(t: pd.DataFrame, i: int) -> str:
    r = t.iloc[i]
    dims = _grouping_dims(r["grouping"])
    cell = ", ".join(f"{d}={r[d]}" for d in dims)
    return f"{r['variable']} / {r['grouping'] or 'all'}" + (f" ({cell})" if cell else "")


def attack(
    est: pd.DataFrame, outputs: list[Published], kinds: dict[str, str], protection=PROTECTION
) -> dict:
    """Attack every suppressed cell of a cycle's table with everything the outputs publish.

    Returns {"leaks": [message...], "routes": count of cells reachable but protected by
    rounding, "cells": rows, "suppressed": hidden non-empty rows}."""
    t = estimates.public(est).reset_index(drop=True)
    keys = [cell_key(r) for r in t.to_dict("records")]
    n = t["n"].to_numpy(dtype=float)
    hidden_store = t["suppressed"].fillna(False).to_numpy(dtype=bool) & (n > 0)
    p = np.full(len(t), np.nan)
    big_n = np.full(len(t), np.nan)
    ep = np.full(len(t), np.inf)
    en = np.full(len(t), np.inf)
    seen_in = [""] * len(t)
    leaks: list[str] = []
    for out in outputs:
        for i, k in enumerate(keys):
            c = out.cells.get(k)
            if c is None:
                continue
            if hidden_store[i]:
                leaks.append(f"{_where(t, i)} is suppressed but {out.name} publishes it")
                continue
            seen_in[i] = seen_in[i] or out.name
            if c[2] < ep[i]:
                p[i], ep[i] = c[0], c[2]
            if c[1] is not None and c[3] < en[i]:
                big_n[i], en[i] = c[1], c[3]
    empty = n == 0
    p[empty], big_n[empty], ep[empty], en[empty] = 0.0, 0.0, 0.0, 0.0
    known = ~np.isnan(p) & ~np.isnan(big_n)
    overall = {k[0]: p[i] for i, k in enumerate(keys) if k[1] == ""}
    routes = 0
    for var, rel in relations(t).items():
        ncell = len(rel.cells)
        unknown = np.ones(rel.width, dtype=bool)
        unknown[:ncell] = ~known[rel.cells]
        fixed, coef = recoverable(rel, unknown)
        cells = rel.cells
        tot = np.where(known[cells], big_n[cells] * p[cells], 0.0)
        e_tot = np.where(
            known[cells], np.abs(big_n[cells]) * ep[cells] + np.abs(p[cells]) * en[cells], 0.0
        )
        for j in np.flatnonzero(fixed[:ncell] & hidden_store[cells]):
            g = coef[j, :ncell]
            n_s = float(g @ np.where(known[cells], big_n[cells], 0.0))
            if n_s <= 0:
                continue
            p_s = float(g @ tot) / n_s
            half = (
                float(np.abs(g) @ e_tot)
                + abs(p_s) * float(np.abs(g) @ np.where(known[cells], en[cells], 0.0))
            ) / n_s
            scale = 1.0 if kinds.get(var) == "proportion" else max(abs(overall.get(var, 1.0)), 1e-9)
            if not half < protection * scale:
                routes += 1
                continue
            used = [int(cells[m]) for m in np.flatnonzero(np.abs(g) > 1e-9)]
            names = sorted({seen_in[m] for m in used if seen_in[m]})
            route = "; ".join(
                ("+" if g[m] > 0 else "−") + _where(t, int(cells[m]))
                for m in np.flatnonzero(np.abs(g) > 1e-9)[:8]
            )
            more = " …" if (np.abs(g) > 1e-9).sum() > 8 else ""
            leaks.append(
                f"{_where(t, int(cells[j]))} can be worked out to ±{half:.2g} from "
                f"{' and '.join(names)} by weighted differencing "
                f"(p = Σ ±N_d·p_d / Σ ±N_d over {route}{more})"
            )
    return {
        "leaks": leaks,
        "routes": routes,
        "cells": len(t),
        "suppressed": int(hidden_store.sum()),
    }


def check(
    est: pd.DataFrame,
    outputs: list[Published],
    kinds: dict[str, str],
    what: str,
    protection: float = PROTECTION,
) -> dict:
    """`attack`, raising AuditError (one paragraph) on the first cell that can be worked out."""
    found = attack(est, outputs, kinds, protection)
    if found["leaks"]:
        more = len(found["leaks"]) - 1
        raise AuditError(
            f"{what}: {found['leaks'][0]}" + (f"; and {more} more cell(s)" if more else "") + ".",
            hint="Secondary suppression missed a route: run disclosure.apply on the table "
            "before publishing it (estimates.load does), and export every output from the "
            "same cycle store.",
        )
    return found


def audit_cycle(
    project: Project, iso: str, cycle: int | str, out_dir: str | Path | None = None
) -> AuditReport:
    """Audit one cycle's outputs (the store, and the export files under `out_dir` if
    given); raise AuditError naming the first cell that can be worked out and its route."""
    t0 = time.perf_counter()
    cycle = int(cycle)
    est = estimates.load(project, iso, cycle).estimates
    outputs = read_outputs(project, iso, cycle, est, Path(out_dir) if out_dir else None)
    kinds = {i.id: i.kind for i in project.indicators.indicators}
    found = check(est, outputs, kinds, f"{iso} {cycle}", project.rules.protection)
    return AuditReport(
        iso, cycle, [o.name for o in outputs], found["cells"], found["suppressed"],
        found["routes"], time.perf_counter() - t0,
    )  # fmt: skip


__all__ = [
    "PROTECTION", "AuditError", "AuditReport", "Published", "attack", "audit_cycle", "check",
    "from_table", "read_outputs",
]  # fmt: skip
