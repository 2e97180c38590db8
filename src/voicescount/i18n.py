"""The report's own words and numbers, in the report's language.

Labels of questions and choices come from the XLSForm translations and labels of dimensions
and regions from `data/*.yml`; everything else the report says (headings, legends, notices,
alt text, PDF cover, VNR chapter, downloads, notices, language names) comes from the message
catalogue in `locales/<lang>.yml`, looked up by `t`; `en.yml` is the reference. A language that
has a catalogue must have every key: `t` raises rather than quietly printing English on a
Swahili page (`missing_keys` lists the gaps; tests/test_i18n.py checks every published
language). Only a language with no catalogue at all falls back to English, with a warning.
A catalogue's `_meta` block (not a message) says which of its keys were machine-drafted and
await native review; `is_machine_drafted` tells the page header to say so.

Numbers follow each language's convention (CLDR): Vietnamese writes 1.234,5 and 12,5%;
Bengali uses Bengali digits and Indian grouping (১২,৩৪,৫৬৭). Rounding is half-up on the
decimal value (0.125 -> 13%), not on the binary float, so 0.285 shows as 28.5%, never 28.4%.
"""

from __future__ import annotations

import math
import string
import warnings
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

import yaml
from babel import Locale, UnknownLocaleError

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


META = "_meta"  # top-level block of a catalogue that is not a message (review status)
MACHINE_DRAFTED = "machine-drafted"
# The drafting notice's own words do not make a page "drafted": it is shown only where other
# text is, so a reviewed catalogue may carry a drafted translation of the notice.
_NOTICE_KEYS = frozenset({"notice.machine_drafted_title", "notice.machine_drafted_text"})


class MissingTranslation(ConfigError):
    """A catalogue lacks a key en.yml has (a page would otherwise mix in English unseen).

    Not a KeyError on purpose: callers that humanise codes en.yml does not know must not
    swallow a missing translation.
    """


class UntranslatedWarning(UserWarning):
    """A language without any catalogue is shown in English."""


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
def _load(lang: str) -> dict:
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
    return data


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The flat message catalogue of `lang` ({'legend.caution': ...}); {} if none exists."""
    return _flatten({k: v for k, v in _load(lang).items() if k != META})


def has_catalogue(lang: str) -> bool:
    """Whether `locales/<lang>.yml` exists (then it must be complete)."""
    return (LOCALES / f"{lang}.yml").is_file()


def drafted_keys(lang: str) -> frozenset[str]:
    """Keys of `lang` machine-drafted and not yet reviewed (`_meta: {review: machine-drafted,
    keys: all | [key, ...]}`); empty for a reviewed catalogue."""
    meta = _load(lang).get(META) or {}
    path = LOCALES / f"{lang}.yml"
    if not isinstance(meta, dict):
        raise ConfigError("must be a mapping (review, keys).", path=path, field=META)
    if meta.get("review") != MACHINE_DRAFTED:
        return frozenset()
    keys = meta.get("keys", "all")
    if keys == "all":
        return frozenset(catalogue(lang))
    if not isinstance(keys, list):
        raise ConfigError("must be 'all' or a list of keys.", path=path, field=f"{META}.keys")
    unknown = sorted(set(keys) - set(catalogue(lang)))
    if unknown:
        raise ConfigError(
            f"lists keys the catalogue does not have: {', '.join(unknown)}.",
            path=path,
            field=f"{META}.keys",
            hint="List only keys translated in this file, or write keys: all.",
        )
    return frozenset(keys)


def is_machine_drafted(lang: str) -> bool:
    """Whether `lang`'s pages carry machine-drafted text (so they must say so)."""
    return bool(drafted_keys(lang) - _NOTICE_KEYS)


def missing_keys(lang: str) -> list[str]:
    """Keys en.yml has and `lang` lacks, sorted (all of them if `lang` has no catalogue)."""
    return sorted(set(catalogue(FALLBACK)) - set(catalogue(lang)))


def catalogue_problems(lang: str) -> list[str]:
    """Everything that keeps `lang` from being published: missing keys, keys en.yml does not
    have, and messages whose {placeholders} differ from English (they would fail or leave a
    value out). Empty when the catalogue is complete."""
    en, other = catalogue(FALLBACK), catalogue(lang)
    problems = [f"{lang}.yml lacks '{key}'" for key in missing_keys(lang)]
    problems += [
        f"{lang}.yml has '{key}', which en.yml does not" for key in sorted(set(other) - set(en))
    ]
    for key in sorted(set(other) & set(en)):
        want, got = placeholders(en[key]), placeholders(other[key])
        if want != got:
            problems.append(
                f"{lang}.yml '{key}' has placeholders {sorted(got)}, en.yml {sorted(want)}"
            )
    return problems


def languages() -> list[str]:
    """Languages with a catalogue, sorted."""
    return sorted(p.stem for p in LOCALES.glob("*.yml"))


def placeholders(message: str) -> set[str]:
    """Names of the {placeholders} in a message (to check translations keep them)."""
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}


def t(key: str, lang: str, **fmt: object) -> str:
    """The message `key` in `lang`, with {placeholders} filled: the one lookup for reader text.

    A key missing from a catalogue that exists raises MissingTranslation (never English on a
    page that claims another language); a language without a catalogue is shown in English,
    with an UntranslatedWarning. A key en.yml lacks is a KeyError.
    """
    message = catalogue(lang).get(key)
    if message is None:
        message = catalogue(FALLBACK).get(key)
        if message is None and key.startswith("language."):
            # a language a country registers but no catalogue names yet (a new country):
            # its name in its own language from CLDR, as the catalogue's names are
            return autonym(key.removeprefix("language."))
        if message is None:
            raise KeyError(f"message '{key}' is not in locales/{FALLBACK}.yml")
        if has_catalogue(lang):
            raise MissingTranslation(
                f"has no message '{key}' (English: {message!r}).",
                path=f"src/voicescount/locales/{lang}.yml",
                field=key,
                hint="Translate it (keep the {placeholders}); i18n.missing_keys lists all gaps.",
            )
        _warn_untranslated(lang)
    return message.format(**fmt) if fmt else message


@cache
def autonym(code: str) -> str:
    """A language's name in that language (CLDR, through Babel: `ne` -> नेपाली); the code
    itself when CLDR does not know it."""
    try:
        name = Locale.parse(code.replace("-", "_")).get_display_name(code.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return code
    return (name[:1].upper() + name[1:]) if name else code


@cache
def _warn_untranslated(lang: str) -> None:
    warnings.warn(
        f"no catalogue locales/{lang}.yml: '{lang}' pages are shown in English",
        UntranslatedWarning,
        stacklevel=3,
    )


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


# Catalogue key of each template chapter's title (analyses/<stem>.ipynb; the SDG pages use
# `chapter.sdg` with the goal): the pages, the VNR chapter's references and the PDF contents
# name a chapter the same way.
CHAPTER_KEYS = {
    "key_findings": "chapter.key_findings",
    "who_heard": "chapter.who_was_heard",
    "inequalities": "chapter.intersecting",
    "official": "chapter.official",
    "scorecards": "chapter.scorecards",
    "voices": "chapter.voices",
    "recommendations": "chapter.recommendations",
    "methods": "chapter.methods",
    "trends": "report.trends_title",
    "synthesis": "report.synthesis_title",
    "explorer": "chapter.explorer",
}
