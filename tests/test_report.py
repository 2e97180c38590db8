"""report: the overview chapter builder, from the registry, in the page's language."""

from __future__ import annotations

import html as htmllib
import re
import shutil
from pathlib import Path

import pytest
from myst_html import to_html

from voicescount import render, report
from voicescount.registry import Project

TINY = Path(__file__).parent / "fixtures" / "tiny"


def _text(view) -> str:
    """The words a reader of the page sees: its MyST parsed (tests/myst_html.py), tags dropped."""
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", to_html(view.markdown()))).split())


@pytest.fixture
def tiny(tiny_project) -> Project:
    return tiny_project


def test_overview_lists_sdgs_instruments_fieldwork_and_regions(tiny):
    view = report.overview(tiny, "ZZ", 2023, "en")
    assert view.sdgs == [1, 5] and view.regions == ["north", "south"]
    assert dict(view.facts) == {
        "SDGs in focus": ["SDG 1, SDG 5"],
        "Instruments": ["Youth, women and people with disabilities"],
        "Fieldwork": ["2023-03-01 to 2023-04-15"],
        "Regions": ["North, South"],
    }
    assert "Zedland" in view.intro
    # the facts are a definition list (MyST deflist): term, then ': value'
    assert "\nRegions\n: North, South\n" in view.markdown()


def test_overview_and_title_in_vietnamese(tiny):
    view = report.overview(tiny, "ZZ", 2023, "vi")
    assert dict(view.facts)["Các vùng"] == ["Miền Bắc, Miền Nam"] and "Xứ Zed" in view.intro
    title = report.title(tiny, "ZZ", 2023, "vi")._repr_markdown_()
    assert title == "# Khảo sát người dân Xứ Zed 2023: Tổng quan"
    # an untranslated language falls back to English labels
    assert report.title(tiny, "ZZ", 2023, "fr")._repr_markdown_().endswith(": Overview")


# =========================================================================== report chapters
# Small fixture data: 400 adults in 2 strata x 10 PSUs; people with disabilities are far less
# likely to have basic water (a real gap), women and men are alike (no gap), and a tiny
# 'intersex' group (3 people) must be suppressed.

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from voicescount import figures, lnob, stats  # noqa: E402
from voicescount.disclosure import DisclosureError  # noqa: E402
from voicescount.registry import DimensionSet, IndicatorCatalogue, Rules  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RULES = Rules()
HIB = {"x_water": True, "x_violence": False}
CATALOGUE = {
    "indicators": [
        {
            "id": "x_water",
            "sdg": {"goal": 1, "target": "1.4", "indicator": "1.4.1"},
            "instrument": "adults",
            "rule": {"item": "q_water", "equals": "yes"},
            "label": {"en": "Basic water", "vi": "Nước cơ bản"},
            "definition": {"en": "Share with basic water.", "vi": "Tỷ lệ có nước cơ bản."},
        },
        {
            "id": "x_violence",
            "sdg": {"goal": 5, "target": "5.2", "indicator": "5.2.1"},
            "instrument": "adults",
            "rule": {"item": "q_viol", "equals": "yes"},
            "higher_is_better": False,
            "label": {"en": "Violence", "vi": "Bạo lực"},
            "definition": {"en": "Share who experienced violence.", "vi": "Tỷ lệ bị bạo lực."},
        },
    ]
}


def _respondents(seed: int = 1, water_gap: float = 0.45) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 400
    sex = np.where(np.arange(n) % 2 == 0, "female", "male").astype(object)
    sex[:3] = "intersex"
    dis = np.where(rng.random(n) < 0.25, "with_disability", "without_disability")
    water = rng.random(n) < np.where(dis == "with_disability", 0.85 - water_gap, 0.85)
    viol = rng.random(n) < 0.2
    return pd.DataFrame(
        {
            "sex": sex,
            "disability": dis,
            "region": np.where(np.arange(n) < 200, "north", "south"),
            "stratum": np.where(np.arange(n) < 200, "s1", "s2"),
            "psu": [f"p{i % 20}" for i in range(n)],
            "weight": 1.0 + (np.arange(n) % 4) * 0.5,
            "x_water": water.astype(float),
            "x_violence": viol.astype(float),
        }
    )


def _table(df: pd.DataFrame, population: str = "adults") -> pd.DataFrame:
    """The cycle estimate table as report._compute_estimates builds it, on fixture data."""
    dims = DimensionSet.model_validate(yaml.safe_load((ROOT / "data/dimensions.yml").read_text()))
    by = report.groupings_for(dims, population, list(df.columns))
    design = stats.Design("weight", "stratum", "psu")
    items = ["x_water", "x_violence"]
    df = df.assign(**{"sex×disability": df["sex"] + "|" + df["disability"]})
    est = stats.estimate(df, items, design, by=by)
    est = report.disclose(est, RULES, population)
    tests = report.gap_tests(df, items, design, by, "proportion", RULES, HIB)
    est = report.gaps(est, tests, RULES, HIB)
    est.insert(2, "instrument", "adults")
    est.insert(3, "population", population)
    return est


@pytest.fixture(scope="module")
def dims() -> DimensionSet:
    return DimensionSet.model_validate(yaml.safe_load((ROOT / "data/dimensions.yml").read_text()))


@pytest.fixture(scope="module")
def catalogue() -> IndicatorCatalogue:
    return IndicatorCatalogue.model_validate(CATALOGUE)


@pytest.fixture(scope="module")
def est() -> pd.DataFrame:
    return _table(_respondents())


def _row(est, var, grouping, **codes):
    sel = (est["variable"] == var) & (est["grouping"] == grouping)
    for d, c in codes.items():
        sel &= est[d] == c
    assert sel.sum() == 1
    return est[sel].iloc[0]


def test_groupings_follow_population_and_declared_intersections(dims):
    cols = ["sex", "disability", "region", "lgbt", "child_functioning", "urban_rural"]
    adults = report.groupings_for(dims, "adults", cols)
    assert adults[0] == [] and ["lgbt"] in adults and ["child_functioning"] not in adults
    assert ["sex", "disability"] in adults and ["sex", "disability", "urban_rural"] in adults
    assert ["sex", "ethnicity"] not in adults  # ethnicity is not a column here
    children = report.groupings_for(dims, "children", cols)
    assert ["child_functioning"] in children and ["lgbt"] not in children
    assert report.groupings_for(dims, "cso", cols) == [[]]


def test_disclose_primary_secondary_and_blanking(est):
    intersex = _row(est, "x_water", "sex", sex="intersex")
    assert intersex["suppressed"] and intersex["suppression"] == "primary"
    assert pd.isna(intersex["estimate"]) and pd.isna(intersex["ci_low"]) and intersex["n"] == 3
    # only one sex cell was small, so the smaller of the others is hidden too
    sexes = est[(est["variable"] == "x_water") & (est["grouping"] == "sex")]
    assert (sexes["suppression"] == "secondary").sum() == 1
    assert sexes["suppressed"].sum() == 2
    overall = _row(est, "x_water", "")
    assert not overall["suppressed"] and overall["n"] == 400
    report.check_published(est, RULES)  # nothing small is shown


def test_children_get_the_stricter_threshold():
    raw = pd.DataFrame(
        {"variable": ["v"] * 3, "grouping": ["", "sex", "sex"], "sex": [None, "female", "male"],
         "estimate": [0.5, 0.4, 0.6], "se": 0.1, "ci_low": 0.3, "ci_high": 0.7, "deff": 1.0,
         "n": [40, 7, 33], "N": [40.0, 7.0, 33.0], "cv": 0.2, "flag": ["", "caution", ""]}
    )  # fmt: skip
    adults = report.disclose(raw, RULES, "adults")
    assert not adults["suppressed"].any() and adults["caution"].tolist() == [False, True, False]
    kids = report.disclose(raw, RULES, "children")
    assert kids["suppression"].tolist() == ["", "primary", "secondary"]
    leaky = raw.assign(population="children")
    with pytest.raises(DisclosureError, match="n=7"):
        report.check_published(leaky, RULES)


def test_gaps_flag_the_real_gap_only(est):
    pwd = _row(est, "x_water", "disability", disability="with_disability")
    assert pwd["significant"] and pwd["behind"] and pwd["gap"] < -0.2
    assert 0 <= pwd["p_adj"] < RULES.alpha and pwd["p_adj"] >= pwd["p_value"]
    # lnob's group-versus-rest test, adjusted over every group of the indicator
    df = _respondents().assign(sex=lambda d: d["sex"].replace("intersex", "female"))
    df["sex×disability"] = df["sex"] + "|" + df["disability"]
    by = [[], ["sex"], ["sex", "disability"]]
    tests = report.gap_tests(df, ["x_water"], stats.Design("weight", "stratum", "psu"), by,
                             "proportion", RULES, HIB)  # fmt: skip
    assert set(tests["dimension"]) == {"sex", "sex×disability"} and len(tests) == 2 + 4
    assert (tests["p_adjusted"] >= tests["p_value"]).all()
    female = _row(est, "x_water", "sex", sex="female")
    assert female["suppressed"] or not female["significant"]
    # suppressed cells are never tested
    assert est.loc[est["suppressed"], "p_value"].isna().all()
    fb = report.furthest_behind(est, "x_water")
    assert fb is not None and fb["gap"] < -0.2
    assert set(fb["grouping"].split("×")) >= {"disability"}


def test_behind_probability_ranks_published_groups_only(est):
    df = _respondents()
    df["sex×disability"] = df["sex"] + "|" + df["disability"]
    design = stats.Design("weight", "stratum", "psu")
    probs = report.behind_probability(df, est, "x_water", "disability", design, "proportion", True)
    assert sorted(probs.index) == ["with_disability", "without_disability"]
    assert probs["with_disability"] > 0.99 and probs.sum() == pytest.approx(1.0)
    # Nothing suppressed: exactly lnob.furthest_behind's answer.
    region = report.behind_probability(df, est, "x_water", "region", design, "proportion", True)
    direct = lnob.furthest_behind(df, ["x_water"], design, ["region"])
    assert region.to_dict() == dict(
        zip(direct["code"], direct["prob_furthest_behind"], strict=True)
    )
    # Suppressed groups (intersex, primary; one more, secondary) are not ranked, not shown.
    sexes = est[(est["variable"] == "x_water") & (est["grouping"] == "sex")]
    shown = set(sexes.loc[~sexes["suppressed"], "sex"])
    sex = report.behind_probability(df, est, "x_water", "sex", design, "proportion", True)
    assert set(sex.index) == shown and "intersex" not in sex.index and len(shown) == 1
    assert sex.iloc[0] == 1.0
    # Only the published sex×disability cells are ranked (issue 15: secondary suppression
    # no longer hides every cell of a row whose margin is hidden; here one stays published).
    crossed = report.behind_probability(df, est, "x_water", "sex×disability", design,
                                        "proportion", True)  # fmt: skip
    cells = est[(est["variable"] == "x_water") & (est["grouping"] == "sex×disability")]
    published = cells[~cells["suppressed"] & (cells["n"] > 0)]
    assert set(crossed.index) == {f"{s}|{d}" for s, d in zip(published["sex"],
                                                              published["disability"], strict=True)}  # fmt: skip
    assert "intersex|without_disability" not in crossed.index and len(published) >= 1
    assert report.behind_probability(df, est, "x_water", "lgbt", design, "proportion", True).empty


def test_gap_direction_respects_higher_is_better():
    df = _respondents()
    est = _table(df)
    by = [[], ["disability"]]
    design = stats.Design("weight", "stratum", "psu")
    flip = {"x_water": False, "x_violence": False}
    tests = report.gap_tests(df, ["x_water"], design, by, "proportion", RULES, flip)
    flipped = report.gaps(est.drop(columns=["gap", "p_value", "p_adj", "significant", "behind"]),
                          tests, RULES, flip)  # fmt: skip
    pwd = _row(flipped, "x_water", "disability", disability="with_disability")
    assert pwd["significant"] and not pwd["behind"]


def test_key_findings_state_only_significant_gaps(est, dims, catalogue):
    items = report.findings(est, catalogue, dims, None, "en")
    assert 1 <= len(items) <= report.MAX_GAP_FINDINGS
    vars_ = {f["variable"] for f in items}
    assert "x_water" in vars_ and "x_violence" not in vars_  # no real violence gap planted
    for f in items:
        assert f["href"].startswith("sdg-1.html#fig-x_water--")
        assert "percentage points" in f["text"] and "With disability" in f["text"]
    none = est.assign(behind=False)
    assert report.findings(none, catalogue, dims, None, "en") == []


def test_key_findings_in_vietnamese_use_vietnamese_numbers(est, dims, catalogue):
    items = report.findings(est, catalogue, dims, None, "vi")
    assert "Có khuyết tật" in items[0]["text"] and "điểm phần trăm" in items[0]["text"]
    assert "," in items[0]["text"].split("%")[0]  # 12,3% decimal comma


def test_changes_only_significant(catalogue, dims):
    now = _table(_respondents(seed=2, water_gap=0.45))
    before = _table(_respondents(seed=3, water_gap=0.45))
    before.loc[before["variable"] == "x_water", "estimate"] -= 0.25  # a big planted change
    ch = report.changes(now, before, RULES).set_index("variable")
    assert ch.loc["x_water", "significant"] and ch.loc["x_water", "change"] > 0.2
    assert not ch.loc["x_violence", "significant"]
    items = report.findings(now, catalogue, dims, None, "en", ch.reset_index(), (2022, 2020))
    changes = [f for f in items if f["kind"] == "change"]
    assert len(changes) == 1 and "improved" in changes[0]["text"]
    assert changes[0]["href"] == "sdg-1.html#fig-x_water--trend"


def test_dot_whisker_charts_have_alt_text_and_matching_csv(est, dims, tmp_path):
    for grouping in ("sex", "disability", "sex×disability"):
        ch = figures.dot_whisker(est, "x_water", grouping, dimensions=dims, country=None, lang="en")
        name = report.chart_name("x_water", grouping)
        fig = report._fig(ch, tmp_path, name)  # the page's view of the saved chart
        assert ch.alt and (fig.alt, fig.name, fig.title) == (ch.alt, name, ch.title)
        assert fig.table.columns == [str(c) for c in ch.table.columns]
        csv = pd.read_csv(tmp_path / "tables" / f"{name}.csv", encoding="utf-8-sig")
        assert list(csv.columns) == list(ch.table.columns) and len(csv) == len(ch.table)
        assert (tmp_path / "figures" / f"{name}.svg").is_file()
    sexes = pd.read_csv(tmp_path / "tables" / "x_water--sex.csv", encoding="utf-8-sig")
    assert sexes.iloc[:, 1].isna().sum() == 2  # primary + secondary shown without a value


def test_who_was_heard_counts_and_coverage(dims):
    df = _respondents()
    counts = report.respondent_counts(
        df.assign(sex=df["sex"].where(df.index != 5)), "sex", dims, None, "en"
    )
    assert counts["label"].tolist()[:3] == ["Female", "Male", "Intersex"]
    assert counts["n"].sum() == 400 and counts["label"].iloc[-1] == "Not stated"
    margins = pd.DataFrame({"dimension": ["region", "region"], "code": ["north", "south"],
                            "population": [300, 100]})  # fmt: skip
    cov = report.coverage(df, margins, "weight").set_index("code")
    assert cov.loc["north", "n"] == 200 and cov.loc["north", "sample_share"] == 0.5
    assert cov.loc["north", "population_share"] == 0.75
    w = df["weight"]
    assert cov.loc["north", "weighted_share"] == pytest.approx(w[:200].sum() / w.sum())
    groups = report.group_counts(
        {"adults": df, "kids": df.head(7)}, {"adults": "adults", "kids": "children"}, "en"
    )
    g = groups.set_index("code")["n"]
    assert (
        g["pwd"]
        == (df["disability"] == "with_disability").sum()
        + (df.head(7)["disability"] == "with_disability").sum()
    )
    assert g["children"] == 7 and g["cso"] == 0


# --------------------------------------------------------------------------- chapter pages
# The tiny fixture project plus catalogue, dimensions, rules and side files; the estimate
# table is the fixture table above (monkeypatched in: preparing raw exports is prepare's job).

HOSTILE = "<script>alert(1)</script> [link](javascript:x) {eval}`x` call 0912 345 678"


@pytest.fixture
def chapters(tmp_path, monkeypatch):
    shutil.copytree(TINY, tmp_path / "p")
    data = tmp_path / "p" / "data"
    (data / "indicators.yml").write_text(yaml.safe_dump(CATALOGUE), encoding="utf-8")
    shutil.copy(ROOT / "data" / "dimensions.yml", data / "dimensions.yml")
    (data / "rules.yml").write_text("suppress_min_n: 5\nmin_quote_group: 2\n", encoding="utf-8")
    cdir = data / "ZZ" / "2023"
    with (cdir / "cycle.yml").open("a", encoding="utf-8") as fh:
        fh.write("qualitative: side/qualitative.csv\nactivities: side/activities.csv\n")
        fh.write("recommendations: side/recommendations.csv\n")
    (cdir / "side").mkdir()
    (cdir / "side" / "qualitative.csv").write_text(
        "segment_id,activity_id,type,region,group,theme,sdg,language,text,story\n"
        f'S1,A1,fgd,north,pwd,water,1,en,"{HOSTILE}",1\n'
        "S2,A2,kii,south,women,water,1,en,The well is far.,0\n"
        "S3,A2,kii,south,women,rare,5,en,Only once.,1\n",
        encoding="utf-8",
    )
    (cdir / "side" / "themes.csv").write_text(
        "theme,sdg,label_en,label_vi\nwater,1,Water,Nước\nrare,5,Rare theme,\n", encoding="utf-8"
    )
    (cdir / "side" / "activities.csv").write_text(
        "activity_id,type,date,region,group,participants,participants_female,participants_with_disability\n"
        "A1,fgd,2023-03-02,north,pwd,8,5,8\nA2,kii,2023-03-03,south,women,1,1,0\n",
        encoding="utf-8",
    )
    (cdir / "side" / "recommendations.csv").write_text(
        "rec_id,cycle,sdg,text_en,text_vi,target,vnr_chapter,status,evidence\n"
        "R1,2021,1,Wells,Giếng,Ministry,SDG 1,integrated,VNR\n"
        "R2,2021,5,Shelters,,Ministry,SDG 5,not_integrated,\n"
        "R3,2023,1,Ramps,Đường dốc,Commune,SDG 1,partly,\n",
        encoding="utf-8",
    )
    _use_stores(monkeypatch, {("ZZ", 2021): _table(_respondents(seed=7)),
                              ("ZZ", 2023): _table(_respondents())})  # fmt: skip
    return Project(tmp_path / "p")


def _use_stores(monkeypatch, tables, behind=None) -> None:
    """Pages read cycle stores made from the fixture tables (no microdata, so no
    furthest-behind probabilities unless `behind` is given); building a store from prepared
    data is test_estimates' job."""
    from voicescount import estimates
    from voicescount.provenance import cycle_input_files, file_hashes

    def load(project, iso, cycle):
        cycle = int(cycle)
        est = tables[(iso, cycle)]
        earlier = {cy: e for (code, cy), e in tables.items() if code == iso and cy < cycle}
        prev = max(earlier) if earlier else None
        inputs = file_hashes(cycle_input_files(project, iso, cycle), root=project.root)
        return estimates.CycleStore(
            iso=iso, cycle=cycle, estimates=est, previous=prev, notes=[],
            **estimates.across_cycles(est, cycle, earlier, prev, RULES),
            behind=pd.DataFrame(columns=estimates.BEHIND_COLUMNS) if behind is None else behind,
            official=pd.DataFrame(), coverage=pd.DataFrame(columns=estimates.COVERAGE_COLUMNS),
            respondents=pd.DataFrame(columns=["dimension", "code", "n"]),
            groups=pd.DataFrame(columns=["group", "n"]),
            weights=pd.DataFrame(columns=estimates.WEIGHT_COLUMNS),
            summary={}, provenance={"inputs": inputs, "key": ""},
        )  # fmt: skip

    monkeypatch.setattr(estimates, "load", load)


def test_sdg_page_has_definition_estimate_behind_charts_and_trend(chapters, tmp_path):
    out = tmp_path / "out"
    view = report.sdg_chapter(chapters, "ZZ", 2023, "en", 1, out_dir=out)
    [ind] = view.indicators  # x_violence is SDG 5's: it has its own page
    assert ind["variable"] == "x_water" and view.goal == 1
    summary = " ".join(ind["summary"])
    assert "Share with basic water." in summary and "All respondents:" in summary
    assert "Furthest behind:" in summary and "With disability" in summary
    # One faceted chart for the dimensions, one for the intersections, the trend: 3 SVGs.
    names = ["x_water--groups", "x_water--intersections", "x_water--trend"]
    assert [ind[k].name for k in ("groups", "intersections", "trend")] == names
    for name in names:
        assert (out / "tables" / f"{name}.csv").is_file()
    # ... and the headline's chart of the one breakdown with the largest tested gap.
    svgs = sorted(p.stem for p in (out / "figures").glob("*.svg"))
    assert svgs == sorted([*names, "headline-sdg-1"])
    assert all(ind[k].alt for k in ("groups", "intersections", "trend"))
    # Old per-grouping charts are labels of the faceted chart that now shows the grouping.
    assert ind["groups"].aliases == ["x_water--sex", "x_water--disability", "x_water--region"]
    assert ind["intersections"].aliases == [
        "x_water--sex-disability", "x_water--region-sex", "x_water--region-disability",
    ]  # fmt: skip
    page = view.markdown()
    targets = render.targets(page)
    assert targets[0] == "zz-2023-en-fig-headline-sdg-1"  # the headline chart comes first
    assert targets[2] == "zz-2023-en-ind-x_water"  # (after its table alternative)
    for name in names + ind["groups"].aliases + ind["intersections"].aliases:
        assert f"zz-2023-en-fig-{name}" in targets
    assert "x_violence" not in page and "data:image" not in page
    # The intersections chart is folded away, its CSV link before the fold (issue 13: a
    # keyboard user reaches it without opening anything); the dimensions chart is not folded.
    html = to_html(page)
    fold = html.index('<div class="dropdown voicescount-details')
    link = html.index('href="tables/x_water--intersections.csv"')
    assert link < fold  # (the caption inside the fold links it too)
    assert html.index('src="figures/x_water--intersections.svg"') > fold
    assert html.index('src="figures/x_water--groups.svg"') < fold
    groups = pd.read_csv(out / "tables" / "x_water--groups.csv", encoding="utf-8-sig")
    assert list(groups.columns[:2]) == ["Dimension", "Group"]
    assert {"Sex", "Disability", "Region"} <= set(groups["Dimension"].dropna())
    est = _table(_respondents())
    singles = est[
        (est["variable"] == "x_water") & est["grouping"].isin(["sex", "disability", "region"])
    ]
    assert len(groups) == len(singles) + 1  # every group of every dimension, and the overall
    intersex = groups[groups["Group"] == "Intersex"].iloc[0]
    assert pd.isna(intersex["Estimate (%)"]) and pd.isna(intersex["Respondents (n)"])
    assert intersex["Note"] == "suppressed: fewer than 5 respondents"
    crossed = pd.read_csv(out / "tables" / "x_water--intersections.csv", encoding="utf-8-sig")
    assert set(crossed["Dimension"].dropna()) == {
        "Sex × Disability", "Region × Sex", "Region × Disability",
    }  # fmt: skip
    assert crossed["Group"].iloc[-1] == "All respondents"
    with pytest.raises(Exception, match="SDG 4 is not in focus"):
        report.sdg_chapter(chapters, "ZZ", 2023, "en", 4, out_dir=out)


def test_sdg_page_in_vietnamese_labels_panels_and_tables(chapters, tmp_path):
    view = report.sdg_chapter(chapters, "ZZ", 2023, "vi", 1, out_dir=tmp_path)
    alt = view.indicators[0]["groups"].alt
    assert alt.startswith("Nước cơ bản, theo nhóm. ")
    assert "Khuyết tật: cao nhất Không khuyết tật" in alt and "thấp nhất Có khuyết tật" in alt
    assert "Vùng: cao nhất" in alt and "(đã ẩn): Giới tính: " in alt
    assert "Các nhóm giao thoa (3 cách phân tổ trong một biểu đồ)" in view.markdown()
    assert view.indicators[0]["groups"].table.columns[0] == "Khía cạnh"
    groups = pd.read_csv(tmp_path / "tables" / "x_water--groups.csv", encoding="utf-8-sig")
    assert {"Giới tính", "Khuyết tật", "Vùng"} <= set(groups["Khía cạnh"].dropna())
    assert {"Nữ", "Có khuyết tật"} <= set(groups["Nhóm"])


def test_sdg_page_states_the_probability_of_being_furthest_behind(chapters, tmp_path, monkeypatch):
    from voicescount import estimates

    view = report.sdg_chapter(chapters, "ZZ", 2023, "en", 1, out_dir=tmp_path)
    # no microdata (the fixture's estimate table only)
    assert "Taking sampling error" not in " ".join(view.indicators[0]["summary"])
    df = _respondents()
    df["sex×disability"] = df["sex"] + "|" + df["disability"]
    design = stats.Design("weight", "stratum", "psu")
    now = _table(_respondents())
    behind = estimates.behind_table(now, {"adults": df}, {"adults": design},
                                    chapters.indicators)  # fmt: skip
    _use_stores(monkeypatch, {("ZZ", 2021): _table(_respondents(seed=7)), ("ZZ", 2023): now},
                behind)  # fmt: skip
    fb = report.furthest_behind(_table(_respondents()), "x_water")
    # k: the groups of fb's breakdown the table publishes (issue 15: fewer cells are hidden,
    # so the furthest behind may now be in a breakdown where it is the only one published)
    g = now[(now["variable"] == "x_water") & (now["grouping"] == fb["grouping"])]
    k = int((~g["suppressed"] & (g["n"] > 0)).sum())
    dim = {"sex×disability": "Sex × Disability", "disability": "Disability"}[fb["grouping"]]
    for lang, text in (
        ("en", f"the probability that this group is the furthest behind of the {k} {dim} groups shown is "),
        ("vi", "Khi tính đến sai số chọn mẫu, xác suất nhóm này là nhóm bị bỏ lại xa nhất trong"),
    ):  # fmt: skip
        view = report.sdg_chapter(chapters, "ZZ", 2023, lang, 1, out_dir=tmp_path)
        [paragraph] = [p for p in view.indicators[0]["summary"] if text in p]
        assert paragraph.endswith("%.")


def test_key_findings_link_to_anchors_on_the_sdg_page(chapters, tmp_path):
    findings = report.key_findings(chapters, "ZZ", 2023, "en", out_dir=tmp_path)
    sdg = report.sdg_chapter(chapters, "ZZ", 2023, "en", 1, out_dir=tmp_path)
    targets = [f["target"] for f in findings.findings]
    assert targets
    on_sdg = render.targets(sdg.markdown())
    for target in targets:  # each link is a {ref} the -n build resolves on the SDG page
        assert target in on_sdg, target
        assert f"{{ref}}`(see the chart) <{target}>`" in findings.markdown()


def test_key_findings_page_links_each_finding_and_reports_no_spurious_change(chapters, tmp_path):
    view = report.key_findings(chapters, "ZZ", 2023, "en", out_dir=tmp_path)
    assert view.findings and all(
        f["href"].startswith("sdg-1.html#fig-x_water--") for f in view.findings
    )
    page = view.markdown()
    assert page.count("\n1. ") == len(view.findings)  # a numbered list
    assert "Holm correction" in page and view.previous == 2021 and not view.any_change
    assert "improved" not in page and "worsened" not in page  # same process in both cycles


def test_voices_page_counts_everything_and_shows_quotes_inert(chapters, tmp_path):
    view = report.voices_chapter(chapters, "ZZ", 2023, "en", out_dir=tmp_path)
    assert (view.segments, view.activities, view.stories) == (3, 2, 2)
    page = view.markdown()
    assert "3 coded segments from 2 activities, including 2 cases and stories" in page
    assert view.themes.rows[0][:3] == ["Water", "2", "2"] and view.themes.name == "voices-themes"
    [(theme, code, said)] = view.quotes  # one theme raised in 2 activities: quoted
    assert (theme, code, len(said)) == ("Water", "water", 2)
    assert {q.who for q in said} == {"People with disabilities, Focus group discussions",
                                     "Women, Key informant interviews"}  # fmt: skip
    # respondents' words reach the page escaped: parsed as MyST, they are text, not markup
    html = to_html(page)
    assert "<script>" not in html and 'href="javascript' not in html and "<code" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; [link](javascript:x) {eval}`x`" in html
    assert "0912 345 678" not in page  # phone number scrubbed
    assert "Only once." not in page  # theme raised in one activity: counted, not quoted
    # The headline (the theme raised most, a bar chart of the themes) comes first.
    assert view.headline.sentences == [
        "What people said was grouped into 2 themes (3 coded pieces). Raised most often: "
        "Water (2 times)."
    ]
    assert render.targets(page) == [
        "zz-2023-en-fig-headline-voices",
        "zz-2023-en-alt-headline-voices",
        "zz-2023-en-voices-themes",
        "zz-2023-en-tab-voices-themes",
        "zz-2023-en-tab-voices-themes-by-group",
        "zz-2023-en-voices-quotes",
        "zz-2023-en-voices-quotes-water",
    ]
    themes = pd.read_csv(tmp_path / "tables" / "voices-themes.csv", encoding="utf-8-sig")
    assert themes.iloc[:, 1].tolist() == [2, 1]


def test_recommendations_page_uptake_per_cycle(chapters, tmp_path):
    view = report.recommendations_chapter(chapters, "ZZ", 2023, "vi", out_dir=tmp_path)
    up = pd.read_csv(tmp_path / "tables" / "recommendations-uptake.csv", encoding="utf-8-sig")
    assert up.iloc[:, 0].tolist() == [2021, 2023]
    assert up.iloc[:, -2].tolist() == [50.0, 0.0]  # integrated in full only
    assert [row[0] for row in view.uptake.rows] == ["2021", "2023"]
    texts = {cell for row in view.recommendations.rows for cell in row}
    assert {"Đường dốc", "Giếng"} <= texts
    assert "zz-2023-vi-tab-recommendations" in render.targets(view.markdown())
    # This cycle's uptake is the page's main message, first on the page.
    [sentence] = view.headline.sentences
    assert sentence.startswith("Năm 2023") and view.headline.figure is None
    assert view.markdown().startswith(":::::::{container} voicescount-headline")


def test_inequalities_page_heatmap_and_suppression_counts(chapters, tmp_path):
    view = report.inequalities(chapters, "ZZ", 2023, "en", out_dir=tmp_path)
    [(pop, fig)] = view.maps
    assert (pop, fig.name) == ("adults", "heatmap-adults")
    assert (tmp_path / "tables" / "heatmap-adults.csv").is_file()
    assert "zz-2023-en-fig-heatmap-adults" in render.targets(view.markdown())
    est = _table(_respondents())
    prim = int((est["suppression"] == "primary").sum())
    assert (view.primary, view.total) == (prim, len(est))
    assert f"{prim} of {len(est)} cells were suppressed by the first rule" in _text(view)


def test_header_has_notice_and_language_switch(chapters):
    head = report.header(chapters, "ZZ", 2023, "vi", "sdg-1")._repr_html_()
    assert "voicescount-synthetic" in head
    assert 'href="../en/sdg-1.html"' in head and "Trang này bằng ngôn ngữ khác" in head
    assert (
        report.chapter_title(chapters, "ZZ", 2023, "vi", "sdg", 5)._repr_markdown_()
        == "# SDG 5: Bình đẳng giới"
    )


def test_trends_page_table_and_charts(chapters, tmp_path):
    view = report.trends_chapter(chapters, "ZZ", 2023, "en", out_dir=tmp_path)
    table = pd.read_csv(tmp_path / "tables" / "trends.csv", encoding="utf-8-sig")
    assert list(table.columns[1:3]) == ["2021", "2023"] and len(table) == 2
    assert view.cycles == [2021, 2023] and view.table.rows[0][1:3] == list(table.iloc[0, 1:3])
    names = ["trend-x_water--overall", "trend-x_water--disability", "trend-x_violence--overall"]
    assert set(names) <= {f.name for _, _, figs in view.charts for f in figs}
    targets = render.targets(view.markdown())
    # The headline (the largest change, or that none is significant) and its chart come first.
    assert targets[0] == "zz-2023-en-fig-headline-trends"
    assert "zz-2023-en-tab-trends" in targets
    assert view.headline.sentences[0] in (
        "No indicator changed significantly since 2021. The chart shows the largest change.",
        "1 of 2 indicators changed significantly since 2021.",
        "2 of 2 indicators changed significantly since 2021.",
    )
    for label in ["zz-2023-en-trend-x_water", *(f"zz-2023-en-fig-{n}" for n in names)]:
        assert label in targets
    hist = pd.concat(
        [_table(_respondents(seed=7)).assign(cycle=2021), _table(_respondents()).assign(cycle=2023)]
    )
    tt = report.trend_table(hist, RULES).set_index("variable")
    assert tt.loc["x_water", 2023] == pytest.approx(
        _row(_table(_respondents()), "x_water", "")["estimate"]
    )
    assert tt.loc["x_water", "change"] == pytest.approx(
        tt.loc["x_water", 2023] - tt.loc["x_water", 2021]
    )


def test_synthesis_needs_two_countries_and_lists_shared_indicators(chapters, tmp_path, monkeypatch):
    view = report.synthesis_chapter(chapters, "ZZ", 2023, "en", out_dir=tmp_path)
    assert view.countries == ["ZZ"] and "No other country has data" in _text(view)
    assert view.headline.sentences == [report.rt("synthesis_none", "en")]  # said once, first
    assert _text(view).count("No other country has data") == 1
    data = chapters.data_dir
    with (data / "countries.yml").open("a", encoding="utf-8") as fh:
        fh.write(
            "  - iso: YY\n    name: {en: Ypsland}\n    languages: [en]\n"
            "    regions: [{code: north, name: {en: North}}]\n"
            "    youth: {min: 15, max: 24}\n    age_bands: [15, 25]\n"
        )
    shutil.copytree(data / "ZZ" / "2021", data / "YY" / "2022")
    cyc = data / "YY" / "2022" / "cycle.yml"
    cyc.write_text(
        cyc.read_text().replace("ZZ", "YY").replace("2021", "2022").replace("[en, vi]", "[en]")
    )
    tables = {("ZZ", 2023): _table(_respondents()), ("YY", 2022): _table(_respondents(seed=9))}
    _use_stores(monkeypatch, tables)
    view = report.synthesis_chapter(Project(chapters.root), "ZZ", 2023, "en", out_dir=tmp_path)
    assert view.countries == ["YY", "ZZ"] and view.variables == ["x_violence", "x_water"]
    assert "2 indicators are shared by at least two of the 2 countries" in _text(view)
    # The page opens with its own counts (no chart: the page is a table).
    assert view.sections[0] == "headline" and view.headline.figure is None
    assert view.headline.sentences == [
        "2 indicators were measured in at least two of these 2 countries: Ypsland, Zedland. "
        "The table puts them side by side."
    ]
    syn = pd.read_csv(tmp_path / "tables" / "synthesis.csv", encoding="utf-8-sig")
    assert syn.iloc[:, 1].tolist() == ["Ypsland (2022)", "Zedland (2023)"] * 2


@pytest.mark.slow
def test_methods_page_states_the_raked_variance_and_the_behind_probability(tmp_path):
    """The example's adults are raked: the methods page says the SEs treat the weights as
    calibrated (naming the margins) and how the furthest-behind probability is computed."""
    project = Project(tmp_path / "p", data_dir=ROOT / "data")
    en = _text(report.methods(project, "VN", 2022, "en", out_dir=tmp_path / "en"))
    assert "whose weights were raked to population margins (Sex, Age group, Region" in en
    assert "10,000 seeded draws" in en
    assert "the group's own degrees of freedom" in en and "svycontrast" in en
    vi = _text(report.methods(project, "VN", 2022, "vi", out_dir=tmp_path / "vi"))
    assert "hiệu chỉnh (raking)" in vi and "10.000 lần mô phỏng" in vi
    assert "bậc tự do của chính nhóm đó" in vi


def test_who_heard_page_shows_the_stores_counts_labelled(chapters, tmp_path, monkeypatch):
    import dataclasses

    from voicescount import estimates

    base = estimates.load
    inst = next(iter(chapters.cycle("ZZ", 2023).instruments))

    def load(project, iso, cycle):
        return dataclasses.replace(
            base(project, iso, cycle),
            summary={"received": 1234, "kept": 1200, "quarantined": 34,
                     "instruments": {inst: {"received": 1234, "kept": 1200, "quarantined": 34}}},
            groups=pd.DataFrame({"group": ["women", "pwd"], "n": [700, 90]}),
            respondents=pd.DataFrame({"dimension": ["sex", "sex", "sex"],
                                      "code": ["female", "male", ""], "n": [700, 490, 10]}),
        )  # fmt: skip

    monkeypatch.setattr(estimates, "load", load)
    view = report.who_heard(chapters, "ZZ", 2023, "en", out_dir=tmp_path)
    assert (view.received, view.kept, view.quarantined) == (1234, 1200, 34)
    assert view.instruments.rows[-1] == ["Total", "1,234", "1,200", "34"]
    assert view.groups.name == "heard-group" and [d for d, _ in view.dimensions] == ["sex"]
    sex = view.dimensions[0][1]
    assert sex.name == "heard-sex" and [r[0] for r in sex.table.rows] == [
        "Female", "Male", "Not stated"]  # fmt: skip
    assert view.coverage is None  # no population margins in the store
    assert (tmp_path / "figures" / "heard-sex.svg").is_file()
    targets = render.targets(view.markdown())
    # The groups reached open the page (the headline's chart), then the detail.
    assert view.headline.sentences == [
        "1,200 people answered this survey.",
        "The largest groups reached: Women (700), People with disabilities (90).",
    ]
    assert targets[0] == "zz-2023-en-fig-heard-group"
    assert targets[2:5] == [
        "zz-2023-en-who-heard-instruments",
        "zz-2023-en-tab-heard-instruments",
        "zz-2023-en-who-heard-groups",
    ]
    assert "zz-2023-en-fig-heard-sex" in targets
    assert "1,234 questionnaires were received; 1,200 were kept for analysis" in _text(view)


# --------------------------------------------------------------------------- headlines (issue 14)


def test_sdg_page_opens_with_the_largest_tested_gap_and_its_chart(chapters, tmp_path):
    view = report.sdg_chapter(chapters, "ZZ", 2023, "en", 1, out_dir=tmp_path)
    assert view.sections[0] == "headline"
    h = view.headline
    est = _table(_respondents())
    fb = est[est["behind"] & ~est["caution"] & ~est["suppressed"] & (est["grouping"] != "")]
    top = fb.loc[fb["gap"].abs().idxmax()]
    group = "|".join(str(top[d]) for d in top["grouping"].split("×"))
    assert h.sentences[0].startswith("The biggest gap is in Basic water: ")
    assert h.sentences[1] == "This gap is statistically significant."
    assert top["variable"] == "x_water"
    # The change sentence is the store's test (2021 -> 2023), never a claim it does not support.
    from voicescount import estimates

    change = estimates.load(chapters, "ZZ", 2023).changes.set_index("variable").loc["x_water"]
    if change["significant"]:
        assert h.sentences[2].startswith("For everyone who answered, this has ")
    else:
        assert h.sentences[2] == "No significant change since 2021."
    # The chart is that one breakdown, the group in it.
    assert h.figure.name == "headline-sdg-1" and h.figure.alt
    assert (tmp_path / "figures" / "headline-sdg-1.svg").is_file()
    label = report._ctx(chapters, "ZZ", 2023, "en", tmp_path).group(top["grouping"], top)
    assert label in h.sentences[0] and label in [r[0] for r in h.figure.table.rows]
    assert group
    md = view.markdown()
    # The headline block comes first, before the indicator sections.
    assert md.index("voicescount-headline") < md.index("(zz-2023-en-ind-x_water)=")
    assert to_html(md).index("The biggest gap") < to_html(md).index("Share with basic water.")


def test_no_gap_no_claim(chapters, tmp_path, monkeypatch):
    """A cycle where the tests find no group behind says so, without a chart."""
    from voicescount import estimates

    now = _table(_respondents(water_gap=0.0)).assign(behind=False)
    _use_stores(monkeypatch, {("ZZ", 2023): now})
    view = report.sdg_chapter(chapters, "ZZ", 2023, "en", 1, out_dir=tmp_path)
    assert view.headline.figure is None
    assert view.headline.sentences == [report.t("headline.no_gap", "en")]
    assert estimates.load(chapters, "ZZ", 2023).previous is None


def test_groups_an_indicator_is_not_asked_of_are_not_drawn(tmp_path):
    from voicescount.registry import Indicator

    ind = Indicator.model_validate(
        {"id": "x_pv", "sdg": {"goal": 5, "target": "5.2"}, "instrument": "adults",
         "rule": {"item": "q", "equals": "yes"},
         "population": {"all": [{"item": "sex", "equals": "female"}, {"item": "p", "equals": 1}]},
         "label": {"en": "PV"}, "definition": {"en": "PV."}}
    )  # fmt: skip
    assert not report.population_allows(ind, "sex", "male")
    assert report.population_allows(ind, "sex", "female")
    assert report.population_allows(ind, "region", "north")
    rows = pd.DataFrame(
        {"grouping": ["", "sex", "sex", "sex", "sex×region", "sex×region", "region"],
         "sex": [None, "female", "male", "intersex", "male", "female", None],
         "region": [None, None, None, None, "north", "north", "south"],
         "n": [100, 100, 0, 3, 0, 50, 0]}
    )  # fmt: skip
    kept = report.applicable(ind, rows)
    # male (n = 0, not asked) goes, in the intersection too; intersex with 3 respondents stays
    # (suppressed as before, never hidden), as does a region with none (it was asked).
    assert kept.index.tolist() == [0, 1, 3, 5, 6]


def test_official_page_opens_with_the_missing_count_and_the_grid(chapters, tmp_path, monkeypatch):
    import dataclasses

    from voicescount import estimates

    real = estimates.load

    def load(project, iso, cycle):
        store = real(project, iso, cycle)
        cmp = pd.DataFrame(
            {"variable": ["x_water"] * 4, "indicator": ["1.4.1"] * 4,
             "grouping": ["", "sex", "sex", "region"],
             "sex": [None, "female", "male", None], "region": [None, None, None, "north"],
             "cgd_estimate": [50.0, 40, 60, 55], "cgd_ci_low": [45.0, 35, 55, 50],
             "cgd_ci_high": [55.0, 45, 65, 60], "official_value": [52.0, None, None, None],
             "official_year": [2022] * 4, "official_year_label": ["2022"] * 4,
             "status": ["agree", "official data missing", "official data missing", "suppressed"]}
        )  # fmt: skip
        return dataclasses.replace(store, official=cmp)

    monkeypatch.setattr(estimates, "load", load)
    view = report.official_chapter(chapters, "ZZ", 2023, "en", out_dir=tmp_path)
    assert view.sections[0] == "headline"
    s = view.headline.sentences
    assert s[0].startswith("For 2 of 4 comparisons, official data has no value for the group.")
    assert s[1] == "Where both have a value, the two differ in 0 of 1 comparisons."
    fig = view.headline.figure
    assert fig.name == "official-grid" and "In 2 of 4 cells only citizen-generated" in fig.alt
    assert (tmp_path / "figures" / "official-grid.svg").is_file()
    assert [r[2] for r in fig.table.rows] == [
        "Official data has a value", "Only citizen-generated data",
        "Only citizen-generated data", "Suppressed or not comparable",
    ]  # fmt: skip


def test_trends_page_without_an_earlier_cycle_says_so_first(chapters, tmp_path, monkeypatch):
    _use_stores(monkeypatch, {("ZZ", 2023): _table(_respondents())})
    view = report.trends_chapter(chapters, "ZZ", 2023, "en", out_dir=tmp_path)
    assert view.sections[0] == "headline" and view.headline.figure is None
    assert view.headline.sentences == [
        "This is the first survey, so there is no change over time to show yet."
    ]
    assert view.markdown().startswith(":::::::{container} voicescount-headline")


def _with_summary(monkeypatch, **summary) -> None:
    """The fixture stores (`_use_stores`) with a validation summary (kept, received)."""
    import dataclasses

    from voicescount import estimates

    real = estimates.load
    monkeypatch.setattr(estimates, "load", lambda project, iso, cycle: dataclasses.replace(
        real(project, iso, cycle), summary=summary))  # fmt: skip


def test_overview_opens_with_the_largest_tested_gap(chapters, tmp_path):
    view = report.overview(chapters, "ZZ", 2023, "en", out_dir=tmp_path)
    assert view.sections[0] == "headline"
    h = view.headline
    kf = report.key_findings(chapters, "ZZ", 2023, "en", out_dir=tmp_path).headline
    # the key findings' gap and its test (two sentences: the cycle's long title is above them)
    assert h.sentences == kf.sentences[:2]
    assert h.sentences[0].startswith("The biggest gap is in Basic water: ")
    assert h.sentences[1] == "This gap is statistically significant."
    assert h.figure.name == "headline-overview" and h.figure.alt == kf.figure.alt
    assert (tmp_path / "figures" / "headline-overview.svg").is_file()
    md = view.markdown()
    assert md.startswith(":::::::{container} voicescount-headline")
    assert md.index("The biggest gap") < md.index("Regions\n: North, South")
    vi = report.overview(chapters, "ZZ", 2023, "vi", out_dir=tmp_path / "vi").headline
    assert vi.sentences[0].startswith("Khoảng cách lớn nhất là ở Nước cơ bản: ")


def test_overview_without_a_store_has_no_headline(tmp_path):
    shutil.copytree(TINY, tmp_path / "p")  # no contract.yml: the cycle store cannot be built
    view = report.overview(Project(tmp_path / "p"), "ZZ", 2023, "en", out_dir=tmp_path)
    assert view.sections == ["intro", "facts"] and view.headline is None
    assert not (tmp_path / "figures").exists()


SCORES = (
    "cycle,region,commune,service,criterion,community_score,provider_score\n"
    "2023,north,C1,commune_health_station,waiting_time,2,4\n"
    "2023,south,C2,commune_health_station,waiting_time,3,4\n"
    "2023,north,C1,commune_health_station,staff_attitude,3,3\n"
    "2023,south,C2,commune_health_station,staff_attitude,4,4\n"
    "2023,north,C1,primary_school,toilets,4,3\n"
    "2023,south,C2,primary_school,toilets,4,\n"
)


def test_scorecards_page_opens_with_the_largest_community_provider_gap(chapters, tmp_path):
    side = chapters.cycle_dir("ZZ", 2023) / "side"
    (side / "scorecards.csv").write_text(SCORES, encoding="utf-8")
    with (side.parent / "cycle.yml").open("a", encoding="utf-8") as fh:
        fh.write("scorecards: side/scorecards.csv\n")
    project = Project(chapters.root)
    view = report.scorecards_chapter(project, "ZZ", 2023, "en", out_dir=tmp_path)
    assert view.sections[0] == "headline"
    # waiting time: community 2.5, provider 4 (gap -1.5, the largest); toilets' gap is +1 over
    # the one commune where both scored; staff attitude 0: one of three criteria scored lower
    assert view.headline.sentences == [
        "The biggest difference is for Commune health station, Waiting time: communities scored "
        "it 2.5, providers 4.0 (1 = very poor, 5 = very good).",
        "Communities scored 1 of 3 criteria lower than the service providers did.",
    ]
    fig = view.headline.figure
    assert fig.name == "headline-scorecards" and "Largest gap: Waiting time" in fig.alt
    assert {r[0] for r in fig.table.rows} == {"Waiting time", "Staff attitude"}
    assert (tmp_path / "figures" / "headline-scorecards.svg").is_file()
    assert view.markdown().startswith(":::::::{container} voicescount-headline")
    vi = report.scorecards_chapter(project, "ZZ", 2023, "vi", out_dir=tmp_path / "vi")
    assert vi.headline.sentences[0].startswith("Khác biệt lớn nhất là ở Trạm y tế xã, ")
    assert "cộng đồng chấm 2,5, bên cung cấp dịch vụ chấm 4,0" in vi.headline.sentences[0]


def test_scorecards_page_without_score_cards_says_so_once(chapters, tmp_path):
    view = report.scorecards_chapter(chapters, "ZZ", 2023, "en", out_dir=tmp_path)
    none = report.rt("scorecards_none", "en")
    assert view.headline.sentences == [none] and view.headline.figure is None
    assert view.markdown().startswith(":::::::{container} voicescount-headline")
    assert _text(view).count(none) == 1


def test_methods_headline_says_who_was_asked_and_how_many(chapters, tmp_path, monkeypatch):
    _with_summary(monkeypatch, kept=400, received=410)
    h = report.methods_headline(report._ctx(chapters, "ZZ", 2023, "en", tmp_path))
    assert h.figure is None
    assert h.sentences == [
        "Who was asked: Youth, women and people with disabilities. Where: North, South.",
        "400 of the 410 questionnaires received passed the checks and are used in this report.",
    ]
    vi = report.methods_headline(report._ctx(chapters, "ZZ", 2023, "vi", tmp_path))
    assert vi.sentences[0] == (
        "Ai được hỏi: Thanh niên, phụ nữ và người khuyết tật. Ở đâu: Miền Bắc, Miền Nam."
    )


def test_explorer_opens_with_what_official_data_misses(chapters, tmp_path, monkeypatch):
    """The explorer shows the official page's counts and SDG x group grid above the widget."""
    import dataclasses

    from voicescount import estimates, explorer

    real = estimates.load
    cmp = pd.DataFrame(
        {"variable": ["x_water"] * 3, "indicator": ["1.4.1"] * 3, "grouping": ["", "sex", "sex"],
         "sex": [None, "female", "male"], "cgd_estimate": [50.0, 40, 60],
         "cgd_ci_low": [45.0, 35, 55], "cgd_ci_high": [55.0, 45, 65],
         "official_value": [30.0, None, None], "official_year": [2022] * 3,
         "official_year_label": ["2022"] * 3,
         "status": ["differ", "official data missing", "official data missing"]}
    )  # fmt: skip
    monkeypatch.setattr(estimates, "load", lambda project, iso, cycle: dataclasses.replace(
        real(project, iso, cycle), official=cmp))  # fmt: skip
    view = explorer.explorer_chapter(chapters, "ZZ", 2023, "en", out_dir=tmp_path)
    assert view.sections == ["headline", "intro"]
    official = report.official_chapter(chapters, "ZZ", 2023, "en", out_dir=tmp_path / "o")
    s = view.headline.sentences
    assert s == official.headline.sentences  # the official page's counts, word for word
    assert s[0].startswith("For 2 of 3 comparisons, official data has no value for the group.")
    assert s[1] == "Where both have a value, the two differ in 1 of 1 comparisons."
    fig = view.headline.figure
    assert fig.name == "explorer-official-grid"  # labels are global: not the official page's
    assert fig.alt == official.headline.figure.alt and fig.table.rows
    assert (tmp_path / "figures" / "explorer-official-grid.svg").is_file()
    md = view.markdown()
    assert md.startswith(":::::::{container} voicescount-headline")
    assert "zz-2023-en-fig-explorer-official-grid" in render.targets(md)
    assert md.index("voicescount-headline") < md.index("tables/explorer.json")


def test_explorer_without_official_data_says_so_first(chapters, tmp_path):
    from voicescount import explorer

    view = explorer.explorer_chapter(chapters, "ZZ", 2023, "en", out_dir=tmp_path)
    assert view.headline.sentences == [report.rt("official_none", "en")]
    assert view.headline.figure is None and not (tmp_path / "figures").exists()
