"""Partner formats out: Open SDG, SDMX-CSV and the data download page.

Citizen-generated data counts once it reaches the statistics office and the VNR team in the
forms they already use. Every writer here takes the *published* tidy estimate table (after
`disclosure.apply`: ``suppressed`` rows have their statistics blanked) and:

* never lets a value of a suppressed cell out: suppressed rows are written with a blank value
  and a status saying so (Open SDG: ``Observation status`` "Missing value; suppressed", as the
  ONS platform does; SDMX: ``OBS_STATUS`` O with ``OBS_VALUE`` blank; downloads: every
  statistic blank). Keeping the row, rather than dropping it, shows readers that the group
  was surveyed and withheld on purpose, which is part of the LNOB story;
* passes every text cell through `safe_cell` so a spreadsheet never runs a formula;
* writes byte-identical files on every run: sorted rows, fixed number formats, LF line ends,
  no timestamps, Parquet without pandas metadata.

Units: estimates of proportions arrive on the 0-1 scale. Open SDG and SDMX carry percent
(``Percentage (%)`` / ``PT``), so they are multiplied by 100 there, explicitly; the downloads
keep the 0-1 scale and say so in the data dictionary.

Codes: an indicator with an official SDG code is filed under it (several CGD indicators under
one code become several ``Series``). A CGD-only indicator gets a national-style code under its
target, ``<target>.9N`` (N = 1, 2, ... in the order of indicator ids within the target); 90+
never collides with a global indicator number.
"""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from pydantic import Field, field_validator

from . import estimates
from .brief import export_brief
from .errors import ConfigError, InputError
from .estimates import (  # noqa: F401 (re-exported)
    BOOK_DOWNLOADS,
    DOWNLOADS_DIR,
    CycleMeta,
    cycle_meta,
    download_files,
)
from .pdf import export_pdf
from .quality import quality_path, write_statement
from .registry import (
    Indicator,
    IndicatorCatalogue,
    Project,
    Strict,
    label,
    load_model,
)
from .vnr import export_vnr

STAT_COLUMNS = ["estimate", "se", "ci_low", "ci_high", "deff", "n", "N", "cv"]
_NON_DIMENSION = {
    "variable",
    "grouping",
    *STAT_COLUMNS,
    "flag",
    "suppressed",
    "suppression",
    "caution",
}
DECIMALS = {"percent": 1, "score": 2, "number": 2}
OPENSDG_UNITS = {"percent": "Percentage (%)", "score": "Mean score", "number": "Number"}
OPENSDG_STATUS = {
    "normal": "Normal value",
    "caution": "Low reliability",
    "suppressed": "Missing value; suppressed",
}

SDMX_COLUMNS = [
    "DATAFLOW",
    "FREQ",
    "REPORTING_TYPE",
    "SERIES",
    "REF_AREA",
    "SEX",
    "AGE",
    "URBANISATION",
    "INCOME_WEALTH_QUANTILE",
    "EDUCATION_LEV",
    "OCCUPATION",
    "CUST_BREAKDOWN",
    "COMPOSITE_BREAKDOWN",
    "DISABILITY_STATUS",
    "ACTIVITY",
    "PRODUCT",
    "TIME_PERIOD",
    "OBS_VALUE",
    "OBS_STATUS",
    "UNIT_MULT",
    "UNIT_MEASURE",
    "BASE_PER",
    "NATURE",
    "TIME_DETAIL",
    "COMMENT_OBS",
    "TIME_COVERAGE",
    "UPPER_BOUND",
    "LOWER_BOUND",
    "SOURCE_DETAIL",
    "COMMENT_TS",
    "GEO_INFO_URL",
    "GEO_INFO_TYPE",
    "CUST_BREAKDOWN_LB",
    "DATA_LAST_UPDATE",
]
SDMX_DIMENSIONS = SDMX_COLUMNS[1:16]  # FREQ ... PRODUCT
_SDMX_ID = re.compile(r"^[A-Za-z0-9_@$\-]+$")


# --------------------------------------------------------------------------- safety


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """Neutralise spreadsheet formula injection in a text cell; numbers pass unchanged.

    A text cell starting with = + - @ tab or CR is run as a formula by Excel and LibreOffice
    (OWASP "CSV injection"); a leading apostrophe makes it inert text. Numbers, booleans and
    missing values are returned as they are, so numeric columns stay numeric.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class _Num(str):
    """A number already formatted as text: written as is, never escaped by `safe_cell`."""


def _fmt(value: object, decimals: int | None = None) -> str:
    """Fixed text for a number ('' if missing): the same bytes on every run and platform."""
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return _Num(int(value))
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return ""
        if decimals is not None:
            text = f"{value:.{decimals}f}"
            if float(text) == 0:
                text = text.lstrip("-")  # no '-0.0'
            return _Num(text)
        return _Num(format(float(value), ".12g"))
    return str(safe_cell(str(value)))


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    """UTF-8, LF, minimal quoting; every cell through `safe_cell` (via `_fmt`)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([safe_cell(h) for h in header])
    for row in rows:
        w.writerow([_cell(c) for c in row])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue().encode("utf-8"))


def _cell(c: object) -> str:
    if isinstance(c, _Num):
        return c
    return _fmt(c)


# --------------------------------------------------------------------------- cycle meta


# CycleMeta and cycle_meta live in estimates (vnr and pdf need them too); re-exported here.


# --------------------------------------------------------------------------- helpers


def _check_estimates(est: pd.DataFrame, catalogue: IndicatorCatalogue) -> pd.DataFrame:
    missing = [
        c
        for c in ("variable", "grouping", "estimate", "ci_low", "ci_high", "n")
        if c not in est.columns
    ]
    if missing:
        raise InputError(
            f"the estimate table lacks column(s) {', '.join(missing)}.",
            field=missing[0],
            hint="Pass the table from stats.estimate after disclosure.apply.",
        )
    ids = {i.id for i in catalogue.indicators}
    unknown = sorted(set(est["variable"]) - ids)
    if unknown:
        raise InputError(
            f"the estimate table names indicator(s) {', '.join(unknown)}, not in the catalogue.",
            field="variable",
            hint="Add them to data/indicators.yml or drop them from the table.",
        )
    est = est.copy()
    if "suppressed" not in est.columns:
        est["suppressed"] = False
    est["suppressed"] = est["suppressed"].fillna(False).astype(bool)
    if "flag" not in est.columns:
        est["flag"] = ""
    est["flag"] = est["flag"].fillna("").astype(str)
    return est


def dimension_columns(est: pd.DataFrame) -> list[str]:
    return [c for c in est.columns if c not in _NON_DIMENSION]


def _present(v: object) -> bool:
    if v is None or v is pd.NA:
        return False
    if isinstance(v, float) and math.isnan(v):
        return False
    return not (isinstance(v, str) and v == "")


def _sorted(est: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
    key = (
        est[["variable", "grouping", *dims]]
        .astype(object)
        .where(est[["variable", "grouping", *dims]].notna(), "")
        .astype(str)
    )
    order = key.sort_values(list(key.columns), kind="mergesort").index
    return est.loc[order].reset_index(drop=True)


def indicator_codes(catalogue: IndicatorCatalogue) -> dict[str, str]:
    """Indicator id -> SDG code used for publishing ('1.2.1', or '<target>.9N' if CGD-only)."""
    out: dict[str, str] = {}
    by_target: dict[str, list[str]] = {}
    for ind in catalogue.indicators:
        code = ind.official.indicator if ind.official else ind.sdg.indicator
        if code:
            out[ind.id] = code
        else:
            by_target.setdefault(ind.sdg.target, []).append(ind.id)
    for target, ids in by_target.items():
        for k, ind_id in enumerate(sorted(ids), start=1):
            out[ind_id] = f"{target}.{90 + k}"
    return out


def _scale(ind: Indicator) -> float:
    return 100.0 if ind.kind == "proportion" and ind.unit == "percent" else 1.0


def _status(row: dict) -> str:
    if row["suppressed"]:
        return "suppressed"
    return "caution" if row.get("flag") == "caution" else "normal"


def _dim_value_label(meta: CycleMeta, dim: str, code: object, lang: str) -> str:
    """Label of a dimension code in `lang` (regions from countries.yml, age bands as is)."""
    code = str(code)
    if dim == "region":
        for r in meta.country.regions:
            if r.code == code:
                return label(r.name, lang, code)
        return code
    try:
        d = meta.dimensions.get(dim)
    except KeyError:
        return code
    return label(d.codes.get(code), lang, code)


def _dim_label(meta: CycleMeta, dim: str, lang: str) -> str:
    try:
        return label(meta.dimensions.get(dim).label, lang, dim)
    except KeyError:
        return dim


# --------------------------------------------------------------------------- Open SDG


def export_opensdg(
    estimates: pd.DataFrame,
    catalogue: IndicatorCatalogue,
    cycle_meta: CycleMeta,
    out_dir: str | Path,
    lang: str = "en",
) -> list[Path]:
    """Write ``data/indicator_G-T-I.csv`` and ``meta/G-T-I.yml`` per SDG code; return paths.

    Columns: Year, Series, Units, one column per disaggregation (label in `lang`; blank = the
    total), GeoCode when any row is a region with a geocode, Observation status, Value.
    """
    est = _check_estimates(estimates, catalogue)
    out = Path(out_dir)
    dims = dimension_columns(est)
    codes = indicator_codes(catalogue)
    by_id = {i.id: i for i in catalogue.indicators}
    est = _sorted(est, dims)
    est["_code"] = est["variable"].map(codes)
    written: list[Path] = []
    geocodes = {r.code: r.geocode for r in cycle_meta.country.regions if r.geocode}
    year = cycle_meta.cycle.cycle
    for code in sorted(set(est["_code"]), key=_code_key):
        part = est[est["_code"] == code]
        used = [d for d in dims if part[d].map(_present).any()]
        has_geo = "region" in used and part["region"].map(lambda r: r in geocodes).any()
        header = ["Year", "Series", "Units", *[_dim_label(cycle_meta, d, lang) for d in used]]
        header += (["GeoCode"] if has_geo else []) + ["Observation status", "Value"]
        rows = []
        for rec in part.to_dict("records"):
            ind = by_id[rec["variable"]]
            status = _status(rec)
            value = (
                ""
                if status == "suppressed"
                else _fmt(rec["estimate"] * _scale(ind), DECIMALS[ind.unit])
            )
            row: list[object] = [str(year), label(ind.label, lang, ind.id), OPENSDG_UNITS[ind.unit]]
            row += [
                _dim_value_label(cycle_meta, d, rec[d], lang) if _present(rec[d]) else ""
                for d in used
            ]
            if has_geo:
                row.append(
                    geocodes.get(rec.get("region"), "") if _present(rec.get("region")) else ""
                )
            row += [OPENSDG_STATUS[status], value]
            rows.append(row)
        slug = code.replace(".", "-")
        path = out / "data" / f"indicator_{slug}.csv"
        _write_csv(path, header, rows)
        meta_path = out / "meta" / f"{slug}.yml"
        _write_yaml(meta_path, _opensdg_meta(part, code, by_id, cycle_meta, lang))
        written += [path, meta_path]
    return written


def _code_key(code: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in code.split(".")) + (code,)


def _rule_text(rule) -> str:
    if rule is None:
        return "all respondents of the instrument who answered"
    if rule.item is not None:
        if rule.in_ is not None:
            return f"{rule.item} in {list(rule.in_)}"
        if rule.equals is not None:
            return f"{rule.item} = {rule.equals!r}"
        if rule.at_least is not None and rule.at_most is not None:
            return f"{rule.at_least} <= {rule.item} <= {rule.at_most}"
        if rule.at_least is not None:
            return f"{rule.item} >= {rule.at_least}"
        if rule.at_most is not None:
            return f"{rule.item} <= {rule.at_most}"
        return rule.item
    joiner, subs = (" or ", rule.any) if rule.any else (" and ", rule.all)
    return "(" + joiner.join(_rule_text(s) for s in subs) + ")"


def _opensdg_meta(
    part: pd.DataFrame, code: str, by_id: dict[str, Indicator], meta: CycleMeta, lang: str
) -> dict:
    inds = [by_id[v] for v in sorted(set(part["variable"]))]
    first = inds[0]
    cautions = part[(part["flag"] == "caution") & ~part["suppressed"]]
    n_supp = int(part["suppressed"].sum())
    caution_groups = sorted({_group_text(r, meta, lang) for r in cautions.to_dict("records")})
    limitations = (
        "Citizen-generated data collected by civil-society organisations with marginalised "
        "groups; not official statistics. Estimates are survey-weighted with 95% confidence "
        "intervals. Values flagged 'Low reliability' rest on fewer than the reliability "
        "threshold of respondents or a high coefficient of variation; "
        f"{n_supp} cell(s) are suppressed to protect respondents and for reliability."
    )
    if meta.cycle.synthetic:
        limitations += " SYNTHETIC EXAMPLE DATA: not real survey results."
    numer = "; ".join(f"{i.id}: respondents with {_rule_text(i.rule)}" for i in inds)
    denom = "; ".join(
        f"{i.id}: {_rule_text(i.population)}"
        + (f"; divided by {_rule_text(i.denominator)}" if i.denominator else "")
        for i in inds
    )
    return {
        "indicator_number": code,
        "indicator_name": label(first.label, lang, first.id),
        "national_indicator": first.sdg.indicator is None and first.official is None,
        "reporting_status": "complete",
        "data_non_statistical": False,
        "graph_type": "bar",
        "graph_title": label(first.label, lang, first.id),
        "computation_units": OPENSDG_UNITS[first.unit],
        "computation_definitions": " ".join(label(i.definition, lang, "") for i in inds),
        "computation_calculations": _CALCULATIONS[first.kind],
        "computation_numerator": numer,
        "computation_denominator": denom,
        "national_geographical_coverage": label(meta.country.name, lang, meta.country.iso),
        "source_active_1": True,
        "source_organisation_1": meta.coalition,
        "source_periodicity_1": "Survey cycle",
        "source_earliest_available_1": str(meta.cycle.cycle),
        "source_geographical_coverage_1": label(meta.country.name, lang, meta.country.iso),
        "source_other_info_1": meta.source,
        **({"source_url_1": meta.report_url} if meta.report_url else {}),
        "data_footnote": limitations,
        "data_caution_groups": caution_groups,
        "data_suppressed_cells": n_supp,
        "data_show_map": False,
        # the cycle's CGD quality statement (voicescount.quality), relative to its downloads
        "cgd_quality_statement": quality_path(meta.country.iso, meta.cycle.cycle),
    }


_CALCULATIONS = {
    "proportion": "Survey-weighted proportion: weighted numerator / weighted denominator, "
    "in percent.",
    "mean": "Survey-weighted mean.",
    "total": "Survey-weighted total (estimated number in the population).",
    "ratio": "Survey-weighted ratio: weighted total of the numerator / weighted total of the "
    "denominator.",
    "quantile": "Survey-weighted quantile, with Woodruff confidence intervals.",
    "median": "Survey-weighted median, with Woodruff confidence intervals.",
}


def _group_text(rec: dict, meta: CycleMeta, lang: str) -> str:
    parts = [f"{rec['variable']}"]
    for d in dimension_columns(pd.DataFrame([rec])):
        if d.startswith("_"):
            continue
        if _present(rec.get(d)):
            parts.append(f"{_dim_label(meta, d, lang)}: {_dim_value_label(meta, d, rec[d], lang)}")
    return ", ".join(parts) if len(parts) > 1 else f"{rec['variable']}, total"


def _write_yaml(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    path.write_bytes(text.encode("utf-8"))


_OSDG_NAME = re.compile(r"indicator_\d{1,2}-[0-9a-z]{1,2}-\d{1,2}(-[0-9a-z]+)*\.csv$")
_OSDG_YEAR = re.compile(r"^\d{4}(/\d{2})?$")


def validate_opensdg_file(path: str | Path) -> list[str]:
    """Problems with one Open SDG data CSV ([] when it follows the format's rules).

    Rules checked: file name ``indicator_G-T-I.csv``; UTF-8; a header of unique, non-empty
    names; ``Year`` first and ``Value`` last; every row as long as the header; Year a year
    (``2019`` or ``2019/20``); Value a number or blank; no two rows for the same Year, Series,
    Units and disaggregation (Open SDG would chart them on top of each other).
    """
    path = Path(path)
    problems: list[str] = []
    if not _OSDG_NAME.search(path.name):
        problems.append(f"file name '{path.name}' is not indicator_G-T-I.csv")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        return problems + ["not UTF-8"]
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return problems + ["empty file"]
    header = [h.strip() for h in rows[0]]
    if any(h == "" for h in header):
        problems.append("a column has no header (trailing comma?)")
    if len(set(header)) != len(header):
        problems.append("duplicate column names")
    if header[0] != "Year":
        problems.append(f"first column is '{header[0]}', not Year")
    if header[-1] != "Value":
        problems.append(f"last column is '{header[-1]}', not Value")
    if "Year" not in header or "Value" not in header:
        return problems + ["Year and Value columns are required"]
    iy, iv = header.index("Year"), header.index("Value")
    seen: dict[tuple, int] = {}
    skip = {iy, iv} | {header.index(c) for c in ("Observation status",) if c in header}
    for n, row in enumerate(rows[1:], start=2):
        if row == []:
            continue
        if len(row) != len(header):
            problems.append(f"line {n}: {len(row)} fields, header has {len(header)}")
            continue
        if not _OSDG_YEAR.match(row[iy].strip()):
            problems.append(f"line {n}: Year '{row[iy]}' is not a year")
        v = row[iv].strip()
        if v:
            try:
                float(v)
            except ValueError:
                problems.append(f"line {n}: Value '{v}' is not a number")
        key = tuple(c.strip() for i, c in enumerate(row) if i not in skip - {iy})
        if key in seen:
            problems.append(f"line {n}: same Year and disaggregation as line {seen[key]}")
        else:
            seen[key] = n
    return problems


# --------------------------------------------------------------------------- SDMX


class SdmxDimension(Strict):
    column: str
    codes: dict[str, str] = Field(default_factory=dict)
    custom: dict[str, str] = Field(default_factory=dict)

    @field_validator("column")
    @classmethod
    def _dsd_column(cls, v: str) -> str:
        if v not in SDMX_DIMENSIONS:
            raise ValueError(
                f"'{v}' is not a dimension of the SDG DSD ({', '.join(SDMX_DIMENSIONS)})"
            )
        return v

    @field_validator("codes", "custom")
    @classmethod
    def _ids(cls, v: dict[str, str]) -> dict[str, str]:
        for ours, code in v.items():
            if not _SDMX_ID.match(str(code)):
                raise ValueError(
                    f"code '{code}' for '{ours}' is not an SDMX ID (letters, digits, _ @ $ -)"
                )
        return v


class SdmxCountry(Strict):
    # CL_AREA, the SDG DSD's REF_AREA code list, holds M49 codes without leading zeros
    # (Bangladesh is 50, not 050); see the source cited in data/sdmx_codes.yml.
    ref_area: str = Field(description="M49 code as in the SDG CL_AREA code list")
    regions: dict[str, str] = Field(default_factory=dict)

    @field_validator("ref_area")
    @classmethod
    def _m49(cls, v: str) -> str:
        if re.fullmatch(r"0+[0-9]+", v):
            raise ValueError(
                f"'{v}': SDG CL_AREA codes have no leading zeros; write '{v.lstrip('0')}'"
            )
        if not re.fullmatch(r"[1-9][0-9]{0,2}", v):
            raise ValueError(f"'{v}' is not an M49 code (1 to 3 digits, e.g. 704 for Viet Nam)")
        return v

    @field_validator("regions")
    @classmethod
    def _ids(cls, v: dict[str, str]) -> dict[str, str]:
        return SdmxDimension._ids(v)


class SdmxCodes(Strict):
    dataflow: str
    freq: str = "A"
    reporting_type: str = "N"
    nature: str = ""
    unit_mult: int = 0
    obs_status: dict[str, str]
    units: dict[str, str]
    series_prefix: str = Field("CGD_", pattern=r"^[A-Za-z0-9_]+$")
    countries: dict[str, SdmxCountry]
    dimensions: dict[str, SdmxDimension]

    @field_validator("obs_status")
    @classmethod
    def _statuses(cls, v: dict[str, str]) -> dict[str, str]:
        missing = {"normal", "caution", "suppressed"} - set(v)
        if missing:
            raise ValueError(f"needs codes for {', '.join(sorted(missing))}")
        return v

    @field_validator("units")
    @classmethod
    def _units(cls, v: dict[str, str]) -> dict[str, str]:
        missing = {"percent", "score", "number"} - set(v)
        if missing:
            raise ValueError(f"needs codes for {', '.join(sorted(missing))}")
        return v


def load_sdmx_codes(path: str | Path) -> SdmxCodes:
    """Load data/sdmx_codes.yml (ConfigError naming file, row and field on a mistake)."""
    return load_model(SdmxCodes, Path(path))


def age_code(band: str) -> str | None:
    """SDMX AGE code of an age band label: '16-24' -> 'Y16T24', '60+' -> 'Y_GE60'."""
    m = re.fullmatch(r"(\d+)-(\d+)", str(band))
    if m:
        return f"Y{int(m.group(1))}T{int(m.group(2))}"
    m = re.fullmatch(r"(\d+)\+", str(band))
    return f"Y_GE{int(m.group(1))}" if m else None


def export_sdmx(
    estimates: pd.DataFrame,
    catalogue: IndicatorCatalogue,
    cycle_meta: CycleMeta,
    out_dir: str | Path,
    codes: SdmxCodes | None = None,
    codes_path: str | Path | None = None,
) -> Path:
    """Write ``sdmx/<ISO>_<cycle>.csv`` in SDMX-CSV with the SDG DSD's columns and codes.

    Codes come from data/sdmx_codes.yml (pass `codes`, or `codes_path`); a dimension or code
    the file does not declare is a ConfigError naming the file and the entry to add.
    """
    est = _check_estimates(estimates, catalogue)
    src = Path(codes_path) if codes_path else Path("data/sdmx_codes.yml")
    codes = codes or load_sdmx_codes(src)
    iso = cycle_meta.country.iso
    if iso not in codes.countries:
        raise ConfigError(
            f"declares no REF_AREA for country {iso}.",
            path=src,
            field="countries",
            hint=f"Add countries.{iso}.ref_area (M49 code).",
        )
    country = codes.countries[iso]
    dims = dimension_columns(est)
    by_id = {i.id: i for i in catalogue.indicators}
    est = _sorted(est, dims)
    year = str(cycle_meta.cycle.cycle)
    fw = cycle_meta.cycle.fieldwork
    rows = []
    for rec in est.to_dict("records"):
        ind = by_id[rec["variable"]]
        series = (
            ind.official.series
            if ind.official and ind.official.series
            else codes.series_prefix + ind.id.upper()
        )
        cells = {c: "" for c in SDMX_COLUMNS}
        cells.update({c: "_T" for c in SDMX_DIMENSIONS})
        custom, custom_lb = [], []
        cells.update(
            DATAFLOW=codes.dataflow,
            FREQ=codes.freq,
            REPORTING_TYPE=codes.reporting_type,
            SERIES=series,
            REF_AREA=country.ref_area,
        )
        filled: dict[str, str] = {}
        for d in dims:
            v = rec[d]
            if not _present(v):
                continue
            spec = codes.dimensions.get(d)
            if spec is None:
                raise ConfigError(
                    f"has no mapping for dimension '{d}'.",
                    path=src,
                    field=f"dimensions.{d}",
                    hint="Declare its DSD column and codes.",
                )
            v = str(v)
            if d == "region":
                code = country.regions.get(v)
                where = f"countries.{iso}.regions.{v}"
            elif d == "age_group" and v not in spec.codes:
                code = age_code(v)
                where = f"dimensions.{d}.codes.{v}"
            else:
                code = spec.codes.get(v)
                where = f"dimensions.{d}.codes.{v}"
            column = spec.column
            if code is None and v in spec.custom:
                code, column = spec.custom[v], "CUST_BREAKDOWN"
            if code is None:
                raise ConfigError(
                    f"has no SDMX code for {d} = '{v}'.",
                    path=src,
                    field=where,
                    hint="Declare it under codes or custom.",
                )
            if column == "CUST_BREAKDOWN":
                custom.append(code)
                custom_lb.append(_dim_value_label(cycle_meta, d, v, "en"))
                continue
            if column in filled:
                raise ConfigError(
                    f"maps both '{filled[column]}' and '{d}' to {column}; one row cannot carry "
                    "both.",
                    path=src,
                    field=f"dimensions.{d}.column",
                    hint="Map one of them to CUST_BREAKDOWN.",
                )
            filled[column] = d
            cells[column] = code
        if custom:
            cells["CUST_BREAKDOWN"] = "_".join(custom) if len(custom) == 1 else "__".join(custom)
            cells["CUST_BREAKDOWN_LB"] = " × ".join(custom_lb)
        status = _status(rec)
        f = _scale(ind)
        dec = DECIMALS[ind.unit]
        if status != "suppressed":
            cells["OBS_VALUE"] = _fmt(rec["estimate"] * f, dec)
            cells["LOWER_BOUND"] = _fmt(rec["ci_low"] * f, dec)
            cells["UPPER_BOUND"] = _fmt(rec["ci_high"] * f, dec)
        cells.update(
            TIME_PERIOD=year,
            OBS_STATUS=codes.obs_status[status],
            UNIT_MULT=str(codes.unit_mult),
            UNIT_MEASURE=codes.units[ind.unit],
            NATURE=codes.nature,
            TIME_DETAIL=f"{fw.start}/{fw.end}" if fw else year,
            SOURCE_DETAIL=cycle_meta.source,
            COMMENT_OBS={
                "caution": "Low reliability: use with caution",
                "suppressed": "Suppressed (disclosure control)",
            }.get(status, ""),
        )
        rows.append([cells[c] for c in SDMX_COLUMNS])
    path = Path(out_dir) / "sdmx" / f"{iso}_{year}.csv"
    _write_csv(path, SDMX_COLUMNS, rows)
    return path


def validate_sdmx_file(path: str | Path, codes: SdmxCodes, iso: str) -> list[str]:
    """Problems with an SDMX-CSV file written by `export_sdmx` ([] when valid)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    problems = []
    if list(df.columns) != SDMX_COLUMNS:
        return [f"columns differ from the SDG DSD order: {list(df.columns)}"]
    allowed: dict[str, set[str]] = {c: {"_T"} for c in SDMX_DIMENSIONS}
    for spec in codes.dimensions.values():
        allowed[spec.column] |= set(spec.codes.values())
        allowed["CUST_BREAKDOWN"] |= set(spec.custom.values())
    allowed["REF_AREA"] |= {codes.countries[iso].ref_area, *codes.countries[iso].regions.values()}
    allowed["FREQ"] = {codes.freq}
    allowed["REPORTING_TYPE"] = {codes.reporting_type}
    for n, rec in enumerate(df.to_dict("records"), start=2):
        for c in SDMX_DIMENSIONS:
            v = rec[c]
            if c == "SERIES":
                ok = bool(_SDMX_ID.match(v))
            elif c == "AGE":
                ok = v == "_T" or bool(re.fullmatch(r"Y\d+T\d+|Y_GE\d+", v))
            elif c == "CUST_BREAKDOWN":
                ok = all(p in allowed[c] for p in v.split("__"))
            else:
                ok = v in allowed[c]
            if not ok:
                problems.append(f"line {n}: {c} '{v}' is not a declared code")
        if rec["OBS_STATUS"] not in codes.obs_status.values():
            problems.append(f"line {n}: OBS_STATUS '{rec['OBS_STATUS']}' not declared")
        if rec["OBS_STATUS"] == codes.obs_status["suppressed"] and (
            rec["OBS_VALUE"] or rec["LOWER_BOUND"] or rec["UPPER_BOUND"]
        ):
            problems.append(f"line {n}: suppressed observation carries a value")
        if rec["OBS_VALUE"]:
            try:
                float(rec["OBS_VALUE"])
            except ValueError:
                problems.append(f"line {n}: OBS_VALUE '{rec['OBS_VALUE']}' is not a number")
    key = df[SDMX_DIMENSIONS + ["TIME_PERIOD"]]
    if key.duplicated().any():
        problems.append(f"{int(key.duplicated().sum())} duplicate series keys")
    return problems


# --------------------------------------------------------------------------- downloads


_DICTIONARY = {
    "variable": ("string", "Indicator id in the catalogue (data/indicators.yml)."),
    "sdg_indicator": (
        "string",
        "SDG code the indicator is published under (G.T.I); codes "
        "<target>.9N are CGD-only indicators.",
    ),
    "label": ("string", "Indicator name."),
    "unit": (
        "string",
        "Unit: 'proportion' (0-1 scale, multiply by 100 for percent), 'score' or 'number'.",
    ),
    "grouping": ("string", "Dimensions of this row's group joined by ×; empty = all respondents."),
    "estimate": ("float", "Survey-weighted estimate; blank where suppressed."),
    "se": ("float", "Standard error (design-based); blank where suppressed."),
    "ci_low": ("float", "Lower bound of the 95% confidence interval; blank where suppressed."),
    "ci_high": ("float", "Upper bound of the 95% confidence interval; blank where suppressed."),
    "deff": ("float", "Design effect; blank where suppressed."),
    "n": ("integer", "Unweighted respondents in the group; blank where suppressed."),
    "N": ("float", "Weighted population estimate of the group; blank where suppressed."),
    "cv": ("float", "Coefficient of variation; blank where suppressed."),
    "flag": ("string", "'caution': low reliability (small n or high CV); empty otherwise."),
    "suppressed": ("boolean", "True: withheld by disclosure control; no statistic is given."),
    "suppression": (
        "string",
        "'primary' (small cell), 'secondary' (protects a primary cell), or empty.",
    ),
}


def _download_table(est: pd.DataFrame, catalogue: IndicatorCatalogue) -> pd.DataFrame:
    dims = dimension_columns(est)
    codes = indicator_codes(catalogue)
    by_id = {i.id: i for i in catalogue.indicators}
    est = _sorted(est, dims)
    out = pd.DataFrame(
        {
            "variable": est["variable"].astype(str),
            "sdg_indicator": est["variable"].map(codes).astype(str),
            "label": est["variable"].map(lambda v: label(by_id[v].label, "en", v)).astype(str),
            "unit": est["variable"]
            .map(
                lambda v: (
                    "proportion"
                    if by_id[v].kind == "proportion" and by_id[v].unit == "percent"
                    else by_id[v].unit
                )
            )
            .astype(str),
            "grouping": est["grouping"].fillna("").astype(str),
        }
    )
    for d in dims:
        out[d] = est[d].astype(object).where(est[d].map(_present), None).astype("string")
    supp = est["suppressed"].to_numpy()
    for c in STAT_COLUMNS:
        if c in est.columns:
            col = pd.to_numeric(est[c], errors="coerce").astype("float64")
            col[supp] = np.nan
            out[c] = col.astype("Int64") if c == "n" else col
    out["flag"] = est["flag"].where(~est["suppressed"], "").astype(str)
    out["suppressed"] = est["suppressed"].astype(bool)
    out["suppression"] = (
        est["suppression"].fillna("").astype(str) if "suppression" in est.columns else ""
    )
    return out


def export_downloads(
    estimates: pd.DataFrame,
    catalogue: IndicatorCatalogue,
    cycle_meta: CycleMeta,
    out_dir: str | Path,
) -> list[Path]:
    """Tidy CSV + Parquet of the published estimates, a data dictionary, and CITATION.cff."""
    est = _check_estimates(estimates, catalogue)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = _download_table(est, catalogue)
    stem = f"estimates_{cycle_meta.country.iso}_{cycle_meta.cycle.cycle}"
    csv_path = out / f"{stem}.csv"
    _write_csv(
        csv_path, list(table.columns), table.astype(object).where(table.notna(), "").values.tolist()
    )
    pq_path = out / f"{stem}.parquet"
    arrow = pa.Table.from_pandas(table, preserve_index=False).replace_schema_metadata(None)
    pq.write_table(arrow, pq_path, compression="zstd", write_statistics=False)
    dict_rows = _dictionary(table, cycle_meta)
    dcsv = out / "data_dictionary.csv"
    _write_csv(dcsv, ["column", "type", "meaning", "codes"], dict_rows)
    dmd = out / "data_dictionary.md"
    md = [
        f"# Data dictionary: {stem}",
        "",
        "| column | type | meaning | codes |",
        "|---|---|---|---|",
    ]
    md += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in dict_rows]
    dmd.write_bytes(("\n".join(md) + "\n").encode("utf-8"))
    cff = out / "CITATION.cff"
    cff.write_bytes(citation_cff(cycle_meta).encode("utf-8"))
    return [csv_path, pq_path, dcsv, dmd, cff]


def _dictionary(table: pd.DataFrame, meta: CycleMeta) -> list[list[str]]:
    rows = []
    for col in table.columns:
        if col in _DICTIONARY:
            typ, meaning = _DICTIONARY[col]
            codes = ""
        else:
            typ = "string"
            meaning = f"Dimension '{_dim_label(meta, col, 'en')}'; empty = not in this group."
            vals = sorted(v for v in table[col].dropna().unique())
            codes = "; ".join(f"{v} = {_dim_value_label(meta, col, v, 'en')}" for v in vals)
        rows.append([col, typ, meaning, codes])
    return rows


def citation_cff(meta: CycleMeta) -> str:
    """CITATION.cff (CFF 1.2.0) for the report; the date is the release date, never today."""
    name = label(meta.country.name, "en", meta.country.iso)
    data = {
        "cff-version": "1.2.0",
        "message": "If you use these data, please cite them as below.",
        "type": "dataset",
        "title": f"Citizen-generated data report: {name} {meta.cycle.cycle}"
        + (" (synthetic example data)" if meta.cycle.synthetic else ""),
        "authors": [{"name": meta.coalition}],
        "version": str(meta.cycle.cycle),
        "date-released": date.fromisoformat(meta.date_released),
        "license": meta.license,
        "keywords": ["SDG", "citizen-generated data", "leave no one behind", name],
    }
    if meta.report_url:
        data["url"] = meta.report_url
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


# --------------------------------------------------------------------------- CLI support

EXPORT_KINDS = ("opensdg", "sdmx", "downloads", "vnr", "pdf", "brief", "quality")
# Each kind is written under the export folder; the downloads' names are
# estimates.download_files (DOWNLOADS_DIR is their folder).


def read_estimates(path: str | Path) -> pd.DataFrame:
    """Read a published estimate table saved as Parquet or CSV (blank cells = missing)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            "estimate table not found.",
            path=path,
            hint="Run the report for this cycle first, or pass --estimates FILE.",
        )
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    if path.suffix.lower() == ".csv":
        df = pd.read_csv(path, keep_default_na=False, na_values=[""])
        if "suppressed" in df.columns:
            df["suppressed"] = df["suppressed"].astype(str).str.lower().isin(["true", "1"])
        return df
    raise InputError(
        f"'{path.suffix}' is not a table format read here.",
        path=path,
        hint="Save the estimate table as .parquet or .csv.",
    )


def export(
    project: Project,
    iso: str,
    cycle: int,
    kinds: list[str],
    out_dir: str | Path,
    estimates_path: str | Path | None = None,
    lang: str = "en",
    *,
    html_dir: str | Path | None = None,
    base_url: str = "",
) -> list[Path]:
    """Run the chosen exporters for one (country, cycle); what `voicescount export` calls.

    Estimates: `estimates_path`, or else the cycle's published table from its store
    (`estimates.load`: computed and checked once, in build/<ISO>/<cycle>/store/); only the
    published columns are exported (`estimates.public`). "vnr" writes the draft VNR chapter
    (vnr/), "pdf" prints the report from the built book in `html_dir` (pdf/).
    """
    if estimates_path is not None:
        est = read_estimates(estimates_path)
    elif {"opensdg", "sdmx", "downloads"} & set(kinds):
        est = estimates.load(project, iso, cycle).estimates
    else:
        est = None
    meta = cycle_meta(project, iso, cycle, report_url=base_url or None)
    out = Path(out_dir)
    written: list[Path] = []
    if est is not None:
        est = estimates.public(est)
    if "opensdg" in kinds:
        files = export_opensdg(est, project.indicators, meta, out / "opensdg", lang=lang)
        written += files
        written.append(zip_folder(out / "opensdg", out / f"opensdg_{iso}_{cycle}.zip"))
    if "sdmx" in kinds:
        written.append(
            export_sdmx(
                est, project.indicators, meta, out, codes_path=project.data_dir / "sdmx_codes.yml"
            )
        )
    if "downloads" in kinds:
        written += export_downloads(est, project.indicators, meta, out / DOWNLOADS_DIR)
    if "vnr" in kinds:
        written += export_vnr(project, iso, cycle, out / "vnr", base_url=base_url)
    if "pdf" in kinds:
        written += export_pdf(
            project, iso, cycle, out / "pdf", html_dir=html_dir, base_url=base_url
        )
    if "brief" in kinds:  # the community brief per language (HTML, and PDF by Chromium)
        written += export_brief(project, iso, cycle, out)
    if "quality" in kinds:  # the CGD quality statement (JSON)
        written.append(write_statement(project, iso, cycle, out))
    return written


def zip_folder(folder: str | Path, path: str | Path) -> Path:
    """Zip a folder (e.g. the Open SDG files) with sorted members and fixed timestamps."""
    folder, path = Path(folder), Path(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(p for p in folder.rglob("*") if p.is_file()):
            zi = zipfile.ZipInfo(f.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.create_system = 0
            zi.external_attr = 0o644 << 16
            zf.writestr(zi, f.read_bytes(), compresslevel=9)
    return path
