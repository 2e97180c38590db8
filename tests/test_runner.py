"""Runner: planning, skip-unchanged, one-cycle-changed, failure isolation, timeouts."""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from conftest import make_tiny_project

from voicescount import runner
from voicescount.errors import ConfigError, ValidationFailed
from voicescount.registry import Project
from voicescount.runner import execute, finalize_notebook, plan, templates

TINY = Path(__file__).parent / "fixtures" / "tiny"


def copy_tiny(dest: Path) -> Project:
    return Project(make_tiny_project(dest))


def add_template(project: Project, name: str, sources: list[str], only: bool = False) -> None:
    """Add a template notebook (parameters cell first) and list it in chapters.yml."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell('country = "ZZ"\ncycle = 2021\nlang = "en"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, project.root / "analyses" / f"{name}.ipynb")
    chapters = project.root / "analyses" / "chapters.yml"
    if only:
        (project.root / "analyses" / "tiny.ipynb").unlink()
        chapters.write_text(f"chapters:\n  - {name}\n")
    else:
        chapters.write_text(chapters.read_text() + f"  - {name}\n")


def run(project: Project, **kw) -> tuple[runner.RunSummary, str, str]:
    out, err = io.StringIO(), io.StringIO()
    kw.setdefault("jobs", 2)
    summary = execute(project, progress=False, check=False, out=out, err=err, **kw)
    return summary, out.getvalue(), err.getvalue()


# --------------------------------------------------------------------------- planning (fast)


def test_plan_covers_cycles_languages_and_templates_with_relative_parameters(tmp_path):
    project = copy_tiny(tmp_path / "p")
    jobs = plan(project)
    assert [j.name for j in jobs] == [
        "ZZ/2021/en/tiny.ipynb",
        "ZZ/2021/vi/tiny.ipynb",
        "ZZ/2023/en/tiny.ipynb",
        "ZZ/2023/vi/tiny.ipynb",
    ]
    job = jobs[0]
    assert job.output == project.root / "report/ZZ/2021/en/tiny.ipynb"
    assert job.parameters == {
        "country": "ZZ",
        "cycle": 2021,
        "lang": "en",
        "data_dir": "../../../../data",
        "project_root": "../../../..",
    }
    assert str(tmp_path) not in json.dumps(job.manifest)
    assert [j.name for j in plan(project, cycles=[2023], langs=["vi"])] == ["ZZ/2023/vi/tiny.ipynb"]


def test_foreach_sdgs_makes_one_page_per_goal_with_its_own_parameter_and_manifest(tmp_path):
    project = copy_tiny(tmp_path / "p")
    add_template(project, "sdg", ["print(sdg)"])
    chapters = project.root / "analyses" / "chapters.yml"
    chapters.write_text("chapters:\n  - tiny\n  - {notebook: sdg, foreach: sdgs}\n")
    jobs = plan(project, cycles=[2023], langs=["en"])
    assert [j.name for j in jobs] == [
        "ZZ/2023/en/tiny.ipynb",
        "ZZ/2023/en/sdg-1.ipynb",
        "ZZ/2023/en/sdg-5.ipynb",
    ]
    assert [j.parameters.get("sdg") for j in jobs] == [None, 1, 5]
    assert jobs[1].manifest["parameters"]["sdg"] == 1
    assert len({j.manifest_path for j in jobs}) == 3
    assert jobs[2].manifest_path.name == ".sdg-5.inputs.json"
    assert templates(project)[1].name == "sdg.ipynb"
    chapters.write_text("chapters:\n  - tiny\n  - {notebook: sdg, foreach: regions}\n")
    with pytest.raises(ConfigError, match="foreach"):
        plan(project)


def test_later_cycles_depend_on_earlier_inputs_not_the_reverse(tmp_path):
    project = copy_tiny(tmp_path / "p")
    by_cycle = {j.cycle: set(j.manifest["inputs"]) for j in plan(project, langs=["en"])}
    assert "data/ZZ/2021/exports/adults.csv" in by_cycle[2023]
    assert "data/ZZ/2023/exports/adults.csv" not in by_cycle[2021]


def test_unknown_country_and_empty_selection_are_config_errors(tmp_path):
    project = copy_tiny(tmp_path / "p")
    with pytest.raises(ConfigError, match="country 'XX' is not in the registry"):
        plan(project, countries=["XX"])
    with pytest.raises(ConfigError, match="no cycle matches"):
        plan(project, cycles=[1999])
    with pytest.raises(ConfigError, match="--lang sw"):
        plan(project, langs=["sw"])


def test_chapters_yml_must_list_every_template_and_only_existing_ones(tmp_path):
    project = copy_tiny(tmp_path / "p")
    chapters = project.root / "analyses" / "chapters.yml"
    chapters.write_text("chapters:\n  - tiny\n  - ghost\n")
    with pytest.raises(ConfigError) as exc:
        templates(project)
    assert "ghost" in str(exc.value) and "row 2" in str(exc.value)
    chapters.write_text("chapters:\n  - tiny\n")
    shutil.copy(project.root / "analyses/tiny.ipynb", project.root / "analyses/extra.ipynb")
    with pytest.raises(ConfigError, match="does not list extra"):
        templates(project)


def test_finalize_hides_code_and_parameters_and_drops_timestamps():
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell("x = 1")
    p.metadata["tags"] = ["parameters"]
    inj = nbformat.v4.new_code_cell("x = 2")
    inj.metadata["tags"] = ["injected-parameters"]
    title = nbformat.v4.new_code_cell("title()")
    title.metadata["tags"] = ["page-title"]
    title.outputs = [
        nbformat.v4.new_output("execute_result", data={"text/markdown": "# Tổng quan"})
    ]
    code = nbformat.v4.new_code_cell("print(x)")
    code.metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00"}
    code.metadata["papermill"] = {"start_time": "t", "duration": 1.0, "status": "completed"}
    nb.cells = [p, inj, title, code]
    nb.metadata["papermill"] = {"start_time": "t", "end_time": "t", "parameters": {"x": 2}}
    finalize_notebook(nb)
    assert "remove-cell" in nb.cells[0].metadata.tags
    assert "remove-cell" in nb.cells[1].metadata.tags
    assert nb.cells[2].cell_type == "markdown" and nb.cells[2].source == "# Tổng quan"
    assert nb.cells[3].metadata.tags == ["remove-input"]
    assert "execution" not in nb.cells[3].metadata
    assert nb.cells[3].metadata.papermill == {"status": "completed"}
    assert nb.metadata.papermill == {"parameters": {"x": 2}}


def test_validation_gate_stops_before_any_notebook(tmp_path, monkeypatch):
    project = copy_tiny(tmp_path / "p")

    def check_cycle(project, iso, cycle):
        raise ValidationFailed("2 errors.", path=project.root / "build/issues.csv")

    monkeypatch.setattr("voicescount.prepare.check_cycle", check_cycle)
    with pytest.raises(ValidationFailed):
        execute(project, progress=False, out=io.StringIO(), err=io.StringIO())
    assert not (project.root / "report").exists()


# --------------------------------------------------------------------------- execution


@pytest.mark.slow
def test_parallel_run_skip_unchanged_and_one_cycle_changed(tmp_path):
    project = copy_tiny(tmp_path / "p")
    summary, out, _ = run(project, langs=["vi"])
    assert out.strip().splitlines() == ["executed: 2  skipped: 0  failed: 0"]
    nb = nbformat.read(project.root / "report/ZZ/2023/vi/tiny.ipynb", as_version=4)
    assert "ZZ 2023 vi: 3 respondents" in nb.cells[-1].outputs[0]["text"]
    assert nb.cells[-1].metadata.tags == ["remove-input"]
    text = (project.root / "report/ZZ/2023/vi/tiny.ipynb").read_text()
    assert str(tmp_path) not in text  # no absolute paths recorded by papermill
    assert (project.root / "report/ZZ/2023/vi/.tiny.inputs.json").is_file()

    summary, out, _ = run(project, langs=["vi"])
    assert out.strip() == "executed: 0  skipped: 2  failed: 0"

    # Editing the latest cycle's data re-executes only that cycle.
    csv = project.root / "data/ZZ/2023/exports/adults.csv"
    csv.write_text(csv.read_text() + "r4,south,female,30\n")
    summary, out, _ = run(project, langs=["vi"])
    assert out.strip() == "executed: 1  skipped: 1  failed: 0"
    assert [(j.cycle, j.lang) for j in summary.executed] == [(2023, "vi")]

    # Editing an earlier cycle re-executes it and the later cycles (trend dependency).
    csv = project.root / "data/ZZ/2021/exports/adults.csv"
    csv.write_text(csv.read_text() + "r4,south,female,30\n")
    summary, out, _ = run(project, langs=["vi"])
    assert out.strip() == "executed: 2  skipped: 0  failed: 0"

    # --force re-executes current notebooks; a code edit to the package would, too.
    assert all(j.is_current() for j in plan(project, langs=["vi"]))
    assert not any(j.is_current() for j in plan(project, langs=["en"]))


def add_country(project: Project, iso: str = "YY", cycle: int = 2021) -> Path:
    """Register a second country with one English cycle (a copy of ZZ's 2021 data)."""
    root = project.root
    with (root / "data/countries.yml").open("a") as f:
        f.write(
            f"  - iso: {iso}\n    name: {{en: Whyland}}\n    languages: [en]\n"
            "    regions:\n      - {code: north, name: {en: North}}\n"
            "      - {code: south, name: {en: South}}\n"
            "    youth: {min: 16, max: 30}\n    age_bands: [16, 25, 60]\n"
        )
    dest = root / "data" / iso / str(cycle)
    shutil.copytree(root / "data/ZZ/2021", dest)
    yml = dest / "cycle.yml"
    yml.write_text(
        yml.read_text().replace("country: ZZ", f"country: {iso}").replace("[en, vi]", "[en]")
    )
    return dest


def test_synthesis_with_all_inputs_reruns_when_another_country_changes(tmp_path):
    project = copy_tiny(tmp_path / "p")
    add_template(project, "synth", ["print(country, cycle)"])
    chapters = project.root / "analyses" / "chapters.yml"
    chapters.write_text("chapters:\n  - tiny\n  - {notebook: synth, inputs: all}\n")
    other = add_country(project)
    project = Project(project.root)
    jobs = {j.name: j for j in plan(project, langs=["en"])}
    assert "data/YY/2021/exports/adults.csv" in jobs["ZZ/2023/en/synth.ipynb"].manifest["inputs"]
    assert "data/YY/2021/exports/adults.csv" not in jobs["ZZ/2023/en/tiny.ipynb"].manifest["inputs"]
    # The synthesis of 2021 never reads a later cycle of any country.
    assert "data/ZZ/2023/cycle.yml" not in jobs["YY/2021/en/synth.ipynb"].manifest["inputs"]

    summary, out, _ = run(project, langs=["en"])
    assert out.strip() == "executed: 6  skipped: 0  failed: 0"

    # Touching country YY's data re-executes ZZ's synthesis pages and nothing else of ZZ.
    csv = other / "exports/adults.csv"
    csv.write_text(csv.read_text() + "r4,south,female,30\n")
    summary, out, _ = run(project, langs=["en"])
    executed = sorted(j.name for j in summary.executed)
    assert executed == [
        "YY/2021/en/synth.ipynb",
        "YY/2021/en/tiny.ipynb",
        "ZZ/2021/en/synth.ipynb",
        "ZZ/2023/en/synth.ipynb",
    ]
    assert out.strip() == "executed: 4  skipped: 2  failed: 0"


@pytest.mark.slow
def test_failing_notebook_is_named_with_its_cell_and_others_finish(tmp_path):
    project = copy_tiny(tmp_path / "p")
    add_template(project, "boom", ["x = 1", "values = [1, 2]\nraise ValueError('bad value')"])
    summary, out, err = run(project, cycles=[2021], langs=["en"])
    assert not summary.ok
    assert out.strip() == "executed: 1  skipped: 0  failed: 1"
    assert [j.name for j in summary.executed] == ["ZZ/2021/en/tiny.ipynb"]
    msg = summary.failed[0].message
    assert "ZZ/2021/en/boom.ipynb" in err
    assert "cell 2 (`values = [1, 2]`)" in msg
    assert "ValueError: bad value" in msg
    assert not (project.root / "report/ZZ/2021/en/boom.ipynb").exists()
    assert not (project.root / "report/ZZ/2021/en/.boom.inputs.json").exists()
    assert (project.root / "report/ZZ/2021/en/.boom.failed.ipynb").is_file()
    # The failed one is retried next time; the good one is skipped.
    summary, out, _ = run(project, cycles=[2021], langs=["en"])
    assert out.strip() == "executed: 0  skipped: 1  failed: 1"


@pytest.mark.slow
def test_cell_timeout_names_the_cell(tmp_path):
    project = copy_tiny(tmp_path / "p")
    add_template(project, "hang", ["import time\ntime.sleep(120)"], only=True)
    start = time.monotonic()
    summary, out, _ = run(project, cycles=[2021], langs=["en"], timeout=2)
    assert time.monotonic() - start < 30
    assert out.strip() == "executed: 0  skipped: 0  failed: 1"
    msg = summary.failed[0].message
    assert "cell 1 (`import time`)" in msg
    assert "Timeout" in msg or "timed out" in msg


@pytest.mark.slow
def test_wall_clock_guard_kills_a_slow_notebook_and_keeps_the_last_good_output(
    tmp_path, monkeypatch
):
    project = copy_tiny(tmp_path / "p")
    add_template(project, "slow", ["import time"] + ["time.sleep(0.8)"] * 10, only=True)
    good = project.root / "report/ZZ/2021/en/slow.ipynb"
    good.parent.mkdir(parents=True)
    good.write_text("last good notebook")
    monkeypatch.setattr(runner, "GUARD_GRACE", 0.5)
    start = time.monotonic()
    summary, out, _ = run(project, cycles=[2021], langs=["en"], timeout=3)
    assert time.monotonic() - start < 20
    assert out.strip() == "executed: 0  skipped: 0  failed: 1"
    assert "timed out after 3 s" in summary.failed[0].message
    assert "(killed)" in summary.failed[0].message
    assert good.read_text() == "last good notebook"
    assert not list(good.parent.glob("*.running.ipynb"))
    assert (good.parent / ".slow.failed.ipynb").is_file()


# --------------------------------------------------------------------------- staging (slow)

WRITE_CHART = (
    "from pathlib import Path\n"
    "import os\n"
    "Path('tables').mkdir(exist_ok=True)\n"
    "names = os.environ.get('VC_TEST_NAMES', 'a').split(',')\n"
    "for n in names:\n"
    "    Path('tables', n + '.csv').write_text(n)\n"
    "assert os.environ.get('VC_TEST_FAIL') != '1', 'asked to fail'"
)


@pytest.mark.slow
def test_outputs_are_staged_moved_in_on_success_and_stale_ones_removed(tmp_path, monkeypatch):
    project = copy_tiny(tmp_path / "p")
    add_template(project, "charts", [WRITE_CHART], only=True)
    out_dir = project.root / "report/ZZ/2021/en"
    monkeypatch.setenv("VC_TEST_NAMES", "a,b")
    summary, _, _ = run(project, cycles=[2021], langs=["en"])
    assert summary.ok
    assert sorted(p.name for p in (out_dir / "tables").iterdir()) == ["a.csv", "b.csv"]
    assert json.loads((out_dir / ".charts.outputs.json").read_text()) == [
        "tables/a.csv",
        "tables/b.csv",
    ]
    assert not list(out_dir.parent.glob(".*.staging"))  # the staging folder is gone

    # A failing run writes its charts in staging only: the last good ones stay as they were.
    monkeypatch.setenv("VC_TEST_NAMES", "c")
    monkeypatch.setenv("VC_TEST_FAIL", "1")
    summary, _, _ = run(project, cycles=[2021], langs=["en"], force=True)
    assert not summary.ok
    assert sorted(p.name for p in (out_dir / "tables").iterdir()) == ["a.csv", "b.csv"]
    assert not list(out_dir.parent.glob(".*.staging"))

    # A successful run that no longer writes b.csv removes it (and adds c.csv).
    monkeypatch.setenv("VC_TEST_NAMES", "a,c")
    monkeypatch.setenv("VC_TEST_FAIL", "0")
    summary, _, _ = run(project, cycles=[2021], langs=["en"], force=True)
    assert summary.ok
    assert sorted(p.name for p in (out_dir / "tables").iterdir()) == ["a.csv", "c.csv"]


def test_stale_staging_of_a_dead_worker_is_removed_and_a_live_one_kept(tmp_path):
    project = copy_tiny(tmp_path / "p")
    jobs = [j for j in plan(project) if j.cycle == 2021 and j.lang == "en"]
    dead = runner.staging_path(jobs[0], 2**22 + 12345)  # above pid_max on Linux: never alive
    live = runner.staging_path(jobs[0], os.getpid())
    for d in (dead, live):
        (d / "tables").mkdir(parents=True)
        (d / "tables" / "x.csv").write_text("x")
    assert dead.parent == jobs[0].output.parent.parent and dead.name.startswith(".en.")
    assert runner.remove_stale_staging(jobs) == 1
    assert not dead.exists() and live.exists()


# --------------------------------------------------------------------------- kernels (issue 13)


def test_summary_line_names_kernels_that_did_not_start_only_when_there_are_some(monkeypatch):
    s = runner.RunSummary()
    assert s.line() == "executed: 0  skipped: 0  failed: 0" and s.ok
    s.no_kernel.append(runner.Failure(None, "x"))  # type: ignore[arg-type]
    assert s.line() == "executed: 0  skipped: 0  failed: 0  kernel did not start: 1"
    assert not s.ok
    monkeypatch.setenv("VOICESCOUNT_KERNEL_REUSE", "1")
    assert runner.kernel_reuse() == 1
    monkeypatch.setenv("VOICESCOUNT_KERNEL_REUSE", "many")
    with pytest.raises(ConfigError, match="VOICESCOUNT_KERNEL_REUSE"):
        runner.kernel_reuse()
    assert runner._is_start_failure(RuntimeError("Kernel died before replying to kernel_info"))
    assert runner._is_start_failure(RuntimeError("Kernel didn't respond in 60 seconds"))
    assert not runner._is_start_failure(RuntimeError("Kernel died"))  # DeadKernelError mid-run


def _flaky_start(monkeypatch, log: Path, fail_first: int) -> None:
    """Make the first `fail_first` kernel starts fail as under load (the worker is forked, so
    the patch holds in it); every attempt is logged to `log`."""
    real = runner.Kernel._start_once

    def start(self):
        with log.open("a") as fh:
            fh.write(f"{time.monotonic()}\n")
        if len(log.read_text().splitlines()) <= fail_first:
            raise RuntimeError("Kernel died before replying to kernel_info")
        real(self)

    monkeypatch.setattr(runner.Kernel, "_start_once", start)
    monkeypatch.setattr(runner, "KERNEL_RETRY_DELAYS", (0.2, 0.4, 0.8))


def test_a_kernel_that_never_starts_is_retried_then_reported_apart_from_failures(
    tmp_path, monkeypatch
):
    project = copy_tiny(tmp_path / "p")
    good = project.root / "report/ZZ/2021/en/tiny.ipynb"
    good.parent.mkdir(parents=True)
    good.write_text("last good notebook")
    log = tmp_path / "starts.log"
    _flaky_start(monkeypatch, log, fail_first=99)
    summary, out, err = run(project, cycles=[2021], langs=["en"], jobs=1)
    assert out.strip() == "executed: 0  skipped: 0  failed: 0  kernel did not start: 1"
    assert not summary.ok and not summary.failed
    assert "after 4 attempts" in summary.no_kernel[0].message
    assert "Kernel died before replying to kernel_info" in summary.no_kernel[0].message
    assert "KERNEL DID NOT START ZZ/2021/en/tiny.ipynb" in err
    starts = [float(x) for x in log.read_text().split()]
    assert len(starts) == 4  # one try and three retries, with growing pauses between them
    pauses = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert pauses[0] >= 0.2 and pauses[1] >= 0.4 and pauses[2] >= 0.8
    assert good.read_text() == "last good notebook"  # nothing published, nothing half-written
    assert not (good.parent / ".tiny.failed.ipynb").exists()
    assert not list(good.parent.glob(".*.running.ipynb"))
    assert not list(good.parent.parent.glob(".*.staging"))


@pytest.mark.slow
def test_a_kernel_that_fails_once_is_retried_and_the_chapter_runs(tmp_path, monkeypatch):
    project = copy_tiny(tmp_path / "p")
    log = tmp_path / "starts.log"
    _flaky_start(monkeypatch, log, fail_first=1)
    summary, out, _ = run(project, cycles=[2021], langs=["en"], jobs=1)
    assert out.strip() == "executed: 1  skipped: 0  failed: 0"
    assert summary.ok and len(log.read_text().splitlines()) == 2
    assert (project.root / "report/ZZ/2021/en/tiny.ipynb").is_file()


@pytest.mark.slow
def test_a_reused_kernel_gives_each_notebook_a_clean_namespace(tmp_path, monkeypatch):
    project = copy_tiny(tmp_path / "p")
    probe = (
        "import os\n"
        "leaked = sorted(n for n in dir() if n.startswith('mine'))\n"
        "print(os.getpid(), os.path.basename(os.getcwd()).split('.')[2], leaked)"
    )
    for name in ("a", "b", "c"):
        add_template(project, name, [probe, f"mine_{name} = 1\n{name!r}"], only=name == "a")
    add_template(project, "d", [probe, "raise ValueError('bad')"])
    add_template(project, "e", [probe])

    def seen(stem: str) -> tuple[list[str], list[int]]:
        nb = nbformat.read(project.root / f"report/ZZ/2021/en/{stem}.ipynb", as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        out = next(c for c in code if c.source == probe).outputs[0]["text"]
        return out.split(maxsplit=2), [c.execution_count for c in code]

    summary, out, _ = run(project, cycles=[2021], langs=["en"], jobs=1)
    assert out.strip() == "executed: 4  skipped: 0  failed: 1"
    pids = {}
    for stem in ("a", "b", "c", "e"):
        (pid, cwd, leaked), counts = seen(stem)
        pids[stem] = pid
        assert leaked.strip() == "[]" and cwd == stem  # no names of earlier notebooks; own folder
        assert counts == list(range(1, len(counts) + 1))  # counted from 1 as in a fresh kernel
    assert pids["a"] == pids["b"] == pids["c"]  # one kernel ...
    assert pids["e"] != pids["c"]  # ... retired after the failing notebook d
    monkeypatch.setenv("VOICESCOUNT_KERNEL_REUSE", "1")  # the previous behaviour
    run(project, cycles=[2021], langs=["en"], jobs=1, force=True)
    assert len({seen(s)[0][0] for s in ("a", "b", "c", "e")}) == 4


@pytest.mark.slow
def test_a_kernel_that_dies_before_kernel_info_inside_papermill_is_retried(tmp_path, monkeypatch):
    """The kernel answered the reset, then died before nbclient's own kernel_info."""
    import papermill

    project = copy_tiny(tmp_path / "p")
    log = tmp_path / "calls.log"
    real = papermill.execute_notebook

    def execute_notebook(*args, **kwargs):
        with log.open("a") as fh:
            fh.write("call\n")
        if len(log.read_text().splitlines()) == 1:
            raise RuntimeError("Kernel died before replying to kernel_info")
        return real(*args, **kwargs)

    monkeypatch.setattr(papermill, "execute_notebook", execute_notebook)
    monkeypatch.setattr(runner, "KERNEL_RETRY_DELAYS", (0.1, 0.1, 0.1))
    summary, out, _ = run(project, cycles=[2021], langs=["en"], jobs=1)
    assert out.strip() == "executed: 1  skipped: 0  failed: 0"
    assert len(log.read_text().splitlines()) == 2
