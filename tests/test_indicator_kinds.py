"""Indicator kinds beyond proportions and means (total, ratio, quantile, median): declared in
indicators.yml, validated with errors naming file, row and field, estimated by
`stats.estimate` for every domain, and carried through the cycle store, disclosure and the
Open SDG / SDMX exports (R agreement of the estimators: tests/test_stats_domains.py)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from voicescount import estimates, publish
from voicescount.errors import ConfigError
from voicescount.registry import Indicator, IndicatorCatalogue, Project, parse_model

sys.path.insert(0, str(Path(__file__).parent))
from conftest import ROOT, make_tiny_project  # noqa: E402

BASE = {
    "sdg": {"goal": 1, "target": "1.2"},
    "instrument": "adults",
    "rule": {"item": "age"},
    "label": {"en": "x"},
    "definition": {"en": "x"},
}
EXTRA = """
  - id: adult_age_total
    sdg: {goal: 1, target: "1.2"}
    instrument: adults
    kind: total
    unit: number
    rule: {item: age}
    label: {en: Total of ages}
    definition: {en: Sum of the ages in the population.}
  - id: adult_older_total
    sdg: {goal: 1, target: "1.2"}
    instrument: adults
    kind: total
    unit: number
    rule: {item: age, at_least: 30}
    label: {en: People aged 30 or more}
    definition: {en: Estimated number of adults aged 30 or more.}
  - id: adult_age_ratio
    sdg: {goal: 1, target: "1.2"}
    instrument: adults
    kind: ratio
    unit: number
    rule: {item: age}
    denominator: {item: age, at_least: 30}
    label: {en: Ages per person aged 30 or more}
    definition: {en: Total of ages over the number aged 30 or more.}
  - id: adult_age_median
    sdg: {goal: 5, target: "5.5"}
    instrument: adults
    kind: median
    unit: number
    rule: {item: age}
    label: {en: Median age}
    definition: {en: Median age of adults.}
  - id: adult_age_p90
    sdg: {goal: 5, target: "5.5"}
    instrument: adults
    kind: quantile
    quantile: 0.9
    unit: number
    rule: {item: age}
    label: {en: 90th percentile of age}
    definition: {en: Age below which 90% of adults are.}
"""


def _bad(tmp_path, **changes) -> ConfigError:
    entry = {**BASE, "id": "bad_one", **changes}
    with pytest.raises(ConfigError) as err:
        parse_model(IndicatorCatalogue, {"indicators": [entry]}, tmp_path / "indicators.yml")
    return err.value


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"kind": "ratio", "unit": "number"}, "denominator", "needs a denominator"),
        ({"kind": "mean", "denominator": {"item": "age"}}, "denominator", "only kind 'ratio'"),
        ({"kind": "quantile", "unit": "number"}, "quantile", "between 0 and 1"),
        ({"kind": "quantile", "quantile": 1.0, "unit": "number"}, "quantile", "between 0"),
        ({"kind": "median", "quantile": 0.5, "unit": "number"}, "quantile", "only kind"),
        ({"kind": "total"}, "unit", "a total is a number"),
        ({"kind": "sum"}, "kind", "proportion"),
    ],
)
def test_kind_fields_validated_with_file_row_field(tmp_path, changes, field, words):
    err = _bad(tmp_path, **changes)
    text = str(err)
    assert "indicators.yml" in text and "row 1 (bad_one)" in text
    assert f"field '{field}'" in text and words in text


def test_estimator_of_each_kind():
    mk = lambda **k: Indicator.model_validate({**BASE, "id": "a", "unit": "number", **k})  # noqa: E731
    assert mk(kind="median").estimator == ("quantile", 0.5)
    assert mk(kind="quantile", quantile=0.25).estimator == ("quantile", 0.25)
    assert mk(kind="ratio", denominator={"item": "age"}).estimator[0] == "ratio"
    assert mk(kind="total").estimator[0] == "total"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    """The tiny project with 600 respondents (so cells are published) and the new kinds."""
    root = make_tiny_project(tmp_path_factory.mktemp("kinds") / "tiny")
    rng = np.random.default_rng(7)
    n = 600
    region = rng.choice(["north", "south"], n)
    psu = [f"{r}{k}" for r, k in zip(region, rng.integers(1, 9, n), strict=True)]
    df = pd.DataFrame(
        dict(respondent_id=[f"r{i}" for i in range(n)], consent="true", region=region,
             stratum=region, psu=psu, weight=rng.uniform(1, 3, n).round(2),
             sex=rng.choice(["female", "male"], n), age=rng.integers(16, 90, n))
    )  # fmt: skip
    df.to_csv(root / "data" / "ZZ" / "2021" / "exports" / "adults.csv", index=False)
    cat = root / "data" / "indicators.yml"
    cat.write_text(cat.read_text(encoding="utf-8") + EXTRA, encoding="utf-8")
    codes = (ROOT / "data" / "sdmx_codes.yml").read_text(encoding="utf-8")
    codes = codes.replace(
        "countries:\n",
        'countries:\n  ZZ:\n    ref_area: "999"\n    regions: {north: ZZ_N, south: ZZ_S}\n',
        1,
    )
    (root / "data" / "sdmx_codes.yml").write_text(codes, encoding="utf-8")
    return Project(root)


def test_new_kinds_in_the_store_and_exports(project, tmp_path):
    est = estimates.load(project, "ZZ", 2021).estimates
    ours = est[est["variable"].str.startswith("adult_")]
    assert set(ours["variable"]) == {
        "adult_age_total", "adult_older_total", "adult_age_ratio", "adult_age_median",
        "adult_age_p90",
    }  # fmt: skip
    overall = ours[ours["grouping"] == ""].set_index("variable")
    assert not overall["suppressed"].any()
    # the ratio is the ratio of the two totals (same rows, same weights), to the published
    # precision (rules.yml publish_decimals: 2 for numbers)
    assert overall.loc["adult_age_ratio", "estimate"] == pytest.approx(
        overall.loc["adult_age_total", "estimate"] / overall.loc["adult_older_total", "estimate"],
        abs=0.006,
    )
    for v in ("adult_age_median", "adult_age_p90"):
        r = overall.loc[v]
        assert r["estimate"] == int(r["estimate"]) and r["ci_low"] <= r["estimate"] <= r["ci_high"]
        assert np.isnan(r["deff"])
    assert overall.loc["adult_age_median", "estimate"] < overall.loc["adult_age_p90", "estimate"]
    by_sex = ours[(ours["grouping"] == "sex") & ~ours["suppressed"]]
    assert set(by_sex["variable"]) == set(overall.index)
    assert ours.loc[ours["variable"] == "adult_age_total", "gap"].isna().all()
    assert ours["p_value"].isna().all()  # group-versus-rest tests are of means only
    out = publish.export(project, "ZZ", 2021, ["opensdg", "sdmx"], tmp_path)
    meta = (tmp_path / "opensdg" / "meta").glob("*.yml")
    text = " ".join(" ".join(p.read_text(encoding="utf-8").split()) for p in meta)  # unwrap
    assert "Survey-weighted total" in text and "Survey-weighted median" in text
    assert "divided by age >= 30" in text
    sdmx = next(p for p in out if p.suffix == ".csv" and "sdmx" in str(p))
    rows = pd.read_csv(sdmx, dtype=str)
    assert rows["SERIES"].str.contains("ADULT_AGE_MEDIAN").any()
    shutil.rmtree(tmp_path / "opensdg")
