"""The report's own words and numbers, in the report's language.

Labels of questions and choices come from the XLSForm translations and labels of dimensions
and regions from `data/*.yml`; everything else the report says (headings, legends, notices,
alt text) comes from the message catalogue in `locales/<lang>.yml`. A missing translation falls
back to English so a new language can be added key by key; `en.yml` is the reference.

Numbers follow each language's convention (CLDR): Vietnamese writes 1.234,5 and 12,5%;
Bengali uses Bengali digits and Indian grouping (১২,৩৪,৫৬৭). Rounding is half-up on the
decimal value (0.125 -> 13%), not on the binary float, so 0.285 shows as 28.5%, never 28.4%.
"""

from __future__ import annotations

import math
import string
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

import yaml

from .errors import ConfigError
from .registry import Country, DimensionSet, label

LOCALES = Path(__file__).resolve().parent / "locales"
FALLBACK = "en"
INTERSECTION_SEP = " × "
MINUS = "\u2212"  # typographic minus, as matplotlib draws it on axes

# (group separator, decimal separator, digits, Indian grouping) per language; others use en.
_NUMBER_STYLE: dict[str, tuple[str, str, str, bool]] = {
    "en": (",", ".", "0123456789", False),
    "vi": (".", ",", "0123456789", False),
    "sw": (",", ".", "0123456789", False),
    "bn": (",", ".", "০১২৩৪৫৬৭৮৯", True),
}


def _flatten(tree: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in tree.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, full + "."))
        else:
            out[full] = "" if value is None else str(value)
    return out


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The flat message catalogue of `lang` ({'legend.caution': ...}); {} if none exists."""
    path = LOCALES / f"{lang}.yml"
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"is not valid YAML ({exc}).",
            path=path,
            hint="Fix the catalogue's indentation or quoting.",
        ) from None
    if not isinstance(data, dict):
        raise ConfigError("must be a mapping of keys to messages.", path=path)
    return _flatten(data)


def languages() -> list[str]:
    """Languages with a catalogue, sorted."""
    return sorted(p.stem for p in LOCALES.glob("*.yml"))


def placeholders(message: str) -> set[str]:
    """Names of the {placeholders} in a message (to check translations keep them)."""
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}


def t(key: str, lang: str, **fmt: object) -> str:
    """The message `key` in `lang` (English if untranslated), with {placeholders} filled."""
    message = catalogue(lang).get(key)
    if message is None:
        message = catalogue(FALLBACK).get(key)
    if message is None:
        raise KeyError(f"message '{key}' is not in locales/{FALLBACK}.yml")
    return message.format(**fmt) if fmt else message


# --------------------------------------------------------------------------- numbers


def _group(digits: str, sep: str, indian: bool) -> str:
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    size = 2 if indian else 3
    parts = []
    while len(head) > size:
        parts.insert(0, head[-size:])
        head = head[:-size]
    parts.insert(0, head)
    return sep.join(parts + [tail])


def _decimal(x: object) -> Decimal | None:
    if x is None:
        return None
    try:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        return Decimal(repr(float(x))) if not isinstance(x, (int, Decimal)) else Decimal(x)
    except (TypeError, ValueError):
        return None


def _format_decimal(d: Decimal, lang: str, decimals: int, signed: bool) -> str:
    group, point, digits, indian = _NUMBER_STYLE.get(lang, _NUMBER_STYLE[FALLBACK])
    q = d.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    negative = q < 0
    text = f"{abs(q):.{decimals}f}"
    whole, _, frac = text.partition(".")
    out = _group(whole, group, indian) + (point + frac if frac else "")
    if digits != "0123456789":
        out = out.translate(str.maketrans("0123456789", digits))
    if negative:
        return MINUS + out
    if signed and q > 0:
        return "+" + out
    return out


def fmt_number(x: object, lang: str, decimals: int = 0, *, signed: bool = False) -> str:
    """`x` written the way readers of `lang` write numbers; an en dash for a missing value."""
    d = _decimal(x)
    if d is None:
        return "\u2013"
    return _format_decimal(d, lang, decimals, signed)


def fmt_percent(p: object, lang: str, decimals: int = 0, *, signed: bool = False) -> str:
    """A proportion (0-1) as a percentage: fmt_percent(0.125, 'vi', 1) == '12,5%'."""
    d = _decimal(p)
    if d is None:
        return "\u2013"
    return _format_decimal(d * 100, lang, decimals, signed) + "%"


# --------------------------------------------------------------------------- labels


def split_dims(dim: str | list[str] | tuple[str, ...]) -> list[str]:
    """'sex×disability' (the estimate tables' grouping), 'sex|disability' or a list -> ids."""
    if isinstance(dim, (list, tuple)):
        return list(dim)
    for sep in ("×", "|", "*"):
        if sep in dim:
            return [d.strip() for d in dim.split(sep)]
    return [dim.strip()]


def _dimension(dimensions: DimensionSet, dim: str):
    try:
        return dimensions.get(dim)
    except KeyError:
        known = ", ".join(d.id for d in dimensions.dimensions)
        raise ConfigError(
            f"dimension '{dim}' is not declared (known: {known}).",
            path="data/dimensions.yml",
            hint="Add it to dimensions.yml or correct the grouping's name.",
        ) from None


def dim_label(dimensions: DimensionSet, dim: str | list[str], lang: str) -> str:
    """Label of a dimension or intersection ('Sex × Disability'); '' (all) -> overall."""
    if isinstance(dim, str) and dim.strip() == "":
        return t("group.overall", lang)
    return INTERSECTION_SEP.join(
        label(_dimension(dimensions, d).label, lang, d) for d in split_dims(dim)
    )


def _is_missing(code: object) -> bool:
    if code is None:
        return True
    if isinstance(code, float) and math.isnan(code):
        return True
    return str(code).strip() == ""


def _single_code_label(
    dimensions: DimensionSet, country: Country | None, dim: str, code: str, lang: str
) -> str:
    if dim == "region" and country is not None:
        for region in country.regions:
            if region.code == code:
                return label(region.name, lang, code)
        raise ConfigError(
            f"region code '{code}' is not a region of {country.iso} "
            f"(known: {', '.join(country.region_codes())}).",
            path="data/countries.yml",
            field="regions",
            hint="Add the region to countries.yml or map the raw code to a declared one in cycle.yml.",
        )
    if dim == "age_group" and country is not None:
        child = f"{country.child_band.min}-{country.child_band.max}"
        if code in country.age_band_labels() or code == child:
            return code
        raise ConfigError(
            f"age group '{code}' is not one of {country.iso}'s bands "
            f"({', '.join(country.age_band_labels())}).",
            path="data/countries.yml",
            field="age_bands",
            hint="Derive age groups from countries.yml age_bands.",
        )
    dimension = _dimension(dimensions, dim)
    if dimension.codes:
        if code not in dimension.codes:
            raise ConfigError(
                f"code '{code}' is not a code of dimension '{dim}' "
                f"(known: {', '.join(dimension.codes)}).",
                path="data/dimensions.yml",
                field=f"{dim}.codes",
                hint="Add the code with its labels, or map the raw code in cycle.yml.",
            )
        return label(dimension.codes[code], lang, code)
    return code


def code_label(
    dimensions: DimensionSet,
    country: Country | None,
    dim: str | list[str],
    code: object,
    lang: str,
) -> str:
    """Label of a group code; intersections ('female|with_disability') join with ' × '.

    Regions and age bands come from the country; an empty code is the overall row.
    """
    if _is_missing(code):
        return t("group.overall", lang)
    dims = split_dims(dim)
    codes = str(code).split("|") if len(dims) > 1 else [str(code)]
    if len(codes) != len(dims):
        raise ConfigError(
            f"code '{code}' has {len(codes)} parts but grouping '{'×'.join(dims)}' has "
            f"{len(dims)} dimensions.",
            hint="Join intersection codes with '|' in the grouping's order, e.g. 'female|rural'.",
        )
    return INTERSECTION_SEP.join(
        _single_code_label(dimensions, country, d, c, lang)
        for d, c in zip(dims, codes, strict=True)
    )
