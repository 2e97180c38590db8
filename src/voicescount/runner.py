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
   worker *and* its kernel. A worker keeps its kernel for up to KERNEL_REUSE notebooks: a
   fresh kernel costs ~0.8 s to start and ~1.4 s to import voicescount.report again, per
   notebook. Before each notebook the kernel is reset to what a fresh one would be (its
   working directory, `%reset -f`, execution count 1, no open figures, warnings shown again);
   after a failed notebook it is replaced. VOICESCOUNT_KERNEL_REUSE=1: a fresh kernel each;
4. isolates failures: a failing notebook is reported with the failing cell (index in the
   template, first source line, the exception's last line); the others still finish. A kernel
   that does not start (under load it can die before replying to kernel_info) is retried
   after 1, 2 and 4 s; a notebook whose kernel never started is counted apart
   (`kernel did not start: J` after the summary line), since the chapter itself did not fail;
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

import asyncio
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
from tqdm import tqdm

from . import __version__, prepare
from .errors import ConfigError
from .fileio import atomic_write_text
from .mystcells import outputs_to_cells
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
    # Notebooks that never ran: no kernel started after the retries (not the chapter's fault).
    no_kernel: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.no_kernel

    def line(self) -> str:
        """'executed: N  skipped: M  failed: K', then '  kernel did not start: J' when J > 0."""
        text = (
            f"executed: {len(self.executed)}  skipped: {len(self.skipped)}  "
            f"failed: {len(self.failed)}"
        )
        return text + (f"  kernel did not start: {len(self.no_kernel)}" if self.no_kernel else "")


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
    outputs_to_cells(nb)  # MyST outputs become Markdown cells: real sections in the book
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


# Kernel start: one attempt and then retries after these pauses (issue 13: under load a kernel
# can die before replying to kernel_info; that is not the chapter's failure).
KERNEL_RETRY_DELAYS = (1.0, 2.0, 4.0)
KERNEL_START_TIMEOUT = 60.0
# No IPython history database (nbclient would keep one in memory): nothing reads it.
KERNEL_ARGS = ("--HistoryManager.enabled=False",)
# Notebooks one kernel runs (each in a clean namespace) before it is replaced by a fresh one.
# A fresh kernel costs ~0.8 s to start plus ~1.4 s to import voicescount.report again; reusing
# it for 20 notebooks keeps the kernel's memory bounded (see benchmarks/bench_fixed_cost.py).
KERNEL_REUSE = 20

# Run (silently, not counted) before each notebook on a reused kernel, so it starts as a fresh
# kernel would: no user names, execution count 1, the notebook's working directory, no open
# figures, and warnings that were shown once shown again.
_RESET = """\
import os as _vc_os
_vc_os.chdir({cwd!r})  # first: the last notebook's folder is gone, and %reset reads the cwd
get_ipython().run_line_magic("reset", "-f")
import sys as _vc_sys, warnings as _vc_w
if "matplotlib.pyplot" in _vc_sys.modules:
    _vc_sys.modules["matplotlib.pyplot"].close("all")
_vc_w.onceregistry.clear()
_vc_w._filters_mutated()
get_ipython().execution_count = 1
del _vc_sys, _vc_w
"""


class KernelStartError(RuntimeError):
    """The kernel did not start (or did not answer kernel_info) after every retry."""


_START_FAILURES = (
    "Kernel died before replying to kernel_info",
    "didn't respond in",
    "Kernel didn't respond",
)


def _last_line(exc: BaseException | None) -> str:
    return (f"{type(exc).__name__}: {exc}".strip().splitlines() or ["error"])[-1]


def _is_start_failure(exc: BaseException) -> bool:
    """nbclient/jupyter_client raise plain RuntimeError (or TimeoutError) when a kernel does not
    come up; DeadKernelError is a RuntimeError too, but only a start-up one counts here."""
    if isinstance(exc, KernelStartError):
        return True
    text = str(exc)
    return isinstance(exc, (RuntimeError, TimeoutError)) and any(s in text for s in _START_FAILURES)


class Kernel:
    """One worker's kernel, reused for up to `reuse` notebooks, each in a clean namespace.

    `ready(cwd)` starts it if needed (with retries and backoff) and resets it; a notebook that
    did not succeed retires the kernel (it may still be busy in a timed-out cell), so the next
    notebook gets a fresh one. `reuse=1` is the previous behaviour: a fresh kernel each time.
    """

    def __init__(self, root: str, reuse: int = KERNEL_REUSE) -> None:
        self.root = root
        self.reuse = max(1, reuse)
        self.km: Any = None
        self.used = 0
        self.starts = 0  # kernels started, retries included (tests and benchmarks read it)

    def _loop(self):
        from jupyter_core.utils import ensure_event_loop

        return ensure_event_loop()

    def _start_once(self) -> None:
        from jupyter_client.manager import AsyncKernelManager

        self.starts += 1
        km = AsyncKernelManager(kernel_name="python3")
        self.km = km
        self._loop().run_until_complete(
            km.start_kernel(extra_arguments=list(KERNEL_ARGS), cwd=self.root)
        )
        self.used = 0

    async def _execute(self, code: str, fresh: bool) -> None:
        """Run `code` silently and wait for its shell reply only (not for IOPub to go quiet:
        wait_for_ready spends 0.2 s on that, so only a fresh kernel is waited for)."""
        kc = self.km.client()
        kc.start_channels(iopub=False, stdin=False, hb=False, control=False)
        try:
            if fresh:
                await kc.wait_for_ready(timeout=KERNEL_START_TIMEOUT)
            msg_id = kc.execute(code, silent=True, store_history=False)
            deadline = time.monotonic() + KERNEL_START_TIMEOUT
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"Kernel didn't respond in {KERNEL_START_TIMEOUT:g} seconds")
                reply = await kc.get_shell_msg(timeout=left)
                if reply.get("parent_header", {}).get("msg_id") == msg_id:
                    break
        finally:
            kc.stop_channels()
        if reply["content"].get("status") != "ok":
            raise RuntimeError(f"kernel reset failed: {reply['content'].get('evalue', '')}")

    def ready(self, cwd: str) -> Any:
        """A started kernel manager whose kernel answered, was reset and is in `cwd`. One try:
        any failure is a KernelStartError (the caller retries with backoff)."""
        if self.km is not None and self.used >= self.reuse:
            self.shutdown()
        try:
            fresh = self.km is None
            if fresh:
                self._start_once()
            self._loop().run_until_complete(self._execute(_RESET.format(cwd=cwd), fresh))
        except Exception as exc:
            self.shutdown(now=True)
            raise KernelStartError(_last_line(exc)) from exc
        return self.km

    def done(self, ok: bool) -> None:
        """Count a notebook; retire the kernel after a failure or `reuse` notebooks."""
        self.used += 1
        if not ok or self.used >= self.reuse:
            self.shutdown(now=not ok)

    def shutdown(self, now: bool = False) -> None:
        km, self.km = self.km, None
        if km is None:
            return
        with contextlib.suppress(Exception):
            self._loop().run_until_complete(km.shutdown_kernel(now=now))
        with contextlib.suppress(Exception):  # connection file and ports of a failed shutdown
            pending = km.cleanup_resources()
            if asyncio.iscoroutine(pending):
                self._loop().run_until_complete(pending)


def _engine_name() -> str:
    """A papermill engine that runs the notebook on a kernel it is given (`km=`) and leaves it
    running, closing only its own client; registered once per process."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger

    name = "voicescount"
    if name in papermill_engines._engines:
        return name

    class GivenKernelEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(
            cls, nb_man, kernel_name, log_output=False, stdout_file=None, stderr_file=None,
            start_timeout=60, execution_timeout=None, km=None, **kwargs,
        ):  # fmt: skip
            kwargs.pop("input_path", None)
            client = PapermillNotebookClient(
                nb_man, km=km, timeout=execution_timeout, startup_timeout=start_timeout,
                kernel_name=kernel_name, log=logger, log_output=log_output,
                stdout_file=stdout_file, stderr_file=stderr_file, **kwargs,
            )  # fmt: skip
            try:
                return client.execute()
            finally:
                if client.kc is not None:
                    client.kc.stop_channels()

    papermill_engines.register(name, GivenKernelEngine)
    return name


# What a worker sends back per job: "ok", "failed" (the chapter) or "no-kernel" (never ran).
Outcome = tuple[str, str]


def _run_job(job: Job, root: str, timeout: float, kernel: Kernel) -> Outcome:
    """Execute one notebook on `kernel` in its staging folder and publish it atomically."""
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
    ok = False
    try:
        last: BaseException | None = None
        for delay in (0.0, *KERNEL_RETRY_DELAYS):
            if delay:
                time.sleep(delay)
            try:
                km = kernel.ready(str(stage.resolve()))
                pm.execute_notebook(
                    rel_in,
                    rel_tmp,
                    parameters=job.parameters,
                    cwd=relpath(stage, root),
                    execution_timeout=timeout,
                    start_timeout=KERNEL_START_TIMEOUT,
                    progress_bar=False,
                    log_output=False,
                    report_mode=False,
                    engine_name=_engine_name(),
                    km=km,
                )
                break
            except Exception as exc:
                if not _is_start_failure(exc):
                    raise
                last = exc  # no cell ran: a fresh kernel after the pause
                kernel.shutdown(now=True)
        else:
            n = 1 + len(KERNEL_RETRY_DELAYS)
            raise KernelStartError(
                f"the kernel did not start after {n} attempts: {_last_line(last)}"
            )
        nb = nbformat.read(tmp, as_version=4)
        nb.metadata.setdefault("papermill", {})["output_path"] = rel_out
        finalize_notebook(nb)
        nbformat.write(nb, tmp)
        written = _publish_outputs(job, stage)  # charts and tables first, then the notebook
        os.replace(tmp, job.output)
        atomic_write_text(outputs_record(job), json.dumps(written, indent=1))
        atomic_write_text(job.manifest_path, json.dumps(job.manifest, indent=1, sort_keys=True))
        failed_copy.unlink(missing_ok=True)
        ok = True
        return ("ok", "")
    except PapermillExecutionError as exc:
        where = _cell_report(tmp, exc.cell_index)
        last = (f"{exc.ename}: {exc.evalue}".strip().splitlines() or [exc.ename])[-1]
        os.replace(tmp, failed_copy)
        return (
            "failed",
            f"failed at {where}: {last} [partial output: {relpath(failed_copy, root)}]",
        )
    except Exception as exc:  # timeouts, kernel deaths, bad templates: report, never hang
        if _is_start_failure(exc):
            tmp.unlink(missing_ok=True)
            return ("no-kernel", str(exc))
        where = _cell_report(tmp, None) if tmp.exists() else "start-up"
        if isinstance(exc, TimeoutError):  # nbclient's per-cell limit (CellTimeoutError)
            last = f"the cell timed out after {timeout:g} s"
        else:
            last = (f"{type(exc).__name__}: {exc}".strip().splitlines() or ["error"])[-1]
        if tmp.exists():
            os.replace(tmp, failed_copy)
        return ("failed", f"failed at {where}: {last}")
    finally:
        kernel.done(ok)
        shutil.rmtree(stage, ignore_errors=True)


def _worker(root: str, timeout: float, reuse: int, conn: Connection) -> None:
    """Serve jobs from `conn` one at a time on one (reused) kernel, in its own process group;
    send an `Outcome` back for each; stop at None."""
    with contextlib.suppress(OSError):
        os.setsid()  # the guard can then kill this worker and its kernel together
    # The kernel's start-up chatter would tear the progress bar; failures come back via `conn`.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    kernel = Kernel(root, reuse)
    try:
        while True:
            try:
                job = conn.recv()
            except EOFError:
                break
            if job is None:
                break
            try:
                outcome = _run_job(job, root, timeout, kernel)
            except BaseException as exc:  # noqa: BLE001  (report, never hang the parent)
                outcome = ("failed", f"failed at start-up: {type(exc).__name__}: {exc}")
            conn.send(outcome)
    finally:
        kernel.shutdown()
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


def kernel_reuse() -> int:
    """Notebooks per kernel: VOICESCOUNT_KERNEL_REUSE (1 = a fresh kernel for every notebook,
    the previous behaviour), else KERNEL_REUSE."""
    raw = os.environ.get("VOICESCOUNT_KERNEL_REUSE", "").strip()
    if not raw:
        return KERNEL_REUSE
    try:
        return max(1, int(raw))
    except ValueError:
        raise ConfigError(
            f"VOICESCOUNT_KERNEL_REUSE={raw!r} is not a whole number.",
            field="VOICESCOUNT_KERNEL_REUSE",
            hint="Use 1 for a fresh kernel per notebook, or unset it.",
        ) from None


class _Slot:
    """A worker process (its own process group, with its kernel) and the job it is running."""

    def __init__(self, ctx: mp.context.BaseContext, root: str, timeout: float, reuse: int):
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker, args=(root, timeout, reuse, child), daemon=True)
        self.proc.start()
        child.close()
        self.job: Job | None = None
        self.deadline = 0.0

    def give(self, job: Job, timeout: float) -> None:
        self.conn.send(job)
        self.job = job
        self.deadline = time.monotonic() + timeout + GUARD_GRACE

    def stop(self) -> None:
        """Ask an idle worker to shut its kernel down and exit."""
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.proc.join(10)
        if self.proc.is_alive():
            _kill_group(self.proc)
            self.proc.join(5)
        self.conn.close()

    def kill(self) -> None:
        _kill_group(self.proc)
        self.conn.close()
        self.proc.join(5)


def _check_cycles(project: Project, jobs: list[Job]) -> None:
    """Stop before any notebook when a cycle's data fail validation (prepare.check_cycle)."""
    for iso, cyc in sorted({(j.iso, j.cycle) for j in jobs}):
        prepare.check_cycle(project, iso, cyc)


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

        tqdm.monitor_interval = 0
        bar = tqdm(total=len(todo), desc="notebooks", unit="nb", file=err, disable=not progress)
        ctx = _context()
        queue = list(todo)
        reuse = kernel_reuse()
        slots: list[_Slot] = []
        try:
            while queue or any(s.job for s in slots):
                for slot in [s for s in slots if s.job is None]:
                    if queue:
                        slot.give(queue.pop(0), timeout)
                    else:  # nothing left for it: let it shut its kernel down
                        slot.stop()
                        slots.remove(slot)
                while queue and len(slots) < workers:
                    slot = _Slot(ctx, str(project.root), timeout, reuse)
                    slots.append(slot)
                    slot.give(queue.pop(0), timeout)
                busy = [s for s in slots if s.job is not None]
                next_deadline = min(s.deadline for s in busy)
                ready = wait([s.conn for s in busy], max(0.0, next_deadline - time.monotonic()))
                now = time.monotonic()
                for slot in busy:
                    job = slot.job
                    if slot.conn in ready:
                        try:
                            kind, msg = slot.conn.recv()
                        except EOFError:
                            kind, msg = "failed", "the worker process died (out of memory?)"
                            slot.kill()
                            slots.remove(slot)
                        slot.job = None
                    elif now >= slot.deadline:
                        pid = slot.proc.pid
                        slot.kill()
                        slots.remove(slot)
                        partial = running_path(job, pid)
                        where = "start-up"
                        if partial.exists():
                            where = _cell_report(partial, None)
                            failed = job.output.parent / f".{job.output.stem}.failed.ipynb"
                            os.replace(partial, failed)
                        shutil.rmtree(staging_path(job, pid), ignore_errors=True)
                        kind, msg = "failed", f"timed out after {timeout:g} s at {where} (killed)"
                    else:
                        continue
                    if kind == "ok":
                        summary.executed.append(job)
                    elif kind == "no-kernel":
                        summary.no_kernel.append(Failure(job, msg))
                        bar.write(f"KERNEL DID NOT START {job.name}: {msg}", file=err)
                    else:
                        summary.failed.append(Failure(job, msg))
                        bar.write(f"FAILED {job.name}: {msg}", file=err)
                    bar.update(1)
        finally:
            for slot in slots:
                if slot.job is None:
                    slot.stop()
                    continue
                slot.kill()  # Ctrl-C: leave no kernel behind
                running_path(slot.job, slot.proc.pid).unlink(missing_ok=True)
                shutil.rmtree(staging_path(slot.job, slot.proc.pid), ignore_errors=True)
            bar.close()
    print(summary.line(), file=out, flush=True)
    return summary
