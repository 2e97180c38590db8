"""Benchmark of replicate-weight designs in `voicescount.stats.estimate` (voicescount.designs).

Same data as bench_stats.py (60 binary indicators, 16 groupings = 191 domains a variable,
every estimate with SE, logit CI, deff and the domain's df), with replicate weights given
as export columns, as statistics offices ship them:

* jk80: 80 delete-a-group jackknife columns (JK1; PSUs in 80 random groups), rw_1..rw_80;
* boot100: 100 bootstrap columns resampling the PSUs within strata (PSU-level multipliers;
  --boot-psus PSUs in all, 1000 by default, so 1000 weight patterns).

Each measurement runs in a fresh subprocess (peak RSS includes the data and its replicate
columns); times are medians over --repeat runs on data already in memory.

    .venv/bin/python benchmarks/bench_replicates.py --rows 10000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_stats import N_ITEMS, groupings, make_data  # noqa: E402


def replicated(n: int, n_items: int, case: str, boot_psus: int):
    df = make_data(n, n_items)
    rng = np.random.default_rng(3)
    w = df["weight"].to_numpy()
    cols = {}
    if case == "jk80":
        grp = rng.integers(0, 80, int(df["psu"].max()) + 1)[df["psu"].to_numpy()]
        for r in range(80):
            cols[f"rw_{r + 1}"] = np.where(grp == r, 0.0, w * 80 / 79)
    else:  # PSUs regrouped to boot_psus, resampled with replacement within strata
        per = max(2, boot_psus // 20)
        psu = df["stratum"].to_numpy() * per + df["psu"].to_numpy() % per
        df["psu"] = psu
        for r in range(100):
            draw = np.zeros(psu.max() + 1)
            for h in range(20):
                units = np.arange(h * per, (h + 1) * per)
                np.add.at(draw, rng.choice(units, per - 1), 1.0)
            cols[f"rw_{r + 1}"] = w * draw[psu] * per / (per - 1)
    import pandas as pd

    return pd.concat([df, pd.DataFrame(cols, index=df.index)], axis=1)


def worker(n: int, repeat: int, case: str, n_items: int, boot_psus: int) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from voicescount.designs import Replicates
    from voicescount.stats import Design, estimate

    df = replicated(n, n_items, case, boot_psus)
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rep = Replicates("JK1", "rw_*") if case == "jk80" else Replicates("bootstrap", "rw_*")
    design = Design(weight="weight", replicates=rep)
    items = [f"y{j:02d}" for j in range(n_items)]
    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        est = estimate(df, items, design, by=groupings())
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    assert len(est) == n_items * 191, len(est)
    return {
        "rows": n,
        "items": n_items,
        "case": case,
        "median_s": statistics.median(times),
        "median_cpu_s": statistics.median(cpu),
        "runs": len(times),
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "data_mib": rss_data,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, nargs="*", default=[10_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--items", type=int, default=N_ITEMS)
    ap.add_argument("--cases", nargs="*", default=["jk80", "boot100"])
    ap.add_argument("--boot-psus", type=int, default=1000)
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--case", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker, a.repeat, a.case, a.items, a.boot_psus)))
        return
    print(f"load average {os.getloadavg()[0]:.1f}; {a.items} indicators x 191 domains")
    print(f"{'rows':>10} {'case':>8} {'wall s':>8} {'CPU s':>8} {'peak MiB':>9} {'data MiB':>9}")
    for n in a.rows:
        for case in a.cases:
            cmd = [sys.executable, __file__, "--worker", str(n), "--repeat", str(a.repeat)]
            cmd += ["--case", case, "--items", str(a.items), "--boot-psus", str(a.boot_psus)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{n:>10,} {case:>8} {r['median_s']:>8.2f} {r['median_cpu_s']:>8.2f} "
                f"{r['peak_mib']:>9.0f} {r['data_mib']:>9.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
