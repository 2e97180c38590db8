"""Execute the template notebooks for every selected (country, cycle, language).

`execute(project, ...)` is the library function `voicescount run` wraps (the shape of
papermill's own `execute_notebook`). It

1. plans one job per (country, cycle) x template in `analyses/` (order from
   `analyses/chapters.yml`) x language of the cycle (`languages` in cycle.yml). The output is
   `report/<ISO>/<cycle>/<lang>/<template>.ipynb`;
2. skips a job when its manifest `report/<ISO>/<cycle>/<lang>/.<template>.inputs.json` equals
   what the job would record now: the template's hash, the parameters, the hashes of the
   cycle's input files (`Project.cycle_inputs`) *and of the country's earlier cycles* (trend
   chapters read them: editing 2020's data re-executes 2020, 2022 and 2024; editing 2024's
   re-executes only 2024), the package version and a hash of the package's source files. A
   chapter declared `{notebook: synthesis, inputs: all}` in chapters.yml hashes every
   country's cycles up to its year instead, since it reads them all;
3. runs the rest in parallel worker processes (processes, not threads: each notebook runs with
   its own working directory, its output folder, so relative outputs such as `tables/x.csv`
   land beside it). Each worker is its own process group, so the wall-clock guard kills the
   worker *and* its kernel;
4. isolates failures: a failing notebook is reported with the failing cell (index in the
   template, first source line, the exception's last line); the others still finish;
5. publishes atomically: each notebook executes in its own staging folder
   (`report/<ISO>/<cycle>/.<lang>.<chapter>.<pid>.staging/`, at the depth of the output folder
   so the relative parameters still resolve), so the charts and tables it writes
   (`tables/*.csv`, `figures/*.svg`) land there, not beside the last good notebook. Only when
   it succeeded are they moved in, then the notebook (temp file + `os.replace`), then its
   manifest; files the chapter wrote last time but not now are removed (the list is kept in
   `.<chapter>.outputs.json`). A killed run leaves the last good notebook and its charts (and
   a hidden staging folder, removed by the next run); because the manifest is written last,
   that notebook re-executes next time.

Injected parameters are relative paths only (papermill records them in the notebook), and the
executed notebook gets the cell tags Jupyter Book v1 uses to hide code (`remove-input`) and the
parameter cells (`remove-cell`); a code cell tagged `page-title` is replaced by its Markdown
output, so computed titles in the page's language become the page title. Execution timestamps are removed so outputs are deterministic.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Literal

import nbformat
from pydantic import Field

from . import __version__
from .errors import ConfigError
from .provenance import (
    all_cycle_input_files,
    cycle_input_files,
    file_hashes,
    relpath,
    sha256_file,
    source_fingerprint,
)
from .registry import Cycle, Project, Strict, load_model

ANALYSES = "analyses"
CHAPTERS_FILE = "chapters.yml"
# Extra seconds the wall-clock guard waits beyond --timeout, so papermill's own per-cell
# timeout (which names the cell) normally fires first: after it, shutting down the busy kernel
# takes up to ~5 s more (jupyter_client's graceful-shutdown wait).
GUARD_GRACE = 15.0


class ChapterEntry(Strict):
    """A template with options. `foreach: sdgs` runs it once per item of the cycle:
    `{notebook: sdg, foreach: sdgs}` makes sdg-1.ipynb, sdg-4.ipynb ... with the extra
    parameter `sdg` (one page per SDG in focus).

    `inputs` is the data the page reads, hashed into its skip-unchanged manifest: `cycle` (the
    default) is the country's own cycle and its earlier cycles; `all` is every country's cycles
    up to this cycle's year, for cross-country pages such as the synthesis, so that editing
    another country's data re-executes them."""

    notebook: str
    foreach: Literal["sdgs"] | None = None
    inputs: Literal["cycle", "all"] = "cycle"


class Chapters(Strict):
    """`analyses/chapters.yml`: the template notebooks, in book order (names without .ipynb)."""

    chapters: list[str | ChapterEntry] = Field(min_length=1)


def chapter_specs(project: Project) -> list[tuple[Path, str | None]]:
    """(template, foreach) in book order; every notebook in analyses/ must be listed once."""
    return [(nb, each) for nb, each, _ in chapter_entries(project)]


def chapter_entries(project: Project) -> list[tuple[Path, str | None, str]]:
    """(template, foreach, inputs scope) in book order, validated (see `chapter_specs`)."""
    adir = project.root / ANALYSES
    path = adir / CHAPTERS_FILE
    spec = load_model(Chapters, path)
    seen: set[str] = set()
    out = []
    for i, entry in enumerate(spec.chapters):
        name = entry if isinstance(entry, str) else entry.notebook
        each = None if isinstance(entry, str) else entry.foreach
        scope = "cycle" if isinstance(entry, str) else entry.inputs
        stem = name.removesuffix(".ipynb")
        if stem in seen:
            raise ConfigError(
                f"lists '{stem}' twice.", path=path, row=i + 1, field="chapters", hint="Keep one."
            )
        seen.add(stem)
        nb = adir / f"{stem}.ipynb"
        if not nb.is_file():
            raise ConfigError(
                f"lists '{stem}', but {ANALYSES}/{stem}.ipynb does not exist.",
                path=path,
                row=i + 1,
                field="chapters",
                hint="Create the notebook or remove the entry.",
            )
        out.append((nb, each, scope))
    unlisted = sorted(p.stem for p in adir.glob("*.ipynb") if p.stem not in seen)
    if unlisted:
        raise ConfigError(
            f"does not list {', '.join(unlisted)} (found in {ANALYSES}/).",
            path=path,
            field="chapters",
            hint="Add each template notebook to 'chapters' in the order the book shows them.",
        )
    return out


def templates(project: Project) -> list[Path]:
    """Template notebooks in book order (see `chapter_specs`)."""
    return [nb for nb, _ in chapter_specs(project)]


def chapter_outputs(template: Path, foreach: str | None, cycle: Cycle) -> list[tuple[str, dict]]:
    """(output stem, extra parameters) of a template for one cycle: itself, or one per SDG."""
    if foreach == "sdgs":
        return [(f"{template.stem}-{g}", {"sdg": g}) for g in sorted(cycle.sdgs)]
    return [(template.stem, {})]


@dataclass(frozen=True)
class Job:
    """One notebook execution: a template for one (country, cycle, language)."""

    iso: str
    cycle: int
    lang: str
    template: Path
    output: Path
    parameters: dict[str, Any]
    manifest: dict[str, Any] = field(compare=False, repr=False)

    @property
    def name(self) -> str:
        return f"{self.iso}/{self.cycle}/{self.lang}/{self.output.name}"

    @property
    def manifest_path(self) -> Path:
        return self.output.parent / f".{self.output.stem}.inputs.json"

    def is_current(self) -> bool:
        """True when the output exists and was made from exactly these inputs."""
        if not self.output.is_file() or not self.manifest_path.is_file():
            return False
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8")) == self.manifest
        except (OSError, ValueError):
            return False


@dataclass
class Failure:
    job: Job
    message: str


@dataclass
class RunSummary:
    executed: list[Job] = field(default_factory=list)
    skipped: list[Job] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def line(self) -> str:
        return (
            f"executed: {len(self.executed)}  skipped: {len(self.skipped)}  "
            f"failed: {len(self.failed)}"
        )


def _select(values: list[Any] | None, allowed: list[Any]) -> list[Any]:
    return [v for v in allowed if values is None or v in values]


def plan(
    project: Project,
    countries: list[str] | None = None,
    cycles: list[int] | None = None,
    langs: list[str] | None = None,
) -> list[Job]:
    """All jobs for the selection, in a stable order (country, cycle, language, chapter)."""
    if countries:
        for iso in countries:
            project.country(iso)  # unknown country -> ConfigError naming countries.yml
    pairs = [
        (iso, cyc)
        for iso, cyc in project.cycles()
        if (not countries or iso in countries) and (not cycles or cyc in cycles)
    ]
    if (countries or cycles) and not pairs:
        raise ConfigError(
            f"no cycle matches --country {countries or 'any'} --cycle {cycles or 'any'}.",
            path=project.data_dir,
            hint="Each cycle needs data/<ISO>/<cycle>/cycle.yml; check the codes and years.",
        )
    tmpls = chapter_entries(project) if pairs else []
    tmpl_hash = {t: sha256_file(t) for t, _, _ in tmpls}
    common = {"voicescount": __version__, "source": source_fingerprint()}
    jobs = []
    every: dict[int, dict[str, str]] = {}  # inputs of every country, per cycle year
    for iso, cyc in pairs:
        cycle = project.cycle(iso, cyc)  # validates cycle.yml and the files it names
        inputs = {"cycle": file_hashes(cycle_input_files(project, iso, cyc), root=project.root)}
        if any(scope == "all" for _, _, scope in tmpls):
            if cyc not in every:
                files = all_cycle_input_files(project, cyc)
                every[cyc] = file_hashes(files, root=project.root)
            inputs["all"] = every[cyc]
        for lang in _select(langs, cycle.languages):
            outdir = project.report_dir(iso, cyc) / lang
            params = {
                "country": iso,
                "cycle": cyc,
                "lang": lang,
                # Relative to the notebook's working directory (its output folder).
                "data_dir": relpath(project.data_dir, outdir),
                "project_root": relpath(project.root, outdir),
            }
            for t, each, scope in tmpls:
                for stem, extra in chapter_outputs(t, each, cycle):
                    p = {**params, **extra}
                    manifest = {
                        "template": {relpath(t, project.root): tmpl_hash[t]},
                        "parameters": p,
                        "inputs": inputs[scope],
                        **common,
                    }
                    out = outdir / f"{stem}.ipynb"
                    jobs.append(Job(iso, cyc, lang, t, out, p, json.loads(json.dumps(manifest))))
    if langs and pairs and not jobs:
        raise ConfigError(
            f"no selected cycle is published in --lang {', '.join(langs)}.",
            path=project.data_dir,
            hint="Choose a language listed under 'languages' in the cycles' cycle.yml.",
        )
    return jobs


# --------------------------------------------------------------------------- notebook tidying


def _tag(cell: dict, *tags: str) -> None:
    meta = cell.setdefault("metadata", {})
    have = list(meta.get("tags", []))
    for t in tags:
        if t not in have:
            have.append(t)
    meta["tags"] = have


def _title_to_markdown(nb: Any) -> None:
    """Turn a code cell tagged `page-title` into a Markdown cell holding its Markdown output.

    Jupyter Book takes a page's title from its first Markdown heading, and a heading inside
    an output is only a rubric; titles in the page's language are computed, so the runner
    writes the computed heading back as a real Markdown cell.
    """
    for i, cell in enumerate(nb.cells):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type != "code" or "page-title" not in tags:
            continue
        text = None
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            text = data.get("text/markdown") or data.get("text/plain")
            if text:
                break
        if text:
            md = nbformat.v4.new_markdown_cell("".join(text))
            md.metadata["tags"] = list(tags)
            if "id" in cell:
                md.id = cell.id
            nb.cells[i] = md


def finalize_notebook(nb: Any) -> Any:
    """Hide code and parameter cells in the book; drop timestamps so outputs are reproducible."""
    _title_to_markdown(nb)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags and "id" in cell:
            cell["id"] = "injected-parameters"  # papermill draws a random id each run
        if "parameters" in tags or "injected-parameters" in tags:
            _tag(cell, "remove-cell")
        elif cell.cell_type == "code":
            _tag(cell, "remove-input")
        cell.get("metadata", {}).pop("execution", None)
        pm = cell.get("metadata", {}).get("papermill")
        if pm:
            for k in ("start_time", "end_time", "duration"):
                pm.pop(k, None)
    pm = nb.metadata.get("papermill")
    if pm:
        for k in ("start_time", "end_time", "duration", "environment_variables"):
            pm.pop(k, None)
    return nb


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _cell_report(nb_path: Path, index: int | None) -> str:
    """'cell N (`first line`)' with N counted in the template (the injected cell not counted)."""
    try:
        nb = nbformat.read(nb_path, as_version=4)
    except Exception:  # the partial notebook may be unreadable; the message still helps
        return f"cell {index}" if index is not None else "an unknown cell"
    # papermill puts an error banner cell at the top of a failed notebook; indices ignore it
    cells = [
        c
        for c in nb.cells
        if "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])
    ]
    injected = next(
        (
            i
            for i, c in enumerate(cells)
            if "injected-parameters" in c.get("metadata", {}).get("tags", [])
        ),
        None,
    )
    if index is None:  # the cell papermill was running when time ran out: the last started
        for i, c in enumerate(cells):
            pm_meta = c.get("metadata", {}).get("papermill", {})
            if pm_meta.get("status") in ("running", "failed") or pm_meta.get("start_time"):
                index = i
    if index is None or not 0 <= index < len(cells):
        return "an unknown cell"
    first = next((ln for ln in cells[index].source.splitlines() if ln.strip()), "")
    shown = index - 1 if injected is not None and index > injected else index
    return f"cell {shown} (`{first.strip()[:80]}`)"


# --------------------------------------------------------------------------- worker


def running_path(job: Job, pid: int) -> Path:
    """The notebook being executed; named per worker so concurrent runs never share it."""
    return job.output.parent / f".{job.output.stem}.{pid}.running.ipynb"


STAGING_SUFFIX = ".staging"


def staging_path(job: Job, pid: int) -> Path:
    """The working directory a notebook executes in: a sibling of its output folder (same
    depth, so `data_dir` and `project_root`, relative to the output folder, resolve the same)."""
    out_dir = job.output.parent
    return out_dir.parent / f".{out_dir.name}.{job.output.stem}.{pid}{STAGING_SUFFIX}"


def outputs_record(job: Job) -> Path:
    """The list of files (relative to the output folder) the chapter wrote on its last run."""
    return job.output.parent / f".{job.output.stem}.outputs.json"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_staging(jobs: list[Job]) -> int:
    """Remove staging folders left by killed runs (their worker process is gone)."""
    n = 0
    for parent in sorted({j.output.parent.parent for j in jobs}):
        for stage in parent.glob(f".*{STAGING_SUFFIX}"):
            try:
                pid = int(stage.name[: -len(STAGING_SUFFIX)].rsplit(".", 1)[1])
            except (IndexError, ValueError):
                continue
            if not _pid_alive(pid):
                shutil.rmtree(stage, ignore_errors=True)
                n += 1
    return n


def _publish_outputs(job: Job, stage: Path) -> list[str]:
    """Move what the notebook wrote into the output folder, then drop the files it wrote last
    time but not now. Returns the new list (sorted, POSIX paths relative to the folder)."""
    out_dir = job.output.parent
    written = sorted(
        p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file() or p.is_symlink()
    )
    for rel in written:
        dest = out_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage / rel, dest)
    try:
        before = json.loads(outputs_record(job).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        before = []
    keep = set(written)
    for rel in before if isinstance(before, list) else []:
        old = out_dir / str(rel)
        if rel not in keep and old.resolve().is_relative_to(out_dir.resolve()):
            old.unlink(missing_ok=True)
    return written


def _worker(job: Job, root: str, timeout: float, conn: Connection) -> None:
    """Run one notebook in its own process group; send (ok, message) back."""
    with contextlib.suppress(OSError):
        os.setsid()  # the guard can then kill this worker and its kernel together
    # The kernel's start-up chatter would tear the progress bar; failures come back via `conn`.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    os.chdir(root)  # paths handed to papermill are relative, so none is absolute in metadata
    rel_in = relpath(job.template, root)
    rel_out = relpath(job.output, root)
    out_dir = job.output.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = running_path(job, os.getpid())
    stage = staging_path(job, os.getpid())
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    failed_copy = out_dir / f".{job.output.stem}.failed.ipynb"
    rel_tmp = relpath(tmp, root)
    try:
        pm.execute_notebook(
            rel_in,
            rel_tmp,
            parameters=job.parameters,
            cwd=relpath(stage, root),
            execution_timeout=timeout,
            progress_bar=False,
            log_output=False,
            report_mode=False,
        )
        nb = nbformat.read(tmp, as_version=4)
        nb.metadata.setdefault("papermill", {})["output_path"] = rel_out
        finalize_notebook(nb)
        nbformat.write(nb, tmp)
        written = _publish_outputs(job, stage)  # charts and tables first, then the notebook
        os.replace(tmp, job.output)
        _atomic_write_text(outputs_record(job), json.dumps(written, indent=1))
        _atomic_write_text(job.manifest_path, json.dumps(job.manifest, indent=1, sort_keys=True))
        failed_copy.unlink(missing_ok=True)
        conn.send((True, ""))
    except PapermillExecutionError as exc:
        where = _cell_report(tmp, exc.cell_index)
        last = (f"{exc.ename}: {exc.evalue}".strip().splitlines() or [exc.ename])[-1]
        os.replace(tmp, failed_copy)
        conn.send(
            (False, f"failed at {where}: {last} [partial output: {relpath(failed_copy, root)}]")
        )
    except BaseException as exc:  # timeouts, kernel deaths, bad templates: report, never hang
        where = _cell_report(tmp, None) if tmp.exists() else "start-up"
        if isinstance(exc, TimeoutError):  # nbclient's per-cell limit (CellTimeoutError)
            last = f"the cell timed out after {timeout:g} s"
        else:
            last = (f"{type(exc).__name__}: {exc}".strip().splitlines() or ["error"])[-1]
        if tmp.exists():
            os.replace(tmp, failed_copy)
        conn.send((False, f"failed at {where}: {last}"))
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        conn.close()


def _kill_group(proc: mp.process.BaseProcess) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        proc.kill()


def _context() -> mp.context.BaseContext:
    # fork: workers start in milliseconds with papermill already imported (the parent runs no
    # threads: tqdm's monitor thread is switched off below). spawn where fork does not exist.
    return mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")


def _check_cycles(project: Project, jobs: list[Job]) -> None:
    """Stop before any notebook when a cycle's data fail validation (prepare.check_cycle)."""
    try:
        from .prepare import check_cycle  # type: ignore[attr-defined]
    except ImportError as exc:  # the validation step is not in this tree yet
        if exc.name not in (f"{__package__}.prepare", None):
            raise
        return
    for iso, cyc in sorted({(j.iso, j.cycle) for j in jobs}):
        check_cycle(project, iso, cyc)


def execute(
    project: Project,
    countries: list[str] | None = None,
    cycles: list[int] | None = None,
    langs: list[str] | None = None,
    jobs: int | None = None,
    timeout: float = 600.0,
    force: bool = False,
    progress: bool = True,
    check: bool = True,
    out=None,
    err=None,
) -> RunSummary:
    """Plan, skip what is current, execute the rest in parallel; print failures and the summary.

    Returns a `RunSummary`; `summary.ok` is False when any notebook failed. Input problems
    (registry, cycle.yml, chapters.yml, validation) raise a `VoicesError` before any notebook runs.
    `check=False` skips the validation gate (`prepare.check_cycle`); the runner's own tests use
    it on a fixture whose notebooks read no survey data.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    workers = max(1, jobs or os.cpu_count() or 1)
    summary = RunSummary()
    planned = plan(project, countries, cycles, langs)
    todo = []
    for job in planned:
        if not force and job.is_current():
            summary.skipped.append(job)
        else:
            todo.append(job)
    if todo:
        if check:
            _check_cycles(project, todo)
        remove_stale_staging(todo)
        import papermill  # noqa: F401  (imported before forking so workers start fast)
        from tqdm import tqdm

        tqdm.monitor_interval = 0
        bar = tqdm(total=len(todo), desc="notebooks", unit="nb", file=err, disable=not progress)
        ctx = _context()
        queue = list(todo)
        running: dict[Connection, tuple[Job, Any, float]] = {}
        try:
            while queue or running:
                while queue and len(running) < workers:
                    job = queue.pop(0)
                    recv, send = ctx.Pipe(duplex=False)
                    proc = ctx.Process(
                        target=_worker, args=(job, str(project.root), timeout, send), daemon=True
                    )
                    proc.start()
                    send.close()
                    running[recv] = (job, proc, time.monotonic() + timeout + GUARD_GRACE)
                next_deadline = min(d for _, _, d in running.values())
                ready = wait(list(running), timeout=max(0.0, next_deadline - time.monotonic()))
                now = time.monotonic()
                for conn in list(running):
                    job, proc, deadline = running[conn]
                    if conn in ready:
                        try:
                            ok, msg = conn.recv()
                        except EOFError:
                            ok, msg = False, "the worker process died (out of memory?)"
                    elif now >= deadline:
                        _kill_group(proc)
                        partial = running_path(job, proc.pid)
                        where = "start-up"
                        if partial.exists():
                            where = _cell_report(partial, None)
                            failed = job.output.parent / f".{job.output.stem}.failed.ipynb"
                            os.replace(partial, failed)
                        shutil.rmtree(staging_path(job, proc.pid), ignore_errors=True)
                        ok, msg = False, f"timed out after {timeout:g} s at {where} (killed)"
                    else:
                        continue
                    conn.close()
                    proc.join(5)
                    del running[conn]
                    if ok:
                        summary.executed.append(job)
                    else:
                        summary.failed.append(Failure(job, msg))
                        bar.write(f"FAILED {job.name}: {msg}", file=err)
                    bar.update(1)
        finally:
            for conn, (job, proc, _) in running.items():  # Ctrl-C: leave no kernel behind
                _kill_group(proc)
                conn.close()
                proc.join(5)
                running_path(job, proc.pid).unlink(missing_ok=True)
                shutil.rmtree(staging_path(job, proc.pid), ignore_errors=True)
            bar.close()
    print(summary.line(), file=out, flush=True)
    return summary
