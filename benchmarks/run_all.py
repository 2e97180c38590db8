"""`make bench`: every benchmark in one Markdown table.

Runs, each in its own subprocess (so their memory does not mix):

- bench_pipeline.py: pipeline cold, warm and one-cycle-changed runs and the book build on a
  copy of the tiny fixture project (--example: the example data, every cycle, an hour or more);
  one SDG page of the example (VN 2022 SDG 5, en) executed alone (--no-sdg-page: skip), and with
  --full-report `voicescount run` + `build` of the whole example (long); with --baseline DIR
  both also for that worktree (the previous architecture), the ratio column giving
  baseline / current of the same session;
- bench_stats.py: `stats.estimate` at 10^4 and 10^6 rows (--repeat runs; also with the raked-design
  variance, as a ratio to the unraked run) and at 10^7 rows
  (--big-repeat runs, default 1: one 10^7 estimate holds several GB and takes minutes).

and prints ONE table: median and min seconds, peak MiB, and the ratio to a reference measured
in the same session (warm / cold, one-cycle-changed / cold; rows x100 / the smaller size), so
a reader sees the speed-up or the scaling without comparing across machines or days.

    .venv/bin/python benchmarks/run_all.py                      # defaults: --repeat 3
    .venv/bin/python benchmarks/run_all.py --repeat 1           # quick
    .venv/bin/python benchmarks/run_all.py --example            # pipeline on the example data
    .venv/bin/python benchmarks/run_all.py --rows 10000 1000000 # skip 10^7
    .venv/bin/python benchmarks/run_all.py --skip stats --baseline ../baseline --full-report
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse_tables(text: str) -> list[dict[str, str]]:
    """Rows of every Markdown table in `text`, as {header: cell}."""
    rows: list[dict[str, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines) - 1:
        head, rule = lines[i].strip(), lines[i + 1].strip()
        if head.startswith("|") and rule.startswith("|") and set(rule) <= set("|-: "):
            headers = _cells(head)
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(dict(zip(headers, _cells(lines[i]), strict=False)))
                i += 1
        else:
            i += 1
    return rows


def _run(args: list[str]) -> tuple[str, float]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, check=False, cwd=HERE.parent
    )
    took = time.perf_counter() - start
    print(
        f"{Path(args[0]).name} {' '.join(args[1:])}: exit {proc.returncode} in {took:.0f} s",
        file=sys.stderr,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout, took


def _pipeline_row(r: dict, ratio: str) -> dict:
    """A bench_pipeline JSON record as a row of the table."""
    return {
        "bench": "pipeline" if r.get("tree", "current") == "current" else "pipeline (baseline)",
        "case": r["case"],
        "median": r["median_s"],
        "min": r["min_s"],
        "peak": r["peak_mib"],
        "ratio": ratio,
        "note": f"{r['project']}; {r['note']}; median of {r['repeats']}",
    }


def pipeline_rows(repeat: int, tiny: bool) -> list[dict]:
    """Cold, warm, one-cycle-changed, book build (bench_pipeline --json, no --jobs sweep)."""
    args = [str(HERE / "bench_pipeline.py"), "--json", "--repeat", str(repeat), "--jobs"]
    out, _ = _run(args + (["--tiny"] if tiny else []))
    recs = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
    by = {r["case"]: r for r in recs}
    cold = by.get("cold run", {}).get("median_s")
    rows = []
    for r in recs:
        if r["case"].startswith("--jobs"):
            continue  # the notebooks/s sweep is bench_pipeline's own table
        ratio = ""
        if cold and r["case"] in ("warm re-run", "one cycle changed"):
            ratio = f"{r['median_s'] / cold:.2f} × cold"
        rows.append(_pipeline_row(r, ratio))
    return rows


def case_rows(repeat: int, sdg: bool, full: bool, baseline: str | None) -> list[dict]:
    """One SDG page / full report, current tree and --baseline, ratio baseline / current."""
    if not (sdg or full):
        return []
    args = [str(HERE / "bench_pipeline.py"), "--json", "--no-spine", "--repeat", str(repeat)]
    args += (["--sdg-page"] if sdg else []) + (["--full-report"] if full else [])
    args += ["--baseline", baseline] if baseline else []
    out, _ = _run(args)
    recs = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
    base = {r["case"]: r["median_s"] for r in recs if r["tree"] == "baseline"}
    rows = []
    for r in recs:
        ratio = "baseline" if r["tree"] == "baseline" else ""
        if r["tree"] == "current" and base.get(r["case"]) and r["median_s"]:
            ratio = f"speed-up {base[r['case']] / r['median_s']:.2f} × (baseline s / current s)"
        rows.append(_pipeline_row(r, ratio))
    return rows


def stats_rows(sizes: list[int], repeat: int, big_repeat: int, big: int) -> list[dict]:
    """stats.estimate per size (bench_stats, R and svy off: they are its own comparison)."""
    rows = []
    small = [n for n in sizes if n < big]
    large = [n for n in sizes if n >= big]
    out = ""
    if small:
        out += _run(
            [
                str(HERE / "bench_stats.py"),
                "--no-r",
                "--rake",
                "--repeat",
                str(repeat),
                "--rows",
                *map(str, small),
            ]
        )[0]
    if large:
        out += _run(
            [
                str(HERE / "bench_stats.py"),
                "--no-r",
                "--repeat",
                str(big_repeat),
                "--rows",
                *map(str, large),
            ]
        )[0]
    prev: tuple[int, float] | None = None
    unraked: dict[int, float] = {}
    for r in parse_tables(out):
        engine = r.get("engine")
        if engine not in ("voicescount", "voicescount raked"):
            continue
        n = int(r["rows"].replace(",", ""))
        wall = float(next(v for k, v in r.items() if "median" in k.lower()))
        if engine == "voicescount raked":  # same data, same session: ratio to the unraked run
            base = unraked.get(n)
            rows.append(
                {
                    "bench": "estimation",
                    "case": f"{n:,} rows, raked design",
                    "median": round(wall, 2),
                    "min": "",
                    "peak": r.get("peak MiB", ""),
                    "ratio": f"{wall / base:.2f} × unraked" if base else "",
                    "note": f"{r.get('indicators', '?')} indicators × 191 domains, R's rake() "
                    f"variance on 4 margins; CPU {r.get('CPU s', '?')} s",
                }
            )
            continue
        unraked[n] = wall
        ratio = ""
        if prev and prev[1] > 0:
            ratio = f"{wall / prev[1]:.1f} × {prev[0]:,} rows"
        prev = (n, wall)
        rows.append(
            {
                "bench": "estimation",
                "case": f"{n:,} rows",
                "median": round(wall, 2),
                "min": "",
                "peak": r.get("peak MiB", ""),
                "ratio": ratio,
                "note": f"{r.get('indicators', '?')} indicators × 191 domains; CPU {r.get('CPU s', '?')} s; "
                + r.get("note", ""),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    ap.add_argument("--big-repeat", type=int, default=1, help="runs at --big rows and above")
    ap.add_argument("--big", type=int, default=10_000_000, help="row count that is 'big'")
    ap.add_argument(
        "--rows",
        type=int,
        nargs="+",
        default=[10_000, 1_000_000, 10_000_000],
        help="estimation sizes",
    )
    ap.add_argument(
        "--example",
        action="store_true",
        help="pipeline on the example data (every cycle: an hour or more) instead of the tiny "
        "fixture project",
    )
    ap.add_argument("--skip", choices=["pipeline", "cases", "stats"], action="append", default=[])
    ap.add_argument(
        "--no-sdg-page", action="store_true", help="skip the one-SDG-page case (example data)"
    )
    ap.add_argument(
        "--full-report",
        action="store_true",
        help="also time run + build of the whole example (about 15 min per tree)",
    )
    ap.add_argument(
        "--baseline",
        metavar="DIR",
        help="worktree of the previous architecture: the SDG-page and full-report cases also "
        "run there, in the same session, and the ratio column compares them",
    )
    a = ap.parse_args(argv)
    start = time.perf_counter()
    load = os.getloadavg()[0]
    rows: list[dict] = []
    failed = []
    if "pipeline" not in a.skip:
        try:
            rows += pipeline_rows(a.repeat, not a.example)
        except RuntimeError as exc:
            failed.append(str(exc))
    if "cases" not in a.skip:
        try:
            rows += case_rows(a.repeat, not a.no_sdg_page, a.full_report, a.baseline)
        except RuntimeError as exc:
            failed.append(str(exc))
    if "stats" not in a.skip:
        try:
            rows += stats_rows(a.rows, a.repeat, a.big_repeat, a.big)
        except RuntimeError as exc:
            failed.append(str(exc))
    print(
        f"{os.cpu_count()} CPUs, load average {load:.1f} at start, "
        f"{time.perf_counter() - start:.0f} s in all\n"
    )
    print("| benchmark | case | median s | min s | peak MiB | ratio (same session) | note |")
    print("|---|---|---:|---:|---:|---|---|")
    for r in rows:
        print(
            f"| {r['bench']} | {r['case']} | {r['median']} | {r['min']} | {r['peak']} "
            f"| {r['ratio']} | {r['note']} |"
        )
    for msg in failed:
        print(f"\nFAILED: {msg}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
