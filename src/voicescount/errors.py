"""Errors an analyst can act on.

Every problem that comes from the inputs (a file, a YAML entry, a column) is raised as a
`VoicesError` that names the file and says what to do. The CLI prints it as one paragraph and
exits with code 2; a traceback is shown only with `--debug`. Anything else is a bug.
"""

from __future__ import annotations

from pathlib import Path


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
    ) -> None:
        self.problem = problem
        self.path = Path(path) if path is not None else None
        self.row = row
        self.field = field
        self.hint = hint
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
