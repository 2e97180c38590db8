"""Reading and checking a cycle's side files (activities, coded segments, score cards,
recommendations): small CSVs typed by hand in a spreadsheet.

One reader so every side file fails the same way: an `InputError` naming the file, the row
as the spreadsheet shows it (header = row 1, first record = row 2), the column and the fix.
Everything is read as text and stripped (except columns holding free text), then converted
and checked column by column.

`collecting()` turns the row checks from "raise at the first bad row" (what a page needs: it
cannot draw from a bad file) into "record every bad row and raise them together at the end"
(what validation needs: an analyst fixes a whole file in one pass).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import pandas as pd

from .errors import InputError, Problems, VoicesError

#: the problems being collected (None: raise at the first bad row)
_COLLECTED: contextvars.ContextVar[list[VoicesError] | None] = contextvars.ContextVar(
    "sidefile_problems", default=None
)
#: rows listed per check before "and N more rows" (the issues file gets one line per check)
MAX_ROWS_LISTED = 20


@contextlib.contextmanager
def collecting(path: str | Path) -> Iterator[list[VoicesError]]:
    """Record every bad row of the side-file readers called inside; raise them at the end
    (`Problems`, or the single problem itself). File-level problems (missing file, missing
    columns) still raise at once: the rows cannot be checked without them."""
    found: list[VoicesError] = []
    token = _COLLECTED.set(found)
    try:
        yield found
    finally:
        _COLLECTED.reset(token)
    if len(found) == 1:
        raise found[0]
    if found:
        raise Problems(found, path=path)


def collecting_now() -> bool:
    return _COLLECTED.get() is not None


def read_csv(
    path: str | Path, columns: Sequence[str], what: str, keep_spaces: Iterable[str] = ()
) -> pd.DataFrame:
    """The CSV as text columns, after checking it exists, is UTF-8 and has `columns`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"{what} file not found.", path=path, hint="Correct the path in cycle.yml."
        )
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("is not UTF-8 text.", path=path, hint="Save the CSV as UTF-8.") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot be read as CSV ({exc}).", path=path) from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"lacks column(s) {', '.join(missing)}.",
            path=path,
            field=missing[0],
            hint=f"A {what} file needs the columns: {', '.join(columns)}.",
        )
    keep = set(keep_spaces)
    for c in df.columns:
        if c not in keep:
            df[c] = df[c].str.strip()
    return df


def fail_first(
    df: pd.DataFrame,
    mask: pd.Series,
    path: str | Path,
    field: str,
    problem: Callable[[pd.Series], str],
    hint: str,
) -> None:
    """Raise an InputError for the first row where `mask` holds; `problem(row)` words it.

    Inside `collecting()`, every row where `mask` holds is recorded instead (one problem per
    row, up to MAX_ROWS_LISTED per check, then one for the rest) and reading goes on.
    """
    if not mask.any():
        return
    rows = mask.fillna(False).to_numpy().nonzero()[0]
    found = _COLLECTED.get()
    if found is None:
        i = int(rows[0])
        raise InputError(problem(df.iloc[i]), path=path, row=i + 2, field=field, hint=hint)
    for i in rows[:MAX_ROWS_LISTED]:
        found.append(
            InputError(problem(df.iloc[int(i)]), path=path, row=int(i) + 2, field=field, hint=hint)
        )
    if len(rows) > MAX_ROWS_LISTED:
        rest = ", ".join(str(int(i) + 2) for i in rows[MAX_ROWS_LISTED:])
        found.append(
            InputError(
                f"{len(rows) - MAX_ROWS_LISTED} more row(s) fail the same check (rows {rest}).",
                path=path,
                field=field,
                hint=hint,
            )
        )


def check_allowed(df: pd.DataFrame, path: str | Path, column: str, allowed: Sequence[str]) -> None:
    fail_first(
        df,
        ~df[column].isin(allowed),
        path,
        column,
        lambda r: f"'{r[column]}' is not a valid {column}.",
        f"Use one of: {', '.join(allowed)}.",
    )


def check_unique(df: pd.DataFrame, path: str | Path, column: str) -> None:
    fail_first(
        df,
        df[column].duplicated(),
        path,
        column,
        lambda r: f"{column} '{r[column]}' appears twice.",
        f"Give every record its own {column}.",
    )


def check_filled(df: pd.DataFrame, path: str | Path, column: str, hint: str) -> None:
    fail_first(df, df[column].eq(""), path, column, lambda r: f"{column} is empty.", hint)


def to_cycle(df: pd.DataFrame, path: str | Path, column: str) -> pd.Series:
    """A survey-cycle year column as int (2000-2100)."""
    v = pd.to_numeric(df[column], errors="coerce")
    fail_first(
        df,
        v.isna() | (v % 1 != 0) | (v < 2000) | (v > 2100),
        path,
        column,
        lambda r: f"'{r[column]}' is not a survey cycle (a year such as 2022).",
        "Write the cycle's year.",
    )
    return v.round().astype("Int64") if collecting_now() else v.astype(int)


def to_count(df: pd.DataFrame, path: str | Path, column: str) -> pd.Series:
    """A whole, non-negative count column as int."""
    v = pd.to_numeric(df[column], errors="coerce")
    fail_first(
        df,
        v.isna() | (v < 0) | (v % 1 != 0),
        path,
        column,
        lambda r: f"'{r[column]}' is not a whole number of at least 0.",
        "Write a count such as 12.",
    )
    return v.round().astype("Int64") if collecting_now() else v.astype(int)
