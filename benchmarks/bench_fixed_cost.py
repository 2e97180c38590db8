"""What every notebook pays before its own work: the per-notebook fixed cost (issue 12 item 6).

Each row is measured in fresh subprocesses (medians of --repeat), for the current tree and,
with --baseline DIR, for another worktree of the project in the same session (its src/ first
on PYTHONPATH, its analyses/ and data/), so the "before" and "after" columns share a machine
and a load:

- kernel start: a new ipykernel until it answers kernel_info, and its shutdown;
- kernel reset: what a reused kernel costs instead (runner.Kernel.ready: cwd, %reset, count);
- import voicescount.report: the first cell of every page, in a fresh interpreter;
- Project(root): registry YAML loaded and validated; project.cycle(): cycle.yml and its files
  validated (first and second call); report.header(): the provenance block (input hashes);
- runner, per notebook: `voicescount run --force --jobs 1` over --notebooks thin pages (the
  import and a Project, as the templates do) divided by their number: kernel start, import,
  papermill, staging and publishing together. For the current tree it is also measured with
  VOICESCOUNT_KERNEL_REUSE=1 (a fresh kernel per notebook, the previous behaviour).

    .venv/bin/python benchmarks/bench_fixed_cost.py --baseline /work/baseline
    .venv/bin/python benchmarks/bench_fixed_cost.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs in a subprocess with the tree under test first on sys.path; prints one JSON object.
_STEPS = r"""
import json, sys, time
t0 = time.perf_counter()
import voicescount.report as report
t1 = time.perf_counter()
from voicescount.registry import Project
root, iso, cyc, lang = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
project = Project(root, data_dir=root + "/data")
t2 = time.perf_counter()
project.cycle(iso, cyc)
t3 = time.perf_counter()
project.cycle(iso, cyc)
t4 = time.perf_counter()
report.header(project, iso, cyc, lang, "sdg-5")
t5 = time.perf_counter()
print(json.dumps({"import voicescount.report": t1 - t0, "Project(root)": t2 - t1,
                  "project.cycle() first": t3 - t2, "project.cycle() again": t4 - t3,
                  "report.header() (provenance)": t5 - t4}))
"""

_KERNEL = r"""
import json, sys, time
from jupyter_client.manager import start_new_kernel
t0 = time.perf_counter()
km, kc = start_new_kernel(kernel_name="python3", extra_arguments=sys.argv[1:])
t1 = time.perf_counter()
kc.stop_channels()
km.shutdown_kernel(now=False)
t2 = time.perf_counter()
print(json.dumps({"kernel start (to kernel_info)": t1 - t0, "kernel shutdown": t2 - t1}))
"""

_RESET = r"""
import json, os, sys, tempfile, time
from voicescount.runner import Kernel
k = Kernel(tempfile.gettempdir(), reuse=100)
d = tempfile.mkdtemp()
k.ready(d)
times = []
for _ in range(int(sys.argv[1])):
    t = time.perf_counter()
    k.ready(d)
    times.append(time.perf_counter() - t)
    k.used += 1
k.shutdown()
times.sort()
print(json.dumps({"kernel reset (reused kernel)": times[len(times) // 2]}))
"""

THIN = (
    "from voicescount import report\n"
    "from voicescount.registry import Project\n\n"
    "project = Project(project_root, data_dir=data_dir)"
)


def _py(code: str, args: list[str], tree: Path | None, env: dict | None = None) -> dict:
    e = {**os.environ, **(env or {})}
    if tree is not None:
        e["PYTHONPATH"] = str(tree / "src")
    p = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=e, check=False
    )
    if p.returncode != 0:
        raise SystemExit(f"measurement failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def _median_dicts(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def thin_project(tree: Path, n: int) -> Path:
    """A copy of `tree`'s registry and data with `n` thin template pages and no others."""
    tmp = Path(tempfile.mkdtemp(prefix="voicescount-fixed-"))
    dest = tmp / "project"
    dest.mkdir()
    for name in ("data", "_config.yml", "intro.md"):
        src = tree / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        elif src.is_file():
            shutil.copy2(src, dest / name)
    import nbformat

    (dest / "analyses").mkdir()
    tmpl = nbformat.read(tree / "analyses" / "overview.ipynb", as_version=4)
    params = next(c for c in tmpl.cells if "parameters" in c.metadata.get("tags", []))
    for i in range(n):
        nb = nbformat.v4.new_notebook(metadata=tmpl.metadata)
        nb.cells = [params, nbformat.v4.new_code_cell(THIN)]
        nbformat.write(nb, dest / "analyses" / f"thin{i:02d}.ipynb")
    names = "\n".join(f"  - thin{i:02d}" for i in range(n))
    (dest / "analyses" / "chapters.yml").write_text(f"chapters:\n{names}\n")
    return dest


def runner_per_notebook(tree: Path | None, n: int, reuse: str | None, repeat: int) -> float:
    """Median seconds per notebook of forced `voicescount run --jobs 1` over `n` thin pages
    (one warm-up run first: it prepares the cycle for the validation gate)."""
    proj = thin_project(tree or ROOT, n)
    env = {**os.environ}
    if tree is not None:
        env["PYTHONPATH"] = str(tree / "src")
    if reuse is not None:
        env["VOICESCOUNT_KERNEL_REUSE"] = reuse
    cmd = [sys.executable, "-m", "voicescount.cli", "--root", str(proj), "run", "--no-progress"]
    cmd += ["--country", "VN", "--cycle", "2022", "--lang", "en", "--jobs", "1"]
    times = []
    try:
        subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        for _ in range(repeat):
            start = time.perf_counter()
            p = subprocess.run(cmd + ["--force"], capture_output=True, text=True, env=env)
            times.append((time.perf_counter() - start) / n)
            if p.returncode != 0 or f"executed: {n} " not in p.stdout:
                raise SystemExit(f"thin run failed:\n{p.stdout}\n{p.stderr[-3000:]}")
    finally:
        shutil.rmtree(proj.parent, ignore_errors=True)
    return statistics.median(times)


def measure(trees: list[Path | None], repeat: int, notebooks: int) -> list[dict]:
    """One row per tree; the trees take turns at every repeat, so they share the load."""
    runs: list[dict[str, list]] = [{"kernel": [], "steps": []} for _ in trees]
    projs = [thin_project(t or ROOT, 1) for t in trees]  # copies: their build/ is ours
    try:
        for t, proj in zip(trees, projs, strict=True):  # prepares the cycle into build/
            _py(_STEPS, [str(proj), "VN", "2022", "en"], t)
        for _ in range(repeat):
            for t, proj, r in zip(trees, projs, runs, strict=True):
                r["kernel"].append(_py(_KERNEL, [], t))
                r["steps"].append(_py(_STEPS, [str(proj), "VN", "2022", "en"], t))
    finally:
        for proj in projs:
            shutil.rmtree(proj.parent, ignore_errors=True)
    rows = []
    for t, r in zip(trees, runs, strict=True):
        row = {**_median_dicts(r["kernel"]), **_median_dicts(r["steps"])}
        if t is None:
            row.update(_py(_RESET, [str(max(5, repeat))], None))
            fresh = runner_per_notebook(None, notebooks, "1", repeat)
            row["runner, per notebook (fresh kernel each)"] = fresh
        row["runner, per notebook (as shipped)"] = runner_per_notebook(t, notebooks, None, repeat)
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    ap.add_argument("--notebooks", type=int, default=10, help="thin pages per runner measurement")
    ap.add_argument("--baseline", type=Path, help="worktree of the previous architecture")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args()
    load = os.getloadavg()[0]
    trees = [None] + ([a.baseline.resolve()] if a.baseline else [])
    rows = measure(trees, a.repeat, a.notebooks)
    after, before = rows[0], (rows[1] if a.baseline else {})
    if a.json:
        print(json.dumps({"bench": "fixed_cost", "load": load, "after": after, "before": before}))
        return
    print(f"Per-notebook fixed cost, {os.cpu_count()} CPUs, load {load:.1f}, medians of {a.repeat}")
    print("\n| cost | before s | after s | ratio |\n|---|---:|---:|---:|")
    for k in sorted(
        set(after) | set(before), key=lambda k: list(after).index(k) if k in after else 99
    ):
        b, n = before.get(k), after.get(k)
        ratio = f"{b / n:.1f} ×" if b and n else ""
        fb = f"{b:.3f}" if b is not None else ""
        fn = f"{n:.3f}" if n is not None else ""
        print(f"| {k} | {fb} | {fn} | {ratio} |")


if __name__ == "__main__":
    main()
