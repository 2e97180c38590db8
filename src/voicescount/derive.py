"""Derived LNOB variables and indicator columns, computed one way for every country and cycle.

Comparability across countries and cycles is the point of citizen-generated data on the SDGs,
so every derived variable is defined once here, from contract columns only, and its codes are
those of `data/dimensions.yml`.

Disability (adults) follows the Washington Group Short Set (WG-SS) recommended cut-off for
international comparison: *with disability* when at least one of the six domains is coded
3 "a lot of difficulty" or 4 "cannot do at all". Missing data follow the WG's own syntax
("Analytic Guidelines: Creating Disability Identifiers Using the WG-SS", SPSS/Stata syntax,
identifier DISABILITY3, washingtongroup-disability.com): refused / don't know / not
ascertained (7, 8, 9) count as missing, and the identifier is missing **only when all six
domains are missing**. A person with one domain at 3 or 4 is with disability whatever the
others say; a person answering some domains, none at 3 or 4, is without disability.

Child functioning (children 11-15) follows the UNICEF/WG Child Functioning Module (ages
5-17): *with difficulty* when any domain is "a lot of difficulty" or "cannot do at all", or
anxiety or depression is reported "daily"; missing only when every domain is missing (the
same convention as the WG-SS and UNICEF's MICS tabulation syntax). For children the
`disability` dimension is this CFM status, because the CFM is the WG's disability measure for
children; `disability_severity` and `disability_domains` are WG-SS (adult) concepts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from .registry import Country, Dimension, IndicatorCatalogue, Rule

WG_DOMAINS: tuple[str, ...] = (
    "seeing",
    "hearing",
    "walking",
    "cognition",
    "selfcare",
    "communication",
)
WG_COLUMNS: tuple[str, ...] = tuple(f"wg_{d}" for d in WG_DOMAINS)

# CFM 5-17 domains on the 1-4 difficulty scale, and the two frequency items (1 = daily).
CF_DIFFICULTY: tuple[str, ...] = (
    "cf_seeing",
    "cf_hearing",
    "cf_walking",
    "cf_selfcare",
    "cf_communication",
    "cf_learning",
    "cf_remembering",
    "cf_concentrating",
    "cf_accepting_change",
    "cf_behaviour",
    "cf_friends",
)
CF_FREQUENCY: tuple[str, ...] = ("cf_anxiety", "cf_depression")

SEVERITY = {1: "none", 2: "some", 3: "a_lot", 4: "cannot"}

# Sexual and gender minority (SGM) codes: anyone who is not heterosexual, or whose gender
# identity is neither woman nor man as usually understood, counts as LGBT.
LGBT_GENDER = {"transgender_woman", "transgender_man", "non_binary", "other"}
NOT_LGBT_GENDER = {"woman", "man"}
LGBT_ORIENTATION = {"lesbian", "gay", "bisexual", "other"}
NOT_LGBT_ORIENTATION = {"heterosexual"}

INTERSECTION_SEP = "×"
KEY_SEP = "|"


def _numeric(df: pd.DataFrame, cols: Iterable[str], valid: Iterable[int]) -> pd.DataFrame:
    """Numeric copy of `cols` in which anything outside `valid` (7/8/9, absent) is NaN."""
    valid = list(valid)
    out = pd.DataFrame(index=df.index)
    for c in cols:
        s = pd.to_numeric(df[c], errors="coerce") if c in df else pd.Series(np.nan, df.index)
        out[c] = s.astype("float64").where(s.isin(valid))
    return out


def _status(flag: pd.Series, all_missing: pd.Series, yes: str, no: str) -> pd.Series:
    out = pd.Series(np.where(flag, yes, no), index=flag.index, dtype="object")
    out[all_missing] = np.nan
    return out.astype("str")


def wg_disability(df: pd.DataFrame) -> pd.DataFrame:
    """WG-SS disability, severity and domains from `wg_*` columns (codes 1-4; others missing).

    Returns columns disability (with_disability/without_disability), disability_severity
    (none/some/a_lot/cannot: the highest level in any domain) and disability_domains (the
    domains at 3 or 4 joined by '+', '' when none); all missing when all six are missing.
    """
    wg = _numeric(df, WG_COLUMNS, (1, 2, 3, 4))
    all_missing = wg.isna().all(axis=1)
    at_34 = wg >= 3
    out = pd.DataFrame(index=df.index)
    out["disability"] = _status(
        at_34.any(axis=1), all_missing, "with_disability", "without_disability"
    )
    top = wg.max(axis=1)
    out["disability_severity"] = top.map(SEVERITY).astype("str")
    names = np.array(WG_DOMAINS, dtype=object)
    domains = ["+".join(names[row]) for row in at_34.to_numpy()]
    dom = pd.Series(domains, index=df.index, dtype="object")
    dom[all_missing] = np.nan
    out["disability_domains"] = dom.astype("str")
    return out


def child_functioning(df: pd.DataFrame) -> pd.Series:
    """CFM status: with_difficulty if any domain is 3/4 or anxiety/depression is 1 (daily)."""
    dif = _numeric(df, CF_DIFFICULTY, (1, 2, 3, 4))
    freq = _numeric(df, CF_FREQUENCY, (1, 2, 3, 4, 5))
    flag = (dif >= 3).any(axis=1) | (freq == 1).any(axis=1)
    all_missing = dif.isna().all(axis=1) & freq.isna().all(axis=1)
    return _status(flag, all_missing, "with_difficulty", "without_difficulty")


def age_group(age: pd.Series, country: Country, population: str) -> pd.Series:
    """Adult bands from Country.age_bands ('16-24', ..., '60+'); children get the child band.

    Ages outside the population's range stay missing (validation reports them).
    """
    a = pd.to_numeric(age, errors="coerce").astype("float64")
    out = pd.Series(np.nan, index=age.index, dtype="object")
    if population == "children":
        band = country.child_band
        inside = (a >= band.min) & (a <= band.max)
        out[inside] = f"{band.min}-{band.max}"
    elif population == "adults":
        bounds = country.age_bands
        labels = country.age_band_labels()
        cut = pd.cut(a, bins=[*bounds, np.inf], right=False, labels=labels)
        out = cut.astype("object")
        out[cut.isna()] = np.nan
    return out.astype("str")


def youth(age: pd.Series, country: Country) -> pd.Series:
    a = pd.to_numeric(age, errors="coerce").astype("float64")
    inside = (a >= country.youth.min) & (a <= country.youth.max)
    return _status(inside, a.isna(), "youth", "not_youth")


def lgbt(df: pd.DataFrame) -> pd.Series:
    """lgbt / not_lgbt from gender_identity and sexual_orientation (SGM definition).

    lgbt when either answer is a minority one; not_lgbt only when every answer present is
    woman/man and heterosexual. prefer_not_to_say or a missing answer (with no minority
    answer) gives missing, never not_lgbt: declining to answer is not an answer.
    """
    parts = []
    for col, yes, no in (
        ("gender_identity", LGBT_GENDER, NOT_LGBT_GENDER),
        ("sexual_orientation", LGBT_ORIENTATION, NOT_LGBT_ORIENTATION),
    ):
        if col in df:
            s = df[col].astype("object")
            parts.append((s.isin(yes), s.isin(no)))
    out = pd.Series(np.nan, index=df.index, dtype="object")
    if not parts:
        return out.astype("str")
    any_yes = np.logical_or.reduce([p[0].to_numpy() for p in parts])
    all_no = np.logical_and.reduce([p[1].to_numpy() for p in parts])
    out[all_no] = "not_lgbt"
    out[any_yes] = "lgbt"
    return out.astype("str")


def intersection_name(dims: Sequence[str]) -> str:
    """Column name of an intersection, e.g. 'sex×disability'."""
    return INTERSECTION_SEP.join(dims)


def intersections(df: pd.DataFrame, combos: Iterable[Sequence[str]]) -> pd.DataFrame:
    """One key column per combination, e.g. `sex×disability` = 'female|with_disability'.

    Missing when any part is missing, so a key always names a complete group.
    """
    out = pd.DataFrame(index=df.index)
    for combo in combos:
        if not all(d in df for d in combo):
            continue
        parts = [df[d].astype("object") for d in combo]
        missing = np.logical_or.reduce([p.isna().to_numpy() for p in parts])
        key = parts[0].astype(str)
        for p in parts[1:]:
            key = key + KEY_SEP + p.astype(str)
        key = key.astype("object")
        key[missing] = np.nan
        out[intersection_name(combo)] = key.astype("str")
    return out


def derive(
    df: pd.DataFrame,
    country: Country,
    population: str,
    intersections_: Iterable[Sequence[str]] = (),
) -> pd.DataFrame:
    """Return `df` plus the derived LNOB columns for one instrument's population.

    adults: disability (WG-SS), severity, domains, age_group, youth, lgbt; children:
    child_functioning (CFM) and disability from it, age_group (child band), youth; cso:
    nothing personal. `intersections_` are dimension combinations from dimensions.yml.
    """
    out = df.copy()
    if population == "adults":
        for col, s in wg_disability(df).items():
            out[col] = s
        out["lgbt"] = lgbt(df)
    elif population == "children":
        cf = child_functioning(df)
        out["child_functioning"] = cf
        out["disability"] = cf.map(
            {"with_difficulty": "with_disability", "without_difficulty": "without_disability"}
        ).astype("str")
    if population in ("adults", "children") and "age" in df:
        out["age_group"] = age_group(df["age"], country, population)
        out["youth"] = youth(df["age"], country)
    if population in ("adults", "children"):
        for col, s in intersections(out, intersections_).items():
            out[col] = s
    return out


def dimension_codes(dim: Dimension, country: Country) -> list[str]:
    """Allowed codes of a dimension: from dimensions.yml, or from the country (regions, ages)."""
    if dim.codes:
        return list(dim.codes)
    if dim.id == "region":
        return country.region_codes()
    if dim.id == "age_group":
        return [*country.age_band_labels(), f"{country.child_band.min}-{country.child_band.max}"]
    return []


# --------------------------------------------------------------------------- indicators


def _values_match(s: pd.Series, values: list) -> np.ndarray:
    """Membership test that treats '1' and 1 alike (exports mix text and numbers)."""
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        num = pd.to_numeric(s, errors="coerce")
        return num.isin(values).to_numpy()
    if all(isinstance(v, bool) for v in values):
        return s.map(lambda x: x in values if isinstance(x, bool | np.bool_) else False).to_numpy()
    return s.astype("object").map(lambda x: str(x) in {str(v) for v in values}).to_numpy()


def evaluate_rule(df: pd.DataFrame, rule: Rule) -> pd.Series:
    """Evaluate a declarative rule to 1.0 / 0.0 / NaN per row (three-valued logic).

    `item` alone gives the item's numeric value (for means). `any` is 1 if a sub-rule is 1,
    0 if all are 0, else missing; `all` is 0 if a sub-rule is 0, 1 if all are 1, else
    missing: a missing answer only makes the result missing when it could change it.
    """
    if rule.item is not None:
        if rule.item not in df:
            return pd.Series(np.nan, index=df.index)
        s = df[rule.item]
        present = s.notna().to_numpy()
        if rule.in_ is not None:
            hit = _values_match(s, list(rule.in_))
        elif rule.equals is not None:
            hit = _values_match(s, [rule.equals])
        elif rule.at_least is not None or rule.at_most is not None:
            num = pd.to_numeric(s, errors="coerce").astype("float64")
            present = num.notna().to_numpy()
            hit = np.ones(len(s), dtype=bool)
            if rule.at_least is not None:
                hit &= (num >= rule.at_least).to_numpy()
            if rule.at_most is not None:
                hit &= (num <= rule.at_most).to_numpy()
        else:
            return pd.to_numeric(s, errors="coerce").astype("float64")
        return pd.Series(np.where(present, hit.astype(float), np.nan), index=df.index)
    subs = [evaluate_rule(df, r) for r in (rule.any or rule.all or [])]
    mat = np.column_stack([s.to_numpy() for s in subs]) if subs else np.empty((len(df), 0))
    if rule.any is not None:
        one = (mat == 1).any(axis=1)
        zero = (mat == 0).all(axis=1)
        res = np.where(one, 1.0, np.where(zero, 0.0, np.nan))
    else:
        zero = (mat == 0).any(axis=1)
        one = (mat == 1).all(axis=1)
        res = np.where(zero, 0.0, np.where(one, 1.0, np.nan))
    return pd.Series(res, index=df.index)


def indicator_gaps(df: pd.DataFrame, catalogue: IndicatorCatalogue, instrument: str) -> dict:
    """{indicator id: [items missing from df]} for the instrument's indicators (for warnings)."""
    gaps = {}
    for ind in catalogue.indicators:
        if ind.instrument != instrument:
            continue
        needed = ind.rule.items() | (ind.population.items() if ind.population else set())
        missing = sorted(i for i in needed if i not in df)
        if missing:
            gaps[ind.id] = missing
    return gaps


def indicators(df: pd.DataFrame, catalogue: IndicatorCatalogue, instrument: str) -> pd.DataFrame:
    """One float column per indicator of `instrument`, named by indicator id.

    0/1 for proportions (the item value for means, totals, ratios and quantiles; a ratio's
    denominator value in `denominator_column(id)`); NaN outside the indicator's population
    (population rule not 1) or when the items needed are missing. An indicator whose items
    are absent from the data is all NaN; `indicator_gaps` lists them.
    """
    out = pd.DataFrame(index=df.index)
    for ind in catalogue.indicators:
        if ind.instrument != instrument:
            continue
        val = evaluate_rule(df, ind.rule).astype("float64")
        if ind.population is not None:
            inside = evaluate_rule(df, ind.population).to_numpy() == 1
            val = val.where(inside)
        out[ind.id] = val
        if ind.denominator is not None:  # a ratio: its denominator beside it, same population
            den = evaluate_rule(df, ind.denominator).astype("float64")
            out[denominator_column(ind.id)] = den.where(val.notna())
    return out


DENOMINATOR = "__denominator"


def denominator_column(ind_id: str) -> str:
    """The column holding a ratio indicator's per-respondent denominator."""
    return ind_id + DENOMINATOR
