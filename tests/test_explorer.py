"""The explorer's payload: every published estimate, never a suppressed value, statuses as the
store tested them, official values side by side, the same bytes on every run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from voicescount import explorer
from voicescount.i18n import code_label, t

DIMS = ["sex", "disability"]


def _est(variable: str, grouping: str, codes: dict, est: float | None, n: int, **kw) -> dict:
    row = {"variable": variable, "grouping": grouping, "instrument": "adults",
           "population": "adults", **{d: codes.get(d, np.nan) for d in DIMS},
           "estimate": est, "se": 0.02 if est is not None else np.nan,
           "ci_low": est - 0.04 if est is not None else np.nan,
           "ci_high": est + 0.04 if est is not None else np.nan,
           "n": n, "flag": "", "suppressed": False, "suppression": "", "caution": False}  # fmt: skip
    row.update(kw)
    return row


def store_tables() -> dict[int, dict]:
    """Two cycles of a store as explorer reads them: overall, by sex (one group suppressed by
    the first rule, one by the second), by sex×disability (a caution cell, a group nobody
    answered for), an indicator with lower-is-better, official values and tested changes."""

    def cycle(shift: float) -> pd.DataFrame:
        rows = [
            _est("basic_water", "", {}, 0.7412 + shift, 400),
            _est("basic_water", "sex", {"sex": "female"}, 0.80049 + shift, 210),
            _est("basic_water", "sex", {"sex": "male"}, 0.6833 + shift, 185),
            _est("basic_water", "sex", {"sex": "intersex"}, None, 3, suppressed=True,
                 suppression="primary", flag="caution"),
            _est("basic_water", "sex×disability", {"sex": "female", "disability": "with_disability"},
                 0.55 + shift, 31, flag="caution", caution=True),
            _est("basic_water", "sex×disability", {"sex": "male", "disability": "with_disability"},
                 None, 40, suppressed=True, suppression="secondary"),
            _est("basic_water", "sex×disability", {"sex": "male", "disability": "without_disability"},
                 None, 0),  # no respondents: not a published cell
            _est("partner_violence", "", {}, 0.21 - shift, 300),
        ]  # fmt: skip
        return pd.DataFrame(rows)

    def official(cgd: pd.DataFrame) -> pd.DataFrame:
        single = cgd[cgd["grouping"].isin(["", "sex"]) & (cgd["variable"] == "basic_water")]
        out = single[["variable", "grouping", *DIMS]].copy()
        out["indicator"] = "1.4.1"
        out["cgd_estimate"] = single["estimate"] * 100
        out["official_value"] = [88.25, np.nan, np.nan, np.nan]
        out["official_year"] = 2023
        out["official_year_label"] = ["2023", "", "", ""]
        out["unit"] = "percent"
        out["status"] = ["differ", "official data missing", "official data missing", "suppressed"]
        return out.reset_index(drop=True)

    c21, c23 = cycle(0.0), cycle(0.05)
    changes = pd.DataFrame(
        [("basic_water", 0.7912, 0.7412, 0.05, 0.001, 0.002, True),
         ("partner_violence", 0.16, 0.21, -0.05, 0.2, 0.4, False)],
        columns=["variable", "estimate", "previous", "change", "p_value", "p_adj", "significant"],
    )  # fmt: skip
    return {
        2021: {"estimates": c21, "changes": pd.DataFrame(), "official": pd.DataFrame(),
               "previous": None},
        2023: {"estimates": c23, "changes": changes, "official": official(c23), "previous": 2021},
    }  # fmt: skip


@pytest.fixture
def data(tiny_project):
    return explorer.build_payload(tiny_project, "ZZ", 2023, "en", store_tables())


def test_every_published_estimate_is_in_the_payload_and_no_suppressed_value(data, tiny_project):
    tables = store_tables()
    for cy, tab in tables.items():
        est = tab["estimates"]
        published = est[~est["suppressed"] & est["estimate"].notna()]
        got = [r for r in data["rows"] if r["cycle"] == cy and "estimate" in r]
        assert len(got) == len(published)
        for r, (_, e) in zip(sorted(got, key=lambda r: (r["variable"], r["grouping"], r["code"])),
                             published.sort_values(["variable", "grouping", "sex", "disability"])
                             .iterrows(), strict=True):  # fmt: skip
            assert r["estimate"] == pytest.approx(round(e["estimate"] * 100, 1), abs=1e-9)
            assert r["text"] == f"{r['estimate']:.1f}%"
        suppressed = [r for r in data["rows"] if r["cycle"] == cy and "suppressed" in r]
        assert len(suppressed) == int(est["suppressed"].sum()) == 2
        for r in suppressed:  # the reason, never a number
            assert set(r) == {"cycle", "variable", "grouping", "code", "suppressed"}
    why = {r["code"]: r["suppressed"] for r in data["rows"] if "suppressed" in r}
    assert why["intersex"] == t("legend.suppressed", "en", n=tiny_project.rules.suppress_min_n)
    assert why["male|with_disability"] == t("legend.suppressed_secondary", "en")
    assert not [r for r in data["rows"] if r["code"] == "male|without_disability"]
    assert all(f"{r['grouping']}|{r['code']}" in data["groups"] for r in data["rows"])
    assert data["groups"]["|"] == t("group.overall", "en")
    caution = [r for r in data["rows"] if r.get("caution")]
    assert [r["code"] for r in caution] == ["female|with_disability"] * 2


def test_values_are_rounded_as_published(data):
    female = next(r for r in data["rows"] if r["cycle"] == 2023 and r["code"] == "female")
    assert female["estimate"] == 85.0  # 0.85049: 85.0%, the page's one decimal
    assert female["text"] == "85.0%" and female["ci"] == "81.0% – 89.0%"
    below = next(r for r in data["rows"] if r["cycle"] == 2021 and r["code"] == "female")
    assert below["estimate"] == 80.0 and below["text"] == "80.0%"  # 0.80049: not 80.05


def test_an_estimate_without_an_interval_has_no_whisker(tiny_project):
    tables = store_tables()
    est = tables[2023]["estimates"]
    est.loc[0, ["ci_low", "ci_high"]] = np.nan
    data = explorer.build_payload(tiny_project, "ZZ", 2023, "en", tables)
    overall = next(r for r in data["rows"] if r["cycle"] == 2023 and r["variable"] == "basic_water"
                   and r["grouping"] == "")  # fmt: skip
    assert overall["ci"] == "–" and "ci_low" not in overall and overall["text"] == "79.1%"


def test_statuses_are_the_stores_tested_changes(data):
    ch = {c["variable"]: c for c in data["changes"]}
    # basic_water rose significantly, higher is better; partner_violence fell, not significant
    assert ch["basic_water"]["status"] == "improving"
    assert ch["basic_water"]["status_text"] == t("explorer.status_improving", "en")
    assert ch["basic_water"]["previous"] == 2021 and ch["basic_water"]["change"] == t(
        "report.pp", "en", value="+5.0"
    )
    assert ch["partner_violence"]["status"] == "no_change"
    assert {c["cycle"] for c in data["changes"]} == {2023}


def test_change_status_follows_direction_and_test():
    row = {"change": -0.05, "significant": True, "p_adj": 0.01}
    assert explorer.change_status(row, higher_is_better=False) == "improving"
    assert explorer.change_status(row, higher_is_better=True) == "worsening"
    assert explorer.change_status({**row, "significant": False}, True) == "no_change"
    assert explorer.change_status({**row, "p_adj": np.nan}, True) == "not_tested"


def test_official_values_side_by_side_and_what_official_data_misses(data):
    off = {(o["grouping"], o["code"]): o for o in data["official"]}
    # as the official page rounds it (report.official_chapter: round(x, 1))
    assert off[("", "")]["official"] == 88.2 and off[("", "")]["official_text"] == "88.2%"
    assert off[("", "")]["year"] == "2023" and off[("", "")]["status"] == "differ"
    assert data["official_statuses"]["differ"] == t("report.status.differ", "en")
    missing = [k for k, o in off.items() if o["status"] == "official data missing"]
    assert sorted(missing) == [("sex", "female"), ("sex", "male")]
    assert all("official" not in off[k] for k in missing)
    # every official row matches a published row of the same cycle and group
    keys = {(r["cycle"], r["variable"], r["grouping"], r["code"]) for r in data["rows"]}
    assert all((o["cycle"], o["variable"], o["grouping"], o["code"]) in keys for o in off.values())


def test_indicators_groupings_and_labels_in_the_page_language(tiny_project):
    data = explorer.build_payload(tiny_project, "ZZ", 2023, "vi", store_tables())
    ind = {i["id"]: i for i in data["indicators"]}
    assert list(ind) == ["basic_water", "partner_violence"]
    assert [g["id"] for g in ind["basic_water"]["groupings"]] == ["", "sex", "sex×disability"]
    assert (
        ind["basic_water"]["code"] == "1.4.1"
        and ind["partner_violence"]["higher_is_better"] is False
    )
    assert data["text"]["indicator"] == t("explorer.indicator", "vi")
    female = next(r for r in data["rows"] if r["code"] == "female")
    assert data["groups"]["sex|female"] == code_label(
        tiny_project.dimensions, None, "sex", "female", "vi"
    )
    assert "," in female["text"]  # Vietnamese decimal comma, as on the vi pages
    tables = store_tables()
    tables[2023]["estimates"].loc[0, "n"] = 2262
    data = explorer.build_payload(tiny_project, "ZZ", 2023, "vi", tables)
    overall = next(r for r in data["rows"] if r["cycle"] == 2023 and r["code"] == "")
    assert overall["n"] == "2.262"  # grouped as the vi tables group it


def test_payload_is_byte_identical_across_runs(tiny_project, tmp_path):
    a = explorer.write_payload(
        explorer.build_payload(tiny_project, "ZZ", 2023, "en", store_tables()), tmp_path / "a"
    )
    b = explorer.write_payload(
        explorer.build_payload(tiny_project, "ZZ", 2023, "en", store_tables()), tmp_path / "b"
    )
    assert a.read_bytes() == b.read_bytes()
    assert json.loads(a.read_text(encoding="utf-8"))["version"] == explorer.PAYLOAD_VERSION


def test_standalone_page_inlines_the_data_inertly(tiny_project, tmp_path):
    data = explorer.build_payload(tiny_project, "ZZ", 2023, "en", store_tables())
    data["indicators"][0]["label"] = "</script><script>alert(1)</script>"
    index = explorer.write_standalone(data, tmp_path)
    html = index.read_text(encoding="utf-8")
    assert "<script>alert" not in html and "\\u003c/script\\u003e" in html
    assert (tmp_path / explorer.SCRIPT).is_file() and (tmp_path / explorer.STYLE).is_file()
    assert '<html lang="en">' in html and "https://" not in html and "http://" not in html
    inline = html.split('data-vc="data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(inline) == data


def test_explorer_chapter_writes_its_data_file(tiny_project, tmp_path):
    page = explorer.explorer_chapter(tiny_project, "ZZ", 2023, "en", tmp_path)
    assert (tmp_path / "tables" / "explorer.json").is_file()
    md = page.markdown()
    assert "tables/explorer.json" in md and t("explorer.data_file", "en") in md
    assert "data-vc-explorer" in page.widget().text
