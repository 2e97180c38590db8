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
    # a proportion of exactly 0 or 1 gets [p, p]; R's interval is within 1e-10 of it
    _close(ours, r, ["estimate", "se", "ci_low", "ci_high", "deff", "N"])
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
