"""lnob.gaps and furthest_behind on the designs of voicescount.designs (two-stage with
per-stage fpc, post-stratified, calibrated, replicate weights) against R's survey package
(tests/fixtures/r/make_design_gaps.R: svyby(covmat = TRUE) + svycontrast, df = degf of the
subset), and the cycle store of a project declaring a replicate design."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import make_tiny_project
from test_designs import R, designs
from test_designs import data as designs_data  # noqa: F401  (the fixture, by its name)

from voicescount.lnob import _Design, _system, furthest_behind, gaps

ITEMS = [("y1", "proportion"), ("y2", "proportion"), ("x1", "mean")]
DIMS = ["sex", "age", "group", "spot", "part"]


@pytest.fixture(scope="module")
def data(designs_data) -> pd.DataFrame:  # noqa: F811
    """make_designs.R's sample with the calibrated weights, plus make_design_gaps.R's `spot`
    (the rare group's rows in one PSU: JK1/JKn replicates dropping it have no such row) and
    `part` (age, missing on every 7th row)."""
    d = designs_data
    first = d.psu[d.group == "g1"].iloc[0]
    spot = np.where((d.group == "g1") & (d.psu == first), "in", "out")
    part = d.age.where(np.arange(1, len(d) + 1) % 7 != 0)
    return pd.concat([d, pd.DataFrame({"spot": spot, "part": part})], axis=1)


def _ref(name: str, file: str) -> pd.DataFrame:
    ref = pd.read_csv(R / file, keep_default_na=False, na_values=["", "NA"])
    return ref[ref.design == name].reset_index(drop=True)


@pytest.mark.parametrize("name", list(designs()))
def test_gaps_match_r(data, name):
    """Reached (max relative): estimates 2e-15, gap 7e-13, SE 3e-14, CI 4e-12, p 7e-13;
    covariance of level and rest 1.4e-12, or 5e-14 of the gap's variance where R's is ~0."""
    got = pd.concat(
        [gaps(data, [y], designs()[name], DIMS, kind=k) for y, k in ITEMS], ignore_index=True
    )
    ref = _ref(name, "reference_designs_gaps.csv")
    assert len(got) == len(ref) == 3 * 12
    for col in ["variable", "dimension", "code", "n"]:
        assert list(got[col].astype(str)) == list(ref[col].astype(str)), col
    for col in ["estimate", "rest_estimate", "gap", "se", "ci_low", "ci_high", "p_value"]:
        np.testing.assert_allclose(got[col], ref[col], rtol=1e-10, atol=1e-15, err_msg=col)
    np.testing.assert_allclose(got["cov"], ref["cov"], rtol=1e-9, atol=1e-12 * ref.se.max() ** 2)
    # the df is R's degf of the subset: the t quantile R used
    from scipy import stats as sps

    half = sps.t.ppf(0.975, ref.df) * ref.se
    np.testing.assert_allclose(got.ci_high - got.gap, half, rtol=1e-10)


@pytest.mark.parametrize("name", list(designs()))
def test_level_covariance_matches_r(data, name):
    """The level means' joint covariance furthest_behind draws from is svyby(covmat = TRUE)'s
    (replicate designs: replicates NaN for any level dropped for all, svrVar's na.omit)."""
    ref = _ref(name, "reference_designs_vcov.csv")
    des = designs()[name]
    d = _Design(data, des, DIMS)
    for (y, k), dim in [(i, dim) for i in ITEMS for dim in DIMS]:
        s = _system(d, y, dim, k)
        V = s.cov(s.level, s.level)
        r = ref[(ref.variable == y) & (ref.dimension == dim)]
        L = len(s.levels)
        assert list(r.code_i[::L]) == [str(v) for v in s.levels]
        rv = r["cov"].to_numpy().reshape(L, L)
        np.testing.assert_allclose(V, rv, rtol=1e-9, atol=1e-12 * np.abs(rv).max(), err_msg=dim)
    fb = furthest_behind(data, ["x1"], des, ["age"], kind="mean", n_sims=200)
    r = ref[(ref.variable == "x1") & (ref.dimension == "age") & (ref.code_i == ref.code_j)]
    np.testing.assert_allclose(fb.se, np.sqrt(r["cov"].to_numpy()), rtol=1e-9)


def test_replicates_without_the_domain_are_dropped_as_r(data):
    """The `spot` level lives in one PSU: the jackknife replicate dropping that PSU has no
    estimate for it, and is left out of the level's gap variance (R: na.omit, a warning);
    the other dimensions keep every replicate."""
    d = _Design(data, designs()["jkn_design"], ["spot", "sex"])
    s = _system(d, "x1", "spot", "mean")
    assert np.isnan(s.theta[s.levels.index("in")]).sum() == 1
    assert np.isfinite(_system(d, "x1", "sex", "mean").theta).all()


def test_store_of_a_replicate_design_has_gap_tests(tmp_path):
    """A cycle declaring JK1 replicates (created from its PSUs) goes through the cycle store
    (intake, weighting, estimates, gap tests, disclosure) with a p-value for every group."""
    from voicescount import estimates
    from voicescount.registry import Project

    root = make_tiny_project(tmp_path / "tiny")
    rng = np.random.default_rng(15)
    n = 400
    region = rng.choice(["north", "south"], n)
    sex = rng.choice(["female", "male"], n)
    water = rng.random(n) < np.where(sex == "male", 0.7, 0.5)
    df = pd.DataFrame(
        dict(respondent_id=[f"r{i}" for i in range(n)], consent="true", region=region,
             stratum=region, psu=[f"{r}{k}" for r, k in zip(region, rng.integers(1, 9, n),
                                                           strict=True)],
             weight=rng.uniform(1, 3, n).round(2), sex=sex, age=rng.integers(16, 90, n),
             q_water_basic=np.where(water, "yes", "no"))
    )  # fmt: skip
    cdir = root / "data" / "ZZ" / "2023"
    df.to_csv(cdir / "exports" / "adults.csv", index=False)
    yml = cdir / "cycle.yml"
    yml.write_text(yml.read_text() + "design:\n  replicates: {type: JK1}\n", encoding="utf-8")
    est = estimates.load(Project(root), "ZZ", 2023).estimates
    water = est[(est.variable == "basic_water") & (est.grouping != "")]
    assert len(water) > 10 and water.p_value.notna().all() and water.p_adj.notna().all()
    sex = water[water.grouping == "sex"].set_index("sex")
    assert sex.loc["male", "p_value"] < 0.05 and sex.loc["male", "gap"] > 0
    # the replicate variance, not the strata/PSU linearisation, is what was used
    lin = gaps(df.assign(q=water_flag(df)), ["q"], _lin(), ["sex"])
    assert not np.isclose(sex.loc["male", "se"], lin.se.iloc[1])


def water_flag(df: pd.DataFrame) -> np.ndarray:
    return (df.q_water_basic == "yes").astype(float).to_numpy()


def _lin():
    from voicescount.stats import Design

    return Design("weight", "stratum", "psu")
