"""Errors an analyst can act on.

Every problem that comes from the inputs (a file, a YAML entry, a column) is raised as a
`VoicesError` that names the file and says what to do. The CLI prints it as one paragraph and
exits with code 2; a traceback is shown only with `--debug`. Anything else is a bug.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class VoicesError(Exception):
    """A problem with the inputs, explained for the analyst.

    `where` names the place (file, and row/field when known); `hint` says how to fix it.
    """

    exit_code = 2

    def __init__(
        self,
        problem: str,
        *,
        path: str | Path | None = None,
        row: object | None = None,
        field: str | None = None,
        hint: str | None = None,
        fix: Mapping[str, Any] | None = None,
    ) -> None:
        self.problem = problem
        self.path = Path(path) if path is not None else None
        self.row = row
        self.field = field
        self.hint = hint
        # the cycle.yml fragment that fixes it (nested dicts, `Fill` leaves): merged with the
        # other problems' fragments into one block the analyst pastes (see `fix_yaml`)
        self.fix = fix
        super().__init__(self.message())

    def where(self) -> str:
        parts = []
        if self.path is not None:
            parts.append(str(self.path))
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.field is not None:
            parts.append(f"field '{self.field}'")
        return ", ".join(parts)

    def message(self) -> str:
        where = self.where()
        text = f"{where}: {self.problem}" if where else self.problem
        if self.hint:
            text += f" {self.hint}"
        return text


class ConfigError(VoicesError):
    """A YAML registry, cycle or rule file is missing or does not match its schema."""


class InputError(VoicesError):
    """A raw data file cannot be read as declared (encoding, format, columns, codes)."""


class ValidationFailed(VoicesError):
    """Validation found errors; the full list was written to `report_path`."""

    def __init__(self, problem: str, *, report_path: str | Path | None = None, **kw) -> None:
        self.report_path = Path(report_path) if report_path is not None else None
        super().__init__(problem, **kw)


class Problems(InputError):
    """Several problems found in one pass over a file (each keeps its own class).

    Intake and the side-file readers collect every unmapped code, missing column and bad row
    before stopping, because an analyst fixing one problem per run needs as many runs as
    there are problems; `problems` keeps each one with its own place and fix.
    """

    def __init__(self, problems: Iterable[VoicesError], *, path: str | Path | None = None):
        self.problems = list(problems)
        n = len(self.problems)
        super().__init__(
            f"{n} problem{'s' if n != 1 else ''}: "
            + " | ".join(p.message() for p in self.problems),
            path=path,
            fix=merge_fixes(p.fix for p in self.problems),
        )

    def message(self) -> str:
        where = str(self.path) if self.path is not None else ""
        text = f"{where}: {self.problem}" if where else self.problem
        return text


@dataclass(frozen=True)
class Fill:
    """A value to paste into cycle.yml, with what the analyst must check about it."""

    value: Any
    note: str = ""


def merge_fixes(fixes: Iterable[Mapping[str, Any] | None]) -> dict[str, Any]:
    """Deep-merge cycle.yml fragments; a later leaf never replaces an earlier one."""
    out: dict[str, Any] = {}

    def into(dst: dict[str, Any], src: Mapping[str, Any]) -> None:
        for k, v in src.items():
            if isinstance(v, Mapping):
                sub = dst.setdefault(k, {})
                if isinstance(sub, dict):
                    into(sub, v)
            else:
                dst.setdefault(k, v)

    for f in fixes:
        if f:
            into(out, f)
    return out


def _scalar(v: Any) -> str:
    text = yaml.safe_dump(v, default_flow_style=True, allow_unicode=True, width=10**9)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def fix_yaml(fix: Mapping[str, Any], indent: int = 0) -> str:
    """A merged fix as YAML with a comment on each leaf that needs checking.

    Hand-written rather than `yaml.dump` because the comments (what a guessed code rests on,
    which codes the contract allows) are the point of the block.
    """
    lines: list[str] = []
    pad = "  " * indent
    for k, v in fix.items():
        key = _scalar(str(k) if not isinstance(k, (int, float, bool)) else k)
        if isinstance(v, Mapping):
            lines.append(f"{pad}{key}:")
            lines.append(fix_yaml(v, indent + 1))
            continue
        value, note = (v.value, v.note) if isinstance(v, Fill) else (v, "")
        lines.append(f"{pad}{key}: {_scalar(value)}" + (f"  # {note}" if note else ""))
    return "\n".join(line for line in lines if line)
