"""Provenance: which inputs, parameters and code made a page.

A reader of a published CGD report must be able to tell example data from real data and trace
every number back to the files and the code version that produced it; the runner uses the same
hashes to decide whether a notebook needs re-executing. Paths are always relative to the
project root, so nothing about the machine that built the book leaks into it.
"""

from __future__ import annotations

import hashlib
import html
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


# --------------------------------------------------------------------------- page header

# Notices are given in the page's language (locales/<lang>.yml, notice.*), so everyone the page
# is for can read them; a page in a machine-drafted language also says its wording awaits review.


class PageHeader:
    """A page's header as a display object: the notebook shows it, Jupyter Book renders it.

    HTML is used (not Markdown) so the collapsed <details> block renders the same in
    Jupyter, in the book and in exported HTML, without MyST parsing the provenance text.
    """

    def __init__(self, html_text: str, plain: str) -> None:
        self.html = html_text
        self.plain = plain

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.plain


def page_header(
    project: Project,
    iso: str,
    cycle: int | str,
    lang: str,
    params: Mapping[str, Any] | None = None,
    inputs: Mapping[str, str] | None = None,
) -> PageHeader:
    """Synthetic-data notice (if cycle.yml says `synthetic: true`) and a collapsed provenance block.

    The block lists the inputs of the page's scope: `params={..., "inputs": "all"}` for a page
    that reads every country (see `provenance_record`); `inputs`: hashes already recorded
    for the `cycle` scope (the cycle store's record).
    """
    cyc = project.cycle(iso, cycle)
    if params is None:
        params = {"country": iso, "cycle": int(cycle), "lang": lang}
    rec = provenance_record(project, iso, cycle, lang, params, inputs)
    parts: list[str] = []
    plain: list[str] = []
    if cyc.synthetic:
        title, body = t("notice.synthetic_title", lang), t("notice.synthetic_text", lang)
        parts.append(
            '<div class="admonition warning voicescount-synthetic" role="note">'
            f'<p class="admonition-title">{html.escape(title)}</p>'
            f"<p>{html.escape(body)}</p></div>"
        )
        plain.append(f"{title}: {body}")
    if is_machine_drafted(lang):
        title, body = (
            t("notice.machine_drafted_title", lang),
            t("notice.machine_drafted_text", lang),
        )
        parts.append(
            '<div class="admonition note voicescount-machine-drafted" role="note">'
            f'<p class="admonition-title">{html.escape(title)}</p>'
            f"<p>{html.escape(body)}</p></div>"
        )
        plain.append(f"{title}: {body}")
    rows = "".join(
        # the full digest, so a reader can check a file with `sha256sum`
        f"<tr><td><code>{html.escape(path)}</code></td>"
        f'<td><code style="word-break:break-all">{digest}</code></td></tr>'
        for path, digest in rec["inputs"].items()
    )
    param_text = ", ".join(f"{k}={v!r}" for k, v in rec["parameters"].items())
    pkg_text = ", ".join(f"{k} {v}" for k, v in rec["packages"].items())
    summary = t("notice.provenance_title", lang)
    # the message is escaped before the code-formatted values go in
    made = html.escape(t("notice.provenance_made", lang)).format(
        version=html.escape(rec["voicescount"]),
        source=f"<code>{rec['source'][:12]}</code>",
        parameters=f"<code>{html.escape(param_text)}</code>",
    )
    parts.append(
        '<details class="voicescount-provenance">'
        f"<summary>{html.escape(summary)}</summary>"
        f"<p>{made}</p>"
        f"<p>{html.escape(pkg_text)}</p>"
        f"<table><thead><tr><th>{html.escape(t('notice.provenance_input_file', lang))}</th>"
        f"<th>SHA-256</th></tr></thead><tbody>{rows}</tbody></table></details>"
    )
    plain.append(
        t(
            "notice.provenance_plain",
            lang,
            title=summary,
            n=len(rec["inputs"]),
            parameters=param_text,
        )
    )
    return PageHeader("\n".join(parts), "\n".join(plain))
