"""voicescount.disclosure: caution flags, primary and secondary suppression, the final check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from voicescount.disclosure import DisclosureError, Precision, apply, check_published, half_widths
from voicescount.errors import VoicesError
from voicescount.registry import Rules
from voicescount.stats import Design, estimate

FIX = Path(__file__).parent / "fixtures" / "r"
RULES = Rules()


def table(cells: list[tuple]) -> pd.DataFrame:
    """cells: (grouping, sex, region, n); estimates are made up, cv small."""
    rows = []
    for g, sex, region, n in cells:
        rows.append(
            dict(variable="y", grouping=g, sex=sex, region=region, estimate=0.5 if n else np.nan,
                 se=0.01, ci_low=0.4, ci_high=0.6, deff=1.0, n=n, N=10.0 * n, cv=0.02, flag="")
        )  # fmt: skip
    return pd.DataFrame(rows)


def test_primary_and_secondary_in_a_one_dimension_grouping():
    t = table([("", None, None, 55), ("region", None, "a", 3), ("region", None, "b", 40),
               ("region", None, "c", 12), ("region", None, "d", 0)])  # fmt: skip
    out = apply(t, RULES)
    assert list(out.suppression) == ["", "primary", "", "secondary", ""]
    assert out.loc[1, "region"] == "a"  # still named
    assert out.loc[[1, 3], ["estimate", "se", "ci_low", "ci_high", "N"]].isna().all().all()
    assert out.loc[1, "n"] == 3
    assert out.loc[4, "suppression"] == ""  # empty cell: neither suppressed nor a complement
    check_published(out, RULES)
    with pytest.raises(DisclosureError):
        check_published(t, RULES)


def test_two_dimension_grouping_reaches_a_fixed_point():
    cells = [("", None, None, 207), ("sex", "f", None, 112), ("sex", "m", None, 95)]
    cells += [("region", None, r, n) for r, n in zip("abc", (32, 70, 105), strict=True)]
    ns = {("f", "a"): 2, ("f", "b"): 50, ("f", "c"): 60, ("m", "a"): 30, ("m", "b"): 20,
          ("m", "c"): 45}  # fmt: skip
    cells += [("sex×region", s, r, ns[s, r]) for s in "fm" for r in "abc"]
    out = apply(table(cells), RULES)
    sup = out[out.suppressed].set_index(["sex", "region"])["suppression"].to_dict()
    # (f,a) primary; its row line (f) adds (f,b); its column line (a) adds (m,a);
    # then line m has one suppressed -> (m,b); column b now has two -> stable
    assert sup == {("f", "a"): "primary", ("f", "b"): "secondary", ("m", "a"): "secondary",
                   ("m", "b"): "secondary"}  # fmt: skip
    check_published(out, RULES)


def test_lone_cell_hides_its_margin():
    t = table([("", None, None, 100), ("region", None, "a", 4), ("region", None, "b", 96),
               ("sex", "f", None, 50), ("sex", "m", None, 50),
               ("sex×region", "f", "a", 4), ("sex×region", "f", "b", 46),
               ("sex×region", "m", "b", 50)])  # fmt: skip
    out = apply(t, RULES)
    assert out.loc[1, "suppressed"]  # region a: primary (n=4)
    # column line a has only (f, a): its margin is region a, already suppressed; row f adds
    # (f, b); column b then has one suppressed -> (m, b)
    assert set(out.index[out.suppressed]) >= {1, 5, 6}
    check_published(out, RULES)


def test_children_rule_is_stricter():
    t = table([("", None, None, 100), ("sex", "f", None, 8), ("sex", "m", None, 92)])
    assert not apply(t, RULES, "adults").suppressed.any()
    out = apply(t, RULES, "children")
    assert list(out.suppression) == ["", "primary", "secondary"]


def test_caution_flag_follows_rules_and_is_checked():
    t = table([("", None, None, 25), ("sex", "f", None, 100)])
    t.loc[1, "cv"] = 0.4
    out = apply(t, RULES)
    assert list(out.flag) == ["caution", "caution"]
    assert not out.suppressed.any()  # unreliable is flagged, never dropped
    out.loc[1, "flag"] = ""
    with pytest.raises(DisclosureError, match="caution") as exc:
        check_published(out, RULES)
    assert isinstance(exc.value, VoicesError) and exc.value.row == 2


def test_real_estimates_pass_after_apply():
    df = pd.read_csv(FIX / "design_c.csv")
    est = estimate(df, ["y1", "y2"], Design("weight", "stratum", "psu"),
                   by=[[], ["region"], ["group"], ["region", "group"]])  # fmt: skip
    out = apply(est, Rules(suppress_min_n=20))
    assert out.suppressed.any()
    assert (out.suppression == "secondary").any()
    check_published(out, Rules(suppress_min_n=20))
    assert len(out) == len(est)


def test_a_line_whose_margin_is_hidden_needs_no_further_complement():
    t = table([("", None, None, 100), ("sex", "f", None, 50), ("sex", "m", None, 46),
               ("sex", "i", None, 4), ("region", None, "a", 52), ("region", None, "b", 48),
               ("sex×region", "f", "a", 25), ("sex×region", "f", "b", 25),
               ("sex×region", "m", "a", 23), ("sex×region", "m", "b", 23),
               ("sex×region", "i", "a", 4), ("sex×region", "i", "b", 0)])  # fmt: skip
    out = apply(t, RULES)
    hid = out[out.suppressed].fillna({"region": "-", "sex": "-"})
    sup = {(r.grouping, r.sex, r.region): r.suppression for r in hid.itertuples()}
    # the line rule alone also hid (m, b) and then (f, b): row m's margin is hidden already
    assert sup == {("sex", "i", "-"): "primary", ("sex", "m", "-"): "secondary",
                   ("sex×region", "i", "a"): "primary", ("sex×region", "m", "a"): "secondary"}  # fmt: skip
    check_published(out, RULES)


def test_check_finds_a_route_through_a_chain():
    # both sex cells hidden (two unknowns in the sex line), but f is the sum of its
    # published row: f = (f, a) + (f, b); the check before issue 15 passed this table
    t = table([("", None, None, 100), ("sex", "f", None, 50), ("sex", "m", None, 50),
               ("region", None, "a", 50), ("region", None, "b", 50),
               ("sex×region", "f", "a", 25), ("sex×region", "f", "b", 25),
               ("sex×region", "m", "a", 25), ("sex×region", "m", "b", 25)])  # fmt: skip
    out = apply(t, RULES)
    out["suppressed"] = out.index.isin([1, 2])
    out.loc[[1, 2], ["estimate", "N"]] = np.nan
    with pytest.raises(DisclosureError, match=r"work out a suppressed cell.*sex=f") as exc:
        check_published(out, RULES)
    assert "sex×region (sex=f, region=a)" in str(exc.value)  # the route is named
    assert apply(t.assign(n=t.n.where(t.index != 1, 3)), RULES).suppressed.sum() >= 2


def test_respondents_a_line_misses_protect_its_cells():
    # 4 respondents did not state their sex: the overall minus f does not give m
    t = table([("", None, None, 57), ("sex", "f", None, 50), ("sex", "m", None, 3)])
    out = apply(t, RULES)
    assert list(out.suppression) == ["", "", "primary"]
    check_published(out, RULES)
    t.loc[0, "n"] = 53  # everybody stated it: m = all - f, so f is hidden too
    assert list(apply(t, RULES).suppression) == ["", "secondary", "primary"]


# ------------------------------------------------------------- precision-aware publication
PREC = {"y": Precision(step=0.001, relative=False)}  # a proportion shown to 0.1 point


def sex_table(n_small: int, n_f: int = 1349, n_m: int = 909) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    cells = [("", None, None, n_f + n_m + n_small), ("sex", "f", None, n_f)]
    cells += [("sex", "m", None, n_m), ("sex", "i", None, n_small)]
    t = table(cells)
    t["estimate"] = rng.uniform(0.2, 0.8, len(t)).round(6)
    return t


def test_rounding_protects_a_tiny_group_so_the_main_breakdown_stays():
    t = sex_table(4)
    exact = apply(t, RULES)
    assert list(exact.suppression) == ["", "", "secondary", "primary"]  # Male hidden for 4
    out = apply(t, RULES, precision=PREC)
    assert list(out.suppression) == ["", "", "", "primary"]  # Male shown
    assert out.estimate[:3].tolist() == [round(v, 3) for v in t.estimate[:3]]  # as published
    check_published(out, RULES, precision=PREC)
    with pytest.raises(DisclosureError, match="work out a suppressed cell"):
        check_published(out, RULES)  # the same table, if published exactly, gives it away
    # the route's interval: rounding ±0.0005 over N and the two groups, amplified by N / N_s
    big_n = out.N.to_numpy()
    assert 0.0005 * (big_n[0] + big_n[1] + big_n[2]) / (10.0 * 4) > RULES.protection


def test_rounding_does_not_protect_a_cell_of_a_small_margin():
    # 3 hidden among 40: the others' rounding pins it to ±0.0005 * 77 / 3 ≈ 0.013 < 0.05
    t = sex_table(3, n_f=20, n_m=17)
    out = apply(t, RULES, precision=PREC)
    assert list(out.suppression) == ["", "", "secondary", "primary"]
    check_published(out, RULES, precision=PREC)
    leak = out.copy()
    leak.loc[2, ["estimate", "N"]] = [0.5, 170.0]
    with pytest.raises(DisclosureError, match="work out a suppressed cell"):
        check_published(leak, RULES, precision=PREC)


def test_se_over_cv_can_beat_the_rounding_and_is_counted():
    # p = se / cv: both rounded, a reader knows p to p * (h_se / se + h_cv / cv), which for a
    # cell with cv above 1 is narrower than half the estimate's step
    t = apply(sex_table(4), RULES, precision=PREC)
    assert half_widths(t, PREC)[0] == pytest.approx(0.0005)
    t.loc[1, ["estimate", "se", "cv"]] = [0.002, 0.003, 1.5]
    want = 0.002 * (0.0005 / 0.003 + 0.0005 / 1.5)
    assert half_widths(t, PREC)[1] == pytest.approx(want) and want < 0.0005
    assert (half_widths(t, None) == 0).all()  # no declared precision: every number is exact


def test_publish_decimals_are_validated():
    with pytest.raises(ValueError, match="decimals must be 0 to 6"):
        Rules(publish_decimals={"percent": 9})
    assert Rules(publish_decimals={"percent": 2}).publish_decimals["score"] == 2
