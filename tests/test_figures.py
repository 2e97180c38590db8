"""Charts: alt text from the data, table alternative = plotted data, deterministic SVG, fonts."""

from __future__ import annotations

import base64
import io
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from voicescount import figures
from voicescount.errors import InputError
from voicescount.registry import Project

VI_TEXT = "Tiếng Việt: Người khuyết tật ở nông thôn"


@pytest.fixture(scope="module")
def project(project_root):
    return Project(project_root)


def _row(
    variable,
    grouping,
    estimate,
    n,
    *,
    se=0.03,
    flag="",
    suppressed=False,
    suppression="",
    N=1e5,
    **dims,
):
    nan = float("nan")
    return {
        "variable": variable,
        "grouping": grouping,
        "sex": dims.get("sex"),
        "region": dims.get("region"),
        "disability": dims.get("disability"),
        "estimate": nan if suppressed else estimate,
        "se": nan if suppressed else se,
        "ci_low": nan if suppressed else estimate - 1.96 * se,
        "ci_high": nan if suppressed else estimate + 1.96 * se,
        "deff": 1.5,
        "n": n,
        "N": N,
        "cv": se / estimate if estimate else nan,
        "flag": flag,
        "suppressed": suppressed,
        "suppression": suppression,
    }


@pytest.fixture
def est():
    return pd.DataFrame(
        [
            _row("poor", "", 0.40, 900, se=0.01, N=1e6),
            _row("poor", "region", 0.30, 400, region="north", N=4e5),
            _row("poor", "region", 0.55, 25, se=0.09, flag="caution", region="central", N=1e5),
            _row("poor", "region", 0.0, 3, suppressed=True, suppression="primary", region="south", N=5e5),
            _row("poor", "sex×disability", 0.52, 120, sex="female", disability="with_disability", N=5e4),
            _row("poor", "sex×disability", 0.38, 500, sex="female", disability="without_disability", N=4.5e5),
            _row("poor", "sex×disability", 0.0, 40, suppressed=True, suppression="secondary", sex="male", disability="with_disability", N=5e4),
            _row("school", "", 0.80, 900, se=0.01, N=1e6),
            _row("school", "region", 0.82, 400, region="north", N=4e5),
            _row("school", "region", 0.79, 25, se=0.08, flag="caution", region="central", N=1e5),
            _row("school", "region", 0.0, 3, suppressed=True, suppression="primary", region="south", N=5e5),
        ]
    )  # fmt: skip


def _dots(chart, ax=None):
    """(x of plotted estimates, filled?) top to bottom, read back from the figure itself (a
    panel draws its dots as one line per face, not one line per row)."""
    ax = chart.fig.axes[0] if ax is None else ax
    out = []
    for line in ax.lines:
        if line.get_marker() == "o" and line.get_linestyle() in ("None", ""):
            filled = line.get_markerfacecolor() != "white"
            out += [(float(x), filled, float(y)) for x, y in zip(*line.get_data(), strict=True)]
    return [(x, filled) for x, filled, _ in sorted(out, key=lambda d: -d[2])]


def test_dot_whisker_orders_flags_and_suppresses(est, project):
    c = figures.dot_whisker(
        est, "poor", "region", dimensions=project.dimensions, country=project.country("VN"),
        lang="en", indicator_label="Living in poverty",
    )  # fmt: skip
    table = c.table
    assert table["Group"].tolist() == [
        "Central & Central Highlands",
        "North",
        "South",
        "All respondents",
    ]
    assert table["Estimate (%)"].iloc[:2].tolist() == [55.0, 30.0]
    assert np.isnan(table["Estimate (%)"].iloc[2])
    assert table["Note"].tolist() == [
        "use with caution",
        "",
        "suppressed: fewer than 5 respondents",
        "",
    ]
    assert pd.isna(table["Respondents (n)"].iloc[2])  # small n not disclosed either
    # The figure plots exactly the table's numbers; the caution point is hollow.
    assert [(round(x, 6), filled) for x, filled in _dots(c)] == [(55.0, False), (30.0, True)]
    labels = [tl.get_text() for tl in c.fig.axes[0].get_yticklabels()]
    ticks = c.fig.axes[0].get_yticks().tolist()
    assert dict(zip(labels, ticks, strict=True)) == {
        "Central & Central Highlands": 2.0,  # top
        "North": 1.0,
        "South": 0.0,  # suppressed rows last
    }
    texts = [tx.get_text() for tx in c.fig.axes[0].texts]
    assert "suppressed: fewer than 5 respondents" in texts
    legend = [tx.get_text() for tx in c.fig.legends[0].get_texts()]
    assert "use with caution" in legend and "Overall: 40.0%" in legend
    # Alt text names extremes with values, the overall, caution and suppression.
    assert "Highest: Central & Central Highlands (55.0%)" in c.alt
    assert "Lowest: North (30.0%)" in c.alt
    assert "Overall: 40.0%" in c.alt
    assert "Use with caution" in c.alt and "suppressed): South" in c.alt


def test_intersections_and_secondary_suppression(est, project):
    c = figures.dot_whisker(
        est, "poor", "sex×disability", dimensions=project.dimensions,
        country=project.country("VN"), lang="vi",
    )  # fmt: skip
    groups = c.table.iloc[:, 0].tolist()
    assert groups[:3] == ["Nữ × Có khuyết tật", "Nữ × Không khuyết tật", "Nam × Có khuyết tật"]
    assert c.table.iloc[2, -1] == "đã ẩn để không thể suy ra một ô đã ẩn khác"
    assert "Cao nhất: Nữ × Có khuyết tật (52,0%)" in c.alt  # Vietnamese decimal comma


def test_csv_matches_table_and_is_formula_safe(est, project, tmp_path):
    c = figures.dot_whisker(
        est, "poor", "region", dimensions=project.dimensions, country=project.country("VN")
    )
    c.table.iloc[1, 0] = '=HYPERLINK("http://x")'
    svg_path, csv_path = c.save(tmp_path, "poor_region")
    assert csv_path == tmp_path / "tables" / "poor_region.csv"
    assert svg_path == tmp_path / "figures" / "poor_region.svg"
    back = pd.read_csv(csv_path, encoding="utf-8-sig")
    assert back.iloc[1, 0].startswith("'=")
    assert back["Estimate (%)"].tolist()[:2] == [55.0, 30.0]
    pd.testing.assert_series_equal(
        back["95% CI, lower"], c.table["95% CI, lower"], check_names=True
    )


def test_svg_bytes_are_deterministic(est, project, tmp_path):
    kw = dict(dimensions=project.dimensions, country=project.country("VN"), lang="vi")
    a = figures.dot_whisker(est, "poor", "region", **kw).svg_bytes()
    b = figures.dot_whisker(est, "poor", "region", **kw).svg_bytes()
    assert a == b
    assert b"<dc:date>" not in a and b"Matplotlib" not in a.split(b"<svg", 1)[1][:2000]
    h1 = figures.heatmap(est, ["poor", "school"], ["region"], **kw).svg_bytes()
    h2 = figures.heatmap(est, ["poor", "school"], ["region"], **kw).svg_bytes()
    assert h1 == h2


def test_heatmap_gaps_and_suppression_without_tests_draw_no_significance(est, project):
    """Figures draw, they never test: a table without `significant` gets no marks at all."""
    c = figures.heatmap(
        est, ["poor", "school"], ["region"], dimensions=project.dimensions,
        country=project.country("VN"), labels={"poor": "Poverty", "school": "In school"},
        higher_is_better={"poor": False},
    )  # fmt: skip
    tab = c.table.set_index(["Group", "Indicator"])
    assert tab.loc[("North", "Poverty"), "Gap (percentage points)"] == pytest.approx(-10.0)
    assert tab.loc[
        ("Central & Central Highlands", "Poverty"), "Gap (percentage points)"
    ] == pytest.approx(15.0)
    # North's gap of -10 points is large, but nothing tested it: no mark anywhere
    assert "Significant" not in c.table.columns
    assert "significant" not in c.alt.lower()
    assert not any(figures.SIGNIFICANT in t.get_text() for t in c.fig.axes[0].texts)
    legend = [h.get_label() for h in c.fig.legends[0].legend_handles]
    assert "gap statistically significant" not in legend and len(legend) == 3
    assert tab.loc[("South", "Poverty"), "Note"] == "suppressed: fewer than 5 respondents"
    assert np.isnan(tab.loc[("South", "Poverty"), "Gap (percentage points)"])
    assert "Largest gap: Central & Central Highlands, Poverty (+15.0 percentage points)" in c.alt
    assert "Smallest gap: Central & Central Highlands, In school (−1.0 percentage points)" in c.alt
    assert "suppressed" in c.alt and "South (Poverty)" in c.alt
    hatched = [p for p in c.fig.axes[0].patches if p.get_hatch() == "///"]
    assert len(hatched) == 2


def test_trend_lines_and_alt(est, project):
    both = pd.concat(
        [est.assign(cycle=2022), est.assign(cycle=2024, estimate=est["estimate"] - 0.05)]
    )
    c = figures.trend(
        both,
        "poor",
        grouping="region",
        dimensions=project.dimensions,
        country=project.country("VN"),
    )
    assert "2022 to 2024" in c.alt
    assert "North: 30.0% in 2022, 25.0% in 2024." in c.alt
    assert "South 2022" in c.alt  # suppressed points named
    north = c.table[c.table["Group"] == "North"]
    assert north["Estimate (%)"].tolist() == [30.0, 25.0]
    assert len(c.fig.axes[0].collections) == 2  # one CI band per region shown (South suppressed)
    assert "South" not in [tx.get_text() for tx in c.fig.legends[0].get_texts()]


def test_counts_bar(project):
    data = pd.DataFrame({"label": ["Nữ", "Nam", "Liên giới tính"], "n": [1200, 790, 10]})
    c = figures.counts_bar(data, what="người trả lời", lang="vi")
    assert c.table["Tỷ lệ (%)"].tolist() == [60.0, 39.5, 0.5]
    assert "tổng cộng 2.000" in c.alt and "Cao nhất: Nữ (1.200)" in c.alt
    assert "Thấp nhất: Liên giới tính (10)" in c.alt
    widths = [p.get_width() for p in c.fig.axes[0].patches]
    assert widths == [1200, 790, 10]


def test_scorecard_dumbbell():
    data = pd.DataFrame(
        {
            "criterion": ["Staff attitude", "Waiting time"],
            "community": [2.1, 3.5],
            "provider": [4.0, 3.7],
        }
    )
    c = figures.scorecard_dumbbell(data, service="Health station")
    assert c.table.iloc[0].tolist() == ["Staff attitude", 2.1, 4.0, -1.9]
    assert "Largest gap: Staff attitude (community 2.1, provider 4.0)" in c.alt


def test_html_has_alt_caption_csv_link_and_table(est, project, tmp_path):
    c = figures.dot_whisker(
        est,
        "poor",
        "region",
        dimensions=project.dimensions,
        country=project.country("VN"),
        lang="vi",
    )
    out = figures.show(c, tmp_path, "poor_region")
    html_text = out.data
    assert 'alt="Người nghèo' not in html_text  # indicator label defaulted to id
    assert f'alt="{c.alt[:20]}' in html_text
    assert 'href="tables/poor_region.csv"' in html_text and "Tải dữ liệu (CSV)" in html_text
    assert "<details><summary>Bảng: dữ liệu của biểu đồ này</summary>" in html_text
    assert "<td>55,0</td>" in html_text  # numbers in the report's language in the HTML table
    assert (tmp_path / "tables" / "poor_region.csv").is_file()
    # The image is the saved file, linked relative to the page (no data URI: small pages).
    assert '<img src="figures/poor_region.svg" alt=' in html_text
    assert "data:image" not in html_text and (tmp_path / "figures" / "poor_region.svg").is_file()
    with pytest.raises(ValueError):
        c.save(tmp_path, "../escape")


def test_show_inline_embeds_the_svg_for_plain_jupyter(est, project, tmp_path):
    c = figures.dot_whisker(
        est, "poor", "region", dimensions=project.dimensions, country=project.country("VN")
    )
    html_text = figures.show(c, tmp_path, "poor_region", inline=True).data
    svg = (tmp_path / "figures" / "poor_region.svg").read_bytes()
    assert 'src="data:image/svg+xml;base64,' + base64.b64encode(svg).decode() in html_text
    assert f'alt="{c.alt[:20]}' in html_text and 'href="tables/poor_region.csv"' in html_text


def test_phone_width_and_font_sizes(est, project):
    c = figures.dot_whisker(
        est, "poor", "region", dimensions=project.dimensions, country=project.country("VN")
    )
    assert c.fig.get_figwidth() <= 6.4
    c.fig.canvas.draw() if hasattr(c.fig.canvas, "draw") else None
    sizes = [
        tx.get_fontsize()
        for tx in c.fig.findobj(
            lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text") and a.get_text()
        )
    ]
    assert sizes and min(sizes) >= 9


def test_vietnamese_renders_without_missing_glyphs():
    assert figures.missing_glyphs(VI_TEXT) == []
    with figures.style(), warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph is a UserWarning
        fig = Figure()
        fig.text(0.1, 0.5, VI_TEXT)
        fig.savefig(io.BytesIO(), format="svg")


def test_missing_glyph_check_detects_an_uncovered_script():
    # Positive control for the check above: DejaVu Sans has no Bengali; with a Bengali font
    # installed (fonts-noto-core / fonts-lohit-beng-bengali) the list is empty.
    missing = figures.missing_glyphs("বাংলা")
    has_bengali_font = len(figures.available_fonts()) > 1
    assert (missing == []) == has_bengali_font


def test_missing_columns_raise_input_error(project):
    with pytest.raises(InputError, match="ci_low"):
        figures.dot_whisker(
            pd.DataFrame({"variable": [], "grouping": [], "estimate": [], "n": [], "ci_high": []}),
            "x", "", dimensions=project.dimensions, country=None,
        )  # fmt: skip


def test_empty_selection_gives_no_data_chart(est, project):
    c = figures.dot_whisker(
        est, "nothing", "region", dimensions=project.dimensions, country=project.country("VN")
    )
    assert "No data to show" in c.alt and c.table.empty


def test_bengali_renders_when_a_bengali_font_is_installed():
    if figures.missing_glyphs("বাংলা"):
        pytest.skip(
            "no Bengali font installed (Debian fonts-noto-core or fonts-lohit-beng-bengali)"
        )
    with figures.style(), warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = Figure()
        fig.text(0.1, 0.5, "প্রতিবন্ধী নারী: ১২,৩৪৫ — Tiếng Việt")
        fig.savefig(io.BytesIO(), format="svg")


def test_heatmap_marks_the_significance_the_table_gives(est, project):
    # the large North gap is not marked (the table says not significant), the small Central
    # one is; a suppressed cell is never marked, whatever the table says
    given = est.assign(significant=est["region"].isin(["central", "south"]))
    c = figures.heatmap(
        given, ["poor"], ["region"], dimensions=project.dimensions, country=project.country("VN")
    )
    sig = dict(zip(c.table["Group"], c.table["Significant"], strict=True))
    assert sig == {"North": "", "Central & Central Highlands": "yes", "South": ""}
    starred = [t.get_text() for t in c.fig.axes[0].texts if figures.SIGNIFICANT in t.get_text()]
    assert len(starred) == 1
    assert "significant" in c.alt.lower()


def test_every_chart_kind_has_alt_text_and_a_matching_csv(est, project, tmp_path):
    kw = dict(dimensions=project.dimensions, country=project.country("VN"), lang="vi")
    both = pd.concat([est.assign(cycle=2022), est.assign(cycle=2024)])
    charts = {
        "dot": figures.dot_whisker(est, "poor", "region", **kw),
        "panels": figures.dot_whisker_panels(est, "poor", ["region", "sex×disability"], **kw),
        "heat": figures.heatmap(est, ["poor", "school"], ["region", "sex×disability"], **kw),
        "trend": figures.trend(both, "poor", grouping="region", **kw),
        "counts": figures.counts_bar(
            pd.DataFrame({"label": ["=cmd", "b"], "n": [3, 4]}), what="x", lang="vi"
        ),
        "card": figures.scorecard_dumbbell(
            pd.DataFrame({"criterion": ["a"], "community": [2.0], "provider": [3.0]}),
            service="s",
            lang="vi",
        ),
    }
    for name, chart in charts.items():
        assert len(chart.alt) > 40 and chart.alt.startswith(chart.title)
        _, csv_path = chart.save(tmp_path, name)
        back = pd.read_csv(csv_path, encoding="utf-8-sig", keep_default_na=False)
        assert list(back.columns) == list(chart.table.columns)
        assert len(back) == len(chart.table)
        for col in chart.table.columns:
            for mine, theirs in zip(chart.table[col], back[col], strict=True):
                if isinstance(mine, str):
                    assert theirs == ("'" + mine if mine.startswith("=") else mine)
                elif pd.isna(mine):
                    assert theirs == ""
                else:
                    assert float(theirs) == pytest.approx(float(mine))


# --------------------------------------------------------------------------- small multiples


@pytest.fixture
def est_dims(est):
    """`est` plus sex and disability breakdowns of 'poor' (three single dimensions)."""
    more = [
        _row("poor", "sex", 0.45, 500, sex="female", N=5e5),
        _row("poor", "sex", 0.35, 390, sex="male", N=4.9e5),
        _row("poor", "sex", 0.0, 4, suppressed=True, suppression="primary", sex="intersex", N=1e4),
        _row("poor", "disability", 0.61, 150, disability="with_disability", N=1.5e5),
        _row("poor", "disability", 0.36, 750, disability="without_disability", N=8.5e5),
    ]  # fmt: skip
    return pd.concat([est, pd.DataFrame(more)], ignore_index=True)


def _panels(est_dims, project, lang="en", groupings=("region", "sex", "disability")):
    return figures.dot_whisker_panels(
        est_dims, "poor", list(groupings), dimensions=project.dimensions,
        country=project.country("VN"), lang=lang, indicator_label="Living in poverty",
    )  # fmt: skip


def _panel_titles(chart):
    """Panel titles top to bottom (figure text above each panel; the figure title aside)."""
    texts = [tx for tx in chart.fig.texts if tx is not chart.fig._suptitle]
    return [tx.get_text() for tx in sorted(texts, key=lambda tx: -tx.get_position()[1])]


def test_panels_one_per_dimension_sharing_the_value_axis_and_overall(est_dims, project):
    c = _panels(est_dims, project)
    axes = c.fig.axes
    assert _panel_titles(c) == ["Region", "Sex", "Disability"]
    assert all(ax.get_shared_x_axes().joined(axes[0], ax) for ax in axes)
    assert all(ax.get_xlim() == (0.0, 100.0) for ax in axes)
    for ax in axes:  # the dashed overall line (40%) in every panel
        dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
        assert [float(ln.get_xdata()[0]) for ln in dashed] == [40.0]
    # Dots high to low within each panel, suppressed rows last and marked without a dot.
    ticks = [
        [tl.get_text() for tl in sorted(ax.get_yticklabels(), key=lambda tl: -tl.get_position()[1])]
        for ax in axes
    ]  # fmt: skip
    assert ticks == [
        ["Central & Central Highlands", "North", "South"],
        ["Female", "Male", "Intersex"],
        ["With disability", "Without disability"],
    ]
    assert [tx.get_text() for tx in axes[1].texts] == ["suppressed: fewer than 5 respondents"]
    dots = [_dots(c, ax) for ax in axes]
    # One line for a panel's whiskers and one per dot face, not two lines per row.
    assert all(len(ax.lines) <= 4 for ax in axes)
    whiskers = [
        ln for ln in axes[0].lines if ln.get_linestyle() == "-" and ln.get_marker() == "None"
    ]
    assert len(whiskers) == 1  # a segment per shown row, broken by NaN, at the row's y
    seg = np.column_stack(whiskers[0].get_data()).reshape(-1, 3, 2)
    assert np.isnan(seg[:, 2]).all()
    want = [[[55 - 17.64, 2], [55 + 17.64, 2]], [[30 - 5.88, 1], [30 + 5.88, 1]]]
    np.testing.assert_allclose(seg[:, :2], want)
    assert dots[0] == [(pytest.approx(55.0), False), (pytest.approx(30.0), True)]  # caution hollow
    assert [x for x, _ in dots[1]] == [pytest.approx(45.0), pytest.approx(35.0)]
    # Panel height follows the number of groups: every row the same height (3 : 3 : 2).
    c.fig.draw_without_rendering()
    heights = [ax.get_position().height for ax in axes]
    assert heights[0] == pytest.approx(heights[1], rel=0.02)
    assert heights[2] / heights[0] == pytest.approx(2 / 3, rel=0.05)
    legend = [tx.get_text() for tx in c.fig.legends[0].get_texts()]
    assert "use with caution" in legend and "Overall: 40.0%" in legend


def test_panels_table_has_every_group_of_every_dimension(est_dims, project, tmp_path):
    c = _panels(est_dims, project)
    tab = c.table
    assert list(tab.columns) == ["Dimension", "Group", "Estimate (%)", "95% CI, lower",
                                 "95% CI, upper", "Respondents (n)", "Note"]  # fmt: skip
    assert list(zip(tab["Dimension"], tab["Group"], strict=True)) == [
        ("Region", "Central & Central Highlands"),
        ("Region", "North"),
        ("Region", "South"),
        ("Sex", "Female"),
        ("Sex", "Male"),
        ("Sex", "Intersex"),
        ("Disability", "With disability"),
        ("Disability", "Without disability"),
        ("", "All respondents"),
    ]
    by = tab.set_index(["Dimension", "Group"])
    for key in (("Region", "South"), ("Sex", "Intersex")):  # suppressed: kept, blank
        row = by.loc[key]
        assert row[["Estimate (%)", "95% CI, lower", "95% CI, upper"]].isna().all()
        assert (
            pd.isna(row["Respondents (n)"])
            and row["Note"] == "suppressed: fewer than 5 respondents"
        )
    assert by.loc[("Disability", "With disability"), "Estimate (%)"] == 61.0
    assert by.loc[("Region", "Central & Central Highlands"), "Note"] == "use with caution"
    assert by.loc[("", "All respondents"), "Respondents (n)"] == 900
    # The CSV is the same table (blank cells stay blank).
    _, csv_path = c.save(tmp_path, "poor--groups")
    back = pd.read_csv(csv_path, encoding="utf-8-sig", keep_default_na=False)
    assert back["Group"].tolist() == tab["Group"].tolist()
    assert back.loc[5, "Estimate (%)"] == "" and back.loc[5, "Respondents (n)"] == ""


def test_panels_alt_text_names_each_dimension_with_extremes(est_dims, project):
    c = _panels(est_dims, project)
    assert c.alt.startswith("Living in poverty, by group. ")
    assert "one panel for each of 3 breakdowns: Region, Sex, Disability." in c.alt
    assert "Region: highest Central & Central Highlands (55.0%), lowest North (30.0%)." in c.alt
    assert "Sex: highest Female (45.0%), lowest Male (35.0%)." in c.alt
    assert (
        "Disability: highest With disability (61.0%), lowest Without disability (36.0%)." in c.alt
    )
    assert "Overall: 40.0%." in c.alt
    assert (
        "Use with caution (few respondents or imprecise): Region: Central & Central Highlands."
        in c.alt
    )
    assert "(suppressed): Region: South; Sex: Intersex." in c.alt


def test_panels_svg_is_byte_identical(est_dims, project):
    assert _panels(est_dims, project).svg_bytes() == _panels(est_dims, project).svg_bytes()


def test_panels_in_vietnamese(est_dims, project):
    c = _panels(est_dims, project, lang="vi")
    assert _panel_titles(c) == ["Vùng", "Giới tính", "Khuyết tật"]
    assert c.table.columns[0] == "Khía cạnh" and c.table["Khía cạnh"].iloc[0] == "Vùng"
    assert c.table.iloc[-1, 1] == "Tất cả người trả lời"
    assert c.title == "Living in poverty, theo nhóm"
    assert "Giới tính: cao nhất Nữ (45,0%), thấp nhất Nam (35,0%)." in c.alt
    assert c.fig.axes[-1].get_xlabel() == "Phần trăm"


def test_panels_for_intersections(est_dims, project):
    c = _panels(est_dims, project, groupings=["sex×disability"])
    assert c.title == "Living in poverty, by intersecting groups"
    assert _panel_titles(c) == ["Sex × Disability"] and len(c.fig.axes) == 1
    assert c.table["Group"].tolist()[:3] == [
        "Female × With disability", "Female × Without disability", "Male × With disability",
    ]  # fmt: skip
    assert c.table["Note"].iloc[2] == "suppressed so that another hidden cell cannot be worked out"
    assert "Sex × Disability: highest Female × With disability (52.0%)" in c.alt
    # A grouping without rows gets no panel; none at all gives the no-data chart.
    assert (
        len(_panels(est_dims, project, groupings=["sex×disability", "urban_rural"]).fig.axes) == 1
    )
    empty = _panels(est_dims, project, groupings=["urban_rural"])
    assert "No data to show" in empty.alt and empty.table.empty


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_panels_layout_keeps_text_inside_and_panels_apart(est_dims, project, lang):
    """The panels are placed by hand (no layout engine): nothing may be clipped or overlap."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    c = _panels(est_dims, project, lang, ["region", "sex", "disability", "sex×disability"])
    canvas = FigureCanvasAgg(c.fig)
    with figures.style():
        canvas.draw()
        r = canvas.get_renderer()
        w, h = c.fig.bbox.width, c.fig.bbox.height
        texts = [tx for tx in c.fig.findobj(Text) if tx.get_visible() and tx.get_text().strip()]
        assert len(texts) > 20
        for tx in texts:
            box = tx.get_window_extent(r)
            assert box.x0 >= 0 and box.x1 <= w and box.y0 >= 0 and box.y1 <= h, tx.get_text()
        boxes = [ax.get_tightbbox(r) for ax in c.fig.axes]  # with tick and axis labels
        titles = sorted(
            (tx.get_window_extent(r) for tx in c.fig.texts if tx is not c.fig._suptitle),
            key=lambda b: -b.y0,
        )
        above = [c.fig._suptitle.get_window_extent(r), *boxes[:-1]]
        for title, upper, panel in zip(titles, above, boxes, strict=True):
            assert panel.y1 <= title.y0 and title.y1 <= upper.y0  # between the two panels
            assert title.x0 == pytest.approx(c.fig.axes[0].get_window_extent(r).x0, abs=1)
        assert c.fig.legends[0].get_window_extent(r).y1 <= boxes[-1].y0  # under the x label


def test_hidden_cells_say_why_primary_secondary_or_nobody_asked(est, project):
    """A group of 40 hidden to protect a small one is not "fewer than 5 respondents", and a
    group nobody in was asked (n = 0) is neither: the note and the alt text say which."""
    more = pd.DataFrame(
        [_row("poor", "sex×disability", 0.0, 0, suppressed=False, sex="male", disability="without_disability", N=0)]
    )  # fmt: skip
    more[["estimate", "se", "ci_low", "ci_high"]] = float("nan")
    rows = pd.concat([est, more], ignore_index=True)
    c = figures.dot_whisker(
        rows, "poor", "sex×disability", dimensions=project.dimensions,
        country=project.country("VN"), lang="en",
    )  # fmt: skip
    notes = dict(zip(c.table.iloc[:, 0], c.table.iloc[:, -1], strict=True))
    assert (
        notes["Male × With disability"]
        == "suppressed so that another hidden cell cannot be worked out"
    )
    assert notes["Male × Without disability"] == "no respondents in this group"
    assert "to protect a small group (secondary suppression): Male × With disability." in c.alt
    assert "No respondents in the group" in c.alt and "fewer than" not in c.alt
    p = _panels(rows, project, groupings=("region", "sex×disability"))
    assert "fewer than 5 respondents (suppressed): Region: South." in p.alt
    assert "(secondary suppression): Sex × Disability: Male × With disability." in p.alt


# --------------------------------------------------------------------------- official data grid


def test_official_cell_prefers_a_difference_then_an_official_value():
    assert figures.official_cell(["official data missing", "differ", "agree"]) == "differ"
    assert figures.official_cell(["official data missing", "agree"]) == "official"
    assert figures.official_cell(["official data missing", "suppressed"]) == "only_cgd"
    assert figures.official_cell(["suppressed", "not comparable"]) == "suppressed"


def test_official_grid_shows_goals_by_groups_with_counts_alt_and_symbols(project, tmp_path):
    st = ["agree", "official data missing", "differ", "official data missing", "suppressed"]
    cmp = pd.DataFrame(
        {"variable": ["a", "a", "b", "b", "c"], "grouping": ["", "sex", "", "sex", "sex"],
         "sex": [None, "female", None, "female", "male"], "status": st}
    )  # fmt: skip
    country = project.country("VN")
    for lang in ("en", "vi"):
        ch = figures.official_grid(cmp, {"a": 1, "b": 1, "c": 5}, dimensions=project.dimensions,
                                   country=country, lang=lang)  # fmt: skip
        assert ch.table.shape[0] == 3  # SDG 1 x (all, female); SDG 5 x male
    ch = figures.official_grid(cmp, {"a": 1, "b": 1, "c": 5}, dimensions=project.dimensions,
                               country=country, lang="en")  # fmt: skip
    rows = ch.table.values.tolist()
    # SDG 1, all respondents: a agrees, b differs -> "The two differ"; 2 compared, 2 with an
    # official value, 1 differing. Female: only citizen-generated data for both.
    assert rows[0] == ["SDG 1", "All respondents", "The two differ", 2, 0, 2, 1, 0]
    assert rows[1] == ["SDG 1", "Female", "Only citizen-generated data", 2, 2, 0, 0, 0]
    assert rows[2] == ["SDG 5", "Male", "Suppressed or not comparable", 1, 0, 0, 0, 1]
    assert ch.alt.startswith("Where official data has a value, by SDG and group. Grid of 2 SDGs")
    assert "In 1 of 3 cells only citizen-generated data has a value" in ch.alt
    svg = ch.svg_bytes().decode()
    for colour in (figures.OKABE_ITO["orange"], figures.OKABE_ITO["reddish_purple"]):
        assert colour.lower() in svg.lower()
    # Symbols, not colour alone: the cells' marks are drawn as text paths.
    texts = [t.get_text() for t in ch.fig.axes[0].texts]
    assert sorted(texts) == ["•", "≠"]
    ch.save(tmp_path, "official-grid")
    assert (tmp_path / "tables" / "official-grid.csv").is_file()
    empty = figures.official_grid(cmp, {}, dimensions=project.dimensions, country=country)
    assert empty.table.empty


def test_heatmap_says_which_rule_hid_a_cell(est, project):
    """Too few respondents: hatched; hidden so another hidden cell cannot be worked out:
    dotted; each with its own legend entry (issue 15)."""
    c = figures.heatmap(
        est, ["poor", "school"], ["region", "sex×disability"], dimensions=project.dimensions,
        country=project.country("VN"), labels={"poor": "Poverty", "school": "In school"},
    )  # fmt: skip
    hatches = [p.get_hatch() for p in c.fig.axes[0].patches if p.get_hatch()]
    assert hatches.count("...") >= 1 and hatches.count("///") >= 2
    legend = [h.get_label() for h in c.fig.legends[0].legend_handles]
    assert "hatched: fewer than 5 respondents" in legend
    assert "dotted: hidden so that another hidden cell cannot be worked out" in legend
    tab = c.table.set_index(["Group", "Indicator"])
    assert tab.loc[("Male × With disability", "Poverty"), "Note"] == (
        "suppressed so that another hidden cell cannot be worked out"
    )
