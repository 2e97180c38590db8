"""Provenance: which inputs, parameters and code made a page.

A reader of a published CGD report must be able to tell example data from real data and trace
every number back to the files and the code version that produced it; the runner uses the same
hashes to decide whether a notebook needs re-executing. Paths are always relative to the
project root, so nothing about the machine that built the book leaks into it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from . import __version__
from .i18n import is_machine_drafted, t
from .registry import Project

# Packages whose versions can change a number or a page; recorded on every page.
KEY_PACKAGES = (
    "pandas",
    "numpy",
    "scipy",
    "matplotlib",
    "papermill",
    "jupyter-book",
    "pydantic",
)

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks (exports can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def relpath(path: str | Path, root: str | Path) -> str:
    """`path` relative to `root`, POSIX-style, so records are the same on every machine."""
    return Path(os.path.relpath(Path(path).resolve(), Path(root).resolve())).as_posix()


def file_hashes(paths: Iterable[str | Path], root: str | Path | None = None) -> dict[str, str]:
    """SHA-256 per file, keyed by path (relative to `root` when given), sorted by key."""
    out = {}
    for p in paths:
        key = relpath(p, root) if root is not None else Path(p).as_posix()
        out[key] = sha256_file(p)
    return dict(sorted(out.items()))


@lru_cache(maxsize=1)
def source_fingerprint() -> str:
    """One hash over the package's own source files.

    The version number changes only at releases; a code edit between releases must still
    re-execute the notebooks, so the runner records this too.
    """
    pkg = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted(pkg.rglob("*")):
        if p.is_file() and p.suffix in {".py", ".yml", ".yaml", ".json", ".css", ".mplstyle"}:
            if "__pycache__" in p.parts:
                continue
            h.update(p.relative_to(pkg).as_posix().encode())
            h.update(b"\0")
            h.update(p.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


def package_versions(names: Iterable[str] = KEY_PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that shape the results ('not installed' if absent)."""
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def cycle_input_files(project: Project, iso: str, cycle: int | str) -> list[Path]:
    """Files a cycle's pages depend on: its own inputs and those of the country's earlier cycles.

    Trend chapters compare a cycle with the earlier ones, so an edit to 2020's data must
    re-execute 2022's and 2024's pages as well; a later cycle never affects an earlier one.
    """
    files: list[Path] = []
    for code, cyc in project.cycles(iso):
        if cyc < int(cycle):
            files += project.cycle_inputs(code, cyc)
    files += project.cycle_inputs(iso, cycle)
    seen: set[Path] = set()
    unique = []
    for f in files:
        if f not in seen:
            seen.add(f)
            unique.append(f)
    return unique


def all_cycle_input_files(project: Project, cycle: int | str) -> list[Path]:
    """Files a cross-country page (the synthesis) depends on: `cycle_input_files` of every
    country's cycles up to this cycle's year, the cycles such a page can read.

    A change to another country's data must re-execute the page; a later cycle never affects it.
    """
    files: list[Path] = []
    for code, cyc in project.cycles():
        if cyc <= int(cycle):
            files += project.cycle_inputs(code, cyc)
    return list(dict.fromkeys(files))


# What a page reads, as chapters.yml declares it per chapter (`inputs:`), see runner.py.
INPUT_SCOPES = ("cycle", "all")


def input_files(project: Project, iso: str, cycle: int | str, scope: str = "cycle") -> list[Path]:
    """The files a page of (iso, cycle) reads in a chapters.yml `inputs` scope: `cycle`
    (`cycle_input_files`) or `all` (`all_cycle_input_files`, every country's cycles), the
    same lists the runner hashes into the page's manifest."""
    if scope == "cycle":
        return cycle_input_files(project, iso, cycle)
    if scope == "all":
        return all_cycle_input_files(project, cycle)
    raise ValueError(f"unknown inputs scope {scope!r}; expected one of {INPUT_SCOPES}")


def provenance_record(
    project: Project,
    iso: str,
    cycle: int | str,
    lang: str,
    params: Mapping[str, Any],
    inputs: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Everything needed to say how a page was made: inputs with hashes, parameters, versions.

    `params["inputs"]` (default `cycle`) is the page's chapters.yml scope: a cross-country page
    (`inputs: all`, the synthesis) passes `"all"` so that every file it reads is listed, as
    its manifest hashes them, not only its own country's. `inputs` are hashes already
    recorded for the `cycle` scope (the cycle store's provenance record), so a page does not
    hash the files again; they are ignored for another scope.
    """
    scope = str(params.get("inputs", "cycle"))
    if inputs is None or scope != "cycle":
        inputs = file_hashes(input_files(project, iso, cycle, scope), root=project.root)
    return {
        "country": iso,
        "cycle": int(cycle),
        "lang": lang,
        "inputs": dict(sorted(inputs.items())),
        "parameters": dict(sorted(params.items())),
        "voicescount": __version__,
        "source": source_fingerprint(),
        "packages": package_versions(),
    }


# --------------------------------------------------------------------------- page notices

# Notices are given in the page's language (locales/<lang>.yml, notice.*), so everyone the page
# is for can read them; a page in a machine-drafted language also says its wording awaits review.


def page_notices(project: Project, iso: str, cycle: int | str, lang: str) -> list[dict[str, str]]:
    """The notices a page of this cycle opens with, as data (the page layer words and renders
    them): `synthetic` when cycle.yml says `synthetic: true`, `machine-drafted` when the page's
    language is marked so in its catalogue. Each: name, kind (admonition class), title, body."""
    out = []
    if project.cycle(iso, cycle).synthetic:
        out.append({"name": "synthetic", "kind": "warning",
                    "title": t("notice.synthetic_title", lang),
                    "body": t("notice.synthetic_text", lang)})  # fmt: skip
    if is_machine_drafted(lang):
        out.append({"name": "machine-drafted", "kind": "note",
                    "title": t("notice.machine_drafted_title", lang),
                    "body": t("notice.machine_drafted_text", lang)})  # fmt: skip
    return out
