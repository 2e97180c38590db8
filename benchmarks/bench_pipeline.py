"""Benchmark of the pipeline spine: `voicescount run` and `voicescount build`.

Measures, on a copy of the project in a temporary folder (the repository is never touched):

- cold run: every notebook executed (report/ and build/ removed first);
- warm re-run: nothing changed, so every notebook is skipped (`executed: 0`);
- one-cycle-changed run: a comment appended to the latest cycle's cycle.yml, so only that
  cycle's notebooks re-execute;
- book build: `voicescount build` (toc + Sphinx, no execution);
- notebooks per second against --jobs 1, 2, 4 (forced runs of every notebook);
- --sdg-page: one SDG page (VN 2022, SDG 5, en) executed alone with papermill in a fresh kernel,
  as the runner would (working directory its output folder, the same parameters), on a copy of
  the example project; the first run (which prepares the cycles into the copy's build/) is
  reported on its own row, then the median of --repeat warm runs;
- --full-report: `voicescount run` then `voicescount build` on a fresh copy of the example
  project (every cycle; median of 1: it is long);
- --baseline DIR: the --sdg-page and --full-report cases also for another worktree of the project
  (the previous architecture), in the same session: its src/ first on PYTHONPATH (papermill's
  kernels inherit it) and its analyses/, data/ and book files, so run_all prints the ratio.

Each measurement is a fresh `voicescount` subprocess, timed from outside; peak memory is the
largest resident set of any process in that measurement's tree (getrusage RUSAGE_CHILDREN of a
wrapper process, so earlier measurements do not leak into later ones). Times are medians over
--repeat runs. Uses the real project when it has cycles, else the tiny test fixture.

    .venv/bin/python benchmarks/bench_pipeline.py              # table
    .venv/bin/python benchmarks/bench_pipeline.py --json       # one JSON object per line
    .venv/bin/python benchmarks/bench_pipeline.py --tiny --repeat 1
    .venv/bin/python benchmarks/bench_pipeline.py --no-spine --sdg-page --baseline ../baseline
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny"
BORROWED = ("contract.yml", "dimensions.yml", "indicators.yml", "rules.yml")
COPY = ["data", "analyses", "handbook", "_config.yml", "intro.md"]
SUMMARY = re.compile(r"executed: (\d+)\s+skipped: (\d+)\s+failed: (\d+)")

# Runs argv and prints the peak RSS (KiB on Linux) of all processes it waited for.
_WRAPPER = (
    "import resource, subprocess, sys\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stdout.write(p.stdout)\n"
    "sys.stderr.write(p.stderr)\n"
    "print('__maxrss__', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(p.returncode)\n"
)


def project_copy(tiny: bool, tree: Path = ROOT) -> tuple[Path, str]:
    """Copy the project of `tree` (or the tiny fixture) into a temporary folder."""
    tmp = Path(tempfile.mkdtemp(prefix="voicescount-bench-"))
    dest = tmp / "project"
    has_cycles = any((tree / "data").glob("*/*/cycle.yml"))
    if tiny or not has_cycles:
        shutil.copytree(TINY, dest)
        for name in BORROWED:  # as tests/conftest.py's tiny_project does
            shutil.copy(ROOT / "data" / name, dest / "data" / name)
        return dest, "tiny fixture"
    dest.mkdir()
    for name in COPY + ["_toc.yml"]:
        src = tree / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        elif src.is_file():
            shutil.copy2(src, dest / name)
    return dest, "example data"


def tree_env(tree: Path) -> dict[str, str]:
    """The environment that runs `tree`'s package: its src/ first on PYTHONPATH (overrides the
    editable install; kernels started by papermill inherit it)."""
    return {**os.environ, "PYTHONPATH": str(tree / "src")}


def voicescount(root: Path, *args: str, env: dict | None = None) -> tuple[float, float, str]:
    """Run the CLI once; return (seconds, peak MiB, stdout). Fails loudly on errors."""
    return timed([sys.executable, "-m", "voicescount.cli", "--root", str(root), *args], env=env)


def timed(cmd: list[str], env: dict | None = None, cwd: Path | None = None):
    """Run `cmd` once; return (seconds, peak MiB of its process tree, stdout)."""
    args = cmd[3:] if cmd[1:3] == ["-m", "voicescount.cli"] else cmd
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *cmd],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=cwd,
    )
    seconds = time.perf_counter() - start
    out = proc.stdout
    rss = int(out.rsplit("__maxrss__", 1)[1].split()[0])
    if proc.returncode != 0:
        raise SystemExit(f"`{' '.join(map(str, args))}` failed:\n{out}\n{proc.stderr[-3000:]}")
    return seconds, rss / 1024, out.split("__maxrss__")[0]


def counts(out: str) -> tuple[int, int, int]:
    m = SUMMARY.search(out)
    if not m:
        raise SystemExit(f"no summary line in:\n{out}")
    return int(m[1]), int(m[2]), int(m[3])


def clean(root: Path) -> None:
    for sub in ("report", "build", "_build"):
        shutil.rmtree(root / sub, ignore_errors=True)


def touch_latest_cycle(root: Path, n: int) -> str:
    """Change the latest cycle's cycle.yml (a YAML comment: valid, but a new hash)."""
    latest = sorted(root.glob("data/*/*/cycle.yml"), key=lambda p: (p.parent.name, str(p)))[-1]
    with latest.open("a", encoding="utf-8") as fh:
        fh.write(f"# benchmark edit {n}\n")
    return latest.parent.relative_to(root / "data").as_posix()


SDG_PAGE = {"country": "VN", "cycle": 2022, "lang": "en", "sdg": 5}


def _row(case, times, rss, note, tree="current"):
    return {
        "case": case,
        "median_s": round(statistics.median(times), 2),
        "min_s": round(min(times), 2),
        "repeats": len(times),
        "peak_mib": round(max(rss)),
        "note": note,
        "tree": tree,
    }


def sdg_pages(trees: list[tuple[Path, str]], repeat: int) -> list[dict]:
    """One SDG page executed alone (papermill, fresh kernel) on a copy of each tree's project;
    the trees take turns at every repeat, so they share the machine's load."""
    p = SDG_PAGE
    params = {**p, "data_dir": "../../../../data", "project_root": "../../../.."}
    case = f"one SDG page ({p['country']} {p['cycle']} SDG {p['sdg']}, {p['lang']})"
    copies, rows = [], []
    try:
        for tree, label in trees:
            root, what = project_copy(False, tree)
            copies.append(root)
            if what != "example data":
                continue
            out_dir = root / "report" / p["country"] / str(p["cycle"]) / p["lang"]
            out_dir.mkdir(parents=True)
            cmd = [sys.executable, "-m", "papermill", "--no-progress-bar", "--cwd", str(out_dir)]
            for k, v in params.items():
                cmd += ["-p", k, str(v)]
            cmd += [str(root / "analyses" / "sdg.ipynb"), str(out_dir / f"sdg-{p['sdg']}.ipynb")]
            first = timed(cmd, env=tree_env(tree))
            rows.append((label, cmd, tree_env(tree), first, [], []))
        for _ in range(repeat):
            for _label, cmd, env, _first, times, rss in rows:
                s, m, _ = timed(cmd, env=env)
                times.append(s)
                rss.append(m)
    finally:
        for root in copies:
            shutil.rmtree(root.parent, ignore_errors=True)
    out = []
    for label, _cmd, _env, first, times, rss in rows:
        out.append(_row(f"{case}, first", [first[0]], [first[1]], "prepares the cycles", label))
        out.append(_row(case, times, rss, "cycles already prepared (build/ kept)", label))
    return out


def full_report(tree: Path, label: str) -> list[dict]:
    """`voicescount run` + `voicescount build` on a fresh copy of `tree`'s example project."""
    root, what = project_copy(False, tree)
    env = tree_env(tree)
    try:
        s_run, m_run, out = voicescount(root, "run", "--no-progress", env=env)
        s_book, m_book, _ = voicescount(root, "build", env=env)
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)
    n = counts(out)[0]
    jobs = f"--jobs {os.cpu_count()}"
    return [
        _row("full report: run", [s_run], [m_run], f"{what}: {n} notebooks, {jobs}", label),
        _row("full report: run + build", [s_run + s_book], [max(m_run, m_book)], what, label),
    ]


def measure(root: Path, repeat: int, jobs_list: list[int]) -> list[dict]:
    rows = []
    run = ["run", "--no-progress"]

    def add(case, times, rss, note):
        rows.append(_row(case, times, rss, note))

    cold, cold_rss, warm, warm_rss, one, one_rss, book, book_rss = ([] for _ in range(8))
    for i in range(repeat):
        clean(root)
        s, m, out = voicescount(root, *run)
        n_total = counts(out)[0]
        cold.append(s)
        cold_rss.append(m)
        s, m, out = voicescount(root, *run)
        assert counts(out)[0] == 0, out
        warm.append(s)
        warm_rss.append(m)
        changed = touch_latest_cycle(root, i)
        s, m, out = voicescount(root, *run)
        n_one = counts(out)[0]
        one.append(s)
        one_rss.append(m)
        s, m, _ = voicescount(root, "build")
        book.append(s)
        book_rss.append(m)
    add("cold run", cold, cold_rss, f"{n_total} notebooks, --jobs {os.cpu_count()}")
    add("warm re-run", warm, warm_rss, "executed: 0")
    add("one cycle changed", one, one_rss, f"{changed}: {n_one} notebooks re-executed")
    add("book build", book, book_rss, "toc + Sphinx, no execution")
    for jobs in jobs_list:
        times, rss = [], []
        for _ in range(repeat):
            s, m, out = voicescount(root, *run, "--force", "--jobs", str(jobs))
            times.append(s)
            rss.append(m)
        nps = n_total / statistics.median(times)
        add(f"--jobs {jobs}", times, rss, f"{nps:.2f} notebooks/s ({n_total} notebooks)")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    ap.add_argument(
        "--jobs", type=int, nargs="*", default=[1, 2, 4], help="forced runs per count (none: skip)"
    )
    ap.add_argument("--tiny", action="store_true", help="use the tiny fixture project")
    ap.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    ap.add_argument(
        "--no-spine", action="store_true", help="skip the cold/warm/one-changed/build cases"
    )
    ap.add_argument("--sdg-page", action="store_true", help="time one SDG page (example data)")
    ap.add_argument(
        "--full-report", action="store_true", help="time run + build of the example (long)"
    )
    ap.add_argument(
        "--baseline", type=Path, help="also time --sdg-page/--full-report for this worktree"
    )
    a = ap.parse_args()
    rows, what = [], "tiny fixture" if a.tiny else "example data"
    if not a.no_spine:
        root, what = project_copy(a.tiny)
        try:
            rows = measure(root, a.repeat, a.jobs)
        finally:
            shutil.rmtree(root.parent, ignore_errors=True)
    trees = [(ROOT, "current")]
    if a.baseline:
        trees.append((a.baseline.resolve(), "baseline"))
    if a.sdg_page:
        rows += sdg_pages(trees, a.repeat)
    for tree, label in trees:
        if a.full_report:
            rows += full_report(tree, label)
    cpus = os.cpu_count()
    if a.json:
        for r in rows:
            r.setdefault("tree", "current")
            print(json.dumps({"bench": "pipeline", "project": what, "cpus": cpus, **r}))
        return
    print(f"Pipeline on the {what}, {cpus} CPUs, medians of {a.repeat}:\n")
    print("| case | tree | median s | min s | peak MiB | note |")
    print("|---|---|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r['case']} | {r.get('tree', 'current')} | {r['median_s']} | {r['min_s']} "
            f"| {r['peak_mib']} | {r['note']} |"
        )


if __name__ == "__main__":
    main()
