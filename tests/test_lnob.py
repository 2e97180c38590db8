"""voicescount.lnob: gaps against R (svyby covmat + svycontrast), fixed and raked weights,
p-value adjustment, ranking."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import r_raked_rows, raked_fixture_design, random_survey
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from voicescount.errors import InputError
from voicescount.lnob import _Design, _System, adjust_pvalues, furthest_behind, gaps
from voicescount.stats import Design, estimate

FIX = Path(__file__).parent / "fixtures" / "r"
D = Design("weight", "stratum", "psu")


@pytest.mark.parametrize("name", ["a", "b", "c"])
def test_gap_and_its_se_match_r(name):
    ref = pd.read_csv(FIX / "reference_gaps.csv").query("design == @name")
    df = pd.read_csv(FIX / f"design_{name}.csv")
    ours = pd.concat(
        [gaps(df, ["y1", "y2"], D, ["region"]), gaps(df, ["x1"], D, ["region"], kind="mean")]
    )
    m = ref.merge(ours, on=["variable", "code"], suffixes=("_r", ""))
    assert len(m) == len(ref) == 9
    # reached: gap 5e-14, se 7e-16, cov 7e-15
    np.testing.assert_allclose(m["gap"], m["gap_r"], rtol=1e-12)
    np.testing.assert_allclose(m["se"], m["se_r"], rtol=1e-12)
    np.testing.assert_allclose(m["cov"], m["cov_r"], rtol=1e-12)


# ----------------------------------------------------------------------------- raked designs

RAKE = ("sex", "region", "area")  # the margins make_reference.R rakes to, in its order
DIMS = ["region", "group", "part"]  # a raking margin, not a margin, missing on every 7th row


def _raked(name: str) -> pd.DataFrame:
    """Design `name` with R's raked weights, its `area` margin and the `part` dimension."""
    df = raked_fixture_design(name)
    return df.assign(part=df["group"].where(np.arange(1, len(df) + 1) % 7 != 0))


def _both_kinds(df: pd.DataFrame, design: Design) -> pd.DataFrame:
    return pd.concat(
        [gaps(df, ["y1", "y2"], design, DIMS), gaps(df, ["x1"], design, DIMS, kind="mean")]
    )


@pytest.mark.parametrize("name", ["a", "b", "c"])
def test_raked_gap_matches_r(name):
    """Gaps on R's rake() design (sex, region and a PSU-level margin; B and C have a
    single-PSU stratum, C missing items): estimates, gap, SE, covariance of the level and the
    rest, p-value and Holm over the item's family, against svyrecvar on the domains' joint
    influence functions (tests/fixtures/r/make_reference.R). Reached: estimates 4e-16, SE
    3e-15, p-values 2e-14, gap 3e-13 (a gap of 7e-4: cancellation), covariance 3e-12 (one
    of 4e-6 beside variances of 1e-2, i.e. 1e-17 absolute)."""
    ref = pd.read_csv(FIX / "reference_raked_gaps.csv").query("design == @name")
    df = _raked(name)
    ours = _both_kinds(df, replace(D, rake=RAKE))
    m = ref.merge(ours, on=["variable", "dimension", "code"], suffixes=("_r", ""))
    assert len(m) == len(ref) == 27
    for col, rtol in [("estimate", 1e-13), ("rest_estimate", 1e-13), ("gap", 1e-11),
                      ("se", 1e-12), ("cov", 1e-10), ("p_value", 1e-12)]:  # fmt: skip
        np.testing.assert_allclose(m[col], m[col + "_r"], rtol=rtol, atol=0, err_msg=col)
    np.testing.assert_allclose(m["p_adjusted"], m["p_holm"], rtol=1e-12, atol=0)
    np.testing.assert_allclose(m["ci_high"] - m["gap"], sps.t.ppf(0.975, m["df"]) * m["se"])
    # the same weights held fixed give other SEs (the raking adjustment is really applied)
    fixed = _both_kinds(df, D)
    np.testing.assert_array_equal(ours["gap"], fixed["gap"])
    assert np.max(np.abs(ours["se"] / fixed["se"] - 1)) > 0.05


@pytest.mark.parametrize("name", ["a", "b", "c"])
def test_raked_level_covariance_matches_r(name):
    """The joint covariance of a dimension's level means that furthest_behind draws from
    equals R's on the raked design (svyrecvar on all the levels' influence functions), to
    1e-14 of its largest entry; furthest_behind's se is its diagonal."""
    ref = pd.read_csv(FIX / "reference_raked_vcov.csv").query("design == @name")
    df = _raked(name)
    design = replace(D, rake=RAKE)
    d = _Design(df, design, DIMS)
    fb = pd.concat(
        [
            furthest_behind(df, ["y1", "y2"], design, DIMS, n_sims=200),
            furthest_behind(df, ["x1"], design, DIMS, kind="mean", n_sims=200),
        ]
    )
    for (var, dim), r in ref.groupby(["variable", "dimension"], sort=False):
        s = _System(d, var, dim, "mean" if var == "x1" else "proportion")
        keep = np.flatnonzero(s.n > 0)
        L = len(keep)
        assert list(r["code"].iloc[::L]) == [s.levels[k] for k in keep]
        V = r["cov"].to_numpy().reshape(L, L)
        lv = s.level.take(keep)
        np.testing.assert_allclose(s.cov(lv, lv), V, rtol=0, atol=1e-13 * np.abs(V).max())
        np.testing.assert_allclose(s.est[keep], r["estimate"].iloc[::L], rtol=1e-13)
        f = fb[(fb.variable == var) & (fb.dimension == dim)]
        np.testing.assert_allclose(f["se"], np.sqrt(np.diag(V)), rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["proportion", "mean"]), st.booleans())
@example(450, "mean", True)  # two nearly equal means: the gap is mostly their rounding
def test_raked_covariance_equals_rows_transcription_of_r(seed, kind, clustered):
    """gaps (SE and covariance of each level with its rest) and the level means' covariance
    equal R's raking loop run on the rows: single-PSU strata, missing items, a dimension with
    missing values (rows in neither the level nor the rest), a margin constant within PSUs,
    a dimension that is a margin and one that is not; clustered or each row its own PSU."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 80))
    df = random_survey(
        rng, n, age=["young", "mid", "old"], grp=(["g1", "g2", "g3", None], [0.3, 0.3, 0.3, 0.1])
    )
    y = (rng.random(n) < 0.4).astype(float) if kind == "proportion" else rng.gamma(2.0, 2.0, n)
    y[rng.random(n) < 0.1] = np.nan
    df["y"] = y
    margins = ("sex", "area", "age")
    design = replace(D, rake=margins, psu="psu" if clustered else None)
    g = gaps(df, ["y"], design, ["age", "grp"], kind=kind)
    d = _Design(df, design, ["age", "grp"])
    ids = df["psu"].to_numpy() if clustered else np.arange(n)
    for dim in ("age", "grp"):
        col = df[dim].to_numpy()
        levels = sorted(set(col[pd.notna(col)]))
        known = pd.notna(col)
        for code in levels:
            level = known & (col == code)
            (p, r), V = r_raked_rows(df, y, [level, known & ~level], margins, ids)
            row = g[(g.dimension == dim) & (g.code == code)].iloc[0]
            if np.isnan(p) or np.isnan(r):
                continue
            # A gap is a difference of two means, each exact to a few ulps of its size: when
            # the means nearly agree (seed 450, mean, clustered: gap 4.8e-4 of means 4.79),
            # those ulps (2e-15) are most of the gap, so bound the error by the means' size.
            tol = 1e-13 * max(abs(p), abs(r))
            assert row.gap == pytest.approx(p - r, rel=1e-12, abs=tol)
            se = np.sqrt(max(V[0, 0] + V[1, 1] - 2 * V[0, 1], 0))
            assert row.se == pytest.approx(se, rel=1e-9, abs=1e-14)
            assert row["cov"] == pytest.approx(V[0, 1], rel=1e-9, abs=1e-15)
        s = _System(d, "y", dim, kind)
        keep = np.flatnonzero(s.n > 0)
        est, V = r_raked_rows(df, y, [known & (col == s.levels[k]) for k in keep], margins, ids)
        lv = s.level.take(keep)
        np.testing.assert_allclose(s.est[keep], est, rtol=1e-12)
        np.testing.assert_allclose(s.cov(lv, lv), V, rtol=0, atol=1e-9 * np.abs(V).max())


def test_gap_parts_agree_with_estimate():
    df = pd.read_csv(FIX / "design_c.csv")
    g = gaps(df, ["y2"], D, ["group"])
    est = estimate(df, ["y2"], D, by=[["group"]]).set_index("group")
    np.testing.assert_allclose(g["estimate"], est.loc[g["code"], "estimate"], rtol=1e-12)
    a = g.set_index("code")
    rest_a = df[df.group != "a"].dropna(subset=["y2"])
    assert a.loc["a", "rest_estimate"] == pytest.approx(
        np.average(rest_a.y2, weights=rest_a.weight), rel=1e-12
    )
    assert a["ratio_to_best"].max() == 1.0
    low = gaps(df, ["y2"], D, ["group"], higher_is_better=False)
    assert low["ratio_to_best"].min() == 1.0


def test_adjust_pvalues_as_r_p_adjust():
    p = [0.01, 0.04, 0.03, 0.005, np.nan]
    np.testing.assert_allclose(adjust_pvalues(p, "holm"), [0.03, 0.06, 0.06, 0.02, np.nan])
    np.testing.assert_allclose(adjust_pvalues(p, "bonferroni"), [0.04, 0.16, 0.12, 0.02, np.nan])
    np.testing.assert_allclose(adjust_pvalues(p, "fdr_bh"), [0.02, 0.04, 0.04, 0.02, np.nan])
    with pytest.raises(ValueError):
        adjust_pvalues(p, "sidak")


def test_significance_uses_the_family_of_comparisons():
    rng = np.random.default_rng(3)
    n = 2000
    df = pd.DataFrame(
        {
            "stratum": rng.integers(0, 4, n),
            "weight": rng.uniform(1, 2, n),
            "grp": rng.choice(["x", "y", "z"], n),
        }
    )
    df["psu"] = df.stratum * 100 + rng.integers(0, 20, n)
    df["y"] = (rng.random(n) < np.where(df.grp == "x", 0.2, 0.5)).astype(float)
    g = gaps(df, ["y"], D, ["grp"], method="bonferroni")
    assert bool(g.set_index("code").loc["x", "significant"])
    np.testing.assert_allclose(g.p_adjusted, np.minimum(g.p_value * 3, 1))
    fb = furthest_behind(df, ["y"], D, ["grp"], n_sims=2000)
    x = fb.set_index("code").loc["x"]
    assert x["rank"] == 1 and x["prob_furthest_behind"] > 0.99 and x["rank_high"] == 1


def test_furthest_behind_is_seeded_and_coherent():
    df = pd.read_csv(FIX / "design_c.csv")
    a = furthest_behind(df, ["y1", "y2"], D, ["region", "group"], n_sims=3000)
    b = furthest_behind(df, ["y1", "y2"], D, ["region", "group"], n_sims=3000)
    pd.testing.assert_frame_equal(a, b)
    sums = a.groupby(["variable", "dimension"])["prob_furthest_behind"].sum()
    np.testing.assert_allclose(sums, 1.0)
    assert (a.rank_low <= a.rank_high).all()
    rev = furthest_behind(df, ["y1"], D, ["region"], higher_is_better=False, n_sims=3000)
    worst = rev.loc[rev["rank"] == 1, "code"].item()
    assert worst == rev.loc[rev.estimate.idxmax(), "code"]


def test_unknown_dimension_is_an_input_error():
    df = pd.read_csv(FIX / "design_a.csv")
    with pytest.raises(InputError) as exc:
        gaps(df, ["y1"], D, ["disability"])
    assert exc.value.field == "disability"
