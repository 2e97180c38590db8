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
are removed from participant copies; cells tagged `hint` stay. Slide types come from the
`slideshow` cell metadata, as nbconvert's SlidesExporter expects.
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import shutil
import typing
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pandas as pd

from . import validate
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
    ("DesignSpec", "fpc"): "contract column holding the finite population correction, if any",
    ("Fieldwork", "start"): "first day of fieldwork (YYYY-MM-DD)",
    ("Fieldwork", "end"): "last day of fieldwork (YYYY-MM-DD)",
}

CYCLE_MODELS = (("", Cycle), ("instruments.<key>.", Instrument), ("design.", DesignSpec))
CYCLE_MODELS += (("instruments.<key>.source.", FormSource),)
CYCLE_MODELS += (("fieldwork.", Fieldwork), ("weighting.", Weighting))
CYCLE_MODELS += (("weighting.trim.", Trim), ("weighting.nonresponse.", NonResponse))
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
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
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


def participant_copy(nb):
    """A copy without `solution` cells and with every output and execution count cleared."""
    out = copy.deepcopy(nb)
    out.cells = [c for c in out.cells if SOLUTION_TAG not in c.get("metadata", {}).get("tags", [])]
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
) -> list[Path]:
    """Write per session: participant.ipynb, trainer.ipynb (executed) and slides.html.

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
        (folder / "slides.html").write_text(slides_html(trainer, assets_url), encoding="utf-8")
        written.append(folder)
    return written
