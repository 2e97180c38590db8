"""voicescount.designs against R's survey package (tests/fixtures/r/make_designs.R): two-stage
sampling with per-stage fpc, post-stratification, calibration (linear, bounded linear,
bounded raking) and replicate weights (JK1, JKn, BRR, Fay, bootstrap as columns; JK1, JKn
created from the design), with a domain missing from most PSUs (df 1 to 4) and proportions
of 0."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from voicescount.designs import Replicates, calibrate_weights, model_matrix
from voicescount.errors import InputError
from voicescount.stats import Design, estimate

R = Path(__file__).parent / "fixtures" / "r"
BY = [[], ["sex"], ["age"], ["group"], ["sex", "age"]]
ITEMS = [("y1", "proportion"), ("y2", "proportion"), ("x1", "mean")]
CAL = {
    "greg": ("linear", (-np.inf, np.inf)),
    "greg_bounded": ("linear", (0.6, 1.3)),
    "raking_bounded": ("raking", (0.7, 1.4)),
}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    dat = pd.read_csv(R / "designs_input.csv")
    pop = pd.read_csv(R / "designs_population.csv").set_index("code").population
    totals = np.array([pop[["female", "male"]].sum(), *pop[["male", "a35_59", "a60p"]]], float)
    X, names = model_matrix(dat, ["sex", "age"])
    assert names == ["(Intercept)", "sexmale", "agea35_59", "agea60p"]  # R's model.matrix
    extra = {
        f"w_{k}": calibrate_weights(X, dat.weight.to_numpy(), totals, *v) for k, v in CAL.items()
    }
    age = dat.age.map(pop) / dat.groupby("age").weight.transform("sum")
    extra["w_poststrat"] = dat.weight * age  # R's postStratify on age
    return pd.concat([dat, pd.DataFrame(extra)], axis=1)


def designs() -> dict[str, Design]:
    rs = tuple(float(x) for x in (R / "designs_jkn_rscales.txt").read_text().split())
    base = {"strata": "stratum", "psu": "psu"}
    cal = {"calibrate": ("sex", "age"), "base_weight": "weight", **base}
    return {
        "multistage": Design("weight", fpc="fpc1", ssu="ssu", fpc2="fpc2", **base),
        "multistage_greg": Design(
            "w_greg",
            fpc="fpc1",
            ssu="ssu",
            fpc2="fpc2",
            calibrate=("sex", "age"),
            base_weight="weight",
            **base,
        ),
        "poststrat": Design("w_poststrat", poststrata="age", **base),
        **{k: Design(f"w_{k}", **cal) for k in CAL},
        "jk1_columns": Design("weight", replicates=Replicates("JK1", "jk1_*")),
        "jkn_columns": Design("weight", replicates=Replicates("JKn", "jkn_*", rscales=rs)),
        "brr_columns": Design("weight", replicates=Replicates("BRR", "brr_*")),
        "fay_columns": Design("weight", replicates=Replicates("Fay", "fay_*", rho=0.3)),
        "boot_columns": Design("weight", replicates=Replicates("bootstrap", "boot_*")),
        "jk1_design": Design("weight", psu="psu", replicates=Replicates("JK1")),
        "jkn_design": Design("weight", replicates=Replicates("JKn"), **base),
    }


def test_calibrated_weights_match_r(data):
    ref = pd.read_csv(R / "reference_designs_weights.csv")
    for name in ["poststrat", *CAL]:
        r = ref[ref.design == name].weight.to_numpy()
        np.testing.assert_allclose(data[f"w_{name}"], r, rtol=1e-12, err_msg=name)
    g = data.w_greg_bounded / data.weight  # the bounds bind (unbounded: 0.66 to 1.32)
    assert g.min() >= 0.6 and g.max() == pytest.approx(1.3)
    g = data.w_raking_bounded / data.weight  # (unbounded: 0.69 to 1.35)
    assert g.min() == pytest.approx(0.7) and g.max() <= 1.4


@pytest.mark.parametrize("name", list(designs()))
def test_design_matches_r(data, name):
    des = designs()[name]
    got = pd.concat([estimate(data, [y], des, by=BY, kind=k) for y, k in ITEMS], ignore_index=True)
    ref = pd.read_csv(
        R / "reference_designs_estimates.csv", keep_default_na=False, na_values=["", "NA", "NaN"]
    )
    ref = ref[ref.design == name].reset_index(drop=True)
    assert list(got.variable) == list(ref.variable)
    for d in ["sex", "age", "group"]:
        assert [x if isinstance(x, str) else "" for x in got[d]] == list(ref[d].fillna(""))
    assert (got.n.to_numpy() == ref.n.to_numpy()).all()
    for col in ["estimate", "se", "deff", "N"]:
        np.testing.assert_allclose(got[col], ref[col], rtol=1e-10, atol=1e-14, err_msg=col)
    # CIs: R's svyciprop goes through 1 - 2 pnorm(qt(.)) (~1e-8 relative at these df; all
    # of R's df are used: t quantiles of the domain df); df = 1 breaks it down ([0, NaN]) and
    # a replicate estimate of 0 or 1 gives R's ~[0, 1] from a diverged glm: ours [0, 1]
    prop = ref.kind == "proportion"
    degenerate = prop & (ref.ci_low < 1e-6) & (ref.ci_high > 0.9999) & (ref.estimate > 0)
    broken = prop & (ref.df == 1) & ref.ci_high.isna() & (ref.estimate > 0)
    ok = ~(degenerate | broken)
    for col in ["ci_low", "ci_high"]:
        np.testing.assert_allclose(got[col][ok], ref[col][ok], rtol=1e-6, atol=1e-12, err_msg=col)
    assert (got.ci_low[degenerate] == 0).all() and (got.ci_high[degenerate] == 1).all()
    assert got.ci_low[broken].between(0, 1).all()
    if name in ("multistage", "greg", "jkn_design"):
        assert degenerate.sum() + broken.sum() <= 2


def test_two_stage_differs_from_the_first_stage_approximation(data):
    """The second stage adds variance (R's multistage formula), so it is not the ultimate
    cluster one; and without a first-stage fpc it adds nothing."""
    two = estimate(data, ["x1"], designs()["multistage"], kind="mean")
    one = estimate(data, ["x1"], Design("weight", "stratum", "psu", "fpc1"), kind="mean")
    assert two.se[0] > one.se[0] * 1.005
    nofpc = estimate(
        data, ["x1"], Design("weight", "stratum", "psu", ssu="ssu", fpc2="fpc2"), kind="mean"
    )
    plain = estimate(data, ["x1"], Design("weight", "stratum", "psu"), kind="mean")
    assert nofpc.se[0] == pytest.approx(plain.se[0], rel=1e-12)


def test_bad_design_inputs_name_the_field(data):
    with pytest.raises(InputError, match="replicate weights 'rep_\\*'"):
        estimate(data, ["y1"], Design("weight", replicates=Replicates("JK1", "rep_*")))
    with pytest.raises(InputError, match="rscales"):
        estimate(data, ["y1"], Design("weight", replicates=Replicates("JKn", "jkn_*")))
    bad = data.copy()
    bad.loc[3, "ssu"] = None
    with pytest.raises(InputError) as e:
        estimate(bad, ["y1"], designs()["multistage"])
    assert e.value.field == "ssu"
    with pytest.raises(ValueError, match="Fay"):
        Replicates("Fay", "fay_*")
    X, _ = model_matrix(data, ["sex"])
    with pytest.raises(InputError, match="did not converge"):
        calibrate_weights(X, data.weight.to_numpy(), np.array([1e5, 9e4]), bounds=(0.99, 1.01))


# ---- cycle.yml declarations reach stats.estimate through prepare.design_for


def _cycle(design: dict, weighting: dict | None):
    from voicescount.registry import Cycle

    raw = {
        "country": "VN",
        "cycle": 2024,
        "languages": ["en"],
        "sdgs": [5],
        "instruments": {
            "adults": {"label": {"en": "Adults"}, "data": "d.csv", "population": "adults"}
        },
        "design": design,
    }
    if weighting is not None:
        raw["weighting"] = {"instrument": "adults", **weighting}
    return Cycle.model_validate(raw)


def test_declared_designs_reach_estimate_as_in_r(data):
    from voicescount import prepare
    from voicescount.registry import Weighting
    from voicescount.weights import load_margins

    margins = load_margins(R / "designs_population.csv", rel_tol=1e-5)  # rounded: 1 apart
    ref = pd.read_csv(
        R / "reference_designs_estimates.csv", keep_default_na=False, na_values=["", "NA", "NaN"]
    )
    rs = [float(x) for x in (R / "designs_jkn_rscales.txt").read_text().split()]
    cases = {
        "multistage": ({"fpc": "fpc1", "ssu": "ssu", "fpc2": "fpc2"}, None),
        "poststrat": ({}, {"margins": ["age"], "method": "poststratify"}),
        "greg_bounded": ({}, {"margins": ["sex", "age"], "method": "linear", "bounds": [0.6, 1.3]}),
        "raking_bounded": (
            {},
            {"margins": ["sex", "age"], "method": "raking", "bounds": [0.7, 1.4]},
        ),
        "jkn_columns": ({"replicates": {"type": "JKn", "columns": "jkn_*", "rscales": rs}}, None),
        "jk1_design": ({"strata": None, "replicates": {"type": "JK1"}}, None),
    }
    for name, (design, weighting) in cases.items():
        cyc = _cycle({"weight": "weight", "strata": "stratum", "psu": "psu", **design}, weighting)
        df = data.copy()
        if weighting is None:
            df["weight_final"] = df.weight
        else:
            spec = Weighting.model_validate({"instrument": "adults", **weighting})
            sub = {m: margins[m] for m in spec.margins}
            final, info = prepare.calibrate(df, "weight", spec, sub, source=R / "p.csv")
            assert (
                info["method"] == spec.method and info["margin_fit"] < 1e-4
            )  # the margins differ by 1
            df["weight_final"] = final.to_numpy()
            if "base" in final.attrs and spec.method != "poststratify":
                df[prepare.WEIGHT_BASE] = final.attrs["base"]
        des = prepare.design_for(cyc, "adults")
        assert des.general
        got = estimate(df, ["y1"], des, by=BY)
        r = ref[(ref.design == name) & (ref.variable == "y1")]
        np.testing.assert_allclose(got.estimate, r.estimate, rtol=1e-10, err_msg=name)
        np.testing.assert_allclose(got.se, r.se, rtol=1e-9, err_msg=name)


def test_cycle_yml_design_errors():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="fpc2 needs ssu"):
        _cycle({"fpc2": "f2"}, None)
    with pytest.raises(ValidationError, match="Fay needs rho"):
        _cycle({"replicates": {"type": "Fay", "columns": "rw_*"}}, None)
    with pytest.raises(ValidationError, match="need `columns`"):
        _cycle({"replicates": {"type": "bootstrap"}}, None)
    with pytest.raises(ValidationError, match="one margin"):
        _cycle({}, {"margins": ["sex", "age"], "method": "poststratify"})
    with pytest.raises(ValidationError, match="bounds"):
        _cycle({}, {"margins": ["sex"], "method": "rake", "bounds": [0.5, 2]})
    assert _cycle({}, {"margins": ["sex"]}).weighting.method == "rake"  # the default


def test_cycle_yml_design_error_names_file_and_field(tmp_path):
    from voicescount.errors import ConfigError
    from voicescount.registry import Cycle, parse_model

    raw = _cycle({}, None).model_dump(exclude_none=True)
    raw["design"]["replicates"] = {"type": "Fay", "columns": "rw_*"}
    with pytest.raises(ConfigError) as e:
        parse_model(Cycle, raw, tmp_path / "cycle.yml")
    assert "cycle.yml" in str(e.value) and "design.replicates" in str(e.value)
    assert "rho" in str(e.value)


def test_rank_of_tall_replicate_patterns_matches_the_svd():
    from voicescount.designs import _rank

    rng = np.random.default_rng(1)
    M = rng.random((400, 6)) @ rng.random((6, 30))  # rank 6, tall: the Gram path
    assert _rank(M) == np.linalg.matrix_rank(M) == 6
    assert _rank(M[:20]) == 6  # wide enough: the SVD path


def test_sparse_replicate_products_equal_the_dense_ones(data, monkeypatch):
    """A PSU-level dimension (the stratum) leaves most (domain, pattern) pairs empty, and
    only the present pairs are multiplied; the result is that of the dense product."""
    from voicescount import designs as dz

    des = designs()["jkn_design"]
    sparse = estimate(data, ["x1"], des, by=[["stratum"], ["stratum", "sex"]], kind="mean")
    monkeypatch.setattr(dz, "_SPARSE", -1.0)
    dense = estimate(data, ["x1"], des, by=[["stratum"], ["stratum", "sex"]], kind="mean")
    pd.testing.assert_frame_equal(sparse, dense, check_exact=False, rtol=1e-13)


def test_cycle_yml_refuses_combinations_without_a_variance():
    from pydantic import ValidationError

    rep = {"replicates": {"type": "JK1", "columns": "rw_*"}}
    with pytest.raises(ValidationError, match="replicates with weighting"):
        _cycle(rep, {"margins": ["sex"]})
    with pytest.raises(ValidationError, match="not rake"):
        _cycle({"ssu": "ssu"}, {"margins": ["sex"]})
    assert _cycle({"ssu": "ssu"}, {"margins": ["sex"], "method": "linear"}).design.ssu == "ssu"
