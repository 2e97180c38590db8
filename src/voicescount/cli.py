"""The `voicescount` command: a thin layer over the library functions.

Each subcommand is an `add_<name>(subparsers)` function that builds its parser and sets
`func` (called with the parsed args and a `Project`; it returns the exit code). They are listed
once, in `SUBCOMMANDS` at the end of this module: to add a command, write its `add_*` function
and append it there.

`main()` turns a `VoicesError` (a problem with the inputs) into one paragraph on stderr and
exit code 2; a traceback is shown only with `--debug`, because analysts act on the message and
developers on the traceback. Ctrl-C exits 130, as shells expect.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __version__
from .errors import VoicesError
from .registry import Project

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


def _run(args: argparse.Namespace, project: Project) -> int:
    from .runner import execute

    summary = execute(
        project,
        countries=args.country,
        cycles=args.cycle,
        langs=args.lang,
        jobs=args.jobs,
        timeout=args.timeout,
        force=args.force,
        progress=not args.no_progress,
    )
    return 0 if summary.ok else 1


def _build(args: argparse.Namespace, project: Project) -> int:
    from .book import build_book

    out = build_book(project, quiet=not getattr(args, "verbose", False))
    print(f"book: {out.relative_to(project.root)}/index.html")
    return 0


def _all(args: argparse.Namespace, project: Project) -> int:
    code = _run(args, project)
    if code != 0:
        print("build skipped: fix the failed notebooks first.", file=sys.stderr)
        return code
    return _build(args, project)


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
    p.set_defaults(func=_run)


def add_build(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build",
        help="write _toc.yml from the registry and build the book into _build/html",
        description="Generate _toc.yml (landing page, a part per country and cycle, handbook "
        "and training parts) and build the Jupyter Book without executing notebooks. Warnings "
        "(broken references, missing files) fail the build.",
    )
    p.add_argument("--verbose", action="store_true", help="show the Sphinx build output")
    p.set_defaults(func=_build)


def add_all(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "all",
        help="run, then build (what `make report` does)",
        description="Execute the notebooks (as `run`), then build the book (as `build`). "
        "The build is skipped when a notebook failed.",
    )
    _add_selection(p)
    p.add_argument("--verbose", action="store_true", help="show the Sphinx build output")
    p.set_defaults(func=_all)


# --------------------------------------------------------------------------- validate


def _validate(args: argparse.Namespace, project: Project) -> int:
    from .errors import ConfigError
    from .validate import validate_cycle

    if args.path is not None:
        cdir = Path(args.path).resolve()
        if not (cdir / "cycle.yml").is_file():
            raise ConfigError(
                "is not a cycle folder (it holds no cycle.yml).",
                path=cdir,
                hint="Give data/<ISO>/<cycle>, or use --country and --cycle.",
            )
        project = Project(cdir.parents[2], data_dir=cdir.parents[1])
        iso, cycle = cdir.parent.name, cdir.name
    elif args.country and args.cycle:
        iso, cycle = args.country, args.cycle
    else:
        raise ConfigError(
            "which cycle? Give a cycle folder or both --country and --cycle.",
            hint="e.g. voicescount validate data/VN/2022, or --country VN --cycle 2022.",
        )
    out = args.out or project.build_dir(iso, cycle) / "validation"
    result = validate_cycle(project, iso, cycle, out)
    print(result.summary(first=args.first))
    return 0 if result.ok else 2


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
    p.set_defaults(func=_validate)


# --------------------------------------------------------------------------- training


def _training(args: argparse.Namespace, project: Project) -> int:
    from .training import SLIDES_ASSETS, SLIDES_KIT_DIR, build_kit

    out = args.out if args.out.is_absolute() else project.root / args.out
    assets = args.slides_assets
    if assets is None and (project.root / SLIDES_ASSETS).is_dir():
        assets = SLIDES_ASSETS
    if assets is not None and not assets.is_absolute():
        assets = project.root / assets
    for folder in build_kit(project, out, sessions=args.session, slides_assets=assets):
        print(f"training: {folder}")
    if assets is None:
        print("slides: reveal.js from the internet (`make slides-assets` for offline slides)")
    else:
        print(f"slides: offline, reveal.js copied to {out / SLIDES_KIT_DIR}")
    return 0


def add_training(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "training",
        help="write the training kit: participant and trainer notebooks and slides",
        description="For each session in handbook/training/, write a participant copy "
        "(solution cells removed, outputs cleared), a trainer copy (executed) and reveal.js "
        "slides into OUT/<session>/. With the assets of `make slides-assets` the slides also "
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
    p.set_defaults(func=_training)


# --------------------------------------------------------------------------- export


def _export(args: argparse.Namespace, project: Project) -> int:
    from .errors import ConfigError
    from .publish import EXPORT_KINDS, export

    kinds = list(EXPORT_KINDS) if "all" in args.kind else list(dict.fromkeys(args.kind))
    out = args.out if args.out.is_absolute() else project.root / args.out
    if args.country and args.cycle:
        targets = [(args.country, args.cycle, out)]
    elif args.country or args.cycle or args.estimates:
        raise ConfigError(
            "give both --country and --cycle (or neither, for every cycle).",
            hint="e.g. voicescount export all --country VN --cycle 2022 --out exports/VN/2022",
        )
    else:  # every cycle, each into OUT/<ISO>/<cycle>/ (what `make report` does)
        targets = [(iso, cyc, out / iso / str(cyc)) for iso, cyc in project.cycles()]
    for iso, cyc, folder in targets:
        for path in export(project, iso, cyc, kinds, folder, args.estimates, args.lang,
                           base_url=args.base_url):  # fmt: skip
            print(f"export: {path}")
    return 0


def add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write partner formats: Open SDG, SDMX-CSV, downloads, draft VNR chapter, PDF",
        description="Write the published estimates of one (country, cycle) as Open SDG CSV + "
        "metadata, SDMX-CSV (SDG DSD codes, data/sdmx_codes.yml) or the download files (CSV, "
        "Parquet, data dictionary, CITATION.cff); the draft VNR chapter (Markdown and .docx per "
        "language); the PDF of the report (printed from the built book with headless Chromium). "
        "Suppressed cells stay suppressed. Without --country and --cycle: every cycle, into "
        "OUT/<ISO>/<cycle>/.",
    )
    p.add_argument(
        "kind",
        nargs="+",
        choices=["opensdg", "sdmx", "downloads", "vnr", "pdf", "all"],
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
    p.set_defaults(func=_export)


# --------------------------------------------------------------------------- registration

# Every subcommand, in the order `--help` lists them. Append new `add_*` functions here.
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_run,
    add_build,
    add_all,
    add_validate,
    add_training,
    add_export,
]


def build_parser() -> argparse.ArgumentParser:
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


def _paragraph(text: str) -> str:
    """One wrapped paragraph: an analyst reads the message, not a wall of lines."""
    flat = " ".join(str(text).split())
    return textwrap.fill(flat, width=100, break_long_words=False, break_on_hyphens=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        project = Project(args.root)
        return int(args.func(args, project) or 0)
    except VoicesError as err:
        if args.debug:
            traceback.print_exc()
        print(_paragraph(f"error: {err}"), file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
