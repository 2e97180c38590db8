"""The `voicescount` command: a thin layer over the library functions.

The grammar (subcommands, options, help) is `commands`, below this module and `training`
(the handbook documents the commands from that parser); here each subcommand's handler is
called with the parsed args and a `Project` and returns the exit code. `HANDLERS` maps every
subcommand's name to its handler: a new command is an `add_*` function in `commands` and its
handler here.

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

from . import commands
from .audit import audit_cycle
from .book import build_book
from .errors import ConfigError, VoicesError
from .prepare import validate
from .publish import EXPORT_KINDS, export
from .pull import HttpOptions, pull
from .registry import Project
from .runner import execute
from .scaffold import init_cycle
from .training import SLIDES_ASSETS, SLIDES_KIT_DIR, book_zip_paths, build_kit

# --------------------------------------------------------------------------- run / build / all


def _run(args: argparse.Namespace, project: Project) -> int:
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
    out = build_book(project, quiet=not getattr(args, "verbose", False))
    print(f"book: {out.relative_to(project.root)}/index.html")
    return 0


def _all(args: argparse.Namespace, project: Project) -> int:
    code = _run(args, project)
    if code != 0:
        print("build skipped: fix the failed notebooks first.", file=sys.stderr)
        return code
    return _build(args, project)


# --------------------------------------------------------------------------- validate


def _validate(args: argparse.Namespace, project: Project) -> int:
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
    result = validate(project, iso, cycle, out)
    print(result.summary(first=args.first))
    return 0 if result.ok else 2


# --------------------------------------------------------------------------- training


def _training(args: argparse.Namespace, project: Project) -> int:
    out = args.out if args.out.is_absolute() else project.root / args.out
    assets = args.slides_assets
    if assets is None and (project.root / SLIDES_ASSETS).is_dir():
        assets = SLIDES_ASSETS
    if assets is not None and not assets.is_absolute():
        assets = project.root / assets
    zips = (
        []
        if args.zip is None
        else [args.zip if args.zip.is_absolute() else project.root / args.zip]
    )
    zips += book_zip_paths(project) if args.into_book else []
    kit = build_kit(project, out, sessions=args.session, slides_assets=assets, zip_path=zips)
    for folder in kit:
        print(f"training: {folder}")
    for path in zips:
        print(f"training kit zip: {path}")
    if assets is None:
        print("slides: reveal.js from the internet (`make slides-assets` for offline slides)")
    else:
        print(f"slides: offline, reveal.js copied to {out / SLIDES_KIT_DIR}")
    return 0


# --------------------------------------------------------------------------- export


def _export(args: argparse.Namespace, project: Project) -> int:
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
        if args.estimates is None:  # the disclosure audit of everything the cycle publishes
            print(audit_cycle(project, iso, cyc, folder).summary())
    return 0


# --------------------------------------------------------------------------- pull


def _pull(args: argparse.Namespace, project: Project) -> int:
    result = pull(
        project,
        args.server,
        args.country,
        args.cycle,
        args.instrument,
        asset=args.asset,
        odk_project=args.project,
        form=args.form,
        config=args.config,
        options=HttpOptions(timeout=args.timeout),
    )
    print(result.summary())
    return 0


# --------------------------------------------------------------------------- init-cycle


def _init_cycle(args: argparse.Namespace, project: Project) -> int:
    path, draft = init_cycle(project, args.country, args.cycle, args.form, args.export,
                             args.instrument, args.population, args.force)  # fmt: skip
    guesses = sum(1 for line in draft.mapping.values() if line.note)
    print(f"draft: {path} (instrument {draft.key}: {len(draft.mapping)} columns mapped, "
          f"{guesses} guessed; {len(draft.identifiers)} identifiers)")  # fmt: skip
    if draft.missing:
        print(f"not found (required): {', '.join(draft.missing)}")
    print(f"next: check the `# guess:` lines, then voicescount validate "
          f"data/{args.country}/{args.cycle}")  # fmt: skip
    return 0


# --------------------------------------------------------------------------- registration

# Subcommand name -> handler(args, project) -> exit code; one per `commands.SUBCOMMANDS`.
HANDLERS: dict[str, Callable[[argparse.Namespace, Project], int]] = {
    "run": _run,
    "build": _build,
    "all": _all,
    "validate": _validate,
    "training": _training,
    "export": _export,
    "pull": _pull,
    "init-cycle": _init_cycle,
}


def build_parser() -> argparse.ArgumentParser:
    """`commands.build_parser()` with each subcommand's handler set as its `func`."""
    parser = commands.build_parser()
    for name, sub in commands.subparsers(parser).choices.items():
        sub.set_defaults(func=HANDLERS[name])
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
