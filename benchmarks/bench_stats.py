"""Benchmark of `voicescount.stats.estimate` at national scale, against svy and R's survey.

Shape (issue 4): 60 binary indicators, 5 dimensions (sex 2, age band 6, disability 2, region 10,
urban/rural 2), stratified cluster design (20 strata = region x urban/rural, ~50 rows per PSU),
all single and all pairwise groupings plus the whole population (191 domains a variable),
every estimate with SE, CI and deff. Items are float64 0/1 with 2% missing, as derive gives.

Each measurement runs in a fresh subprocess so peak memory (getrusage maxrss, includes the
data frame itself) is not polluted by earlier runs; times are medians over --repeat runs of
`estimate` on data already in memory (generation is not timed).

    .venv/bin/python benchmarks/bench_stats.py               # 10^4, 10^6 (60 indicators), 10^7 (6)
    .venv/bin/python benchmarks/bench_stats.py --rows 10000 1000000   # skip the 10^7-row run
    .venv/bin/python benchmarks/bench_stats.py --svy          # also time svy on one indicator

Runs of 10^7 rows or more use 6 indicators (`--big-items`; `--items` sets all runs) so the data fit in memory (~3.6 GiB while
generating); it is the same 6 x 10^7 row-items as the 10^6-row run, on 10x the design.

R is timed on the cheaper half of the work, `svymean` and `svyby(..., svymean, deff = TRUE)`
(estimate, SE, deff; no logit CIs) over all 16 groupings, on `--r-items` indicators; its time
is scaled linearly to 60 indicators (stated in the table). svy is timed on one indicator and
one grouping (`--svy`) and scaled to 60 x 15. The machine may be shared: the load average is
printed, and CPU seconds (process time) are shown beside wall time.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

DIMS = {"sex": 2, "age_group": 6, "disability": 2, "region": 10, "urban": 2}
N_ITEMS = 60


def make_data(n: int, n_items: int = N_ITEMS, seed: int = 1) -> pd.DataFrame:
    """Synthetic survey: PSUs nested in region x urban strata, unequal weights, ICC > 0."""
    rng = np.random.default_rng(seed)
    region = rng.integers(0, 10, n)
    urban = rng.integers(0, 2, n)
    stratum = region * 2 + urban
    n_psu_per_stratum = max(2, n // (20 * 50))
    psu = stratum * n_psu_per_stratum + rng.integers(0, n_psu_per_stratum, n)
    data = {
        "stratum": stratum,
        "psu": psu,
        "weight": rng.uniform(0.5, 3.0, n) * (1 + urban),
        "sex": np.where(rng.random(n) < 0.5, "female", "male"),
        "age_group": pd.Categorical.from_codes(
            rng.integers(0, 6, n), ["16-24", "25-34", "35-44", "45-54", "55-64", "65+"]
        ),
        "disability": np.where(rng.random(n) < 0.15, "with_disability", "without_disability"),
        "region": pd.Categorical.from_codes(region, [f"R{i:02d}" for i in range(10)]),
        "urban": np.where(urban == 1, "urban", "rural"),
    }
    psu_effect = rng.normal(0, 0.5, psu.max() + 1)[psu]
    for j in range(n_items):
        p = 1 / (1 + np.exp(-(-1 + 0.03 * j + psu_effect)))
        y = (rng.random(n) < p).astype(np.float64)
        y[rng.random(n) < 0.02] = np.nan
        data[f"y{j:02d}"] = y
    return pd.DataFrame(data)


def groupings() -> list[list[str]]:
    dims = list(DIMS)
    return [[]] + [[d] for d in dims] + [list(c) for c in itertools.combinations(dims, 2)]


def worker(n: int, repeat: int, engine: str, n_items: int = N_ITEMS) -> dict:
    """Runs inside the subprocess: times one engine, reports median seconds and peak RSS."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from voicescount.stats import Design, estimate

    df = make_data(n, n_items if engine in ("voicescount", "raked") else 1)
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times, cpu = [], []
    if engine in ("voicescount", "raked"):
        items = [f"y{j:02d}" for j in range(n_items)]
        # raked: the variance of R's rake() design on four margins (35 cells); the weights
        # are not re-raked here, which does not change the work done
        rake = ("sex", "age_group", "region", "urban") if engine == "raked" else ()
        design = Design(weight="weight", strata="stratum", psu="psu", rake=rake)
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            est = estimate(df, items, design, by=groupings())
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        assert len(est) == n_items * 191, len(est)
    else:  # svy: one indicator, one single-dimension grouping (region), extrapolated below
        import polars as pl
        import svy

        sample = svy.Sample(
            pl.from_pandas(
                df[["stratum", "psu", "weight", "region", "y00"]].astype({"region": str})
            ),
            svy.Design(stratum="stratum", psu="psu", wgt="weight"),
        )
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            sample.estimation.mean("y00", by="region", drop_nulls=True)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return {
        "rows": n,
        "items": n_items,
        "engine": engine,
        "median_s": statistics.median(times),
        "median_cpu_s": statistics.median(cpu),
        "runs": len(times),
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "data_mib": rss_data,
    }


R_SCRIPT = r"""
suppressMessages(library(survey))
options(survey.lonely.psu = "adjust")
args <- commandArgs(TRUE)
dat <- read.csv(args[1])
items <- strsplit(args[2], ",")[[1]]
gs <- strsplit(args[3], ";")[[1]]
des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, data = dat, nest = TRUE)
t0 <- proc.time()[["elapsed"]]
for (y in items) {
  f <- as.formula(paste0("~", y))
  svymean(f, des, na.rm = TRUE, deff = TRUE)
  for (g in gs) svyby(f, as.formula(paste0("~", g)), des, svymean, na.rm = TRUE, deff = TRUE)
}
cat((proc.time()[["elapsed"]] - t0) / length(items), "\n")
"""


def time_r(n: int, r_items: int) -> float | None:
    """Seconds per indicator for R's survey over all 15 non-empty groupings, or None."""
    if not shutil.which("Rscript"):
        return None
    df = make_data(n, r_items)
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "d.csv"
        df.astype({"region": str, "age_group": str}).to_csv(csv, index=False)
        script = Path(tmp) / "b.R"
        script.write_text(R_SCRIPT)
        items = ",".join(f"y{j:02d}" for j in range(r_items))
        gs = ";".join("+".join(g) for g in groupings() if g)
        out = subprocess.run(
            ["Rscript", str(script), str(csv), items, gs],
            capture_output=True,
            text=True,
            check=True,
        )
        return float(out.stdout.split()[-1])


def run_sub(n: int, repeat: int, engine: str, n_items: int = N_ITEMS) -> dict:
    cmd = [sys.executable, __file__, "--worker", str(n), "--repeat", str(repeat)]
    out = subprocess.run(
        [*cmd, "--engine", engine, "--items", str(n_items)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, nargs="*", default=[10_000, 1_000_000, 10_000_000])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--items", type=int, help="indicators (default 60, --big-items at 10^7)")
    ap.add_argument("--big-items", type=int, default=6, help="indicators at >= 10^7 rows")
    ap.add_argument("--svy", action="store_true", help="also time svy (one indicator)")
    ap.add_argument(
        "--rake", action="store_true", help="also time the raked-design variance (4 margins)"
    )
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--r-items", type=int, default=1, help="indicators R is timed on")
    ap.add_argument(
        "--r-max-rows", type=int, default=100_000, help="skip R above this many rows (slow)"
    )
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--engine", default="voicescount", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker, a.repeat, a.engine, a.items or N_ITEMS)))
        return
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("| rows | indicators | engine | median wall s (16 groupings) | CPU s | peak MiB | note |")
    print("|---:|---:|---|---:|---:|---:|---|")
    for n in a.rows:
        big = n >= 10_000_000
        n_items = a.items or (a.big_items if big else N_ITEMS)
        repeat = min(a.repeat, 3) if big else a.repeat
        res = run_sub(n, repeat, "voicescount", n_items)
        print(
            f"| {n:,} | {n_items} | voicescount | {res['median_s']:.2f} "
            f"| {res['median_cpu_s']:.2f} "
            f"| {res['peak_mib']:.0f} "
            f"| median of {res['runs']}; data alone {res['data_mib']:.0f} MiB |",
            flush=True,
        )
        if a.rake:
            rk = run_sub(n, repeat, "raked", n_items)
            print(
                f"| {n:,} | {n_items} | voicescount raked | {rk['median_s']:.2f} "
                f"| {rk['median_cpu_s']:.2f} | {rk['peak_mib']:.0f} "
                f"| median of {rk['runs']}; raked-design variance on 4 margins; "
                f"{rk['median_s'] / res['median_s']:.2f} x unraked |",
                flush=True,
            )
        if a.svy:
            s = run_sub(n, max(1, a.repeat // 2), "svy")
            print(
                f"| {n:,} | 1 | svy 0.35 | {s['median_s'] * 60 * 15:.1f} "
                f"| {s['median_cpu_s'] * 60 * 15:.1f} | {s['peak_mib']:.0f} "
                f"| 1 indicator x 1 grouping took {s['median_s']:.3f} s; x 60 x 15 |",
                flush=True,
            )
        if not a.no_r and n <= a.r_max_rows and n_items == N_ITEMS:
            per_item = time_r(n, a.r_items)
            if per_item is not None:
                total = per_item * N_ITEMS
                print(
                    f"| {n:,} | {N_ITEMS} | R survey | {total:.1f} | – | – | svymean + svyby(deff) on "
                    f"{a.r_items} indicator(s), x {N_ITEMS}; ratio R / voicescount = "
                    f"{total / res['median_s']:.0f}x |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
