"""voicescount.weights against R (postStratify, rake) and by construction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from voicescount import weights as W
from voicescount.errors import ConfigError, InputError

FIX = Path(__file__).parent / "fixtures" / "r"


@pytest.fixture
def data() -> pd.DataFrame:
    return pd.read_csv(FIX / "design_a.csv")


@pytest.fixture
def ref() -> pd.DataFrame:
    return pd.read_csv(FIX / "reference_weights.csv")


def test_rake_matches_r(data, ref):
    margins = W.load_margins(FIX / "population.csv")
    raked = W.rake(data, "weight", margins)
    np.testing.assert_allclose(raked, ref["raked"], rtol=1e-9)
    for dim, targets in margins.items():
        got = raked.groupby(data[dim]).sum()
        for code, pop in targets.items():
            assert got[code] == pytest.approx(pop, rel=1e-10)


def test_poststratify_matches_r(data, ref):
    totals = pd.DataFrame({"region": ["centre", "north", "south"], "population": [7e4, 9e4, 4e4]})
    ps = W.poststratify(data, "weight", ["region"], totals)
    np.testing.assert_allclose(ps, ref["poststratified"], rtol=1e-12)
    with pytest.raises(InputError, match="no respondents"):
        W.poststratify(data, "weight", ["region"], pd.concat(
            [totals, pd.DataFrame({"region": ["west"], "population": [1.0]})]))  # fmt: skip


def test_rake_errors_name_the_margin(data, tmp_path):
    bad = {"sex": {"female": 1.0, "male": 1.0, "other": 1.0}}
    with pytest.raises(InputError, match="sex=other has no respondents") as exc:
        W.rake(data, "weight", bad, source=tmp_path / "population.csv")
    assert exc.value.path == tmp_path / "population.csv"
    with pytest.raises(InputError, match="no population margin"):
        W.rake(data, "weight", {"sex": {"female": 1.0}})
    with pytest.raises(InputError, match="did not converge"):
        W.rake(data, "weight", {"sex": {"female": 5.0, "male": 5.0},
                                "region": {"centre": 1.0, "north": 1.0, "south": 1.0}},
               max_iter=1)  # fmt: skip


def test_load_margins_checks_rows(tmp_path):
    p = tmp_path / "population.csv"
    p.write_text("dimension,code,population\nsex,female,10\nsex,male,x\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        W.load_margins(p)
    assert (exc.value.row, exc.value.field) == (3, "population")
    p.write_text("dimension,code,population\nsex,female,10\nsex,female,10\n")
    with pytest.raises(ConfigError, match="repeats"):
        W.load_margins(p)
    p.write_text("dimension,code,population\nsex,f,10\nsex,m,10\nregion,a,5\n")
    with pytest.raises(ConfigError, match="adds up to") as exc:
        W.load_margins(p)
    assert exc.value.field == "population"
    p.write_text("dim,code,population\n")
    with pytest.raises(ConfigError, match="no 'dimension' column"):
        W.load_margins(p)
    with pytest.raises(ConfigError, match="not found"):
        W.load_margins(tmp_path / "nope.csv")


def test_design_weights_and_nonresponse():
    prob = pd.Series([0.5, 0.25, 0.1, 0.1], name="prob")
    w = W.design_weights(prob)
    np.testing.assert_allclose(w, [2, 4, 10, 10])
    with pytest.raises(InputError) as exc:
        W.design_weights(pd.Series([0.5, 1.5], name="prob"))
    assert exc.value.field == "prob" and exc.value.row == 1
    cls = pd.Series(["a", "a", "b", "b"], name="cls")
    adj = W.nonresponse_adjust(w, pd.Series([1, 0, 1, 1]), cls)
    np.testing.assert_allclose(adj, [6, 0, 10, 10])
    assert adj.sum() == pytest.approx(w.sum())
    with pytest.raises(InputError, match="no respondents"):
        W.nonresponse_adjust(w, pd.Series([1, 1, 0, 0]), cls)


def test_trim_keeps_total_and_bounds(data):
    w = data["weight"]
    t = W.trim(w, lower=200, upper=1000)
    assert t.sum() == pytest.approx(w.sum(), rel=1e-12)
    assert t.max() <= 1000 * (1 + 1e-9) and t.min() >= 200 * (1 - 1e-9)
    untouched = (w > 250) & (w < 800)
    ratio = (t / w)[untouched]
    assert ratio.max() == pytest.approx(ratio.min())  # spread in proportion
    assert W.kish_deff(t) < W.kish_deff(w)
    with pytest.raises(InputError, match="cannot hold"):
        W.trim(w, upper=1.0)


def test_kish_deff():
    assert W.kish_deff([1, 1, 1]) == 1.0
    w = np.array([1.0, 3.0])
    assert W.kish_deff(w) == pytest.approx(1 + (w.std() / w.mean()) ** 2)
