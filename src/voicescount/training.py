"""The handbook's generated reference tables, its executable examples, and the training kit.

Why this module exists: the handbook must never drift from the code. Its tables of the data
contract, the `cycle.yml` fields, the command line and the validation errors are generated
here from the code itself (`write_reference_tables`), and a test fails when the committed
files are stale. Its worked examples and the training exercises are notebooks that call the
same `voicescount` functions as the report; `execute_handbook` runs the examples in place
before the book is built (the book is built with execution off), and `build_kit` turns each
training session's exercise notebook into a participant copy (no solutions, no outputs), a
trainer copy (executed) and reveal.js slides.

Notebook conventions (training/*-exercise.ipynb): cells tagged `solution` hold the answers and
are removed from participant copies; cells tagged `hint` stay. Each exercise has an `answer`
cell (where the participant writes) and a `check` cell calling `check(exercise_id, value)`;
the three carry the exercise id in their `exercise` metadata. Markdown cells of slide type
`notes` are the trainer's speaker notes: in the slides, not in the participant copy. Slide
types come from the `slideshow` cell metadata, as nbconvert's SlidesExporter expects. The kit
carries its own copy of the example cycle (`copy_example_project`); the notebooks find it
with `find_project`, so the kit works from any folder and as an unzipped download.
"""

from __future__ import annotations

import argparse
import ast
import codecs
import copy
import csv
import io
import json
import os
import re
import shutil
import typing
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pandas as pd

from . import derive, disclosure, intake, stats, validate
from .commands import build_parser, subparsers
from .contract import contract_table, load_contract
from .errors import ConfigError
from .prepare import design_for, prepare_cycle
from .registry import (
    CitizenData,
    Cycle,
    DesignSpec,
    Fieldwork,
    FormSource,
    Instrument,
    NonResponse,
    Project,
    Replication,
    Trim,
    Weighting,
)

HANDBOOK = "handbook"
GENERATED = "_generated"
EXAMPLES = "examples"
TRAINING = "training"
SOLUTION_TAG = "solution"
HINT_TAG = "hint"


# --------------------------------------------------------------------------- markdown tables


def _cell_text(value: object) -> str:
    """One table cell: no newlines; pipes and angle brackets escaped (they split or hide text)."""
    text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    text = " ".join(text.split()).replace("|", "\\|")
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    # "{{" starts a MyST substitution; an entity for the first brace shows it literally.
    return text.replace("{{", "&#123;{").replace("}}", "&#125;}")


def markdown_table(df: pd.DataFrame, code_columns: tuple[str, ...] = ()) -> str:
    """A MyST pipe table; columns in `code_columns` are shown as inline code."""
    head = "| " + " | ".join(_cell_text(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    lines = [head, rule]
    for row in df.itertuples(index=False):
        cells = []
        for col, val in zip(df.columns, row, strict=True):
            text = _cell_text(val)
            if col in code_columns and text:
                # Inside code, entities are shown literally: keep the angle brackets.
                text = text.replace("&lt;", "<").replace("&gt;", ">")
                text = "`" + text.replace("&#123;", "{").replace("&#125;", "}") + "`"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- cycle.yml fields

# Plain-language notes for model fields that carry no `description` in registry.py. The
# model's own description always wins; `test_training` fails if a note names a field that no
# longer exists, so this list cannot silently outlive the schema.
FIELD_NOTES: dict[tuple[str, str], str] = {
    ("Cycle", "country"): "ISO 3166-1 alpha-2 code of the country, e.g. VN; must match the folder",
    ("Cycle", "cycle"): "the survey year, e.g. 2022; must match the folder name",
    ("Cycle", "title"): "title of the cycle per language",
    ("Cycle", "languages"): "languages of the report for this cycle; each must be listed for the "
    "country in countries.yml",
    ("Cycle", "sdgs"): "the SDGs (1-17) the cycle reports on",
    ("Cycle", "fieldwork"): "first and last day of data collection",
    ("Cycle", "instruments"): "the questionnaires of the cycle, by key (e.g. adults, cso, "
    "children); see the instrument fields below",
    ("Cycle", "design"): "survey design variables; see the design fields below",
    ("Cycle", "qualitative"): "coded qualitative segments (CSV), relative to the cycle folder",
    ("Cycle", "activities"): "focus groups, interviews and dialogues held (CSV)",
    ("Cycle", "scorecards"): "community score card scores (CSV)",
    ("Cycle", "recommendations"): "recommendations and their status (CSV)",
    ("Instrument", "label"): "name of the questionnaire per language",
    ("Instrument", "format"): "export format; 'auto' detects it from the file",
    ("Instrument", "sheet"): "worksheet holding the data, for Excel exports with several sheets",
    ("Instrument", "encoding"): "text encoding of a CSV export, when it is not UTF-8",
    ("Instrument", "values"): "whether the export holds answer codes ('xml') or answer labels "
    "('labels')",
    ("Instrument", "min_duration_minutes"): "interviews shorter than this are quarantined",
    ("Instrument", "max_duration_minutes"): "interviews longer than this get a warning",
    ("DesignSpec", "weight"): "contract column holding the design weight; null for equal weights",
    ("DesignSpec", "strata"): "contract column holding the stratum; null for no strata",
    ("DesignSpec", "psu"): "contract column holding the primary sampling unit; null when "
    "respondents were selected individually",
    ("Fieldwork", "start"): "first day of fieldwork (YYYY-MM-DD)",
    ("Fieldwork", "end"): "last day of fieldwork (YYYY-MM-DD)",
}

CYCLE_MODELS = (("", Cycle), ("instruments.<key>.", Instrument), ("design.", DesignSpec))
CYCLE_MODELS += (("instruments.<key>.source.", FormSource),)
CYCLE_MODELS += (("fieldwork.", Fieldwork), ("weighting.", Weighting))
CYCLE_MODELS += (("weighting.trim.", Trim), ("weighting.nonresponse.", NonResponse))
CYCLE_MODELS += (("design.replicates.", Replication),)
CYCLE_MODELS += (("citizen_data.", CitizenData),)


def _type_name(annotation: object) -> str:
    """A short, readable type: 'list of int', 'text or null', 'one of: a, b'."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return "one of: " + ", ".join(str(a) for a in args)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        parts = [_type_name(a) for a in args if a is not type(None)]
        text = " or ".join(parts)
        return text + " or null" if type(None) in args else text
    if origin is list:
        return "list of " + _type_name(args[0]) if args else "list"
    if origin is dict:
        return "mapping"
    if origin is tuple:
        return "pair of numbers"
    names = {str: "text", int: "integer", float: "number", bool: "true/false"}
    if annotation in names:
        return names[annotation]
    return getattr(annotation, "__name__", str(annotation))


def cycle_fields_table() -> pd.DataFrame:
    """Every `cycle.yml` field from the pydantic models: path, type, required/default, meaning."""
    rows = []
    for prefix, model in CYCLE_MODELS:
        for name, info in model.model_fields.items():
            key = info.alias or name
            required = info.is_required()
            default = "" if required else info.get_default(call_default_factory=True)
            if isinstance(default, DesignSpec):
                default = ""
            note = info.description or FIELD_NOTES.get((model.__name__, name), "")
            rows.append(
                {
                    "field": prefix + key,
                    "type": _type_name(info.annotation),
                    "required": "yes" if required else "no",
                    "default": "" if default in ("", None, [], {}) else str(default),
                    "meaning": note,
                }
            )
    return pd.DataFrame(rows, columns=["field", "type", "required", "default", "meaning"])


# --------------------------------------------------------------------------- CLI reference


def cli_table() -> pd.DataFrame:
    """Every subcommand and option of `voicescount`, from its argparse parser (`commands`)."""
    parser = build_parser()
    rows = []

    def options(p: argparse.ArgumentParser, command: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            flags = ", ".join(action.option_strings) or action.dest
            if action.metavar and action.option_strings:
                flags += f" {action.metavar}"
            rows.append({"command": command, "option": flags, "meaning": action.help or ""})

    options(parser, "voicescount")
    action = subparsers(parser)
    helps = {a.dest: a.help for a in action._choices_actions}
    for name, sub in action.choices.items():
        rows.append(
            {"command": f"voicescount {name}", "option": "", "meaning": helps.get(name, "")}
        )
        options(sub, f"voicescount {name}")
    return pd.DataFrame(rows, columns=["command", "option", "meaning"])


# --------------------------------------------------------------------------- errors reference


def _literal_text(node: ast.AST | None) -> str:
    """The text of a string or f-string node; placeholders become {expression}."""
    if node is None:
        return ""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        out = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                out.append(str(part.value))
            elif isinstance(part, ast.FormattedValue):
                # A name reads as a placeholder; a computed expression would read as code.
                simple = isinstance(part.value, ast.Name | ast.Attribute | ast.Subscript)
                out.append("{" + ast.unparse(part.value) + "}" if simple else "…")
        return "".join(out)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal_text(node.left) + _literal_text(node.right)
    return "{" + ast.unparse(node) + "}"


def raised_errors(path: Path, names: tuple[str, ...] = ("InputError",)) -> pd.DataFrame:
    """Every `raise <Name>(problem, ..., hint=...)` in a module: the message and its hint.

    Read from the source with `ast`, so the handbook lists what the code really raises.
    """
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    rows = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Raise) or not isinstance(node.exc, ast.Call):
            continue
        func = node.exc.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name not in names:
            continue
        problem = _literal_text(node.exc.args[0]) if node.exc.args else ""
        hint = next((_literal_text(k.value) for k in node.exc.keywords if k.arg == "hint"), "")
        rows.append({"line": node.lineno, "error": name, "problem": problem, "fix": hint})
    rows.sort(key=lambda r: r["line"])
    return pd.DataFrame(rows, columns=["line", "error", "problem", "fix"]).drop(columns="line")


# Severity of each validation rule in validate.HINTS (an error quarantines the row). The test
# checks these keys equal validate.HINTS, so a new rule cannot go undocumented.
RULE_SEVERITY = {
    "type": "error",
    "allowed_codes": "error",
    "range": "error",
    "required_value": "error",
    "consent": "error",
    "duplicate_id": "error",
    "duplicate_submission": "error",
    "duration_short": "error",
    "duration_long": "warning",
    "duration_negative": "warning",
    "not_approved": "error",
    "on_hold": "warning",
}


def validation_rules_table() -> pd.DataFrame:
    """Row-level validation rules with severity and fix, from `voicescount.validate`."""
    rows = [
        # HINTS are str.format templates: show "{{" as the "{" the analyst will see.
        {
            "rule": rule,
            "severity": RULE_SEVERITY.get(rule, ""),
            "fix": hint.replace("{{", "{").replace("}}", "}"),
        }
        for rule, hint in validate.HINTS.items()
    ]
    rows += [
        {"rule": r.id, "severity": r.severity, "fix": r.hint} for r in validate.DEFAULT_SKIP_RULES
    ]
    return pd.DataFrame(rows, columns=["rule", "severity", "fix"])


# --------------------------------------------------------------------------- write them all


def reference_tables(project: Project) -> dict[str, str]:
    """File name (under handbook/_generated/) -> MyST text of each generated table."""
    contract = load_contract(project.data_dir)
    src = Path(__file__).resolve().parent
    inputs = pd.concat(
        [raised_errors(src / "intake.py"), raised_errors(src / "validate.py")], ignore_index=True
    )
    header = "<!-- generated by voicescount.training.write_reference_tables; do not edit -->\n\n"
    tables = {
        "contract_columns.inc": markdown_table(contract_table(contract, "en"), ("column",)),
        "contract_derived.inc": markdown_table(
            contract_table(contract, "en", derived=True), ("column",)
        ),
        "cycle_fields.inc": markdown_table(cycle_fields_table(), ("field",)),
        "cli.inc": markdown_table(cli_table(), ("command", "option")),
        "input_errors.inc": markdown_table(inputs, ("error",)),
        "validation_rules.inc": markdown_table(validation_rules_table(), ("rule",)),
    }
    return {name: header + text for name, text in tables.items()}


def write_reference_tables(project: Project) -> list[Path]:
    """Write the generated tables the handbook includes; only files whose text changed."""
    out_dir = project.root / HANDBOOK / GENERATED
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in reference_tables(project).items():
        path = out_dir / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


# --------------------------------------------------------------------------- example data


def load_example(
    project: Project, iso: str = "VN", cycle: int = 2022, instrument: str = "adults"
) -> pd.DataFrame:
    """One instrument of a cycle: clean rows with derived, indicator and `weight_final` columns.

    The worked examples and exercises start here so that a notebook cell is one call. It is
    the report's own prepared data (`prepare.prepare_cycle`: intake, validation, derivation,
    weighting), cached in build/, so a notebook sees exactly the report's numbers and a
    second call costs a parquet read instead of a full intake.
    """
    return prepare_cycle(project, iso, cycle).data(instrument)


def design_of(project: Project, iso: str = "VN", cycle: int = 2022, instrument: str = "adults"):
    """The `stats.Design` the report uses for an instrument: the strata and PSUs declared in
    `cycle.yml`, with the final (raked and trimmed) weight `weight_final`."""
    return design_for(project.cycle(iso, cycle), instrument)


# --------------------------------------------------------------------------- execution


def _execute(nb, cwd: Path, timeout: int):
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
        # a loaded machine (the test suite's workers, a training room's laptop) can take more
        # than nbclient's default 60 s to start a kernel
        startup_timeout=max(60, timeout),
    )
    client.execute()
    return nb


def example_notebooks(project: Project) -> list[Path]:
    return sorted((project.root / HANDBOOK / EXAMPLES).glob("*.ipynb"))


def execute_handbook(project: Project, timeout: int = 600) -> list[Path]:
    """Execute the handbook's example notebooks in place (cwd = the notebook's folder).

    The book is built with execution off, so this runs before the build to put computed
    numbers into the examples. A failing cell raises nbclient's CellExecutionError.
    """
    done = []
    for path in example_notebooks(project):
        nb = nbformat.read(path, as_version=4)
        _execute(nb, path.parent, timeout)
        nbformat.write(nb, path)
        done.append(path)
    return done


# --------------------------------------------------------------------------- training kit


@dataclass(frozen=True)
class Session:
    """One training session: its id (file stem), title and exercise notebook."""

    id: str
    title: str
    notebook: Path


def list_sessions(project: Project) -> list[Session]:
    """The training sessions, in order, from handbook/training/*-exercise.ipynb."""
    out = []
    for path in sorted((project.root / HANDBOOK / TRAINING).glob("*-exercise.ipynb")):
        nb = nbformat.read(path, as_version=4)
        title = _title(nb) or path.stem
        out.append(Session(id=path.stem.removesuffix("-exercise"), title=title, notebook=path))
    return out


def _title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, flags=re.M)
            if m:
                return m.group(1).strip()
    return ""


def _is_notes(cell) -> bool:
    meta = cell.get("metadata", {})
    return meta.get("slideshow", {}).get("slide_type") == "notes" or NOTES_TAG in meta.get(
        "tags", []
    )


def participant_copy(nb, notes: bool = False):
    """A copy without `solution` cells and with every output and execution count cleared.

    The trainer's speaker notes are dropped too, unless `notes` (the slides keep them, where
    reveal.js shows them only in the speaker view).
    """
    out = copy.deepcopy(nb)
    out.cells = [
        c
        for c in out.cells
        if SOLUTION_TAG not in c.get("metadata", {}).get("tags", []) and (notes or not _is_notes(c))
    ]
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return out


# Offline slides. nbconvert's reveal template loads reveal.js, RequireJS (which loads reveal.js)
# and jQuery from CDNs, so a trainer without internet gets blank slides. `make slides-assets`
# fetches those three from the npm registry into build/slides-assets/ (never committed); given
# that folder, `build_kit` copies it into the kit as _slides/ and points every session's slides
# at it, so the kit can be presented from a USB stick. MathJax and mermaid (the template loads
# them too; the sessions use neither) are replaced by inline stand-ins.
SLIDES_ASSETS = Path("build") / "slides-assets"
SLIDES_KIT_DIR = "_slides"
SLIDES_FILES = (
    "reveal.js/dist/reveal.js",
    "reveal.js/dist/reveal.css",
    "reveal.js/dist/theme/simple.css",  # nbconvert's default reveal theme
    "reveal.js/plugin/notes/notes.js",
    "require.js",
    "jquery.min.js",
)
_NO_MATHJAX = (
    "data:text/javascript,window.MathJax=window.MathJax||{Hub:{getAllJax:function(){return[]},"
    "Rerender:function(){},Queue:function(){},Config:function(){}}};"
)
_NO_MERMAID = "data:text/javascript,export default {initialize(){}};"
_WEB_FONT_IMPORT = re.compile(r"^@import url\(https?://[^)]*\);[ \t]*\n?", flags=re.M)


def slides_html(nb, assets_url: str | None = None) -> str:
    """reveal.js slides of a notebook (nbconvert SlidesExporter; slide types from metadata).

    With `assets_url` (the URL of a copied assets folder, relative to the slides file) every
    script and style sheet comes from that folder instead of a CDN.
    """
    from nbconvert import SlidesExporter

    exporter = SlidesExporter()
    if assets_url:
        exporter.reveal_url_prefix = f"{assets_url}/reveal.js"
        exporter.require_js_url = f"{assets_url}/require.js"
        exporter.jquery_url = f"{assets_url}/jquery.min.js"
        exporter.mathjax_url = _NO_MATHJAX
        exporter.mermaid_js_url = _NO_MERMAID
    body, _ = exporter.from_notebook_node(nb)
    return body


def copy_slides_assets(src: str | Path, kit_dir: str | Path) -> Path:
    """Copy the offline slides assets (`make slides-assets`) to `kit_dir`/_slides/.

    A missing file is a ConfigError naming it: slides without it would stay blank. The
    themes' web-font imports are dropped from the copies (offline they fail anyway and the
    slides use the system's fonts), so opening the kit requests nothing outside it.
    """
    src = Path(src)
    missing = [f for f in SLIDES_FILES if not (src / f).is_file()]
    if missing:
        what = "does not exist" if not src.is_dir() else f"lacks {', '.join(missing)}"
        raise ConfigError(
            f"the offline slides assets folder {what}.",
            path=src,
            hint="Fetch the assets with `make slides-assets` (needs npm and internet once), or "
            "leave out --slides-assets to load reveal.js from the internet.",
        )
    dest = Path(kit_dir) / SLIDES_KIT_DIR
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".*"))  # not make's stamp
    for css in (dest / "reveal.js" / "dist" / "theme").glob("*.css"):
        text = css.read_text(encoding="utf-8")
        css.write_text(_WEB_FONT_IMPORT.sub("", text), encoding="utf-8")
    return dest


def build_kit(
    project: Project,
    out_dir: str | Path,
    sessions: list[str] | None = None,
    timeout: int = 600,
    execute: bool = True,
    slides_assets: str | Path | None = None,
    zip_path: str | Path | list[Path] | None = None,
) -> list[Path]:
    """Write per session: participant.ipynb, trainer.ipynb (executed) and slides.html.

        The slides are made from the participant copy (no solutions) with the trainer's notes as
        reveal.js speaker notes. The kit gets its own copy of the example cycle and the marker
        `find_project` looks for; with `zip_path` (one path or several) it is also written as a zip
    there.

        `sessions` selects session ids (default: all). The trainer copy is executed with the
        session's own folder as working directory, so relative paths work as in the handbook.
        With `slides_assets` (see `SLIDES_ASSETS`) the slides work offline: the assets are copied
        to `out_dir`/_slides/ and loaded from there. Returns the folders written, one per session.
    """
    out_dir = Path(out_dir)
    chosen = list_sessions(project)
    if sessions is not None:
        known = {s.id for s in chosen}
        unknown = [s for s in sessions if s not in known]
        if unknown:
            raise ConfigError(
                f"unknown training session(s): {', '.join(unknown)} "
                f"(known: {', '.join(sorted(known))}).",
                hint="Use a session id from handbook/training/, e.g. 01-cgd-quality.",
            )
        chosen = [s for s in chosen if s.id in sessions]
    assets_url = None
    if slides_assets is not None:
        copy_slides_assets(slides_assets, out_dir)
        assets_url = f"../{SLIDES_KIT_DIR}"  # slides.html sits in out_dir/<session>/
    copy_example_project(project, out_dir)
    written = []
    for s in chosen:
        nb = nbformat.read(s.notebook, as_version=4)
        folder = out_dir / s.id
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(participant_copy(nb), folder / "participant.ipynb")
        trainer = copy.deepcopy(nb)
        if execute:
            _execute(trainer, s.notebook.parent, timeout)
        nbformat.write(trainer, folder / "trainer.ipynb")
        slides = slides_html(participant_copy(nb, notes=True), assets_url)
        (folder / "slides.html").write_text(slides, encoding="utf-8")
        written.append(folder)
    for path in [zip_path] if isinstance(zip_path, str | Path) else zip_path or []:
        zip_kit(out_dir, path)
    return written


# --------------------------------------------------------------------------- the kit's project

# A kit must work wherever `--out` puts it and wherever a participant unzips it, so it carries
# its own copy of the example cycle's inputs (the synthetic VN 2022 exports and side files,
# with the catalogues they need) and a marker file naming that copy. `find_project` looks for
# the marker above the notebook, so no cell depends on the folder the kit was written to.
KIT_MARKER = "voicescount-kit.json"
KIT_PROJECT = "example-project"
PROJECT_ENV = "VOICESCOUNT_PROJECT"
KIT_CYCLE = ("VN", 2022)


def find_project(start: str | Path | None = None) -> Project:
    """The project a training notebook works on, found without assuming the kit's location.

    In order: the folder named by the environment variable VOICESCOUNT_PROJECT; the kit's own
    example project, named by the `voicescount-kit.json` marker in the notebook's folder or
    one above it; a project folder (one holding data/countries.yml) above it, which is how the
    handbook's own copies in handbook/training/ find the repository.
    """
    env = os.environ.get(PROJECT_ENV)
    if env:
        return Project(env)
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        marker = folder / KIT_MARKER
        if marker.is_file():
            rel = json.loads(marker.read_text(encoding="utf-8")).get("project", KIT_PROJECT)
            return Project(folder / rel)
        if (folder / "data" / "countries.yml").is_file():
            return Project(folder)
    raise ConfigError(
        "cannot find the example project for the training notebooks.",
        path=here,
        hint=f"Open the notebook from inside the training kit folder (the one holding "
        f"{KIT_MARKER}), or set {PROJECT_ENV} to the project folder.",
    )


def copy_example_project(project: Project, kit_dir: str | Path) -> Path:
    """Copy the example cycle's inputs into the kit and write the kit's marker file.

    Only what the sessions read: the catalogues (data/*.yml), the country's population margins
    and official series, and the one example cycle. Its data are synthetic; the report's
    disclosure rules (data/rules.yml) travel with them, so the kit suppresses what the report
    suppresses.
    """
    iso, cycle = KIT_CYCLE
    kit_dir = Path(kit_dir)
    dest = kit_dir / KIT_PROJECT
    shutil.rmtree(dest, ignore_errors=True)
    data = dest / "data"
    (data / iso).mkdir(parents=True)
    for f in project.data_dir.glob("*.yml"):
        shutil.copy2(f, data / f.name)
    for f in (project.data_dir / iso).glob("*.*"):
        shutil.copy2(f, data / iso / f.name)
    official = project.data_dir / "official" / iso
    if official.is_dir():
        shutil.copytree(official, data / "official" / iso)
    shutil.copytree(project.cycle_dir(iso, cycle), data / iso / str(cycle))
    deidentify_exports(project, iso, cycle, data / iso / str(cycle))
    marker = {"project": KIT_PROJECT, "cycle": f"{iso} {cycle}"}
    (kit_dir / KIT_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    (kit_dir / "README.md").write_text(KIT_README, encoding="utf-8")
    return dest


def deidentify_exports(project: Project, iso: str, cycle: int, cycle_copy: Path) -> list[str]:
    """Blank, in the kit's copy of the raw exports, every column intake removes as personal
    data (declared identifiers, GPS and device meta): the kit is published with the book, and
    nothing published may hold identifiers, even synthetic ones. The columns stay (empty),
    so the kit's intake, validation and numbers are the report's. Returns the blanked headers.
    """
    cyc = project.cycle(iso, cycle)
    blanked: list[str] = []
    for name in sorted(cyc.instruments):
        inst = cyc.instruments[name]
        removed = set(intake.read_instrument(project, cyc, name).removed_identifiers)
        path = cycle_copy / inst.data
        if not removed or not path.is_file():
            continue
        suffix = path.suffix.lower()
        if suffix in (".xlsx", ".xlsm"):
            import openpyxl

            wb = openpyxl.load_workbook(path)
            for ws in wb.worksheets:
                header = [c.value for c in next(ws.iter_rows(min_row=1, max_row=1), [])]
                cols = [i + 1 for i, h in enumerate(header) if h in removed]
                for row in ws.iter_rows(min_row=2):
                    for i in cols:
                        row[i - 1].value = None
            wb.save(path)
        elif suffix in (".csv", ".txt"):
            raw = path.read_bytes()
            enc = inst.encoding or "utf-8"
            bom = raw.startswith(codecs.BOM_UTF8)
            text = raw.decode("utf-8-sig" if bom else enc)
            newline = "\r\n" if "\r\n" in text[:10000] else "\n"
            delim = csv.Sniffer().sniff(text[:10000], delimiters=",;\t|").delimiter
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim))
            cols = [i for i, h in enumerate(rows[0]) if h in removed]
            for r in rows[1:]:
                for i in cols:
                    if i < len(r):
                        r[i] = ""
            buf = io.StringIO(newline="")
            csv.writer(buf, delimiter=delim, lineterminator=newline).writerows(rows)
            path.write_bytes(buf.getvalue().encode("utf-8-sig" if bom else enc))
        elif suffix in (".sav", ".zsav"):
            import pyreadstat

            df, meta = pyreadstat.read_sav(str(path))
            for c in df.columns:
                if c in removed:
                    df[c] = "" if df[c].dtype == object else float("nan")
            pyreadstat.write_sav(
                df,
                str(path),
                column_labels=meta.column_names_to_labels,
                variable_value_labels=meta.variable_value_labels,
            )
        else:
            raise ConfigError(
                f"cannot remove personal data from {path.name} for the training kit "
                f"(format {suffix}).",
                path=path,
                hint="Use an xlsx, csv or sav export for the kit's example cycle.",
            )
        blanked += sorted(removed)
    return blanked


KIT_README = """# voicescount training kit

One folder per session: `participant.ipynb` (hand it out), `trainer.ipynb` (with solutions,
keep it) and `slides.html` (press S in the slides for the speaker notes).

The notebooks need Python with the voicescount package installed (the repository's
`make setup` does it). They read the synthetic example cycle in `example-project/`, found
through `voicescount-kit.json`, so the folder can be copied or unzipped anywhere; set
VOICESCOUNT_PROJECT to use another project. Each exercise has an answer cell (replace `...`)
and a check cell that says whether the answer is right and gives a hint if not.
"""


def zip_kit(kit_dir: str | Path, zip_path: str | Path) -> Path:
    """The kit as one zip (the training pages offer it): everything but cached build files."""
    kit_dir, zip_path = Path(kit_dir), Path(zip_path)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_name(zip_path.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(kit_dir.rglob("*")):
            rel = path.relative_to(kit_dir)
            if path.is_dir() or "build" in rel.parts or ".ipynb_checkpoints" in rel.parts:
                continue
            zf.write(path, Path(kit_dir.name) / rel)
    tmp.replace(zip_path)
    return zip_path


# The training index page links the zip as `training-kit.zip`, beside itself, so the link
# resolves wherever the book puts the page (the root of _build/html or an edition's folder).
BOOK_KIT_ZIP = "training-kit.zip"


def book_zip_paths(project: Project) -> list[Path]:
    """Where the zip goes in the built book: beside every built training index page.

    A ConfigError when the book has not been built, since the link would then lead nowhere.
    """
    html = project.root / "_build" / "html"
    pages = sorted(html.glob(f"**/{HANDBOOK}/{TRAINING}/index.html"))
    if not pages:
        raise ConfigError(
            "the book has no training pages to put the kit's zip beside.",
            path=html,
            hint="Build the book first (`voicescount all` or `voicescount build`), then run "
            "`voicescount training --into-book`; or give the zip's place with --zip FILE.",
        )
    return [p.parent / BOOK_KIT_ZIP for p in pages]


def published(est: pd.DataFrame, project: Project | None = None, population: str = "adults"):
    """An estimate table as the report publishes it: caution flags and suppressed cells.

    The report's disclosure rules (`disclosure.apply` with data/rules.yml): a cell of fewer
    than `suppress_min_n` people, and any cell it could be recovered from, has its estimate
    blanked. The kit prints estimates through this, so it never shows what the report hides.
    """
    project = project or find_project()
    return disclosure.apply(est, project.rules, population)


# --------------------------------------------------------------------------- exercise checks

# Every exercise has an answer cell (tagged `answer`, `exercise` metadata = its id) in which
# the participant assigns the variable `Exercise.answer`, and a check cell calling
# `check(id, variable)`. The checkers compute the right answer themselves and say only what
# is wrong and where to look, never the answer. `...` (the answer cell's placeholder) or None
# is "not answered".
ANSWER_TAG = "answer"
CHECK_TAG = "check"
NOTES_TAG = "notes"
# The WG-SS answers of session 3's four people (1 no difficulty ... 4 cannot do; None refused).
WGSS_PEOPLE = {
    "wg_seeing": [1, 2, 1, None],
    "wg_hearing": [1, 2, 1, None],
    "wg_walking": [1, 2, 3, None],
    "wg_cognition": [1, 2, 1, None],
    "wg_selfcare": [1, 1, 1, None],
    "wg_communication": [1, 1, 1, None],
}
SESSION_ITEM = "basic_water"  # the indicator of sessions 4 and 5


@dataclass(frozen=True)
class CheckResult:
    """What `check` says: shown as the check cell's output."""

    exercise: str
    status: str  # "right", "wrong" or "not answered"
    message: str

    @property
    def ok(self) -> bool:
        return self.status == "right"

    def __repr__(self) -> str:
        mark = {"right": "✔ Right", "wrong": "✘ Not yet", "not answered": "… Not answered"}
        return f"{mark[self.status]} ({self.exercise}): {self.message}"

    def _repr_markdown_(self) -> str:
        return repr(self)


class _Wrong(Exception):
    """A checker's specific reason why an answer is not right (its message is the hint)."""


def _frame(value) -> pd.DataFrame:
    if isinstance(value, pd.DataFrame):
        return value.reset_index()
    if isinstance(value, pd.Series):
        return value.reset_index()
    raise _Wrong("expected a table (a pandas DataFrame).")


def _number(value, what: str) -> float:
    """An estimate given as a number or as the first row of an `stats.estimate` table."""
    if isinstance(value, pd.DataFrame):
        if "estimate" not in value.columns:
            raise _Wrong(f"the table has no `estimate` column; give the {what} table.")
        rows = value[value["grouping"] == ""] if "grouping" in value.columns else value
        if rows.empty:
            raise _Wrong("the table has no overall row (grouping ''): leave out `by=`.")
        value = rows["estimate"].iloc[0]
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _Wrong(f"expected the {what} as a number or an estimate table.") from None


def _check_relevance(value, project: Project) -> str:
    cycle = project.cycle(*KIT_CYCLE)
    expected = {i.id: i.sdg.target for i in project.indicators.for_goals(cycle.sdgs)}
    if isinstance(value, dict):
        given = {str(k): str(v) for k, v in value.items()}
    else:
        df = _frame(value)
        if not {"indicator", "target"} <= set(df.columns):
            raise _Wrong("the table needs the columns `indicator` and `target`.")
        given = dict(zip(df["indicator"].astype(str), df["target"].astype(str), strict=True))
    missing = set(expected) - set(given)
    extra = set(given) - set(expected)
    if missing:
        raise _Wrong(
            f"{len(missing)} of the {len(expected)} indicators of the cycle's goals are "
            "missing; did you pass all of `cycle.sdgs` to `for_goals`?"
        )
    if extra:
        raise _Wrong(f"{len(extra)} indicators are not of the cycle's goals ({cycle.sdgs}).")
    wrong = sorted(k for k in expected if given[k] != expected[k])
    if wrong:
        raise _Wrong(f"the target of `{wrong[0]}` is not right: use `.sdg.target`.")
    return f"all {len(expected)} indicators with their SDG target."


def _check_required_columns(value, project: Project) -> str:
    table = contract_table(load_contract(project.data_dir), "en")
    keep = (table.required == "yes") & table.populations.str.contains("adults")
    expected = set(table[keep]["column"])
    if isinstance(value, pd.DataFrame):
        if "column" not in value.columns:
            raise _Wrong("the table has no `column` column.")
        value = value["column"]
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        raise _Wrong("expected a list of column names (or the table with a `column` column).")
    given = {str(v) for v in value}
    if given - expected:
        raise _Wrong(
            f"{len(given - expected)} of your columns are not required of adults: filter on "
            "both `required == 'yes'` and `populations` containing 'adults'."
        )
    if expected - given:
        raise _Wrong(f"{len(expected - given)} required columns are missing.")
    return f"the {len(expected)} columns every adults' questionnaire must provide."


def _check_plan(value, project: Project) -> str:
    cycle = project.cycle(*KIT_CYCLE)
    if not isinstance(value, dict):
        raise _Wrong("expected a dict with the keys instruments, sdgs, languages, fieldwork.")
    keys = ("instruments", "sdgs", "languages", "fieldwork")
    absent = [k for k in keys if k not in value]
    if absent:
        raise _Wrong(f"the dict lacks the key(s) {', '.join(absent)}.")

    def as_set(v, kind=str):
        return {kind(x) for x in v} if not isinstance(v, str) else {v}

    wrong = []
    if as_set(value["instruments"]) != set(cycle.instruments):
        wrong.append("instruments")
    if as_set(value["sdgs"], int) != set(cycle.sdgs):
        wrong.append("sdgs")
    if as_set(value["languages"]) != set(cycle.languages):
        wrong.append("languages")
    fw = value["fieldwork"]
    dates = (getattr(fw, "start", None), getattr(fw, "end", None))
    if isinstance(fw, dict):
        dates = (fw.get("start"), fw.get("end"))
    elif isinstance(fw, list | tuple) and len(fw) == 2:
        dates = tuple(fw)
    if tuple(str(d) for d in dates) != (str(cycle.fieldwork.start), str(cycle.fieldwork.end)):
        wrong.append("fieldwork")
    if wrong:
        raise _Wrong(f"look again at: {', '.join(wrong)} (attributes of `cycle`).")
    return "that is the cycle's plan."


def _check_cutoff(value, project: Project) -> str:
    expected = derive.wg_disability(pd.DataFrame(WGSS_PEOPLE))["disability"]
    if isinstance(value, pd.DataFrame):
        if "disability" not in value.columns:
            raise _Wrong("the table has no `disability` column: use `derive.wg_disability`.")
        value = value["disability"]
    given = list(value)
    if len(given) != len(expected):
        raise _Wrong(f"expected one status per person ({len(expected)}), got {len(given)}.")
    for k, (g, e) in enumerate(zip(given, expected, strict=True), start=1):
        if pd.isna(e):
            if not pd.isna(g):
                raise _Wrong(f"person {k} refused every question: is their status known at all?")
        elif pd.isna(g) or str(g) != str(e):
            if k == 2:
                raise _Wrong("person 2 has *some* difficulty only: the cut-off is 'a lot'.")
            raise _Wrong(f"person {k} is not right: at least one domain coded 3 or 4?")
    return "the cut-off applied as the Washington Group recommends."


def _session_estimates(project: Project):
    df = load_example(project, *KIT_CYCLE, "adults")
    return df, design_of(project, *KIT_CYCLE)


def _check_weighting(value, project: Project, weighted: bool) -> str:
    df, design = _session_estimates(project)
    ours = stats.estimate(df, [SESSION_ITEM], design=design)["estimate"].iloc[0]
    equal = stats.Design(weight=None)
    other = stats.estimate(df, [SESSION_ITEM], design=equal)["estimate"].iloc[0]
    if not weighted:
        ours, other = other, ours
    given = _number(value, "estimate")
    if abs(given - ours) < 1e-9:
        return "that is the estimate " + (
            "with the cycle's design." if weighted else "with equal weights and no clusters."
        )
    if abs(given - other) < 1e-9:
        raise _Wrong(
            "that is the estimate with "
            + (
                "equal weights: pass `design=design`."
                if weighted
                else "the cycle's design: pass `design=stats.Design(weight=None)`."
            )
        )
    raise _Wrong(f"this is not the estimate of `{SESSION_ITEM}`: check the indicator and design.")


def _check_disclosure(value, project: Project) -> str:
    if not isinstance(value, pd.DataFrame):
        raise _Wrong("expected the estimate table (a pandas DataFrame).")
    if "suppressed" not in value.columns:
        raise _Wrong(
            "this table has not been through the disclosure rules: pass it to "
            "`training.published(...)`, which blanks the cells of very few people."
        )
    df, design = _session_estimates(project)
    by = [["disability"], ["sex", "disability"]]
    expected = published(stats.estimate(df, [SESSION_ITEM], design=design, by=by), project)
    given = value[value["variable"] == SESSION_ITEM] if "variable" in value.columns else value
    if "grouping" not in given.columns or set(given["grouping"]) != set(expected["grouping"]):
        raise _Wrong("the table needs the groupings disability and sex × disability: use `by=`.")
    keys = ["grouping", "sex", "disability"]
    both = expected.merge(given, on=keys, how="left", suffixes=("", "_given"))
    if both["estimate_given"].isna().ne(both["estimate"].isna()).any():
        raise _Wrong("the suppressed cells differ from the report's: use the cycle's design.")
    shown = both.dropna(subset=["estimate"])
    if ((shown["estimate"] - shown["estimate_given"]).abs() > 1e-9).any():
        raise _Wrong("some estimates differ from the report's: use `design=design`.")
    hidden = int(expected["suppressed"].sum())
    return f"{len(expected)} rows, {hidden} suppressed as the report suppresses them."


def _check_gap(value, project: Project) -> str:
    cycle = project.cycle(*KIT_CYCLE)
    cards = pd.read_csv(project.cycle_dir(*KIT_CYCLE) / cycle.scorecards)
    mean = cards.groupby(["service", "criterion"])[["community_score", "provider_score"]].mean()
    gap = mean.provider_score - mean.community_score
    top = set(gap[gap >= gap.max() - 1e-9].index)
    if isinstance(value, pd.DataFrame | pd.Series):
        value = value.index[0]
    if isinstance(value, tuple):
        ok = value in top
    else:
        ok = str(value) in {criterion for _, criterion in top}
    if ok:
        ties = f", tied with {len(top) - 1} other(s)" if len(top) > 1 else ""
        return f"a largest gap ({gap.max():.2f} points{ties})."
    if isinstance(value, tuple) and value in set(gap.index) or str(value) in set(cards.criterion):
        raise _Wrong("that criterion has a gap, but not the largest: sort by provider − community.")
    raise _Wrong("that is not a criterion of the score cards (see the `criterion` column).")


def _check_status(value, project: Project) -> str:
    cycle = project.cycle(*KIT_CYCLE)
    recs = pd.read_csv(project.cycle_dir(*KIT_CYCLE) / cycle.recommendations)
    expected = recs["status"].value_counts().to_dict()
    if isinstance(value, pd.DataFrame):
        raise _Wrong("expected counts per status (a Series or a dict), not a table.")
    try:
        given = {str(k): int(v) for k, v in dict(value).items()}
    except (TypeError, ValueError):
        raise _Wrong("expected counts per status (a Series or a dict).") from None
    if set(given) != set(expected):
        raise _Wrong("the statuses differ from the `status` column's: count that column.")
    if given != expected:
        raise _Wrong("some counts are off: count every row once.")
    return f"{sum(expected.values())} recommendations by status."


@dataclass(frozen=True)
class Exercise:
    """One exercise: the variable the answer cell assigns and the function that checks it."""

    id: str
    answer: str
    checker: typing.Callable[[object, Project], str]


EXERCISES = {
    e.id: e
    for e in (
        Exercise("01-relevance", "targets", _check_relevance),
        Exercise("01-required-columns", "required_columns", _check_required_columns),
        Exercise("02-plan", "plan", _check_plan),
        Exercise("03-cutoff", "disability", _check_cutoff),
        Exercise("04-weighted", "weighted", lambda v, p: _check_weighting(v, p, True)),
        Exercise("04-equal-weights", "simple", lambda v, p: _check_weighting(v, p, False)),
        Exercise("05-published", "table", _check_disclosure),
        Exercise("06-largest-gap", "largest_gap", _check_gap),
        Exercise("07-status", "by_status", _check_status),
    )
}


def check(exercise_id: str, value: object, project: Project | None = None) -> CheckResult:
    """Say whether a participant's answer to an exercise is right, and if not, where to look.

    Never raises for a wrong or odd answer (a crashing check cell would stop the session);
    an unknown exercise id is a ConfigError, since that is the notebook's mistake.
    """
    if exercise_id not in EXERCISES:
        raise ConfigError(
            f"unknown exercise '{exercise_id}' (known: {', '.join(EXERCISES)}).",
            hint="Use the id the notebook's check cell was written with.",
        )
    ex = EXERCISES[exercise_id]
    if value is None or value is Ellipsis:
        return CheckResult(
            exercise_id, "not answered", f"assign your answer to `{ex.answer}` above, run it."
        )
    try:
        return CheckResult(exercise_id, "right", ex.checker(value, project or find_project()))
    except _Wrong as err:
        return CheckResult(exercise_id, "wrong", str(err))
    except Exception as err:  # noqa: BLE001 - any odd answer gets a message, not a traceback
        return CheckResult(
            exercise_id, "wrong", f"could not read the answer ({type(err).__name__}: {err})."
        )
