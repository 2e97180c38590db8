"""Intake: read one instrument's raw export into the data contract, without personal data.

Partners send KoboToolbox and ODK exports, Excel sheets and SPSS/Stata files. Everything the
report says rests on this step, so it is strict about three things:

1. **Nothing is lost or invented.** Every data row of the raw file becomes one row of `.data`,
   carrying `_source_row` so any later message can point back to it. Raw files are opened
   read-only and never written.
2. **No personal data leaves intake.** Only contract columns and `q_*` items are carried; columns
   declared as identifiers (cycle.yml `identifiers`, the instrument's `identifiers`) and the
   XLSForm's GPS and phone questions are removed, and their *names* recorded in
   `.removed_identifiers`. A GPS question mapped onto a contract column is coarsened to two
   decimals (about 1 km) instead.
3. **Bad input stops with one paragraph the analyst can act on** (`InputError`: the file, what
   is wrong, what to do), never a traceback.

Row numbers (`_source_row`): for CSV and spreadsheets, the row as a spreadsheet program shows it
(the header is row 1, the first record row 2); for JSON submissions and SPSS/Stata cases, the
1-based position of the record.

Unknown codes (policy). After the cycle's `codes:` mapping, a value of a coded column that is
neither a contract code (or a region of the country, or a choice of the item's XLSForm list) is
*unknown*. Intake leaves it in place, lists it in `.unknown_codes` (column, value, count, rows)
and in `.notes`; validation then quarantines those rows with the hint. When one column's unknown
values hit many rows (at least `UNKNOWN_MIN_ROWS` rows and more than `UNKNOWN_SHARE` of its
answers), the mapping itself is incomplete, and intake stops with an `InputError` whose hint is
the YAML to add. A non-numeric text left in a numeric column (after `codes:`) also stops intake:
map it (`"don't know": null`) or fix the export.

Repeat groups (`.repeats`, keyed by repeat name): Kobo XLSX repeat sheets, nested lists in
Kobo JSON, and ODK Central's `<form>-<repeat>.csv` files (KEY / PARENT_KEY) all become tables
with `_index`, `_parent_table`, `_parent_index` and the submission's `respondent_id`, holding
only mapped and `q_*` columns. Their unknown codes are noted, not quarantined.

Dates: Excel serial numbers and ISO text become UTC timestamps; a time without an offset is
read as UTC and noted. SPSS/Stata value labels form the codebook when no XLSForm is given;
the text "nan" (pandas' missing value saved by pyreadstat) is read as missing and noted.

Meta columns map by default when cycle.yml does not name them: respondent_id <- `_uuid` /
`meta/instanceID` / ODK `KEY`; submitted_at <- `_submission_time` / `SubmissionDate`;
started_at <- `start`; ended_at <- `end`; validation_status <- `_validation_status` /
`ReviewState`. A contract column whose name is an export header maps to it, and export
headers that already start with `q_` are carried as items.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import fnmatch
import io
import json
import math
import re
import unicodedata
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pandas as pd

from .contract import Contract, ContractColumn, load_contract
from .errors import ConfigError, Fill, InputError, Problems, VoicesError
from .registry import Cycle, Instrument, Project
from .xlsform import Codebook, Question, build_codebook, codebook_from_json, read_form

#: File-level stop for unknown codes: this many rows at least ...
UNKNOWN_MIN_ROWS = 3
#: ... and more than this share of the column's non-empty answers.
UNKNOWN_SHARE = 0.10

#: Export meta columns that hold personal data whatever the cycle declares.
PERSONAL_META = ("_geolocation", "_submitted_by", "SubmitterName", "SubmitterID", "DeviceID")

DEFAULT_SOURCES: dict[str, tuple[str, ...]] = {
    "respondent_id": ("_uuid", "meta/instanceID", "meta-instanceID", "instanceID", "KEY"),
    "submitted_at": ("_submission_time", "SubmissionDate"),
    "started_at": ("start",),
    "ended_at": ("end",),
    "validation_status": ("_validation_status", "ReviewState"),
}

_KOBO_STATUS = {
    "validation_status_approved": "approved",
    "validation_status_not_approved": "not_approved",
    "validation_status_on_hold": "on_hold",
    "approved": "approved",
    "not approved": "not_approved",
    "not_approved": "not_approved",
    "on hold": "on_hold",
    "on_hold": "on_hold",
    # ODK Central review states
    "rejected": "not_approved",
    "hasissues": "on_hold",
    "received": "none",
    "edited": "none",
    "none": "none",
}

#: XLSForm types that give q_* items a contract type (everything else stays text).
_FORM_TYPES = {
    "integer": "integer",
    "decimal": "number",
    "range": "number",
    "date": "datetime",
    "datetime": "datetime",
    "start": "datetime",
    "end": "datetime",
}

_FORMULA_RE = re.compile(r"^[=+\-@]")
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_EXCEL_EPOCH = datetime(1899, 12, 30)


# ====================================================================== results


@dataclass
class IntakeResult:
    """One instrument's export, on the contract: see the module docstring.

    `unknown_codes` (column, export_column, value, count, rows as space-separated
    `_source_row` numbers) is what validation quarantines; `notes` are for the cleaning log.
    """

    data: pd.DataFrame
    codebook: Codebook | None
    source: Path
    removed_identifiers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    repeats: dict[str, pd.DataFrame] = field(default_factory=dict)
    unknown_codes: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            columns=["column", "export_column", "value", "count", "rows"]
        )
    )
    format: str = ""


@dataclass
class RawTable:
    """Cells as read (str/int/float/datetime/None), before any mapping."""

    headers: list[str]
    rows: list[list[Any]]
    row_numbers: list[int]
    name: str = ""
    parent: str | None = None


@dataclass
class RawExport:
    main: RawTable
    repeats: dict[str, RawTable] = field(default_factory=dict)
    codebook: Codebook | None = None
    format: str = ""
    notes: list[str] = field(default_factory=list)


# ====================================================================== entry point


def read_instrument(project: Project, cycle: Cycle, name: str) -> IntakeResult:
    """Read instrument `name` of `cycle` into the contract (see module docstring)."""
    if name not in cycle.instruments:
        raise ConfigError(
            f"has no instrument '{name}' (instruments: {', '.join(sorted(cycle.instruments))}).",
            path=project.cycle_dir(cycle.country, cycle.cycle) / "cycle.yml",
            field="instruments",
            hint="Use one of the listed names or add the instrument to cycle.yml.",
        )
    inst = cycle.instruments[name]
    cdir = project.cycle_dir(cycle.country, cycle.cycle)
    contract = load_contract(project.data_dir)
    try:
        regions = project.country(cycle.country).region_codes()
    except Exception:  # noqa: BLE001 - a registry problem is reported by the registry itself
        regions = None
    source = cdir / inst.data
    codebook = read_form(cdir / inst.form) if inst.form else None
    return read_export(
        source,
        inst,
        contract=contract,
        codebook=codebook,
        cycle=cycle,
        name=name,
        regions=regions,
        config_path=cdir / "cycle.yml",
    )


def read_export(
    source: Path,
    inst: Instrument,
    *,
    contract: Contract,
    codebook: Codebook | None = None,
    cycle: Cycle | None = None,
    name: str = "",
    regions: list[str] | None = None,
    config_path: Path | None = None,
) -> IntakeResult:
    """Read one raw export with an instrument's settings; `read_instrument` without a Project."""
    source = Path(source)
    raw = read_raw(source, inst, codebook)
    codebook = codebook or raw.codebook
    if inst.values == "labels" and codebook is None:
        raise ConfigError(
            f"says the export '{source.name}' holds labels (`values: labels`) but gives no "
            "`form:` to translate them back to codes.",
            path=config_path or source.parent / "cycle.yml",
            field=f"instruments.{name}.values" if name else "values",
            hint="Add `form:` (the XLSForm) for this instrument, or export 'XML values and "
            "headers' and set `values: xml`.",
        )
    _check_shape(source, raw.main, codebook)
    identifiers = list(dict.fromkeys([*(cycle.identifiers if cycle else []), *inst.identifiers]))
    mapper = _Mapper(source, inst, contract, codebook, raw, identifiers, regions, name)
    mapper.config_path = config_path or source.parent / "cycle.yml"
    if cycle is not None:
        mapper.design_extra = design_columns(cycle, contract)
        mapper.ssu_name = cycle.design.ssu
    return mapper.run(cycle)


def design_columns(cycle: Cycle, contract: Contract) -> tuple[tuple[str, ...], str | None]:
    """(declared design columns the contract lacks, replicate-weight glob) of a cycle."""
    d = cycle.design
    names = tuple(
        n for n in dict.fromkeys((d.fpc, d.ssu, d.fpc2)) if n and n not in contract.names()
    )
    return names, (d.replicates.columns if d.replicates else None)


# ====================================================================== raw readers


def detect_format(source: Path, inst: Instrument) -> str:
    """The declared format, or one guessed from the extension and the header."""
    fmt = inst.format
    suffix = source.suffix.lower()
    if fmt != "auto":
        return fmt
    return {
        ".csv": "csv?",
        ".txt": "csv?",
        ".tsv": "csv?",
        ".xlsx": "xlsx?",
        ".xlsm": "xlsx?",
        ".json": "kobo-json",
        ".sav": "spss",
        ".zsav": "spss",
        ".dta": "stata",
        ".xls": "xls",
    }.get(suffix, "unknown")


def read_raw(source: Path, inst: Instrument, codebook: Codebook | None = None) -> RawExport:
    """Read the raw cells of an export (no mapping yet); the file is opened read-only."""
    if not source.is_file():
        raise InputError("data file not found.", path=source, hint="Correct `data:` in cycle.yml.")
    with source.open("rb") as fh:
        head = fh.read(8)
    if source.stat().st_size == 0:
        raise InputError(
            "is empty (0 bytes).",
            path=source,
            hint="Download the export again; the transfer may have failed.",
        )
    fmt = detect_format(source, inst)
    if (
        fmt == "xls"
        or (fmt.startswith("xlsx") or fmt.startswith("kobo-xlsx"))
        and head.startswith(b"\xd0\xcf\x11\xe0")
    ):
        _ole2_error(source, fmt)
    if fmt in ("csv?", "csv", "kobo-csv", "odk-csv"):
        if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
            raise InputError(
                "is named or declared as CSV but is an Excel workbook.",
                path=source,
                hint="Rename it to .xlsx (or set `format: xlsx` in cycle.yml).",
            )
        table = _read_csv(source, inst)
        fmt = _guess_flavour(table.headers, "csv") if fmt == "csv?" else fmt
        repeats = _odk_repeats(source, inst, table) if fmt == "odk-csv" else {}
        return RawExport(main=table, repeats=repeats, format=fmt)
    if fmt in ("xlsx?", "xlsx", "kobo-xlsx"):
        if not head.startswith(b"PK"):
            kind = "text (CSV?)" if _looks_text(source) else "not an Excel workbook"
            raise InputError(
                f"is named or declared as .xlsx but its content is {kind}.",
                path=source,
                hint="Rename it to match its content (e.g. .csv) or export it again as .xlsx.",
            )
        main, repeats = _read_xlsx(source, inst)
        fmt = _guess_flavour(main.headers, "xlsx") if fmt == "xlsx?" else fmt
        return RawExport(main=main, repeats=repeats, format=fmt)
    if fmt == "kobo-json":
        return _read_json(source, inst)
    if fmt in ("spss", "stata"):
        return _read_stat(source, fmt)
    raise InputError(
        f"has an extension ('{source.suffix}') we cannot read.",
        path=source,
        hint="Export CSV, XLSX, JSON, SPSS .sav or Stata .dta, or set `format:` in cycle.yml.",
    )


def _guess_flavour(headers: list[str], base: str) -> str:
    hs = set(headers)
    if {"SubmissionDate", "KEY"} & hs or "meta-instanceID" in hs:
        return "odk-csv" if base == "csv" else "xlsx"
    if {"_uuid", "_submission_time", "_id"} & hs:
        return f"kobo-{base}"
    return base


def _looks_text(source: Path) -> bool:
    with source.open("rb") as fh:
        chunk = fh.read(2048)
    return b"\x00" not in chunk or chunk[:2] in (b"\xff\xfe", b"\xfe\xff")


def _ole2_error(source: Path, fmt: str) -> None:
    """An OLE2 compound file: an encrypted OOXML workbook or a legacy .xls."""
    with source.open("rb") as fh:
        blob = fh.read(1 << 20)
    if "EncryptionInfo".encode("utf-16-le") in blob or b"EncryptedPackage" in blob.replace(
        b"\x00", b""
    ):
        raise InputError(
            "is a password-protected (encrypted) Excel workbook, which cannot be read.",
            path=source,
            hint="Open it in Excel, remove the password (File > Info > Protect Workbook), "
            "save as .xlsx and run again; or download the export again from KoboToolbox.",
        )
    raise InputError(
        "is an old Excel 97-2003 (.xls) workbook"
        + (" although its name says .xlsx" if source.suffix.lower() != ".xls" else "")
        + "; .xls is not read.",
        path=source,
        hint="Open it in Excel or LibreOffice and save it as .xlsx (or CSV UTF-8), "
        "then point `data:` in cycle.yml at the new file.",
    )


# ---------------------------------------------------------------------- text and CSV


def decode_text(source: Path, declared: str | None) -> str:
    """Decode a text export: UTF-8 (BOM or not) and UTF-16 (BOM) are detected; others declared.

    Windows-1258 (Vietnamese) writes tone marks as combining characters, so text is normalised
    to NFC: "Nữ" read from cp1258 then equals "Nữ" typed in a UTF-8 YAML file.
    """
    with source.open("rb") as fh:
        data = fh.read()
    yaml_hint = "Set `encoding:` for this instrument in cycle.yml (e.g. `encoding: cp1258`)"
    bom = None
    if data.startswith(b"\xef\xbb\xbf"):
        bom = "utf-8-sig"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        bom = "utf-16"
    if declared:
        try:
            codecs.lookup(declared)
        except LookupError:
            raise InputError(
                f"cycle.yml declares encoding '{declared}', which Python does not know.",
                path=source,
                hint="Use a codec name such as utf-8, utf-16, cp1258 (Vietnamese Windows), "
                "cp1252 or latin-1.",
            ) from None
        enc = declared.lower().replace("_", "-")
        is_utf8 = enc in ("utf-8", "utf8", "utf-8-sig")
        if bom == "utf-16" and not enc.startswith("utf-16"):
            raise InputError(
                f"is UTF-16 text (it starts with a UTF-16 byte-order mark), but cycle.yml "
                f"declares encoding '{declared}'.",
                path=source,
                hint="Remove `encoding:` from cycle.yml (UTF-16 is detected), or save the file "
                "as 'CSV UTF-8'.",
            )
        if bom == "utf-8-sig" and not is_utf8:
            raise InputError(
                f"is UTF-8 (it starts with a UTF-8 byte-order mark), but cycle.yml declares "
                f"encoding '{declared}'.",
                path=source,
                hint="Remove `encoding:` from cycle.yml; UTF-8 is detected.",
            )
        if not is_utf8 and bom is None and not data.isascii():
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                raise InputError(
                    f"is valid UTF-8, but cycle.yml declares encoding '{declared}': reading it "
                    "that way would garble every accented letter.",
                    path=source,
                    hint="Remove `encoding:` from cycle.yml for this instrument.",
                )
        try:
            text = data.decode("utf-8-sig" if is_utf8 else declared)
        except LookupError:
            raise InputError(
                f"cycle.yml declares encoding '{declared}', which Python does not know.",
                path=source,
                hint="Use a codec name such as utf-8, utf-16, cp1258 (Vietnamese Windows), "
                "cp1252 or latin-1.",
            ) from None
        except UnicodeDecodeError as exc:
            raise InputError(
                f"cannot be read as '{declared}' (byte {exc.start} is not valid in it).",
                path=source,
                hint=f"Check the encoding the export was saved with. {yaml_hint}.",
            ) from None
    elif bom:
        try:
            text = data.decode(bom)
        except UnicodeDecodeError as exc:
            raise InputError(
                f"starts with a {bom} byte-order mark but is not valid {bom} (byte {exc.start}).",
                path=source,
                hint="The file is damaged or mixes encodings; export it again as 'CSV UTF-8'.",
            ) from None
    else:
        if data[:200].count(b"\x00") > len(data[:200]) // 4:
            raise InputError(
                "looks like UTF-16 text without a byte-order mark, which cannot be detected "
                "safely.",
                path=source,
                hint="Set `encoding: utf-16-le` (or utf-16-be) for this instrument in cycle.yml, "
                "or save the file as 'CSV UTF-8'.",
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise InputError(
                f"is not UTF-8 (first bad byte 0x{data[exc.start]:02x} on line {line}); its "
                "encoding must be declared.",
                path=source,
                row=line,
                hint=f"{yaml_hint}; Vietnamese Excel exports are often cp1258, Western ones "
                "cp1252. Or save it again as 'CSV UTF-8'.",
            ) from None
    return unicodedata.normalize("NFC", text)


def _sniff_delimiter(text: str) -> str:
    """The separator that splits the header into the most fields, consistently in early rows.

    Kobo writes ';' or ',', Excel "Unicode text" a tab. csv.Sniffer is easily fooled by commas
    inside answers, so each candidate is scored on the first records it parses.
    """
    head = text[:65536]
    first = head.split("\n", 1)[0]
    if not any(d in first for d in ";,\t|"):
        return "\x1f"  # one column: a ',' or ';' further down is part of an answer
    best, best_score = ",", (-1, -1)
    for delim in (";", ",", "\t", "|"):
        if delim not in first:
            continue
        try:
            recs = list(csv.reader(io.StringIO(head, newline=""), delimiter=delim))[:50]
        except csv.Error:
            continue
        recs = [r for r in recs[:-1] if r] or recs  # the last record may be cut off
        if not recs:
            continue
        width = len(recs[0])
        consistent = sum(len(r) == width for r in recs[1:])
        score = (consistent, width)
        if score > best_score:
            best, best_score = delim, score
    return best


def _read_csv(source: Path, inst: Instrument) -> RawTable:
    text = decode_text(source, inst.encoding)
    if not text.strip():
        raise InputError(
            "holds no data (only blank lines).",
            path=source,
            hint="Download the export again; the transfer may have failed.",
        )
    delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = list(reader)
    except csv.Error as exc:
        raise InputError(
            f"is not well-formed CSV ({exc}).",
            path=source,
            hint="Check for an unclosed quote; export it again from the tool.",
        ) from None
    # row numbers as a spreadsheet shows them (quoted newlines make lines != records)
    rows_with_no = [(i, r) for i, r in enumerate(records, start=1) if any(c.strip() for c in r)]
    if not rows_with_no:
        raise InputError("holds no data.", path=source, hint="Download the export again.")
    _, header = rows_with_no[0]
    header = [h.strip() for h in header]
    # trailing empty column from a trailing separator
    while header and header[-1] == "" and all(len(r) <= len(header) for _, r in rows_with_no):
        header = header[:-1]
        rows_with_no = [(i, r[: len(header)]) for i, r in rows_with_no]
    ragged = [(i, len(r)) for i, r in rows_with_no[1:] if len(r) != len(header)]
    if ragged:
        shown = ", ".join(f"row {i} has {n}" for i, n in ragged[:5])
        raise InputError(
            f"has rows with a different number of fields than its header ({len(header)} "
            f"fields, separator '{delimiter}'): {shown}"
            + (f" and {len(ragged) - 5} more" if len(ragged) > 5 else "")
            + ".",
            path=source,
            row=ragged[0][0],
            hint="A separator inside an unquoted value usually causes this; export the file "
            "again (Kobo: CSV with ';') or quote the values.",
        )
    rows = [[c if c != "" else None for c in r] for _, r in rows_with_no[1:]]
    return RawTable(header, rows, [i for i, _ in rows_with_no[1:]], name=source.stem)


def _odk_repeats(source: Path, inst: Instrument, main: RawTable) -> dict[str, RawTable]:
    """ODK Central's repeat CSVs beside the main one (`<form>-<repeat>.csv`), linked by KEY.

    Each row's PARENT_KEY is the KEY of its parent (the submission or an outer repeat row);
    the links are rewritten as Kobo's `_index` / `_parent_table_name` / `_parent_index`, so
    both tools' repeats are joined the same way.
    """
    if "KEY" not in main.headers:
        return {}
    tables: dict[str, RawTable] = {}
    for path in sorted(source.parent.glob(f"{source.stem}-*.csv")):
        table = _read_csv(path, inst)
        if {"KEY", "PARENT_KEY"} <= set(table.headers):
            tables[path.stem[len(source.stem) + 1 :]] = table
    if not tables:
        return {}
    where: dict[str, tuple[str, int]] = {}
    key_col = main.headers.index("KEY")
    for i, r in enumerate(main.rows, start=1):
        where[str(r[key_col])] = ("main", i)
    for name, t in tables.items():
        k = t.headers.index("KEY")
        for i, r in enumerate(t.rows, start=1):
            where[str(r[k])] = (name, i)
    for name, t in tables.items():
        pk = t.headers.index("PARENT_KEY")
        t.headers = [*t.headers, "_index", "_parent_table_name", "_parent_index"]
        for i, r in enumerate(t.rows, start=1):
            parent = where.get(str(r[pk]))
            if parent is None:
                raise InputError(
                    f"row {t.row_numbers[i - 1]} has PARENT_KEY '{r[pk]}', which is not a KEY "
                    "of the main export or another repeat file.",
                    path=source.parent / f"{source.stem}-{name}.csv",
                    row=t.row_numbers[i - 1],
                    hint="Export all files of the form together from ODK Central (one zip).",
                )
            r.extend([i, parent[0], parent[1]])
        t.name = name
    return tables


# ---------------------------------------------------------------------- XLSX


def _read_xlsx(source: Path, inst: Instrument) -> tuple[RawTable, dict[str, RawTable]]:
    """Main sheet plus Kobo repeat sheets (those with `_index` and `_parent_index`).

    calamine (Rust) reads a 2,000-row Kobo export in under a second where openpyxl takes tens
    of seconds; openpyxl is used when the workbook holds formulas (calamine would give their
    cached results, or nothing, where we keep the formula text) and to explain damaged files.
    """
    fast = _calamine_sheets(source)
    if fast is not None:
        names, rows_of = fast
        return _xlsx_tables(source, inst, names, rows_of)
    import openpyxl

    try:
        wb = openpyxl.load_workbook(source, read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, EOFError, OSError, ValueError) as exc:
        raise InputError(
            f"is not a readable .xlsx workbook ({type(exc).__name__}: {exc}); it is probably "
            "truncated or damaged.",
            path=source,
            hint="Download the export again (check the file size), or open it in Excel and "
            "save a new copy.",
        ) from None
    try:
        return _xlsx_tables(
            source, inst, wb.sheetnames, lambda name: wb[name].iter_rows(values_only=True)
        )
    except (zipfile.BadZipFile, EOFError, KeyError, OSError) as exc:
        raise InputError(
            f"is a damaged .xlsx workbook ({type(exc).__name__}); it is probably truncated.",
            path=source,
            hint="Download the export again, or open it in Excel and save a new copy.",
        ) from None
    finally:
        wb.close()


_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[ >/]")


def _calamine_sheets(source: Path):
    """(sheet names, rows reader) via calamine, or None to use openpyxl instead."""
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:  # pragma: no cover - optional speed-up
        return None
    try:
        with zipfile.ZipFile(source) as zf:
            sheets = [
                i
                for i in zf.infolist()
                if i.filename.startswith("xl/worksheets/") and i.filename.endswith(".xml")
            ]
            if any(_FORMULA_TAG.search(zf.read(i)) for i in sheets):
                return None
        wb = CalamineWorkbook.from_path(str(source))
        names = list(wb.sheet_names)
    except Exception:  # noqa: BLE001 - openpyxl then names the problem for the analyst
        return None

    def rows_of(name: str):
        return wb.get_sheet_by_name(name).to_python(skip_empty_area=False)

    return names, rows_of


def _xlsx_tables(source: Path, inst: Instrument, names: list[str], rows_of) -> tuple:
    main_name = inst.sheet or names[0]
    if main_name not in names:
        raise InputError(
            f"has no sheet '{main_name}' (sheets: {', '.join(names)}).",
            path=source,
            field="sheet",
            hint="Correct `sheet:` for this instrument in cycle.yml.",
        )
    main = _sheet_table(rows_of(main_name), main_name, source)
    repeats = {}
    if "_index" in main.headers:
        for sname in names:
            if sname == main_name:
                continue
            table = _sheet_table(rows_of(sname), sname, source, allow_empty=True)
            if {"_index", "_parent_index"} <= set(table.headers):
                repeats[sname] = table
    return main, repeats


def _sheet_table(values_iter, title: str, source: Path, allow_empty: bool = False) -> RawTable:
    header: list[str] | None = None
    rows: list[list[Any]] = []
    numbers: list[int] = []
    for i, raw in enumerate(values_iter, start=1):
        values = [None if (isinstance(v, str) and not v.strip()) else v for v in raw or ()]
        if all(v is None for v in values):
            continue
        if header is None:
            header = [str(v).strip() if v is not None else "" for v in values]
            while header and header[-1] == "":
                header.pop()
            continue
        vals = list(values[: len(header)]) + [None] * (len(header) - len(values))
        if any(v is not None for v in values[len(header) :]):
            raise InputError(
                f"row {i} of sheet '{title}' has values beyond the last header column.",
                path=source,
                row=i,
                hint="Give those columns a header or delete them.",
            )
        rows.append([_cell(v) for v in vals])
        numbers.append(i)
    if header is None:
        if allow_empty:
            return RawTable([], [], [], name=title)
        raise InputError(
            f"sheet '{title}' is empty.",
            path=source,
            hint="Download the export again, or set `sheet:` to the sheet holding the data.",
        )
    return RawTable(header, rows, numbers, name=title)


def _cell(v: Any) -> Any:
    if isinstance(v, str):
        v = unicodedata.normalize("NFC", v)
        return v if v.strip() else None
    return v


# ---------------------------------------------------------------------- JSON (Kobo API)


def _read_json(source: Path, inst: Instrument) -> RawExport:
    text = decode_text(source, inst.encoding)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"is not valid JSON ({exc.msg} at line {exc.lineno}).",
            path=source,
            row=exc.lineno,
            hint="Download the submissions again from the Kobo API (…/data.json); the file "
            "may be truncated.",
        ) from None
    codebook = None
    if isinstance(data, dict):
        if isinstance(data.get("content"), dict):
            codebook = codebook_from_json(data, source=source)
        subs = data.get("results", data.get("submissions"))
    else:
        subs = data
    if not isinstance(subs, list) or not all(isinstance(s, dict) for s in subs):
        raise InputError(
            "holds no list of submissions (expected a JSON list, or an object with 'results' "
            "or 'submissions').",
            path=source,
            hint="Use the Kobo API's data endpoint (…/data.json) or a Kobo CSV/XLSX export.",
        )
    main_rows: list[dict[str, Any]] = []
    tables: dict[str, list[dict[str, Any]]] = defaultdict(list)
    parents: dict[str, str] = {}

    def walk(record: dict[str, Any], into: dict[str, Any], table: str, index: int) -> None:
        for key, value in record.items():
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                rep = key.rsplit("/", 1)[-1]
                parents[rep] = table
                for child in value:
                    row: dict[str, Any] = {
                        "_index": len(tables[rep]) + 1,
                        "_parent_table_name": table,
                        "_parent_index": index,
                    }
                    tables[rep].append(row)
                    walk(child, row, rep, row["_index"])
            elif isinstance(value, dict):
                into[key] = (
                    _status_value(value)
                    if key == "_validation_status"
                    else json.dumps(value, sort_keys=True)
                )
            elif isinstance(value, list):
                into[key] = " ".join(str(v) for v in value) if value else None
            else:
                into[key] = value

    for i, sub in enumerate(subs, start=1):
        row: dict[str, Any] = {"_index": i}
        walk(sub, row, "main", i)
        main_rows.append(row)
    main = _dict_table(main_rows, "main")
    repeats = {name: _dict_table(rows, name) for name, rows in tables.items()}
    for name, t in repeats.items():
        t.parent = parents.get(name)
    return RawExport(main=main, repeats=repeats, codebook=codebook, format="kobo-json")


def _status_value(value: dict[str, Any]) -> str | None:
    return value.get("uid") or value.get("label") or None


def _dict_table(rows: list[dict[str, Any]], name: str) -> RawTable:
    headers: list[str] = []
    for r in rows:
        for k in r:
            if k not in headers:
                headers.append(k)
    cells = [[_cell(r.get(h)) for h in headers] for r in rows]
    return RawTable(headers, cells, list(range(1, len(rows) + 1)), name=name)


# ---------------------------------------------------------------------- SPSS / Stata


def _read_stat(source: Path, fmt: str) -> RawExport:
    import pyreadstat

    reader = pyreadstat.read_sav if fmt == "spss" else pyreadstat.read_dta
    try:
        df, meta = reader(str(source), apply_value_formats=False, user_missing=False)
    except Exception as exc:  # noqa: BLE001 - pyreadstat raises its own error types
        raise InputError(
            f"cannot be read as a {'SPSS .sav' if fmt == 'spss' else 'Stata .dta'} file "
            f"({type(exc).__name__}: {exc}).",
            path=source,
            hint="Check that the file is complete and really of that type; export it again.",
        ) from None
    headers = [str(c) for c in df.columns]
    rows = []
    for rec in df.itertuples(index=False):
        rows.append([_stat_cell(v) for v in rec])
    # pandas writes a missing string as the text "nan" when it saves .sav/.dta through
    # pyreadstat; SPSS and Stata themselves write blanks. Read it as missing, and say so.
    notes = []
    for j, h in enumerate(headers):
        hits = [i for i, r in enumerate(rows) if r[j] == "nan"]
        for i in hits:
            rows[i][j] = None
        if hits:
            notes.append(
                f"'{h}' held the text 'nan' in {len(hits)} row(s) (a pandas missing value "
                "saved as text); read as missing."
            )
    # value labels are the codebook (SPSS/Stata carry no XLSForm)
    survey = []
    choices = []
    for col in headers:
        labels = meta.variable_value_labels.get(col)
        qlabel = (meta.column_names_to_labels or {}).get(col)
        row: dict[str, Any] = {"type": f"select_one {col}" if labels else "text", "name": col}
        if qlabel:
            row["label"] = qlabel
        survey.append(row)
        for code, lab in (labels or {}).items():
            choices.append({"list_name": col, "name": code, "label": lab})
    codebook = build_codebook(survey, choices, source=source)
    table = RawTable(headers, rows, list(range(1, len(rows) + 1)), name=source.stem)
    return RawExport(main=table, codebook=codebook, format=fmt, notes=notes)


def _stat_cell(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    return _cell(v)


# ====================================================================== shape checks


def _check_shape(source: Path, table: RawTable, codebook: Codebook | None) -> None:
    """Problems of the table as a whole: no rows, duplicate or blank headers, second headers."""
    if not table.rows:
        raise InputError(
            "has a header but no data rows.",
            path=source,
            hint="Check the export filters (date range, validation status) and download again.",
        )
    dupes = sorted(h for h, n in Counter(table.headers).items() if n > 1 and h)
    if dupes:
        raise InputError(
            f"has duplicate column names: {', '.join(dupes)}.",
            path=source,
            row=1,
            hint="Rename the duplicates so each column is unique (Kobo adds _001 when two "
            "questions share a name), then run again.",
        )
    blanks = [i + 1 for i, h in enumerate(table.headers) if not h]
    if blanks and any(any(r[i - 1] is not None for r in table.rows) for i in blanks):
        raise InputError(
            f"has data in column(s) without a header (position {', '.join(map(str, blanks))}).",
            path=source,
            row=1,
            hint="Give those columns a header or delete them.",
        )
    first = table.rows[0]
    texts = [str(v).strip() for v in first]
    non_empty = [(h, t) for h, t in zip(table.headers, texts, strict=False) if t and t != "None"]
    if non_empty and sum(h == t for h, t in non_empty) >= max(2, 0.8 * len(non_empty)):
        raise InputError(
            "repeats its header in the next row (a second header row).",
            path=source,
            row=table.row_numbers[0],
            hint="Delete that row (it is not a respondent), or export again with a single "
            "header row.",
        )
    if codebook is not None:
        labels = codebook.question_labels()
        hits = sum(1 for _, t in non_empty if t.casefold() in labels)
        if hits >= 2 and hits >= 0.5 * len(non_empty):
            raise InputError(
                "has a row of question labels under its header (Kobo's 'XML values and "
                "headers' export with a label row).",
                path=source,
                row=table.row_numbers[0],
                hint="Export again with 'XML values and headers' only, or delete that row.",
            )


# ====================================================================== mapping


def _code_text(v: Any) -> str | None:
    """A raw cell as the string cycle.yml codes are written in: 1.0 -> '1'."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return None
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, datetime | date | time):
        return v.isoformat()
    text = str(v).strip()
    return text or None


def _code_key(v: Any) -> str | None:
    """A cell as a code: like `_code_text`, and '1.0' (a float written as text) -> '1'."""
    t = _code_text(v)
    if t is not None and "." in t and _is_number(t) and "e" not in t.lower():
        f = float(t)
        if f.is_integer():
            return str(int(f))
    return t


def _norm(path: str) -> str:
    return path.replace("-", "/").casefold()


class _Mapper:
    """Turns a RawExport into contract columns (one instance per read)."""

    def __init__(
        self,
        source: Path,
        inst: Instrument,
        contract: Contract,
        codebook: Codebook | None,
        raw: RawExport,
        identifiers: list[str],
        regions: list[str] | None,
        name: str,
    ) -> None:
        self.source = source
        self.inst = inst
        self.contract = contract
        self.codebook = codebook
        self.raw = raw
        self.identifiers = identifiers
        self.regions = regions
        self.name = name
        self.notes: list[str] = list(raw.notes)
        self.unknown: list[dict[str, Any]] = []
        self.removed: list[str] = []
        self.config_path = source.parent / "cycle.yml"
        self.repeat_table: str | None = None
        # mapping and code problems, collected so one run reports all of them (`run` raises)
        self.problems: list[VoicesError] = []
        # design columns the cycle declares beyond the contract's (fpc, ssu, fpc2 names; the
        # replicate-weight glob): carried as numbers (ssu as text) so estimation can use them
        self.design_extra: tuple[tuple[str, ...], str | None] = ((), None)
        self.replicate_columns: set[str] = set()

    # ------------------------------------------------------------------ column lookup
    def resolve(self, target: str, headers: list[str]) -> str | None:
        """Find `target` among headers: exact, group path with '/' or '-', last segment, label."""
        if target in headers:
            return target
        want = _norm(target)
        exact = [h for h in headers if _norm(h) == want]
        if len(exact) == 1:
            return exact[0]
        last = want.rsplit("/", 1)[-1]
        cands = [h for h in headers if _norm(h).rsplit("/", 1)[-1] == last]
        if len(cands) == 1:
            return cands[0]
        if len(cands) > 1:
            raise InputError(
                f"column '{target}' matches several headers: {', '.join(cands)}.",
                path=self.source,
                hint=f"Write the full group path in the cycle.yml mapping, e.g. '{cands[0]}'.",
            )
        if self.codebook is not None:
            q = self.codebook.question(target)
            if q is not None:
                for text in q.labels.values():
                    if text in headers:
                        return text
        return None

    def _select_dummies(self, column: str, headers: list[str]) -> list[str]:
        """0/1 columns of a select_multiple: Kobo/ODK `q/choice`; SPSS/Stata `q_choice`."""
        prefix = column + "/"
        out = [h for h in headers if h.startswith(prefix) and "/" not in h[len(prefix) :]]
        q = self._question(column)
        if out or q is None or q.select != "multiple" or self.codebook is None:
            return out
        choices = set(self.codebook.choice_list(q.name))
        n = len(column) + 1
        return [h for h in headers if h[:n] in (column + "_", column + ".") and h[n:] in choices]

    def _question(self, header: str) -> Question | None:
        """The form's question behind an export header (XML name, path, or label header)."""
        if self.codebook is None:
            return None
        q = self.codebook.question(header)
        if q is None and self.inst.values == "labels":
            q = next(
                (q for q in self.codebook.questions.values() if header in q.labels.values()), None
            )
        return q

    # ------------------------------------------------------------------ identifiers
    def identifier_columns(self, table: RawTable) -> dict[str, str]:
        """Export columns holding personal data -> why (declared, GPS/phone type, meta)."""
        out: dict[str, str] = {}
        for ident in self.identifiers:
            for h in table.headers:
                if _is_part(h, ident):
                    out[h] = "declared identifier"
        geo = self.codebook.identifying_questions() if self.codebook is not None else []
        for h in table.headers:
            if h in PERSONAL_META:
                out.setdefault(h, "personal meta column")
            for gq in geo:
                if _is_part(h, gq.path) or _is_part(h, gq.name):
                    out.setdefault(h, f"{gq.type} question {gq.name}")
        return out

    # ------------------------------------------------------------------ main
    def run(self, cycle: Cycle | None) -> IntakeResult:
        table = self.raw.main
        headers = table.headers
        idents = self.identifier_columns(table)
        plan = self._plan(table, idents, repeat=False)
        data = self._build(table, plan, idents)
        data.insert(0, "_source_row", pd.array(table.row_numbers, dtype="Int64"))
        n = len(data)
        data["instrument"] = pd.array([self.name] * n, dtype="string")
        data["country"] = pd.array([cycle.country if cycle else None] * n, dtype="string")
        data["cycle"] = pd.array([cycle.cycle if cycle else None] * n, dtype="Int64")
        self.removed.extend(h for h in headers if h in idents)
        # repeats
        repeats: dict[str, pd.DataFrame] = {}
        root_ids = self._root_ids(table, data)
        for rname, rtable in self.raw.repeats.items():
            repeats[rname] = self._build_repeat(rname, rtable, root_ids)
        if len(self.problems) == 1:
            raise self.problems[0]
        if self.problems:
            raise Problems(self.problems, path=self.source)
        carried = set(plan.values()) | {
            d for e in plan.values() for d in self._select_dummies(e, headers)
        }
        synthetic = {"_index"} if self.raw.format == "kobo-json" else set()
        unmapped = len([h for h in headers if h not in carried | synthetic and h not in idents])
        if unmapped:
            self.notes.append(
                f"{unmapped} export column(s) not mapped to the contract were not carried."
            )
        removed = sorted(dict.fromkeys(self.removed))
        if removed:
            self.notes.append(f"Removed personal-data columns: {', '.join(removed)}.")
        unknown = pd.DataFrame(
            self.unknown, columns=["column", "export_column", "value", "count", "rows"]
        )
        if not unknown.empty:
            unknown = unknown.sort_values(["column", "value"]).reset_index(drop=True)
        return IntakeResult(
            data=data,
            codebook=self.codebook,
            source=self.source,
            removed_identifiers=removed,
            notes=self.notes,
            repeats=dict(sorted(repeats.items())),
            unknown_codes=unknown,
            format=self.raw.format,
        )

    def _plan(self, table: RawTable, idents: dict[str, str], repeat: bool) -> dict[str, str]:
        """contract column -> export header, for this table."""
        headers = table.headers
        plan: dict[str, str] = {}
        known = set(self.contract.names())
        declared, _glob = self.design_extra
        for col, export in self.inst.mapping.items():
            if col not in known and not self.contract.is_item(col) and col not in declared:
                self._problem(
                    ConfigError(
                        f"maps '{col}', which is neither a contract column nor a "
                        f"'{self.contract.item_prefix}' item.",
                        path=self._yaml_path(),
                        field=f"instruments.{self.name}.mapping.{col}",
                        hint="Use a column name from data/contract.yml or prefix indicator items "
                        f"with '{self.contract.item_prefix}'.",
                    )
                )
                continue
            try:
                hit = self.resolve(export, headers)
            except InputError as err:
                self._problem(err)
                plan[col] = ""  # reported once; dropped before building
                continue
            if hit is None and self._select_dummies(export, headers):
                hit = export
            if hit is None:
                if repeat or self._in_repeat(export):
                    continue
                plan[col] = ""
                close = _closest(export, headers)
                self._problem(
                    InputError(
                        f"has no column '{export}', which cycle.yml maps to '{col}'"
                        + (f"; closest headers: {', '.join(close)}" if close else "")
                        + ".",
                        path=self.source,
                        field=export,
                        hint=f"Correct instruments.{self.name}.mapping.{col} in cycle.yml"
                        + (f" (e.g. `{col}: {close[0]}`)" if close else "")
                        + ", or re-export with that question included.",
                        fix=self._mapping_fix(col, close[0] if close else None, "closest header"),
                    )
                )
                continue
            plan[col] = hit
        if repeat:
            return {k: v for k, v in plan.items() if v}
        for col, sources in DEFAULT_SOURCES.items():
            if col not in plan:
                hit = next((s for s in sources if s in headers), None)
                if hit:
                    plan[col] = hit
        for c in self.contract.columns:
            if c.name not in plan and self.name_population() in c.populations:
                try:
                    hit = self.resolve(c.name, headers)
                except InputError as err:
                    if c.required:
                        self._problem(err)
                        plan[c.name] = ""  # reported; not "missing" as well
                    hit = None
                if hit and hit not in idents:
                    plan[c.name] = hit
        self._design_columns(plan, headers, idents)
        self._auto_items(plan, headers, idents)
        self._check_required(plan, headers)
        self._check_identifier_conflicts(plan, idents)
        return {k: v for k, v in plan.items() if v}

    def _problem(self, err: VoicesError) -> None:
        self.problems.append(err)

    def _mapping_fix(self, col: str, export: str | None, why: str) -> dict[str, Any]:
        value = Fill(export, f"guess: {why}; check") if export else Fill("TODO", "export column")
        return {"instruments": {self.name: {"mapping": {col: value}}}}

    @property
    def design_numeric(self) -> set[str]:
        """Declared design columns that hold numbers (fpc and fpc2; ssu is a code)."""
        return {c for c in self.design_extra[0] if c != self.ssu_name}

    ssu_name: str | None = None

    def _design_columns(self, plan: dict[str, str], headers: list[str], idents: dict[str, str]):
        """Carry the design columns cycle.yml declares outside the contract: the fpc / ssu /
        fpc2 names (by name or group path, unless mapped) and every replicate-weight column
        matching the declared glob (by its last path segment); a declared one that is missing
        is a problem like a missing mapped column."""
        declared, glob = self.design_extra
        for col in declared:
            if col in plan:
                continue
            try:
                hit = self.resolve(col, headers)
            except InputError as err:
                self._problem(err)
                plan[col] = ""
                continue
            if hit is None:
                plan[col] = ""
                self._problem(
                    InputError(
                        f"has no column '{col}', which cycle.yml's design declares.",
                        path=self.source,
                        field=col,
                        hint=f"Map it (instruments.{self.name}.mapping: {{{col}: <export "
                        "column>}) or correct the design in cycle.yml.",
                        fix=self._mapping_fix(col, None, ""),
                    )
                )
            elif hit not in idents:
                plan[col] = hit
        if glob:
            found = 0
            for h in headers:
                last = h.replace("-", "/").rsplit("/", 1)[-1]
                if fnmatch.fnmatchcase(last, glob) and last not in plan and h not in idents:
                    plan[last] = h
                    self.replicate_columns.add(last)
                    found += 1
            if not found:
                self._problem(
                    InputError(
                        f"has no replicate-weight column matching '{glob}', which cycle.yml's "
                        "design.replicates.columns declares.",
                        path=self.source,
                        field=glob,
                        hint="Correct design.replicates.columns (a glob of the export's "
                        "replicate weight columns, e.g. rw_*), or omit it to create JK1/JKn "
                        "replicates from the PSUs.",
                    )
                )

    def _auto_items(self, plan: dict[str, str], headers: list[str], idents: dict[str, str]) -> None:
        """Carry export columns already named as items (`q_x`, `group/q_x`, or only `q_x/<choice>`)."""
        mapped = set(plan.values())
        mapped |= {d for e in plan.values() for d in self._select_dummies(e, headers)}
        for h in headers:
            if h in idents:
                continue
            last = h.replace("-", "/").rsplit("/", 1)[-1]
            if self.contract.is_item(last) and last not in plan and h not in mapped:
                plan[last] = h
                mapped.add(h)
                continue
            if "/" in h:
                base = h.rsplit("/", 1)[0]
                blast = base.replace("-", "/").rsplit("/", 1)[-1]
                if self.contract.is_item(blast) and blast not in plan and base not in mapped:
                    plan[blast] = base
                    mapped.add(base)

    def _in_repeat(self, export: str) -> bool:
        return any(self.resolve(export, t.headers) for t in self.raw.repeats.values())

    def name_population(self) -> str:
        return self.inst.population

    def _yaml_path(self) -> Path:
        return self.config_path

    def _check_required(self, plan: dict[str, str], headers: list[str]) -> None:
        for c in self.contract.for_population(self.inst.population):
            if not c.required or c.name in plan:
                continue
            if c.role == "design":
                self.notes.append(
                    f"Design column '{c.name}' is not in the export; it must come from the "
                    "weighting step."
                )
                continue
            close = _closest(c.name, headers, cutoff=0.5)
            self._problem(
                InputError(
                    f"has no column for the required contract column '{c.name}'"
                    + (f"; closest headers: {', '.join(close)}" if close else "")
                    + ".",
                    path=self.source,
                    field=c.name,
                    hint=f"Map it in cycle.yml: instruments.{self.name}.mapping: "
                    f"{{{c.name}: {close[0] if close else '<export column>'}}}.",
                    fix=self._mapping_fix(c.name, close[0] if close else None, "closest header"),
                )
            )

    def _check_identifier_conflicts(self, plan: dict[str, str], idents: dict[str, str]) -> None:
        for col, export in plan.items():
            why = idents.get(export)
            if why and "geo" not in why and not why.startswith("part of"):
                self._problem(
                    ConfigError(
                        f"maps '{col}' to '{export}', which is declared as personal data ({why}).",
                        path=self._yaml_path(),
                        field=f"instruments.{self.name}.mapping.{col}",
                        hint="Remove the mapping, or remove the column from `identifiers` if it "
                        "really holds no personal data.",
                    )
                )

    # ------------------------------------------------------------------ building columns
    def _build(self, table: RawTable, plan: dict[str, str], idents: dict[str, str]) -> pd.DataFrame:
        cols: dict[str, Any] = {}
        idx = {h: i for i, h in enumerate(table.headers)}
        for col in sorted(plan, key=self._order):
            export = plan[col]
            q = self._question(export)
            dummies = self._select_dummies(export, table.headers)
            if dummies or (q is not None and q.select == "multiple"):
                cols.update(self._select_multiple(col, export, q, table, idx, dummies))
                continue
            values = (
                [r[idx[export]] for r in table.rows] if export in idx else [None] * len(table.rows)
            )
            if export in idents:  # a mapped GPS question: coarsen, never copy
                values = [_coarsen_geo(v) for v in values]
                self.notes.append(f"'{export}' ({idents[export]}) coarsened to 2 decimals.")
            cols[col] = self._convert(col, export, values, table, q)
        return pd.DataFrame(cols, index=pd.RangeIndex(len(table.rows)))

    def _order(self, col: str) -> tuple[int, str]:
        names = self.contract.names()
        return (names.index(col), col) if col in names else (len(names), col)

    def _convert(
        self, col: str, export: str, values: list[Any], table: RawTable, q: Question | None
    ) -> Any:
        spec = self._spec(col)
        # labels export: translate labels back to codes
        if self.inst.values == "labels" and q is not None and q.list_name and self.codebook:
            lookup = self.codebook.label_to_code(q.name)
            values = [
                lookup.get(unicodedata.normalize("NFC", str(v)).strip().casefold(), v)
                if v is not None
                else None
                for v in values
            ]
        if col == "validation_status":
            values = [self._status(v) for v in values]
        mapping = self.inst.codes.get(col, {})
        allowed = self._allowed(col, spec, q)
        coded = bool(mapping) or allowed is not None
        texts = [_code_key(v) if coded else _code_text(v) for v in values]
        if mapping:
            values = [
                mapping.get(t, v) if t is not None else None
                for v, t in zip(values, texts, strict=True)
            ]
            texts = [_code_key(v) for v in values]
        self._formula_notes(col, export, values, table)
        if allowed is not None:
            # "Female" is the code "female": take the declared spelling
            canon = {a.casefold(): a for a in allowed}
            texts = [canon.get(t.casefold(), t) if t is not None else None for t in texts]
            if spec is None or spec.type in ("category", "string"):
                values = texts
            before = len(self.problems)
            self._record_unknown(col, export, texts, table, allowed)
            if len(self.problems) > before:  # reported; converting would report it again
                return pd.array([None] * len(texts), dtype="string")
        kind = spec.type if spec else _FORM_TYPES.get(q.type if q else "", "string")
        if spec is None and (col in self.replicate_columns or col in self.design_numeric):
            kind = "number"
        if kind in ("integer", "number"):
            return self._numeric(col, export, values, table, kind)
        if kind == "datetime":
            return self._datetime(col, export, values, table)
        if kind == "boolean":
            return self._boolean(col, export, values, table)
        return pd.array(texts, dtype="string")

    def _spec(self, col: str) -> ContractColumn | None:
        try:
            return self.contract.column(col)
        except KeyError:
            return None

    def _allowed(
        self, col: str, spec: ContractColumn | None, q: Question | None
    ) -> set[str] | None:
        if spec is not None and spec.codes is not None:
            return {str(c) for c in spec.codes}
        if col == "region" and self.regions:
            return set(self.regions)
        if spec is not None and spec.type == "boolean":
            return {"true", "false", "1", "0", "yes", "no"}
        if spec is None and q is not None and q.list_name and self.codebook is not None:
            return set(self.codebook.choices.get(q.list_name, {}))
        return None

    def _record_unknown(
        self,
        col: str,
        export: str,
        texts: list[str | None],
        table: RawTable,
        allowed: set[str],
    ) -> None:
        folded = {a.casefold() for a in allowed}
        bad: dict[str, list[int]] = defaultdict(list)
        for t, rowno in zip(texts, table.row_numbers, strict=True):
            if t is not None and t not in allowed and t.casefold() not in folded:
                bad[t].append(rowno)
        if not bad:
            return
        answered = sum(t is not None for t in texts)
        n_bad = sum(len(v) for v in bad.values())
        listing = "; ".join(
            f"'{v}' x{len(rows)} (rows {', '.join(map(str, rows[:5]))}"
            f"{', …' if len(rows) > 5 else ''})"
            for v, rows in sorted(bad.items())
        )
        if n_bad >= UNKNOWN_MIN_ROWS and n_bad > UNKNOWN_SHARE * answered:
            example = "\n".join(f'      "{v}": <contract code or null>' for v in sorted(bad)[:5])
            known = ", ".join(sorted(allowed)[:12])
            self._problem(
                InputError(
                    f"column '{export}' (mapped to '{col}') has codes that cycle.yml does not map "
                    f"and the contract does not know, in {n_bad} of {answered} answered rows: "
                    f"{listing}. Known codes: {known}.",
                    path=self.source,
                    field=export,
                    hint=f"Add them to cycle.yml under instruments.{self.name}.codes:\n"
                    f"  {col}:\n{example}",
                    fix={
                        "instruments": {
                            self.name: {"codes": {col: self._code_fills(export, bad, allowed)}}
                        }
                    },
                )
            )
            return
        if self.repeat_table:  # rows of a repeat sheet: noted, not quarantined with respondents
            self.notes.append(
                f"Unknown code(s) in repeat '{self.repeat_table}', '{export}' (-> {col}): "
                f"{listing}."
            )
            return
        for v, rows in sorted(bad.items()):
            self.unknown.append(
                {
                    "column": col,
                    "export_column": export,
                    "value": v,
                    "count": len(rows),
                    "rows": " ".join(map(str, rows)),
                }
            )
        self.notes.append(
            f"Unknown code(s) in '{export}' (-> {col}), left in place for validation to "
            f"quarantine: {listing}."
        )

    def _code_fills(
        self, export: str, bad: dict[str, list[int]], allowed: set[str]
    ) -> dict[str, Fill]:
        """A paste-ready `codes:` entry per unknown value, guessed where the form allows.

        Kobo exports choice names (`no_difficulty`) where the contract wants codes (1-4): when
        the form's choice list has as many choices as the contract has codes, the n-th choice
        is guessed to be the n-th code (the Washington Group order); a choice whose label is a
        contract code is that code. Every guess says what it rests on; the rest is TODO.
        """
        q = self._question(export)
        choices = list(self.codebook.choice_list(q.name)) if q and self.codebook else []
        labels = self.codebook.choice_list(q.name) if q and self.codebook else {}
        canon = {a.casefold(): a for a in allowed}
        order = sorted(
            allowed, key=lambda a: (not _is_number(a), float(a) if _is_number(a) else 0, a)
        )
        known = ", ".join(order[:12])
        out: dict[str, Fill] = {}
        for v in sorted(bad):
            guess, why = None, ""
            for text in (labels.get(v) or {}).values():
                folded = unicodedata.normalize("NFC", str(text)).strip().casefold()
                if folded in canon:
                    guess, why = canon[folded], f"its label is '{text}'"
                    break
            if guess is None and v in choices and len(choices) == len(order):
                i = choices.index(v)
                guess = order[i]
                why = f"choice {i + 1} of {len(choices)} in list '{q.list_name}'"
            if guess is not None and _is_number(guess):
                guess = int(float(guess)) if float(guess).is_integer() else float(guess)
            out[v] = (
                Fill(guess, f"guess: {why}; check (codes: {known})")
                if guess is not None
                else Fill("TODO", f"one of: {known}; or null for missing")
            )
        return out

    def _formula_notes(self, col: str, export: str, values: list[Any], table: RawTable) -> None:
        rows = [
            r
            for v, r in zip(values, table.row_numbers, strict=True)
            if isinstance(v, str) and _FORMULA_RE.match(v.strip()) and not _is_number(v)
        ]
        if rows:
            self.notes.append(
                f"Warning: '{export}' (-> {col}) has {len(rows)} formula-looking cell(s) "
                f"(starting with =, +, - or @) in rows {', '.join(map(str, rows[:10]))}; kept "
                "as text, never evaluated."
            )

    def _status(self, v: Any) -> str:
        if v is None:
            return "none"
        text = str(v).strip()
        if text.startswith("{"):
            try:
                obj = json.loads(text)
                text = _status_value(obj) or "none"
            except json.JSONDecodeError:
                pass
        return _KOBO_STATUS.get(text.casefold(), text)

    def _type_error(
        self, col: str, export: str, bad: list[tuple[int, Any]], what: str
    ) -> InputError:
        shown = ", ".join(f"row {r}: '{v}'" for r, v in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        return InputError(
            f"column '{export}' (mapped to '{col}', {what}) has {len(bad)} value(s) that are "
            f"not {what}: {shown}{more}.",
            path=self.source,
            row=bad[0][0],
            field=export,
            hint=f"Map them in cycle.yml (instruments.{self.name}.codes: {{{col}: "
            f'{{"{bad[0][1]}": null}}}}) or correct the export.',
            fix=(
                {
                    "instruments": {
                        self.name: {
                            "codes": {
                                col: {
                                    str(v): Fill("TODO", f"a {what[:-1]}, or null for missing")
                                    for v in sorted({str(v) for _, v in bad})
                                }
                            }
                        }
                    }
                }
                if len({str(v) for _, v in bad}) <= 12
                else None
            ),
        )

    def _numeric(self, col: str, export: str, values: list[Any], table: RawTable, kind: str) -> Any:
        out: list[float | None] = []
        bad: list[tuple[int, Any]] = []
        for v, r in zip(values, table.row_numbers, strict=True):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                out.append(None)
            elif isinstance(v, bool | int | float):
                out.append(float(v))
            elif isinstance(v, str) and _is_number(v):
                out.append(float(v.strip()))
            else:
                bad.append((r, v))
                out.append(None)
        if bad:
            self._problem(self._type_error(col, export, bad, "numbers"))
        if kind == "integer":
            frac = [
                (r, v)
                for v, r in zip(out, table.row_numbers, strict=True)
                if v is not None and not float(v).is_integer()
            ]
            if frac:
                self._problem(self._type_error(col, export, frac, "whole numbers"))
                out = [v if v is None or float(v).is_integer() else None for v in out]
            return pd.array([None if v is None else int(v) for v in out], dtype="Int64")
        return pd.array(out, dtype="Float64")

    def _datetime(self, col: str, export: str, values: list[Any], table: RawTable) -> Any:
        out: list[pd.Timestamp | None] = []
        bad: list[tuple[int, Any]] = []
        for v, r in zip(values, table.row_numbers, strict=True):
            try:
                out.append(to_utc(v))
            except (ValueError, TypeError, OverflowError):
                bad.append((r, v))
                out.append(None)
        if bad:
            self._problem(self._type_error(col, export, bad, "dates/times"))
        naive = sum(1 for v in values if v is not None and not _has_offset(v))
        if naive and export not in ("_submission_time", "SubmissionDate"):
            self.notes.append(
                f"'{export}' (-> {col}): {naive} time(s) carry no UTC offset and were read as "
                "UTC (Kobo XLSX exports write the device's local time without one)."
            )
        return pd.Series(
            [pd.NaT if v is None else v for v in out], dtype="datetime64[ns, UTC]"
        ).array

    def _boolean(self, col: str, export: str, values: list[Any], table: RawTable) -> Any:
        truth = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
        out = []
        for v in values:
            t = _code_text(v)
            out.append(None if t is None else truth.get(t.casefold(), t))
        if all(v is None or isinstance(v, bool) for v in out):
            return pd.array(out, dtype="boolean")
        return pd.array([None if v is None else str(v).lower() for v in out], dtype="string")

    # ------------------------------------------------------------------ select_multiple
    def _select_multiple(
        self,
        col: str,
        export: str,
        q: Question | None,
        table: RawTable,
        idx: dict[str, int],
        dummies: list[str],
    ) -> dict[str, Any]:
        choices = list(self.codebook.choice_list(q.name)) if q and self.codebook else []
        label_lookup = (
            self.codebook.label_to_code(q.name)
            if (q and self.codebook and self.inst.values == "labels")
            else {}
        )
        mapping = self.inst.codes.get(col, {})
        n = len(table.rows)
        selected: list[list[str] | None] = [None] * n
        if export in idx:
            for i, r in enumerate(table.rows):
                v = r[idx[export]]
                if v is None:
                    continue
                codes = _split_labels(str(v), label_lookup) if label_lookup else str(v).split()
                selected[i] = [str(mapping.get(c, c)) for c in codes]
        elif dummies:
            for i, r in enumerate(table.rows):
                vals = [(d[len(export) + 1 :], r[idx[d]]) for d in dummies]
                if all(x is None for _, x in vals):
                    continue
                selected[i] = [
                    str(mapping.get(c, c)) for c, x in vals if _code_text(x) in ("1", "true")
                ]
        seen = sorted({c for s in selected if s for c in s})
        order = choices + [c for c in seen if c not in choices]
        if choices:
            extra = [
                " ".join(c for c in s if c not in choices) or None if s else None for s in selected
            ]
            self._record_unknown(col, export, extra, table, set())
        out: dict[str, Any] = {
            col: pd.array(
                [None if s is None else " ".join(c for c in order if c in s) for s in selected],
                dtype="string",
            )
        }
        for c in order:
            out[f"{col}__{c}"] = pd.array(
                [None if s is None else int(c in s) for s in selected], dtype="Int64"
            )
        return out

    # ------------------------------------------------------------------ repeats
    def _root_ids(self, table: RawTable, data: pd.DataFrame) -> dict[int, Any]:
        """Main table `_index` -> respondent_id, so repeat rows can name their respondent."""
        if "respondent_id" not in data:
            return {}
        if "_index" in table.headers:
            i = table.headers.index("_index")
            keys = [int(float(r[i])) if r[i] is not None else None for r in table.rows]
        else:
            keys = list(range(1, len(table.rows) + 1))
        return dict(zip(keys, data["respondent_id"], strict=True))

    def _build_repeat(self, rname: str, table: RawTable, root_ids: dict[int, Any]) -> pd.DataFrame:
        idents = self.identifier_columns(table)
        self.removed.extend(h for h in table.headers if h in idents)
        plan = self._plan(table, idents, repeat=True)
        self._auto_items(plan, table.headers, idents)
        self._check_identifier_conflicts(plan, idents)
        self.repeat_table = rname
        body = (
            self._build(table, plan, idents) if plan else pd.DataFrame(index=range(len(table.rows)))
        )
        self.repeat_table = None
        h = {name: i for i, name in enumerate(table.headers)}

        def col(name: str) -> list[Any]:
            return [r[h[name]] for r in table.rows] if name in h else [None] * len(table.rows)

        index = [None if v is None else int(float(v)) for v in col("_index")]
        parent_index = [None if v is None else int(float(v)) for v in col("_parent_index")]
        parent_table = col("_parent_table_name")
        if table.parent and all(p is None for p in parent_table):
            parent_table = [table.parent] * len(table.rows)
        front = pd.DataFrame(
            {
                "_source_row": pd.array(table.row_numbers, dtype="Int64"),
                "_index": pd.array(index, dtype="Int64"),
                "_parent_table": pd.array(
                    [None if p is None else str(p) for p in parent_table], dtype="string"
                ),
                "_parent_index": pd.array(parent_index, dtype="Int64"),
            }
        )
        front["respondent_id"] = self._repeat_roots(
            rname, index, parent_index, parent_table, root_ids
        )
        return pd.concat([front, body.reset_index(drop=True)], axis=1)

    def _repeat_roots(
        self,
        rname: str,
        index: list[int | None],
        parent_index: list[int | None],
        parent_table: list[Any],
        root_ids: dict[int, Any],
    ) -> Any:
        """Walk _parent_index up to the main table to find each repeat row's respondent."""
        links: dict[str, dict[int, tuple[str, int]]] = {}
        for name, t in self.raw.repeats.items():
            hh = {n: i for i, n in enumerate(t.headers)}
            if "_index" not in hh:
                continue
            m = {}
            for r in t.rows:
                pt = r[hh["_parent_table_name"]] if "_parent_table_name" in hh else t.parent
                if r[hh["_index"]] is not None and r[hh["_parent_index"]] is not None:
                    m[int(float(r[hh["_index"]]))] = (str(pt), int(float(r[hh["_parent_index"]])))
            links[name] = m
        repeat_names = set(self.raw.repeats)
        out = []
        for pi, pt in zip(parent_index, parent_table, strict=True):
            cur_t, cur_i = (str(pt) if pt is not None else None), pi
            for _ in range(20):
                if cur_t is None or cur_i is None or cur_t not in repeat_names:
                    break
                cur_t, cur_i = links.get(cur_t, {}).get(cur_i, (None, None))
            out.append(root_ids.get(cur_i) if cur_i is not None else None)
        return pd.array(out, dtype="string")


_GEO_PARTS = {"latitude", "longitude", "altitude", "precision", "accuracy"}


def _is_part(header: str, name: str) -> bool:
    """`header` is question `name` or a piece of it, in any tool's spelling.

    `contact/phone` for `phone`; `q/choice` dummies; Kobo's `_location/gps_latitude`;
    ODK's `location-gps-Latitude`.
    """
    h, n = _norm(header), _norm(name)
    last = n.rsplit("/", 1)[-1]
    if h == n or h.rsplit("/", 1)[-1] == last or h.startswith(n + "/"):
        return True
    segs = h.lstrip("_").split("/")
    for i, seg in enumerate(segs):
        if seg == last and i + 1 < len(segs) and segs[i + 1] in _GEO_PARTS:
            return True
        if seg.startswith(last + "_") and seg[len(last) + 1 :] in _GEO_PARTS:
            return True
    return False


def _closest(name: str, headers: list[str], cutoff: float = 0.6) -> list[str]:
    """Headers most like `name`, comparing full paths and their last segments."""
    lasts: dict[str, str] = {}
    for h in headers:
        lasts.setdefault(h.replace("-", "/").rsplit("/", 1)[-1].casefold(), h)
    want = name.replace("-", "/").rsplit("/", 1)[-1].casefold()
    hits = difflib.get_close_matches(want, list(lasts), n=3, cutoff=cutoff)
    out = [lasts[h] for h in hits]
    out += [h for h in difflib.get_close_matches(name, headers, n=3, cutoff=cutoff) if h not in out]
    return out[:3]


def _split_labels(text: str, lookup: dict[str, str]) -> list[str]:
    """Split a labels-export select_multiple answer into codes, longest label first."""
    folded = unicodedata.normalize("NFC", text).strip().casefold()
    if folded in lookup:
        return [lookup[folded]]
    words = text.split()
    out: list[str] = []
    i = 0
    while i < len(words):
        for j in range(len(words), i, -1):
            cand = " ".join(words[i:j]).casefold()
            if cand in lookup:
                out.append(lookup[cand])
                i = j
                break
        else:
            out.append(words[i])
            i += 1
    return out


def _is_number(v: Any) -> bool:
    return isinstance(v, str) and bool(_NUMBER_RE.match(v.strip()))


def _coarsen_geo(v: Any) -> str | None:
    """'12.34567 -23.45678 0 4.5' -> '12.35 -23.46' (about 1 km); anything else -> None."""
    if v is None:
        return None
    parts = str(v).replace(";", " ").split()
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except (IndexError, ValueError):
        return None
    return f"{lat:.2f} {lon:.2f}"


def _has_offset(v: Any) -> bool:
    if isinstance(v, datetime):
        return v.tzinfo is not None
    return isinstance(v, str) and bool(re.search(r"(Z|[+-]\d{2}:?\d{2})$", v.strip()))


def to_utc(v: Any) -> pd.Timestamp | None:
    """A cell as a UTC timestamp: datetimes (naive = UTC), ISO text, Excel serial numbers."""
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, bool):
        raise TypeError("boolean is not a date")
    if isinstance(v, int | float) or _is_number(v):
        serial = float(v)
        if not 1 <= serial < 200000:
            raise ValueError(f"{v} is not an Excel date serial")
        return pd.Timestamp(_EXCEL_EPOCH, tz="UTC") + pd.to_timedelta(
            round(serial * 86400000), unit="ms"
        )
    if isinstance(v, datetime | date):
        ts = pd.Timestamp(v)
    else:
        text = str(v).strip()
        if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
            raise ValueError(f"{text!r} is not an ISO date")
        ts = pd.Timestamp(text)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
