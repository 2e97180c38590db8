"""The command line's grammar: every `voicescount` subcommand, its options and their help.

Why apart from `cli`: the handbook documents the commands from this parser
(`training.cli_table`), and `cli` runs them through `training` (`voicescount training`), so
the parser sits below both and imports nothing of the package but its version. No behaviour
here: `cli.HANDLERS` maps each subcommand's name to the function that runs it.

Each subcommand is an `add_<name>(subparsers)` function that builds its parser; they are
listed once, in `SUBCOMMANDS`, in the order `--help` shows them. To add a command, write its
`add_*` function, append it there and give `cli.HANDLERS` its handler.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from . import __version__

# --------------------------------------------------------------------------- run / build / all


def _add_selection(p: argparse.ArgumentParser) -> None:
    """Options shared by `run` and `all`: which cycles, languages, how many workers."""
    p.add_argument(
        "--country",
        action="append",
        metavar="ISO",
        help="country ISO code, e.g. VN (repeat for several; default: all countries)",
    )
    p.add_argument(
        "--cycle",
        action="append",
        type=int,
        metavar="YEAR",
        help="survey cycle, e.g. 2022 (repeat for several; default: all cycles)",
    )
    p.add_argument(
        "--lang",
        action="append",
        metavar="CODE",
        help="page language, e.g. en (repeat for several; default: the cycle's languages)",
    )
    p.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=None,
        metavar="N",
        help="parallel worker processes (default: number of CPU cores)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="per-notebook time limit in seconds (default: 600)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="execute every selected notebook even when its inputs are unchanged",
    )
    p.add_argument(
        "--no-progress", action="store_true", help="do not show the progress bar on stderr"
    )


def add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="execute the template notebooks for the selected countries and cycles",
        description="Execute each template notebook in analyses/ (order from "
        "analyses/chapters.yml) for every selected (country, cycle) and language into "
        "report/<ISO>/<cycle>/<lang>/. Notebooks whose template, parameters, input files and "
        "package version are unchanged are skipped. Ends with 'executed: N  skipped: M  failed: K'.",
    )
    _add_selection(p)


def add_build(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build",
        help="build the book from the registry, an edition per language, into _build/html/<lang>/",
        description="Generate _toc.yml (landing page, a part per country and cycle, handbook "
        "and training parts) and build the Jupyter Book without executing notebooks. Warnings "
        "(broken references, missing files) fail the build.",
    )
    p.add_argument("--verbose", action="store_true", help="show the Sphinx build output")


def add_all(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "all",
        help="run, then build (what `make report` does)",
        description="Execute the notebooks (as `run`), then build the book (as `build`). "
        "The build is skipped when a notebook failed.",
    )
    _add_selection(p)
    p.add_argument("--verbose", action="store_true", help="show the Sphinx build output")


# --------------------------------------------------------------------------- validate


def add_validate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="check a cycle's exports against the data contract",
        description="Read and validate every instrument of a cycle; print counts by rule and "
        "severity and the first issues with hints; write issues.csv, cleaning_log.csv and "
        "quarantine.csv. Rows with errors are quarantined (exit 0); exit 2 when the run cannot "
        "go on (a file cannot be read, a required column is missing, no usable row is left).",
    )
    p.add_argument("path", nargs="?", type=Path, help="a cycle folder holding cycle.yml")
    p.add_argument("--country", metavar="ISO", help="country ISO code, e.g. VN")
    p.add_argument("--cycle", type=int, metavar="YEAR", help="survey cycle, e.g. 2022")
    p.add_argument(
        "--out",
        type=Path,
        help="folder for the CSV files (default: build/<ISO>/<cycle>/validation)",
    )
    p.add_argument("--first", type=int, default=5, help="issues to show (default: 5)")


# --------------------------------------------------------------------------- training


def add_training(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "training",
        help="write the training kit: participant and trainer notebooks and slides",
        description="For each session in handbook/training/, write a participant copy "
        "(answer and check cells, solution cells removed, outputs cleared), a trainer copy "
        "(executed) and reveal.js slides (from the participant copy, with the trainer's "
        "speaker notes) into OUT/<session>/, and the example cycle the notebooks read into "
        "OUT/example-project/. With the assets of `make slides-assets` the slides also "
        "work without internet (copied to OUT/_slides/).",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("training-kit"),
        metavar="DIR",
        help="output folder, relative to the project root (default: training-kit)",
    )
    p.add_argument(
        "--session",
        action="append",
        metavar="ID",
        help="session id such as 03-questionnaires-wgss (repeat for several; default: all)",
    )
    p.add_argument(
        "--slides-assets",
        type=Path,
        metavar="DIR",
        help="reveal.js files for offline slides, copied into the kit (default: "
        "build/slides-assets when `make slides-assets` made it, else slides load them online)",
    )
    p.add_argument(
        "--zip",
        type=Path,
        metavar="FILE",
        help="also write the kit as one zip there, relative to the project root",
    )
    p.add_argument(
        "--into-book",
        action="store_true",
        help="also write the zip beside the built book's training pages, where their "
        "download link points (after `voicescount all`; `make report` does it)",
    )


# --------------------------------------------------------------------------- export


def add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write partner formats: Open SDG, SDMX-CSV, downloads, draft VNR chapter, PDF, "
        "community brief, CGD quality statement",
        description="Write the published estimates of one (country, cycle) as Open SDG CSV + "
        "metadata, SDMX-CSV (SDG DSD codes, data/sdmx_codes.yml) or the download files (CSV, "
        "Parquet, data dictionary, CITATION.cff); the draft VNR chapter (Markdown and .docx per "
        "language); the PDF of the report (printed from the built book with headless Chromium); "
        "the community brief per language (HTML and PDF); the CGD quality statement (JSON). "
        "Suppressed cells stay suppressed. Without --country and --cycle: every cycle, into "
        "OUT/<ISO>/<cycle>/.",
    )
    p.add_argument(
        "kind",
        nargs="+",
        choices=["opensdg", "sdmx", "downloads", "vnr", "pdf", "brief", "quality", "all"],
        help="what to write (several allowed; all = every kind)",
    )
    p.add_argument("--country", metavar="ISO", help="country ISO code, e.g. VN")
    p.add_argument("--cycle", type=int, metavar="YEAR", help="survey cycle")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument(
        "--estimates",
        type=Path,
        help="published estimate table, .parquet or .csv "
        "(default: the cycle's table, computed and cached in build/<ISO>/<cycle>/)",
    )
    p.add_argument("--lang", default="en", help="label language for Open SDG (default: en)")
    p.add_argument(
        "--base-url",
        default="",
        metavar="URL",
        help="address of the published book, for links in the VNR chapter, PDF and CITATION.cff",
    )


# --------------------------------------------------------------------------- pull


def add_pull(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pull",
        help="fetch a form's submissions and definition from KoboToolbox or ODK Central",
        description="Fetch every submission (all pages) and the current form of one "
        "instrument into data/<ISO>/<cycle>/exports/ and forms/ as new files, each with a "
        "<file>.pull.json sidecar (server, ids, form version, time, sha256, counts). Nothing "
        "is overwritten: an identical export is reported unchanged, and a changed form "
        "version is reported with what to change in cycle.yml. The server address and token "
        "come from VOICESCOUNT_KOBO_URL / VOICESCOUNT_KOBO_TOKEN (VOICESCOUNT_ODK_URL and "
        "VOICESCOUNT_ODK_TOKEN, or VOICESCOUNT_ODK_EMAIL / VOICESCOUNT_ODK_PASSWORD) or a "
        "config file outside the repository.",
    )
    p.add_argument("server", choices=["kobo", "odk"], help="KoboToolbox or ODK Central")
    p.add_argument("--country", required=True, metavar="ISO", help="country ISO code, e.g. NP")
    p.add_argument("--cycle", required=True, type=int, metavar="YEAR", help="survey cycle")
    p.add_argument(
        "--instrument", required=True, metavar="NAME", help="instrument in cycle.yml, e.g. adults"
    )
    p.add_argument(
        "--asset", metavar="UID", help="KoboToolbox asset uid (default: cycle.yml `source:`)"
    )
    p.add_argument(
        "--project",
        type=int,
        metavar="ID",
        help="ODK Central project id (default: cycle.yml `source:`)",
    )
    p.add_argument(
        "--form", metavar="XMLFORMID", help="ODK Central form id (default: cycle.yml `source:`)"
    )
    p.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="servers file with url and token per server, outside the repository (default: "
        "~/.config/voicescount/servers.yml; environment variables take precedence)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="time limit per request; failed requests are retried 3 times (default: 30)",
    )


# --------------------------------------------------------------------------- init-cycle


def add_init_cycle(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "init-cycle",
        help="draft data/<ISO>/<cycle>/cycle.yml from an XLSForm and its raw export",
        description="Read the instrument's XLSForm (names, groups, types, choices, labels) and "
        "the export's headers, and write a draft cycle.yml: the contract mapping, code maps, "
        "identifiers, design columns, languages and goals, each guess marked `# guess:` for "
        "review. The form and export must already be in the cycle folder; they are only read. "
        "An existing cycle.yml is not overwritten (without --force); a draft init-cycle wrote "
        "gains the instrument when --instrument names a new one. Then run `voicescount validate`.",
    )
    p.add_argument("--country", required=True, metavar="ISO", help="country ISO code, e.g. NP")
    p.add_argument("--cycle", required=True, type=int, metavar="YEAR", help="survey cycle")
    p.add_argument(
        "--form", required=True, type=Path, help="the XLSForm, relative to the cycle folder"
    )
    p.add_argument(
        "--export", required=True, type=Path, help="the raw export, relative to the cycle folder"
    )
    p.add_argument("--instrument", help="instrument name (default: the form's file name)")
    p.add_argument(
        "--population",
        choices=["adults", "cso", "children"],
        help="who the instrument covers (default: from the name or the form)",
    )
    p.add_argument(
        "--force", action="store_true", help="replace an existing cycle.yml with a new draft"
    )


# --------------------------------------------------------------------------- registration

# Every subcommand, in the order `--help` lists them. Append new `add_*` functions here.
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_run,
    add_build,
    add_all,
    add_validate,
    add_training,
    add_export,
    add_pull,
    add_init_cycle,
]


def build_parser() -> argparse.ArgumentParser:
    """The whole parser (no handlers: `cli.build_parser` attaches them)."""
    parser = argparse.ArgumentParser(
        prog="voicescount",
        description="Reproducible Citizen-Generated Data reports and handbook for the SDGs.",
    )
    parser.add_argument("--version", action="version", version=f"voicescount {__version__}")
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        help="project root holding data/, analyses/ and _config.yml (default: current folder)",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback when something fails"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    """The parser's subcommands (argparse keeps them in a private list of actions)."""
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
