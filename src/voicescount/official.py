"""Official SDG data in: read it as published, set it beside the CGD estimates.

National statistics offices publish SDG indicators in two shapes this module reads:

* the **UN SDG Global Database** download (one row per observation; columns Goal, Target,
  Indicator, SeriesCode, SeriesDescription, GeoAreaCode, GeoAreaName, TimePeriod, Value,
  Time_Detail, UpperBound, LowerBound, Source, FootNote, Nature, Units, Reporting Type and
  one column per disaggregation, sometimes written in brackets such as ``[Sex]``);
* the **Open SDG** data format (``indicator_G-T-I.csv``: Year, disaggregation columns where a
  blank cell means the total, Units, Series, GeoCode, Observation status, Unit multiplier,
  Value), with metadata as ``.yml`` or Markdown with YAML front matter.

Real files are messy (BOMs, CRLF, every field quoted, blank quoted values, ``2011/12`` years,
Year not first, a placeholder row whose Year is a sentence, SDMX codes instead of labels, a
trailing unnamed column), so reading is tolerant of layout but strict about content: a value
that is not a number, or a year that is not a year on a row that has a value, is an
`InputError` naming the file, the row and the fix.

Everything is normalised to one tidy frame (`OFFICIAL_COLUMNS`) whose disaggregation columns
carry *our* dimension ids and codes, through the declared mapping in
``data/official_codes.yml``; `compare` then matches CGD estimates with it group by group.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pydantic import Field

from .errors import ConfigError, InputError
from .registry import Country, IndicatorCatalogue, Strict, load_model, read_yaml

# Our dimensions that official data can carry (others, e.g. ethnicity or LGBT, it never does).
OFFICIAL_DIMENSIONS = ["sex", "age_group", "disability", "urban_rural", "region"]

OFFICIAL_COLUMNS = [
    "indicator",
    "series",
    "series_description",
    "year",
    "year_label",
    *OFFICIAL_DIMENSIONS,
    "area",
    "geocode",
    "other_breakdown",
    "value",
    "unit",
    "unit_mult",
    "lower",
    "upper",
    "obs_status",
    "nature",
    "source",
    "file",
    "row",
]

COMPARE_STATUSES = ("agree", "differ", "official data missing", "suppressed", "not comparable")


# --------------------------------------------------------------------------- declared codes


class DimensionCodes(Strict):
    """How one of our dimensions appears in official files (see data/official_codes.yml)."""

    columns: list[str] = Field(min_length=1)
    total: list[str] = Field(default_factory=list)
    codes: dict[str, list[str]] = Field(default_factory=dict)


class OfficialCodes(Strict):
    dimensions: dict[str, DimensionCodes]

    def lookup(self) -> tuple[dict[str, str], dict[str, dict[str, str | None]]]:
        """(header key -> dimension id, dimension id -> {value key -> code or None=total})."""
        columns: dict[str, str] = {}
        values: dict[str, dict[str, str | None]] = {}
        for dim, spec in self.dimensions.items():
            for col in spec.columns:
                columns[_key(col)] = dim
            table: dict[str, str | None] = {_vkey(t): None for t in spec.total}
            for code, aliases in spec.codes.items():
                for alias in [code, *aliases]:
                    table[_vkey(alias)] = code
            values[dim] = table
        return columns, values


def load_official_codes(path: str | Path) -> OfficialCodes:
    """Load and validate the declared mapping (ConfigError naming file, row and field)."""
    path = Path(path)
    codes = load_model(OfficialCodes, path)
    unknown = set(codes.dimensions) - set(OFFICIAL_DIMENSIONS)
    if unknown:
        raise ConfigError(
            f"names dimension(s) {', '.join(sorted(unknown))}, which official data cannot carry.",
            path=path,
            field="dimensions",
            hint=f"Use only {', '.join(OFFICIAL_DIMENSIONS)}.",
        )
    return codes


def _key(header: str) -> str:
    """Compare headers loosely: 'Unit measure', 'UNIT_MEASURE' and '[Units]'-style alike."""
    return re.sub(r"[\s_\[\]]", "", str(header)).casefold()


def _vkey(value: object) -> str:
    return re.sub(r"\s+", " ", str(value)).strip().casefold()


# Non-disaggregation columns, by loose header key.
_ROLE = {
    "year": "year",
    "timeperiod": "year",
    "value": "value",
    "units": "unit",
    "unit": "unit",
    "unitmeasure": "unit",
    "unitmultiplier": "unit_mult",
    "unitmult": "unit_mult",
    "series": "series",
    "seriescode": "series",
    "seriesdescription": "series_description",
    "geocode": "geocode",
    "geoareacode": "geocode",
    "observationstatus": "obs_status",
    "obsstatus": "obs_status",
    "nature": "nature",
    "upperbound": "upper",
    "lowerbound": "lower",
    "source": "source",
    "indicator": "indicator",
    # Descriptive columns with nothing to match on.
    "goal": None,
    "target": None,
    "geoareaname": None,
    "timedetail": None,
    "timecoverage": None,
    "baseperiod": None,
    "geoinfourl": None,
    "footnote": None,
    "reportingtype": None,
    "freq": None,
}
# Columns naming a subnational area (a breakdown by place, matched to regions by geocode).
_AREA_KEYS = {"state", "region", "district", "province", "county", "refarea", "oblast"}

# In columns we do not map (Skill, Type of occupation...), these still mean "all".
_GENERIC_TOTAL = {"", "total", "all", "_t", "_z"}

_MULT = {
    "": 0,
    "units": 0,
    "unit": 0,
    "0": 0,
    "tens": 1,
    "hundreds": 2,
    "thousands": 3,
    "thousand": 3,
    "millions": 6,
    "million": 6,
    "billions": 9,
    "billion": 9,
}
_PERCENT = {"percent", "percentage", "percentage(%)", "%", "pt", "per cent", "percentage (%)"}


def unit_kind(unit: object) -> str:
    """'percent' for the many ways files write it (PT, Percentage (%), PERCENT); else as is."""
    text = "" if unit is None or (isinstance(unit, float) and math.isnan(unit)) else str(unit)
    k = _vkey(text)
    if k in _PERCENT or k.replace(" ", "") in {p.replace(" ", "") for p in _PERCENT}:
        return "percent"
    return text.strip()


# --------------------------------------------------------------------------- small parsers

_YEAR_RE = re.compile(r"^\s*(\d{4})(?!\d)")


def parse_year(label: str) -> int | None:
    """Start year of '2019', '2011/12', '2013 Q1', '2002/03-2007/08'; None if not a year."""
    m = _YEAR_RE.match(str(label))
    return int(m.group(1)) if m else None


def parse_age(label: str) -> str:
    """Official age labels -> our band labels ('16-24', '65+'); unknown forms kept as written.

    Handles '16 to 24', '16-24', 'Y16T24', 'Y_GE65', '65+', '65 and over', '<18Y',
    'Under 1', '15 and under'. Month codes (M25T28) are not ages in years and stay as is.
    """
    s = re.sub(r"\s+", " ", str(label)).strip()
    low = s.casefold()
    patterns = [
        (r"^y(\d+)t(\d+)$", lambda a, b: f"{int(a)}-{int(b)}"),
        (r"^(\d+) ?(?:to|-|–) ?(\d+)(?: ?years?)?$", lambda a, b: f"{int(a)}-{int(b)}"),
        (r"^y_ge(\d+)$", lambda a: f"{int(a)}+"),
        (
            r"^(\d+) ?(?:\+|and over|and older|or over|or older|years and over)$",
            lambda a: f"{int(a)}+",
        ),
        (r"^y_lt(\d+)$", lambda a: f"0-{int(a) - 1}"),
        (r"^(?:<|under |less than )(\d+)y?$", lambda a: f"0-{int(a) - 1}"),
        (r"^(\d+) ?(?:and under|or under|and younger)$", lambda a: f"0-{int(a)}"),
    ]
    for pat, fmt in patterns:
        m = re.match(pat, low)
        if m:
            return fmt(*m.groups())
    return s


def _number(text: str, path: Path, row: int, field: str) -> tuple[float, str]:
    """Parse a published number; '<5'/'>95' keep the bound and say so in the status."""
    s = text.strip()
    if s == "" or s.casefold() in {"nan", "na", "n/a", ".."}:
        return float("nan"), ""
    flag = ""
    if s[0] in "<>":
        flag, s = s[0], s[1:].strip()
    try:
        return float(s), flag
    except ValueError:
        raise InputError(
            f"'{text}' is not a number.",
            path=path,
            row=row,
            field=field,
            hint="Official values must be numbers with a dot as decimal mark; leave the cell "
            "blank (with an observation status) where there is no value.",
        ) from None


# --------------------------------------------------------------------------- reading

_FILE_RE = re.compile(r"indicator_(\d{1,2})-([0-9a-z]{1,2})-(\d{1,2})", re.IGNORECASE)


def indicator_from_filename(path: str | Path) -> str | None:
    """'1.2.1' from 'indicator_1-2-1.csv' (also with an OWNER__REPO__ prefix)."""
    m = _FILE_RE.search(Path(path).name)
    return ".".join(m.groups()).lower() if m else None


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputError("file not found.", path=path, hint="Check the path under data/official/.")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("is not UTF-8 text.", path=path, hint="Save the CSV as UTF-8.") from None
    except pd.errors.EmptyDataError:
        raise InputError(
            "is empty.", path=path, hint="Download the file again or remove it."
        ) from None
    except pd.errors.ParserError as exc:
        raise InputError(
            f"is not a readable CSV ({exc}).",
            path=path,
            hint="Check the quoting on that line; fields with commas must be quoted.",
        ) from None
    # A trailing comma on every line gives an unnamed, empty column: drop it, but never a
    # column that holds data.
    for col in list(df.columns):
        if str(col).startswith("Unnamed:") or str(col).strip() == "":
            if (df[col].str.strip() != "").any():
                raise InputError(
                    "has values in a column without a header.",
                    path=path,
                    field=str(col),
                    hint="Give the column a header or delete it.",
                )
            df = df.drop(columns=col)
    df.columns = [str(c).strip() for c in df.columns]
    return df


def read_official(
    path: str | Path,
    *,
    codes: OfficialCodes,
    country: Country | None = None,
    indicator: str | None = None,
    source: str | None = None,
) -> pd.DataFrame:
    """Read one official CSV (UN SDG database download or Open SDG) into `OFFICIAL_COLUMNS`.

    `indicator` overrides the code taken from the file name (Open SDG) or the Indicator column
    (UN download). With `country`, GeoCode/area values equal to a region's geocode, code or
    name become our `region` code. The frame's ``attrs['unmapped']`` lists disaggregation
    values the declared mapping does not know, and ``attrs['placeholder_rows']`` counts rows
    dropped because they held neither a year nor a value (Open SDG's "no data yet" rows).
    """
    path = Path(path)
    raw = _read_table(path)
    dim_cols, dim_values = codes.lookup()
    keys = {_key(c): c for c in raw.columns}
    if "year" not in keys and "timeperiod" not in keys:
        raise InputError(
            "has no Year (Open SDG) or TimePeriod (UN SDG database) column.",
            path=path,
            hint="Official files need a Year or TimePeriod column and a Value column.",
        )
    if "value" not in keys:
        raise InputError("has no Value column.", path=path, hint="Add the Value column.")

    roles: dict[str, str] = {}
    dims: dict[str, str] = {}
    areas: list[str] = []
    others: list[str] = []
    for col in raw.columns:
        k = _key(col)
        if k in _ROLE:
            if _ROLE[k]:
                roles.setdefault(_ROLE[k], col)
        elif k in dim_cols and dim_cols[k] not in dims:
            dims[dim_cols[k]] = col
        elif k in _AREA_KEYS:
            areas.append(col)
        else:
            others.append(col)

    ind_default = indicator or indicator_from_filename(path)
    if ind_default is None and "indicator" not in roles:
        raise InputError(
            "does not say which SDG indicator it holds.",
            path=path,
            hint="Name the file indicator_G-T-I.csv (e.g. indicator_1-2-1.csv) as Open SDG does.",
        )
    regions = _region_lookup(country)
    national = {country.iso.casefold()} if country else set()

    records = []
    unmapped: set[str] = set()
    placeholders = 0
    for i, rec in enumerate(raw.to_dict("records")):
        line = i + 2  # header is line 1
        year_label = re.sub(r"\s+", " ", rec[roles.get("year") or keys.get("year")]).strip()
        vcol = roles["value"]
        value, flag = _number(rec[vcol], path, line, vcol)
        year = parse_year(year_label)
        if year is None:
            if math.isnan(value):
                placeholders += 1
                continue
            raise InputError(
                f"year '{year_label}' is not a year.",
                path=path,
                row=line,
                field=roles.get("year", "Year"),
                hint="Write years as 2019, or financial years as 2019/20.",
            )
        out: dict[str, object] = {d: None for d in OFFICIAL_DIMENSIONS}
        for dim, col in dims.items():
            text = rec[col].strip()
            if text == "":
                continue
            if dim == "age_group" and _vkey(text) not in dim_values[dim]:
                out[dim] = parse_age(text)
                continue
            vk = _vkey(text)
            if vk in dim_values[dim]:
                out[dim] = dim_values[dim][vk]
            else:
                out[dim] = text
                unmapped.add(f"{col}={text}")
        area = next((rec[c].strip() for c in areas if rec[c].strip()), "")
        geocode = rec[roles["geocode"]].strip() if "geocode" in roles else ""
        if not area and "-" in geocode and _vkey(geocode) not in national:
            area = geocode  # an ISO 3166-2 code such as NG-AB names a subnational area
        out["region"] = regions.get(_vkey(geocode)) or regions.get(_vkey(area))
        other = [
            f"{c}={rec[c].strip()}"
            for c in others
            if rec[c].strip() and _vkey(rec[c]) not in _GENERIC_TOTAL
        ]
        lower = (
            _number(rec[roles["lower"]], path, line, roles["lower"])[0]
            if "lower" in roles
            else np.nan
        )
        upper = (
            _number(rec[roles["upper"]], path, line, roles["upper"])[0]
            if "upper" in roles
            else np.nan
        )
        status = rec[roles["obs_status"]].strip() if "obs_status" in roles else ""
        if flag:
            status = "; ".join(s for s in (status, f"value published as '{flag}{value:g}'") if s)
        mult_text = rec[roles["unit_mult"]].strip() if "unit_mult" in roles else ""
        mult = _MULT.get(_vkey(mult_text))
        if mult is None:
            try:
                mult = int(mult_text)
            except ValueError:
                raise InputError(
                    f"unit multiplier '{mult_text}' is not understood.",
                    path=path,
                    row=line,
                    field=roles["unit_mult"],
                    hint="Use Units, Thousands, Millions or a power of ten such as 3.",
                ) from None
        ind = ind_default
        if "indicator" in roles and rec[roles["indicator"]].strip():
            ind = rec[roles["indicator"]].strip()
        out.update(
            indicator=ind,
            series=rec[roles["series"]].strip() if "series" in roles else "",
            series_description=(
                rec[roles["series_description"]].strip() if "series_description" in roles else ""
            ),
            year=year,
            year_label=year_label,
            area=area,
            geocode=geocode,
            other_breakdown="; ".join(other),
            value=value,
            unit=rec[roles["unit"]].strip() if "unit" in roles else "",
            unit_mult=mult,
            lower=lower,
            upper=upper,
            obs_status=status,
            nature=rec[roles["nature"]].strip() if "nature" in roles else "",
            source=(rec[roles["source"]].strip() if "source" in roles else "")
            or source
            or path.name,
            file=path.name,
            row=line,
        )
        records.append(out)
    df = _finish(pd.DataFrame.from_records(records, columns=OFFICIAL_COLUMNS))
    df.attrs["unmapped"] = sorted(unmapped)
    df.attrs["placeholder_rows"] = placeholders
    return df


def _region_lookup(country: Country | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if country is None:
        return out
    for r in country.regions:
        keys = [r.code, *r.name.values()] + ([r.geocode] if r.geocode else [])
        for k in keys:
            out[_vkey(k)] = r.code
    return out


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    """Fix dtypes and sort, so the frame is the same on every run."""
    df = df.astype({"year": "int64", "row": "int64", "unit_mult": "int64"}) if len(df) else df
    for d in OFFICIAL_DIMENSIONS:
        df[d] = df[d].astype(object).where(df[d].notna(), None)
    for c in ("value", "lower", "upper"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    order = [
        "indicator",
        "series",
        "year",
        "year_label",
        *OFFICIAL_DIMENSIONS,
        "area",
        "other_breakdown",
        "file",
        "row",
    ]
    return df.sort_values(order, na_position="first", kind="mergesort").reset_index(drop=True)


def read_opensdg_meta(path: str | Path) -> dict:
    """Open SDG metadata from ``.yml`` or ``.md`` with YAML front matter, as a dict."""
    path = Path(path)
    if path.suffix.lower() in {".yml", ".yaml"}:
        data = read_yaml(path)
    else:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(
                f"cannot be read ({exc}).", path=path, hint="Save it as UTF-8."
            ) from None
        m = re.match(r"^---\s*\r?\n(.*?)\r?\n---\s*(\r?\n|$)", text, re.DOTALL)
        if not m:
            raise InputError(
                "has no YAML front matter.",
                path=path,
                hint="Open SDG metadata in Markdown starts with a '---' line, the YAML keys, "
                "and a closing '---' line.",
            )
        try:
            data = yaml.safe_load(m.group(1))
        except yaml.YAMLError as exc:
            raise InputError(
                f"front matter is not valid YAML ({exc}).",
                path=path,
                hint="Check the indentation and quoting.",
            ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(
            "metadata is not a set of keys.", path=path, hint="Use 'key: value' lines."
        )
    return {str(k): ("" if v is None else v) for k, v in data.items()}


def read_official_dir(
    directory: str | Path, *, codes: OfficialCodes, country: Country | None = None
) -> pd.DataFrame:
    """Read every official CSV under `directory` (e.g. data/official/VN/) into one frame.

    Open SDG metadata beside a CSV (``meta_G-T-I.yml``/``.md`` or ``meta/G-T-I.yml``) supplies
    the source name when the CSV has no Source column. An absent directory gives an empty
    frame: a country without official files is a finding, not an error.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return _finish(pd.DataFrame(columns=OFFICIAL_COLUMNS))
    frames, unmapped, placeholders = [], set(), 0
    for path in sorted(directory.rglob("*.csv")):
        ind = indicator_from_filename(path)
        source = None
        if ind:
            stem = ind.replace(".", "-")
            for meta in sorted(directory.rglob(f"*{stem}.*")):
                if meta.suffix.lower() in {".yml", ".yaml", ".md"} and "meta" in str(meta):
                    md = read_opensdg_meta(meta)
                    source = str(md.get("source_organisation_1") or md.get("DATA_SOURCE") or "")
                    source = source.strip() or None
                    break
        df = read_official(path, codes=codes, country=country, source=source)
        unmapped |= set(df.attrs.get("unmapped", []))
        placeholders += df.attrs.get("placeholder_rows", 0)
        frames.append(df)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=OFFICIAL_COLUMNS)
    out = _finish(out[OFFICIAL_COLUMNS])
    out.attrs["unmapped"] = sorted(unmapped)
    out.attrs["placeholder_rows"] = placeholders
    return out


# --------------------------------------------------------------------------- compare


def _scale(kind: str, cgd_unit: str, official_unit: str) -> float | None:
    """Factor turning a CGD estimate into the official unit; None if not comparable."""
    if kind == "proportion":
        if official_unit == "percent":
            return 100.0
        if official_unit.casefold() in {"proportion", "ratio", "share"}:
            return 1.0
        return None
    return 1.0 if official_unit.casefold() == cgd_unit.casefold() else None


def _official_rows(
    official: pd.DataFrame, link_ind: str, series: str | None, unit: str | None, variable: str
) -> pd.DataFrame:
    rows = official[official["indicator"].astype(str) == link_ind]
    if series:
        want = series.casefold()
        rows = rows[
            (rows["series"].str.casefold() == want)
            | (rows["series_description"].str.casefold() == want)
        ]
    if unit:
        rows = rows[rows["unit"].map(unit_kind).str.casefold() == unit_kind(unit).casefold()]
    found = sorted(set(zip(rows["series"], rows["unit"].map(unit_kind), strict=True)))
    if len(found) > 1:
        listed = "; ".join(f"{s or '(no series)'} [{u or 'no unit'}]" for s, u in found)
        raise ConfigError(
            f"indicator '{variable}' links to official {link_ind}, which holds several series "
            f"or units: {listed}.",
            field=f"{variable}.official",
            hint="Set official.series (and official.unit) for it in data/indicators.yml.",
        )
    return rows


def compare(
    cgd_estimates: pd.DataFrame,
    official: pd.DataFrame,
    catalogue: IndicatorCatalogue,
    year: int | None = None,
) -> pd.DataFrame:
    """Set each CGD estimate beside the official value for the same indicator and group.

    An indicator is matched through its `official` link (indicator code, series, unit) or,
    without one, its SDG indicator code. Official rows count only when they break down by
    exactly the CGD group's dimensions (other breakdowns such as skill or occupation, and
    unmapped areas, are excluded). Official data uses one year per indicator: `year`, or the
    latest year with any national value. Status per group:

    * ``agree``: the CGD confidence interval and the official interval overlap, or (no
      official bounds) the official value lies inside the CGD interval;
    * ``differ``: otherwise;
    * ``official data missing``: the official data has no value for this group at all
      (including every group by a dimension official data never carries, such as ethnicity);
    * ``suppressed``: the CGD cell is suppressed, so nothing is compared;
    * ``not comparable``: the official unit cannot be put on the CGD scale.

    CGD proportions (0-1) are multiplied by 100 when the official unit is percent; every value
    column in the result is on the official unit's scale (column ``unit``).
    """
    dims_in_table = [c for c in cgd_estimates.columns if c not in _ESTIMATE_COLUMNS]
    rows = []
    by_id = {i.id: i for i in catalogue.indicators}
    for rec in cgd_estimates.to_dict("records"):
        ind = by_id.get(rec["variable"])
        if ind is None:
            raise InputError(
                f"estimate table names indicator '{rec['variable']}', not in the catalogue.",
                field="variable",
                hint="Add it to data/indicators.yml or drop it from the table.",
            )
        link = ind.official
        code = link.indicator if link else ind.sdg.indicator
        if not code:
            continue  # CGD-only indicator: nothing official to set it beside
        cand = _official_rows(
            official, code, link.series if link else None, link.unit if link else None, ind.id
        )
        group = {d: rec.get(d) for d in dims_in_table if _present(rec.get(d))}
        base = {
            "variable": ind.id,
            "indicator": code,
            "grouping": rec.get("grouping", "") or "",
            **{d: rec.get(d) for d in dims_in_table},
            "cgd_estimate": np.nan,
            "cgd_ci_low": np.nan,
            "cgd_ci_high": np.nan,
            "official_value": np.nan,
            "official_lower": np.nan,
            "official_upper": np.nan,
            "official_year": pd.NA,
            "official_year_label": "",
            "series": link.series if link and link.series else "",
            "unit": "",
            "status": "",
            "note": "",
        }
        comparable = cand[
            (cand["other_breakdown"] == "") & ((cand["area"] == "") | cand["region"].notna())
        ]
        units = sorted(set(comparable["unit"].map(unit_kind)))
        off_unit = units[0] if units else ("percent" if ind.unit == "percent" else ind.unit)
        factor = _scale(ind.kind, ind.unit, off_unit)
        base["unit"] = off_unit if factor is not None else ind.unit
        f = factor if factor is not None else 1.0
        base["cgd_estimate"] = rec.get("estimate", np.nan) * f
        base["cgd_ci_low"] = rec.get("ci_low", np.nan) * f
        base["cgd_ci_high"] = rec.get("ci_high", np.nan) * f
        if bool(rec.get("suppressed", False)) or not _present(rec.get("estimate")):
            base["cgd_estimate"] = base["cgd_ci_low"] = base["cgd_ci_high"] = np.nan
            rows.append({**base, "status": "suppressed", "note": "CGD cell suppressed"})
            continue
        if not comparable.empty and factor is None:
            rows.append(
                {
                    **base,
                    "status": "not comparable",
                    "note": f"official unit '{off_unit}' vs CGD {ind.kind} in {ind.unit}",
                }
            )
            continue
        valued = comparable[comparable["value"].notna()]
        use_year = year
        if use_year is None and not valued.empty:
            national = valued[valued[OFFICIAL_DIMENSIONS].isna().all(axis=1)]
            use_year = int((national if not national.empty else valued)["year"].max())
        match = (
            comparable[comparable["year"] == use_year] if use_year is not None else comparable[:0]
        )
        for d in OFFICIAL_DIMENSIONS:
            match = match[match[d] == group[d]] if d in group else match[match[d].isna()]
        if any(d not in OFFICIAL_DIMENSIONS for d in group):
            match = match[:0]
        match = match[match["value"].notna()]
        if match.empty:
            rows.append(
                {
                    **base,
                    "status": "official data missing",
                    "official_year": use_year if use_year is not None else pd.NA,
                }
            )
            continue
        off = match.iloc[0]
        note = f"{len(match)} official rows; first used" if len(match) > 1 else ""
        res = {
            **base,
            "official_value": off["value"],
            "official_lower": off["lower"],
            "official_upper": off["upper"],
            "official_year": int(off["year"]),
            "official_year_label": off["year_label"],
            "series": off["series"] or base["series"],
        }
        lo, hi = res["cgd_ci_low"], res["cgd_ci_high"]
        if not (_present(lo) and _present(hi)):
            lo = hi = res["cgd_estimate"]
            note = "; ".join(n for n in (note, "no CGD interval") if n)
        o_lo, o_hi = off["lower"], off["upper"]
        if not (_present(o_lo) and _present(o_hi)):
            o_lo = o_hi = off["value"]
        eps = 1e-9 * max(1.0, abs(off["value"]))
        agree = lo - eps <= o_hi and o_lo <= hi + eps
        rows.append({**res, "status": "agree" if agree else "differ", "note": note})
    cols = [
        "variable",
        "indicator",
        "series",
        "grouping",
        *dims_in_table,
        "cgd_estimate",
        "cgd_ci_low",
        "cgd_ci_high",
        "official_value",
        "official_lower",
        "official_upper",
        "official_year",
        "official_year_label",
        "unit",
        "status",
        "note",
    ]
    out = pd.DataFrame.from_records(rows, columns=cols)
    out["official_year"] = out["official_year"].astype("Int64")
    return out.sort_values(
        ["variable", "grouping", *dims_in_table], na_position="first", kind="mergesort"
    ).reset_index(drop=True)


def official_misses(comparison: pd.DataFrame) -> pd.DataFrame:
    """The "what official data misses" list: groups the CGD measured and official data lacks."""
    return comparison[comparison["status"] == "official data missing"].reset_index(drop=True)


_ESTIMATE_COLUMNS = {
    "variable",
    "grouping",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "deff",
    "n",
    "N",
    "cv",
    "flag",
    "suppressed",
    "suppression",
    "caution",
}


def _present(v: object) -> bool:
    if v is None or v is pd.NA:
        return False
    if isinstance(v, float) and math.isnan(v):
        return False
    return not (isinstance(v, str) and v == "")


def estimate_dimensions(estimates: pd.DataFrame) -> list[str]:
    """Dimension columns of a tidy estimate table (everything that is not a statistic)."""
    return [c for c in estimates.columns if c not in _ESTIMATE_COLUMNS]
