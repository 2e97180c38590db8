"""Small domains and the estimators beyond proportions and means, against R's survey package.

The design (tests/fixtures/r/design_domains.csv, drawn by make_domains.R) has a domain of ~5%
of rows absent from four strata and most PSUs, a single-PSU stratum, domains whose proportion
is exactly 0 or 1, a dimension missing in three whole strata and an item missing on 10% of
rows; reference values are R's (survey 4.1.1), written with 17 digits.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t

from voicescount import lnob
from voicescount.stats import Design, estimate

R = Path(__file__).parent / "fixtures" / "r"
DESIGN = Design(weight="weight", strata="stratum", psu="psu")
BY = [[], ["g"], ["sex", "g"], ["dis"]]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(R / "design_domains.csv")


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(R / "reference_domains.csv")


def _close(ours: pd.DataFrame, theirs: pd.DataFrame, cols, rel=1e-11, abs_=1e-9) -> None:
    assert len(ours) == len(theirs)
    for c in cols:
        a, b = ours[c].to_numpy(float), theirs[c].to_numpy(float)
        assert np.array_equal(np.isnan(a), np.isnan(b)), c
        ok = ~np.isnan(b)
        np.testing.assert_allclose(a[ok], b[ok], rtol=rel, atol=abs_, err_msg=c)


def _ours(data, var, kind, **kw) -> pd.DataFrame:
    e = estimate(data, [var], DESIGN, by=BY, kind=kind, **kw)
    return e[e["n"] > 0].reset_index(drop=True)


@pytest.mark.parametrize(("kind", "var"), [("proportion", "y"), ("mean", "x")])
def test_domain_df_and_intervals_match_r(data, ref, kind, var):
    """svyciprop(logit) / confint with degf of the domain's subset: the small domain has 5 df
    where the design has 31, and its interval is R's (an interval with the design's df
    would be narrower)."""
    r = ref[ref["kind"] == kind].reset_index(drop=True)
    ours = _ours(data, var, kind)
    assert (ours["n"].to_numpy() == r["n"].to_numpy()).all()
    # a proportion of exactly 0 or 1 gets [p, p]; R's interval is within 1e-13 of it
    _close(ours, r, ["estimate", "se", "ci_low", "ci_high", "deff", "N"], abs_=1e-12)
    small = r.index[(r["grouping"] == "g") & (r["g"] == "small")][0]
    assert r.loc[small, "df"] == 5
    if kind == "mean":  # the half-width is t(5) x SE, not t(31) x SE
        half = (ours.loc[small, "ci_high"] - ours.loc[small, "estimate"]) / ours.loc[small, "se"]
        assert half == pytest.approx(t.ppf(0.975, 5), rel=1e-12)


def test_gap_df_is_the_subsets_degf(data):
    """lnob's gap CI and p-value use degf of the rows with the item present and the dimension
    known (svycontrast on svyby, confint with that df): 28 for `dis`, missing in 3 strata."""
    ref = pd.read_csv(R / "reference_domain_gaps.csv")
    ours = pd.concat(
        [
            lnob.gaps(data, [v], DESIGN, ["g", "dis"], kind=k)
            for v, k in (("y", "proportion"), ("x", "mean"))
        ],
        ignore_index=True,
    )
    assert list(ours["code"]) == list(ref["code"])
    assert set(ref.loc[ref["dimension"] == "dis", "df"]) == {28}
    _close(ours, ref, ["gap", "se", "ci_low", "ci_high", "p_value"], rel=1e-10, abs_=1e-13)


@pytest.mark.parametrize(
    ("kind", "var", "kw", "rvar"),
    [
        ("total", "y", {}, "y"),
        ("total", "x", {}, "x"),
        ("ratio", "x", {"denominators": ["hh"]}, "x/hh"),
        ("quantile", "x", {"quantile": 0.5}, "x@0.5"),
        ("quantile", "x", {"quantile": 0.25}, "x@0.25"),
        ("quantile", "x", {"quantile": 0.9}, "x@0.9"),
    ],
)
def test_totals_ratios_quantiles_match_r(data, ref, kind, var, kw, rvar):
    """svytotal / svyratio (intervals with the domain's df, deff as svytotal's: Inf for the
    total of a domain whose y is all 1) and svyquantile's default Woodruff interval (df of
    the domain's present rows; NaN bounds and SE where the share's interval leaves [0, 1])."""
    r = ref[(ref["kind"] == kind) & (ref["variable"] == rvar)].reset_index(drop=True)
    ours = _ours(data, var, kind, **kw)
    assert (ours["n"].to_numpy() == r["n"].to_numpy()).all()
    _close(ours, r, ["estimate", "se", "ci_low", "ci_high", "N"], abs_=1e-8)
    a, b = ours["deff"].to_numpy(float), r["deff"].to_numpy(float)
    assert np.array_equal(np.isinf(a), np.isinf(b)) and np.array_equal(np.isnan(a), np.isnan(b))
    ok = np.isfinite(b)
    np.testing.assert_allclose(a[ok], b[ok], rtol=1e-11)
    if kind == "quantile":
        assert ours["deff"].isna().all()
        if rvar != "x@0.5":  # the small domain's interval runs past the data
            assert ours["se"].isna().any()


@pytest.mark.parametrize("rake", [(), ("sex", "g")])
def test_ratio_over_one_is_the_mean(data, rake):
    """A ratio whose denominator is 1 is the mean (same score, same SRS variance), for fixed
    and raked weights: the row-level path agrees with the cell kernel of `estimate`."""
    df = data.assign(one=1.0)
    des = Design(weight="weight", strata="stratum", psu="psu", rake=rake)
    ratio = estimate(df, ["x"], des, by=BY, kind="ratio", denominators=["one"])
    mean = estimate(df, ["x"], des, by=BY, kind="mean")
    pd.testing.assert_frame_equal(ratio, mean, rtol=1e-11, atol=1e-12)


def test_kind_arguments_checked(data):
    with pytest.raises(ValueError, match="denominator"):
        estimate(data, ["x"], DESIGN, kind="ratio")
    with pytest.raises(ValueError, match="quantile"):
        estimate(data, ["x"], DESIGN, kind="quantile", quantile=1.5)
    with pytest.raises(ValueError, match="kind"):
        estimate(data, ["x"], DESIGN, kind="median")


@pytest.mark.parametrize(
    ("kind", "kw", "rvar"),
    [("total", {}, "x"), ("ratio", {"denominators": ["hh"]}, "x/hh"),
     ("quantile", {"quantile": 0.5}, "x@0.5")],
)  # fmt: skip
def test_new_kinds_on_a_raked_design_match_r(data, kind, kw, rvar):
    """rake(des, list(~sex, ~g)): svyrecvar's raking adjustment of the scores for totals,
    ratios and the share below the median (Woodruff), quantiles on the raked weights."""
    df = data.assign(w_raked=pd.read_csv(R / "reference_domains_raked_weights.csv")["w_raked"])
    ref = pd.read_csv(R / "reference_domains_raked.csv")
    r = ref[(ref["kind"] == kind) & (ref["variable"] == rvar)].reset_index(drop=True)
    des = Design(weight="w_raked", strata="stratum", psu="psu", rake=("sex", "g"))
    e = estimate(df, ["x"], des, by=[[], ["g"], ["dis"]], kind=kind, **kw)
    ours = e[e["n"] > 0].reset_index(drop=True)
    _close(ours, r, ["estimate", "se", "ci_low", "ci_high", "deff", "N"], abs_=1e-8)
    fixed = estimate(df, ["x"], Design(weight="w_raked", strata="stratum", psu="psu"),
                     by=[["g"]], kind=kind, **kw)  # fmt: skip
    assert not np.allclose(fixed["se"], e.loc[e["grouping"] == "g", "se"])  # raking matters
