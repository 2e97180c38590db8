"""A run or build killed midway leaves the last good report/ and _build/html; the next run
completes.

`voicescount run` and `voicescount build` are started as subprocesses on a copy of the tiny
fixture project and killed with SIGKILL (no clean-up handler runs): the whole process tree,
including the workers and kernels that put themselves in their own sessions, as a machine
that loses power or a CI job that is cancelled would. The run is killed while notebooks are
executing (their `.running.ipynb` temp files exist and a cell is mid-execution, after the
chapter has drawn its chart into its staging folder); the build while Sphinx is writing
into its temp folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from conftest import make_tiny_project, write_template

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("atomic")]

PAUSE_ENV = "VOICESCOUNT_TEST_PAUSE"
# A chapter like the real ones: draws a chart (SVG + CSV table beside the notebook), then
# pauses when asked to (the kill lands in that cell), then prints its result.
WORK_CELLS = [
    "import os, time\n"
    "from pathlib import Path\n"
    "import pandas as pd\n"
    "from voicescount import figures\n"
    "rows = pd.read_csv(Path(data_dir) / country / str(cycle) / 'exports' / 'adults.csv')",
    "counts = rows.groupby('region').size().reset_index(name='n').rename(columns={'region': 'label'})\n"
    "figures.show(figures.counts_bar(counts, what='people heard', lang=lang), '.', 'heard')",
    f"time.sleep(float(os.environ.get('{PAUSE_ENV}', '0')))",
    "print(f'{country} {cycle} {lang}: {len(rows)} respondents')",
]


def _work_template(root: Path) -> None:
    write_template(root / "analyses" / "work.ipynb", "Work", WORK_CELLS)
    (root / "analyses" / "tiny.ipynb").unlink()
    (root / "analyses" / "chapters.yml").write_text("chapters:\n  - work\n", encoding="utf-8")


def _cli(root: Path, *args: str, pause: float = 0, popen: bool = False):
    cmd = [sys.executable, "-m", "voicescount.cli", "--root", str(root), *args]
    env = {**os.environ, PAUSE_ENV: str(pause)}
    if popen:
        return subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)


def _hashes(base: Path, include_dot: bool = True) -> dict[str, str]:
    return {
        p.relative_to(base).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(base.rglob("*"))
        if p.is_file()
        and (include_dot or not p.name.startswith("."))
        and ".running." not in p.name
        and not p.name.endswith(".failed.ipynb")
        and not any(part.endswith(".staging") for part in p.relative_to(base).parts)
    }


def _kill_tree(proc: subprocess.Popen) -> int:
    """SIGKILL the process group and every descendant (workers and kernels start their own
    sessions, so the group alone would leave them running). Returns how many died."""
    try:
        procs = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        procs = []
    os.killpg(proc.pid, signal.SIGKILL)
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(procs, timeout=30)
    proc.wait(timeout=30)
    return len(procs)


def _wait_for(predicate, proc: subprocess.Popen, what: str, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"finished before {what}: {out.decode()[-1500:]} {err.decode()[-1500:]}")
        time.sleep(0.05)
    _kill_tree(proc)
    pytest.fail(f"timed out waiting for {what}")


def _pausing(report: Path) -> list[Path]:
    """`.running.ipynb` temp files whose pause cell is executing (the chart is drawn)."""
    hits = []
    for p in report.rglob(".*.running.ipynb"):
        try:
            nb = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # papermill is writing it
            continue
        for cell in nb.get("cells", []):
            src = "".join(cell.get("source", ""))
            status = cell.get("metadata", {}).get("papermill", {}).get("status")
            if PAUSE_ENV in src and status == "running":
                hits.append(p)
    return hits


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    """A project after a successful `voicescount all` (the last good report and book)."""
    root = make_tiny_project(tmp_path_factory.mktemp("atomic") / "good")
    _work_template(root)
    res = _cli(root, "all", "--jobs", "2", "--no-progress")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "executed: 4  skipped: 0  failed: 0" in res.stdout
    return root


@pytest.fixture
def project(good, tmp_path) -> Path:
    dest = tmp_path / "p"
    shutil.copytree(good, dest, symlinks=True)
    return dest


def _report_changes(root: Path, before: dict[str, str]) -> tuple[list[str], list[str]]:
    """(changed or added notebooks/manifests, changed or added chart files) under report/;
    every notebook under its final name must be a complete, valid notebook."""
    after = _hashes(root / "report")
    moved = sorted(k for k in set(before) | set(after) if after.get(k) != before.get(k))
    charts = [k for k in moved if "/tables/" in k or "/figures/" in k]
    for nb_path in (root / "report").rglob("*.ipynb"):
        if not nb_path.name.startswith("."):
            nbformat.validate(nbformat.read(nb_path, as_version=4))
    return [k for k in moved if k not in charts], charts


def test_killed_run_keeps_the_last_good_report_and_book_and_the_next_run_completes(project):
    report, html = project / "report", project / "_build" / "html"
    before_report, before_html = _hashes(report), _hashes(html)
    assert "en/report/ZZ/2023/en/work.html" in before_html and "ZZ/2023/en/tables/heard.csv" in (
        before_report
    )
    csv = project / "data/ZZ/2023/exports/adults.csv"
    csv.write_text(csv.read_text(encoding="utf-8") + "r4,true,south,south,c4,1.0,male,30\n")

    # the changed cycle only: its chapters draw charts from the new data, then are killed
    proc = _cli(
        project, "run", "--cycle", "2023", "--jobs", "2", "--no-progress", pause=300, popen=True
    )
    running = _wait_for(lambda: _pausing(report), proc, "a notebook mid-execution")
    assert running and all(p.name.startswith(".work.") for p in running)
    assert _kill_tree(proc) >= 3  # the runner, its workers and their kernels

    notebooks, charts = _report_changes(project, before_report)
    assert not notebooks, f"notebooks or manifests changed by a killed run: {notebooks}"
    assert not charts, f"a killed run left new chart files beside the last good notebooks: {charts}"
    staged = sorted(report.glob("*/*/.*.staging/tables/heard.csv"))
    assert staged, "the killed chapters drew their charts in their staging folders"
    assert _hashes(html) == before_html

    res = _cli(project, "all", "--jobs", "2", "--no-progress")
    assert res.returncode == 0, res.stdout + res.stderr
    # 2023 re-executes (2021 too if the package's source changed since the good run)
    assert re.search(r"executed: [24]  skipped: [20]  failed: 0", res.stdout), res.stdout
    assert not list(report.glob("*/*/.*.staging")), "the next run removes dead staging folders"
    page = (html / "vi/report/ZZ/2023/vi/work.html").read_text(encoding="utf-8")
    assert "ZZ 2023 vi: 4 respondents" in page
    assert (html / "vi/report/ZZ/2023/vi/tables/heard.csv").read_bytes() == (
        report / "ZZ/2023/vi/tables/heard.csv"
    ).read_bytes()
    assert set(_hashes(html)) == set(before_html)  # a full build: every page is there


def test_killed_build_keeps_the_last_good_book_and_the_next_build_completes(project):
    html = project / "_build" / "html"
    before = _hashes(html)
    intro = project / "intro.md"
    intro.write_text(intro.read_text(encoding="utf-8") + "\nA new paragraph.\n", encoding="utf-8")

    proc = _cli(project, "build", popen=True)

    def sphinx_writing():
        return [
            d
            for d in (project / "_build").glob(".building-*")
            if any(p.suffix in (".doctree", ".html") for p in d.rglob("*"))
        ]

    _wait_for(sphinx_writing, proc, "Sphinx writing pages into its temp folder")
    _kill_tree(proc)
    assert _hashes(html) == before
    assert "A new paragraph" not in (html / "en/intro.html").read_text(encoding="utf-8")

    res = _cli(project, "build")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "A new paragraph" in (html / "en/intro.html").read_text(encoding="utf-8")
    assert set(_hashes(html)) == set(before)
