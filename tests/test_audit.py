"""voicescount.audit: no suppressed cell can be worked out from everything a cycle publishes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from voicescount import audit, estimates
from voicescount.audit import AuditError, Published, check, from_table, half_step
from voicescount.disclosure import apply
from voicescount.registry import Project, Rules

KINDS = {"y": "proportion"}


def table() -> pd.DataFrame:
    """A sex × region table whose cells add up (n and N) to their margins; intersex n = 3."""
    rng = np.random.default_rng(7)
    ns = {("f", "a"): 60, ("f", "b"): 40, ("m", "a"): 50, ("m", "b"): 45, ("i", "a"): 3}
    rows = []
    for s, r in [*ns, ("i", "b")]:
        rows.append(("sex×region", s, r, ns.get((s, r), 0)))
    for s in "fmi":
        rows.append(("sex", s, None, sum(v for (a, _), v in ns.items() if a == s)))
    for r in "ab":
        rows.append(("region", None, r, sum(v for (_, b), v in ns.items() if b == r)))
    rows.append(("", None, None, sum(ns.values())))
    recs = [
        dict(variable="y", grouping=g, sex=s, region=r, estimate=rng.uniform(0.2, 0.8) if n else
             np.nan, se=0.01, ci_low=0.1, ci_high=0.9, deff=1.0, n=n, N=1000.0 * n, cv=0.02,
             flag="")
        for g, s, r, n in rows
    ]  # fmt: skip
    return pd.DataFrame(recs)


def disclosed() -> pd.DataFrame:
    return apply(table(), Rules())


def test_the_disclosed_table_passes_and_a_skipped_secondary_cell_fails():
    t = disclosed()
    assert (t.suppression == "secondary").any()
    found = check(t, [from_table("the pages", t)], KINDS, "ZZ 2024")
    assert found["leaks"] == [] and found["suppressed"] == int(t.suppressed.sum())
    # plant it: publish one secondary cell again, as if secondary suppression were skipped
    raw = table()
    planted = t.copy()
    i = int(np.flatnonzero(planted.suppression == "secondary")[0])
    planted.loc[i, ["estimate", "N"]] = raw.loc[i, ["estimate", "N"]]
    planted.loc[i, ["suppressed", "suppression"]] = [False, ""]
    store = t.copy()  # the store still says which cells are suppressed
    store.loc[i, ["suppressed", "suppression"]] = [False, ""]
    with pytest.raises(AuditError) as exc:
        check(store, [from_table("the downloads (CSV)", planted)], KINDS, "ZZ 2024")
    msg = str(exc.value)
    assert msg.startswith("ZZ 2024: y / sex") and "can be worked out to ±" in msg  # the cell
    leaks = audit.attack(store, [from_table("the downloads (CSV)", planted)], KINDS)["leaks"]
    assert any("(sex=i" in m for m in leaks)  # the primary cell it protected, too
    assert "from the downloads (CSV) by weighted differencing" in msg  # the output and route
    assert "\n" not in msg and exc.value.exit_code == 2  # one paragraph, exit 2


def test_the_recovered_value_is_the_hidden_one():
    # the route's arithmetic is p_s = (N·p − Σ N_d p_d) / N_s: planted with the true values,
    # the attack reports the cell to within rounding of the float64 values
    raw, t = table(), disclosed()
    sec = t.index[t.suppression == "secondary"]
    shown = t.copy()
    shown.loc[sec, ["estimate", "N"]] = raw.loc[sec, ["estimate", "N"]]
    store = t.copy()
    store.loc[sec, "suppressed"] = False
    found = audit.attack(store, [from_table("x", shown)], KINDS)
    assert found["leaks"] and all("±" in m for m in found["leaks"])
    half = float(found["leaks"][0].split("±")[1].split(" ")[0])
    assert half < 1e-9


def test_one_output_against_another_outputs_margin():
    t = disclosed()
    sec = int(np.flatnonzero(t.suppression == "secondary")[0])
    other = Published("Open SDG", {audit.cell_key(table().iloc[sec]): (0.5, None, 0.0005, np.inf)})
    with pytest.raises(AuditError, match="is suppressed but Open SDG publishes it"):
        check(t, [from_table("the pages", t), other], KINDS, "ZZ 2024")
    # an output that gives the hidden cell's N and value (CSV) where the pages give neither
    raw = table()
    csv_cells = {audit.cell_key(raw.iloc[sec]): (raw.estimate[sec], raw.N[sec], 5e-13, 5e-10)}
    store = t.copy()
    store.loc[sec, "suppressed"] = False
    with pytest.raises(AuditError, match="from the downloads"):
        check(
            store, [from_table("the pages", t), Published("the downloads", csv_cells)], KINDS, "Z"
        )


def test_rounding_wider_than_the_protection_protects():
    raw, t = table(), disclosed()
    sec = t.index[t.suppression == "secondary"]
    coarse = t.copy()
    coarse.loc[sec, ["estimate", "N"]] = raw.loc[sec, ["estimate", "N"]]
    store = t.copy()
    store.loc[sec, "suppressed"] = False
    # every value published to one decimal (±0.05) and N to the thousand (±500)
    cells = {
        audit.cell_key(r): (round(r["estimate"], 1), round(r["N"], -3), 0.05, 500.0)
        for r in coarse.to_dict("records")
        if r["estimate"] == r["estimate"]
    }
    found = check(store, [Published("rounded", cells)], KINDS, "ZZ 2024")
    assert found["leaks"] == [] and found["routes"] >= 1


def test_half_step_reads_the_published_precision():
    assert half_step("0.123") == pytest.approx(0.0005)
    assert half_step("12") == 0.5
    assert half_step("7.33e+07") == pytest.approx(5e4)


def test_example_cycle_passes_with_its_exports(tmp_path):
    from voicescount.publish import export

    project = Project(".")
    export(project, "VN", 2022, ["opensdg", "sdmx", "downloads"], tmp_path)
    report = audit.audit_cycle(project, "VN", 2022, tmp_path)
    assert len(report.sources) == 5  # pages, CSV, Parquet, SDMX, Open SDG
    assert report.suppressed > 0 and "none can be worked out" in report.summary()
    # rounding protects the 4 intersex respondents: Male is shown wherever men answered
    est = estimates.load(project, "VN", 2022).estimates
    male = est[(est.grouping == "sex") & (est.sex == "male") & (est.n > 0)]
    assert len(male) >= 16 and male.estimate.notna().all()


@pytest.mark.slow
@pytest.mark.parametrize("iso,cycle", Project(".").cycles())
def test_every_example_cycle_passes(iso, cycle):
    assert audit.audit_cycle(Project("."), iso, cycle).suppressed >= 0
