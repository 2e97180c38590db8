"""voicescount.lnob: gaps against R (svyby covmat + svycontrast), p-value adjustment, ranking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from voicescount.errors import InputError
from voicescount.lnob import adjust_pvalues, furthest_behind, gaps
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
    np.testing.assert_allclose(m["gap"], m["gap_r"], rtol=1e-9)
    np.testing.assert_allclose(m["se"], m["se_r"], rtol=1e-6)
    np.testing.assert_allclose(m["cov"], m["cov_r"], rtol=1e-6)


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
