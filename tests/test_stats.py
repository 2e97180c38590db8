"""voicescount.stats against R's survey package (committed fixtures), svy, and properties."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import r_raked_rows, raked_fixture_design, random_survey
from hypothesis import given, settings
from hypothesis import strategies as st

from voicescount.errors import InputError
from voicescount.registry import DesignSpec
from voicescount.stats import Design, estimate

FIX = Path(__file__).parent / "fixtures" / "r"
GROUPINGS = [[], ["sex"], ["region"], ["group"], ["sex", "region"], ["region", "group"]]
KEYS = ["variable", "grouping", "sex", "region", "group"]
DESIGN = Design(weight="weight", strata="stratum", psu="psu")


def _ours(name: str, kind: str) -> pd.DataFrame:
    df = pd.read_csv(FIX / f"design_{name}.csv")
    items = ["y1", "y2"] if kind == "proportion" else ["x1"]
    return estimate(df, items, DESIGN, by=GROUPINGS, kind=kind)


def _reference(file: str) -> pd.DataFrame:
    ref = pd.read_csv(FIX / file, keep_default_na=False, na_values=[""])
    ref["grouping"] = ref["grouping"].fillna("")
    return ref


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return _reference("reference_estimates.csv")


@pytest.mark.parametrize("name", ["a", "b", "c"])
@pytest.mark.parametrize("kind", ["proportion", "mean"])
def test_matches_r_survey(reference, name, kind):
    """svymean/svyby (SE, deff), svyciprop logit or confint (CI), degf, on three designs."""
    ours = _ours(name, kind)
    ref = reference[(reference.design == name) & (reference.kind == kind)]
    m = ref.merge(ours[ours.n > 0], on=KEYS, how="outer", suffixes=("_r", ""), indicator=True)
    assert (m["_merge"] == "both").all(), m.loc[m["_merge"] != "both", KEYS]
    assert len(m) == len(ref) > 10
    np.testing.assert_array_equal(m["n"], m["n_r"])
    np.testing.assert_allclose(m["estimate"], m["estimate_r"], rtol=1e-9, atol=0)
    np.testing.assert_allclose(m["N"], m["N_r"], rtol=1e-9, atol=0)
    for col in ["se", "ci_low", "ci_high", "deff"]:
        np.testing.assert_allclose(m[col], m[col + "_r"], rtol=1e-6, atol=0, err_msg=col)


# ----------------------------------------------------------------------------- raked designs

RAKE = ("sex", "region", "area")  # the margins make_reference.R rakes to, in its order


@pytest.fixture(scope="module")
def reference_raked() -> pd.DataFrame:
    return _reference("reference_raked.csv")


@pytest.mark.parametrize("name", ["a", "b", "c"])
@pytest.mark.parametrize("kind", ["proportion", "mean"])
def test_raked_design_matches_r_survey(reference_raked, name, kind):
    """R's rake() design (sex, region and a PSU-level margin) on the three designs (B and C
    have a single-PSU stratum, C missing items and an empty domain): svymean/svyby SE and
    deff, svyciprop logit or confint CI, degf. Reached: SE, deff and CI to 3e-13."""
    df = raked_fixture_design(name)
    items = ["y1", "y2"] if kind == "proportion" else ["x1"]
    ours = estimate(df, items, replace(DESIGN, rake=RAKE), by=GROUPINGS, kind=kind)
    fixed = estimate(df, items, DESIGN, by=GROUPINGS, kind=kind)
    ref = reference_raked[(reference_raked.design == name) & (reference_raked.kind == kind)]
    m = ref.merge(ours[ours.n > 0], on=KEYS, how="outer", suffixes=("_r", ""), indicator=True)
    assert (m["_merge"] == "both").all(), m.loc[m["_merge"] != "both", KEYS]
    assert len(m) == len(ref) > 10
    np.testing.assert_array_equal(m["n"], m["n_r"])
    np.testing.assert_allclose(m["estimate"], m["estimate_r"], rtol=1e-12, atol=0)
    np.testing.assert_allclose(m["N"], m["N_r"], rtol=1e-12, atol=0)
    for col in ["se", "ci_low", "ci_high", "deff"]:
        np.testing.assert_allclose(m[col], m[col + "_r"], rtol=1e-11, atol=0, err_msg=col)
    # the same weights held fixed give other SEs (the raking adjustment is really applied)
    np.testing.assert_array_equal(ours["estimate"], fixed["estimate"])
    assert np.nanmax(np.abs(ours["se"] / fixed["se"] - 1)) > 0.05


def _naive_raked(df: pd.DataFrame, item: str, inside: np.ndarray, margins) -> tuple:
    """R's svymean on a raked design, transcribed row by row (conftest.r_raked_rows)."""
    y = df[item].to_numpy(dtype=float)
    est, V = r_raked_rows(df, y, [inside], margins, df["psu"].to_numpy())
    return est[0], np.sqrt(V[0, 0])


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["proportion", "mean"]), st.booleans())
def test_raked_variance_equals_rows_transcription_of_r(seed, kind, clustered):
    """The cell-level computation (margin-cell sums, the sweeps as one linear map, PSU x
    cell weights, the fixed-weight variance plus a cross term and a quadratic form) equals
    R's raking loop run on the rows, for every domain of several groupings at once:
    single-PSU strata, missing items, a dimension with missing values, a margin constant
    within PSUs, margins that are grouping dimensions and one that is not; clustered or
    with each row its own PSU."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(15, 80))
    df = random_survey(
        rng, n, region=["r1", "r2", "r3"], age=["young", "old"],
        grp=(["g1", "g2", None], [0.45, 0.45, 0.1]),
    )  # fmt: skip
    y = (rng.random(n) < 0.4).astype(float) if kind == "proportion" else rng.gamma(2.0, 2.0, n)
    df["y"] = np.where(rng.random(n) < 0.1, np.nan, y)
    margins = ("sex", "area", "age")
    by = [[], ["sex"], ["region"], ["grp"], ["sex", "region"], ["area", "grp"]]
    design = replace(DESIGN, rake=margins, psu="psu" if clustered else None)
    est = estimate(df, ["y"], design, by=by, kind=kind)
    if not clustered:
        df["psu"] = np.arange(n)
    est = est[est["n"] > 0]
    assert len(est) >= 6
    for row in est.itertuples():
        inside = np.ones(n, dtype=bool)
        for d in ("sex", "region", "grp", "area"):
            v = getattr(row, d)
            if v is not None and v == v:
                inside &= (df[d] == v).to_numpy()
        p, se = _naive_raked(df, "y", inside, margins)
        assert row.estimate == pytest.approx(p, rel=1e-12)
        assert row.se == pytest.approx(se, rel=1e-9, abs=1e-14)


def test_raked_estimate_of_a_margin_is_exact():
    """A share the weights were raked to is known without error: the SE of the share of a
    margin's category is 0 on R's raked design (R: ~1e-17; here the variance is a sum of
    three terms, so what is left is rounding of the fixed-weight variance, or 0), while the
    same weights held fixed give it a clear SE."""
    df = raked_fixture_design("a")
    df["female"] = (df["sex"] == "female").astype(float)
    fixed = estimate(df, ["female"], DESIGN, by=[[], ["region"]])
    assert fixed.loc[0, "se"] > 0.01
    for order in [RAKE, ("region", "area", "sex")]:
        raked = estimate(df, ["female"], replace(DESIGN, rake=order), by=[[], ["region"]])
        assert raked.loc[0, "estimate"] == pytest.approx(103000 / 200000, rel=1e-12)
        assert raked.loc[0, "se"] <= 1e-6 * fixed.loc[0, "se"]
        # a domain's share of women is not calibrated: its SE stays
        assert (raked.loc[1:, "se"] > 0.1 * fixed.loc[1:, "se"]).all()


def test_raked_design_inputs():
    df = raked_fixture_design("a")
    with pytest.raises(ValueError, match="twice"):
        Design("weight", rake=("sex", "sex"))
    assert Design("weight", rake=["sex"]).rake == ("sex",)
    assert replace(DESIGN, rake=RAKE).columns()[-3:] == list(RAKE)
    with pytest.raises(InputError) as exc:
        estimate(df.drop(columns="area"), ["y1"], replace(DESIGN, rake=RAKE))
    assert exc.value.field == "area" and "raking margin" in str(exc.value)
    df.loc[4, "sex"] = None
    with pytest.raises(InputError) as exc:
        estimate(df, ["y1"], replace(DESIGN, rake=RAKE))
    assert exc.value.field == "sex"


def test_lonely_psu_design_really_has_one(reference):
    df = pd.read_csv(FIX / "design_b.csv")
    assert (df.groupby("stratum")["psu"].nunique() == 1).any()
    # degf: 13 PSUs - 4 strata
    assert reference.query("design == 'b' and grouping == ''")["df"].iloc[0] == 9


def test_empty_domain_and_missing_items():
    ours = _ours("c", "proportion")
    empty = ours[(ours.region == "south") & (ours.group == "c")]
    assert len(empty) == 2  # y1 and y2, present with n = 0
    assert (empty["n"] == 0).all() and empty["estimate"].isna().all()
    assert (empty["N"] == 0).all() and (empty["flag"] == "caution").all()
    df = pd.read_csv(FIX / "design_c.csv")
    overall = ours[(ours.grouping == "") & (ours.variable == "y2")].iloc[0]
    assert overall["n"] == df["y2"].notna().sum() < len(df)


def test_output_shape_order_and_flags():
    ours = _ours("a", "proportion")
    assert list(ours.columns) == [
        "variable", "grouping", "sex", "region", "group",
        "estimate", "se", "ci_low", "ci_high", "deff", "n", "N", "cv", "flag",
    ]  # fmt: skip
    assert list(ours["variable"].unique()) == ["y1", "y2"]
    assert list(ours["grouping"].unique()) == ["", "sex", "region", "group", "sex×region",
                                               "region×group"]  # fmt: skip
    sr = ours[(ours.variable == "y1") & (ours.grouping == "sex×region")]
    assert list(zip(sr.sex, sr.region, strict=True))[:3] == [
        ("female", "centre"), ("female", "north"), ("female", "south"),
    ]  # fmt: skip
    assert sr["group"].isna().all()
    expect = (ours.n < 30) | (ours.cv > 0.30)
    assert ((ours.flag == "caution") == expect).all()
    strict = estimate(
        pd.read_csv(FIX / "design_a.csv"), ["y1"], DESIGN, by=[["sex"]], caution_min_n=500
    )
    assert (strict.flag == "caution").all()


def test_categorical_levels_keep_declared_order_and_unused():
    df = pd.read_csv(FIX / "design_a.csv")
    df["region"] = pd.Categorical(df["region"], ["south", "north", "centre", "west"])
    est = estimate(df, ["y1"], DESIGN, by=[["region"]])
    assert list(est.region) == ["south", "north", "centre", "west"]
    assert est.iloc[3]["n"] == 0


@pytest.mark.slow  # importing svy (polars, its engine) takes ~10 s on a busy CI machine
def test_agrees_with_svy():
    """The maintained library, as a second opinion (design A, estimates and SEs)."""
    pl = pytest.importorskip("polars")
    svy = pytest.importorskip("svy")
    df = pd.read_csv(FIX / "design_a.csv")
    sample = svy.Sample(pl.from_pandas(df), svy.Design(stratum="stratum", psu="psu", wgt="weight"))
    theirs = sample.estimation.mean("x1", by="region").to_polars().to_pandas()
    theirs = theirs.rename(columns=lambda c: f"svy_{c}")
    ours = estimate(df, ["x1"], DESIGN, by=[["region"]], kind="mean")
    m = ours.merge(theirs, left_on="region", right_on="svy_region")
    assert len(m) == 3
    np.testing.assert_allclose(m["estimate"], m["svy_est"], rtol=1e-9)
    for a, b in [("se", "svy_se"), ("ci_low", "svy_lci"), ("ci_high", "svy_uci")]:
        np.testing.assert_allclose(m[a], m[b], rtol=1e-6)


def test_design_from_spec_and_defaults():
    d = Design.from_spec(DesignSpec(weight="w", strata=None, psu="cl"))
    assert d == Design(weight="w", strata=None, psu="cl", fpc=None)
    df = pd.DataFrame({"y": [1, 0, 1, 1, 0, 1.0]})
    est = estimate(df, ["y"], Design(weight=None))
    assert est.loc[0, "estimate"] == pytest.approx(4 / 6)
    # SRS with replacement: se = sqrt(p(1-p)/(n-1))
    assert est.loc[0, "se"] == pytest.approx(np.sqrt(4 / 6 * 2 / 6 / 5))


@pytest.mark.parametrize("rake", [(), RAKE])
def test_fpc_reduces_variance(rake):
    df = raked_fixture_design("a")
    df["fpc"] = df.groupby("stratum")["psu"].transform("nunique") * 2  # half the PSUs sampled
    a = estimate(df, ["y1"], replace(DESIGN, rake=rake), by=[[], ["sex"]])
    b = estimate(df, ["y1"], Design("weight", "stratum", "psu", fpc="fpc", rake=rake),
                 by=[[], ["sex"]])  # fmt: skip
    np.testing.assert_allclose(b.se, a.se * np.sqrt(0.5), rtol=1e-12)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.assign(weight=d.weight.where(d.index != 3, -1)), "weight"),
        (lambda d: d.assign(y1=d.y1.where(d.index != 5, 2)), "y1"),
        (lambda d: d.drop(columns="psu"), "psu"),
        (lambda d: d.drop(columns="sex"), "sex"),
    ],
)
def test_bad_inputs_name_the_field(mutate, field):
    df = mutate(pd.read_csv(FIX / "design_a.csv"))
    with pytest.raises(InputError) as exc:
        estimate(df, ["y1"], DESIGN, by=[["sex"]])
    assert exc.value.field == field


# ----------------------------------------------------------------------------- properties


@st.composite
def surveys(draw):
    n = draw(st.integers(12, 60))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    strata = rng.integers(0, 3, n)
    return pd.DataFrame(
        {
            "stratum": strata,
            "psu": strata * 10 + rng.integers(0, 3, n),
            "weight": rng.uniform(0.2, 5.0, n),
            "sex": rng.choice(["f", "m"], n),
            "region": rng.choice(["r1", "r2", "r3"], n),
            "y": np.where(rng.random(n) < 0.1, np.nan, (rng.random(n) < 0.4).astype(float)),
        }
    )


BY = [[], ["sex"], ["region"], ["sex", "region"]]
COLS = ["estimate", "se", "ci_low", "ci_high", "deff", "N"]


@settings(max_examples=25, deadline=None)
@given(surveys(), st.floats(0.01, 1000))
def test_scaling_weights_changes_nothing(df, k):
    a = estimate(df, ["y"], DESIGN, by=BY)
    b = estimate(df.assign(weight=df.weight * k), ["y"], DESIGN, by=BY)
    for c in ["estimate", "se", "ci_low", "ci_high"]:
        np.testing.assert_allclose(a[c], b[c], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a["N"] * k, b["N"], rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(surveys())
def test_domain_estimate_is_weighted_mean_of_its_rows(df):
    est = estimate(df, ["y"], DESIGN, by=[["sex", "region"]])
    for row in est.itertuples():
        sub = df[(df.sex == row.sex) & (df.region == row.region) & df.y.notna()]
        if len(sub) == 0:
            assert row.n == 0 and np.isnan(row.estimate)
        else:
            assert row.estimate == pytest.approx(np.average(sub.y, weights=sub.weight), 1e-12)
            assert row.n == len(sub)


@settings(max_examples=25, deadline=None)
@given(surveys())
def test_proportion_cis_within_unit_interval(df):
    est = estimate(df, ["y"], DESIGN, by=BY).dropna(subset=["ci_low"])
    assert ((est.ci_low >= 0) & (est.ci_low <= est.estimate)).all()
    assert ((est.ci_high <= 1) & (est.ci_high >= est.estimate)).all()


@settings(max_examples=20, deadline=None)
@given(surveys(), st.sampled_from(BY))
def test_single_grouping_equals_same_grouping_in_multi_call(df, g):
    one = estimate(df, ["y"], DESIGN, by=[g]).drop(columns=["sex", "region"], errors="ignore")
    many = estimate(df, ["y"], DESIGN, by=BY)
    part = many[many.grouping == "×".join(g)].reset_index(drop=True)
    # equal up to summation order (the multi call may aggregate from a finer table)
    np.testing.assert_array_equal(one["n"].to_numpy(), part["n"].to_numpy())
    for c in COLS:
        np.testing.assert_allclose(one[c].to_numpy(), part[c].to_numpy(), rtol=1e-12, atol=1e-15)


def test_missing_dimension_value_is_in_no_domain_but_in_the_total():
    df = pd.read_csv(FIX / "design_a.csv")
    df.loc[:9, "sex"] = None
    est = estimate(df, ["y1"], DESIGN, by=[[], ["sex"]])
    assert est.loc[0, "n"] == len(df)
    assert est.loc[1:, "n"].sum() == len(df) - 10
    assert list(est.loc[1:, "sex"]) == ["female", "male"]


def test_no_items_gives_an_empty_table():
    df = pd.read_csv(FIX / "design_a.csv")
    est = estimate(df, [], DESIGN, by=[["sex"]])
    assert len(est) == 0 and "sex" in est.columns and "flag" in est.columns


@pytest.mark.parametrize("rake", [(), RAKE])
def test_threads_and_item_blocks_change_nothing(monkeypatch, rake):
    """The benchmark-scale path (thread pool, items in several blocks) gives the same table."""
    from voicescount import stats

    df = raked_fixture_design("c")
    df["y3"] = df["y1"][::-1].to_numpy()
    items = ["y1", "y2", "y3"]
    design = replace(DESIGN, rake=rake)
    plain = estimate(df, items, design, by=GROUPINGS)
    monkeypatch.setattr(stats, "_threads", lambda work: 2)
    monkeypatch.setattr(stats, "_BLOCK", 1)  # one item per block
    pooled = estimate(df, items, design, by=GROUPINGS)
    pd.testing.assert_frame_equal(plain, pooled, check_exact=False, rtol=1e-12)
