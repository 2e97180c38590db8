"""Voices: counts of themes and stories, anonymised deterministic quotes, inert rendering."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest

from voicescount import voices
from voicescount.errors import InputError

SEGMENTS = """segment_id,activity_id,type,region,group,theme,sdg,language,text,story
s01,a1,fgd,north,women,water,6,vi,"Nước sạch rất xa, call Lan on 0912 345 678",1
s02,a1,fgd,north,women,water,6,vi,Chúng tôi phải đi bộ 2 km,0
s03,a2,fgd,north,pwd,water,6,vi,Giếng không có lối đi cho xe lăn,1
s04,a3,kii,central,youth,water,6,en,Write to an.nguyen@example.org for the report,0
s05,a3,kii,central,youth,jobs,8,en,No jobs after 2019-2020 for us,0
s06,a4,dialogue,south,pwd,jobs,8,vi,Nguyễn Văn An nói: không ai tuyển người khuyết tật,1
s07,a2,fgd,north,pwd,water,6,vi,<script>alert(1)</script>,0
"""
THEMES = """theme,sdg,label_en,label_vi
water,6,Clean water,Nước sạch
jobs,8,Decent jobs,
"""
ACTIVITIES = """activity_id,type,date,region,group,participants,participants_female,participants_with_disability
a1,fgd,2022-05-01,north,women,10,10,2
a2,fgd,2022-05-02,north,pwd,8,3,8
a3,kii,2022-05-03,central,youth,1,0,0
a4,dialogue,2022-05-04,south,pwd,25,12,9
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "qualitative.csv").write_text(SEGMENTS, encoding="utf-8")
    (tmp_path / "themes.csv").write_text(THEMES, encoding="utf-8")
    (tmp_path / "activities.csv").write_text(ACTIVITIES, encoding="utf-8")
    return tmp_path


@pytest.fixture
def seg(files):
    return voices.read_segments(files / "qualitative.csv")


@pytest.fixture
def themes(files):
    return voices.read_themes(files / "themes.csv")


def test_themes_by_group_counts_segments_activities_and_stories(seg, themes):
    g = voices.themes_by_group(seg, themes, lang="vi")
    # water reached 3 activities, jobs 2: water first.
    assert g[["theme", "group", "segments", "activities", "stories"]].values.tolist() == [
        ["water", "pwd", 2, 1, 1],
        ["water", "women", 2, 1, 1],
        ["water", "youth", 1, 1, 0],
        ["jobs", "pwd", 1, 1, 1],
        ["jobs", "youth", 1, 1, 0],
    ]
    assert g["theme_label"].tolist()[0] == "Nước sạch"
    assert g["theme_label"].tolist()[-1] == "Decent jobs"  # untranslated: English
    assert g["group_label"].tolist()[0] == "Người khuyết tật"


def test_theme_summary_counts_every_story(seg, themes):
    s = voices.theme_summary(seg, themes).set_index("theme")
    assert s.loc["water", "stories"] == 2 and s.loc["jobs", "stories"] == 1
    assert s.loc["water", "activities"] == 3 and s.loc["water", "groups"] == 3
    assert int(s["stories"].sum()) == int(seg["story"].sum())


def test_activities_summary(files):
    acts = voices.read_activities(files / "activities.csv")
    s = voices.activities_summary(acts, lang="en").set_index("Activity")
    assert s.loc["Focus group discussions"].tolist() == [2, 18, 13, 10]
    assert s.loc["Key informant interviews"].tolist() == [1, 1, 0, 0]
    assert s.loc["Community dialogues"].tolist() == [1, 25, 12, 9]
    assert s.loc["Total"].tolist() == [4, 44, 25, 19]


def test_scrub_phone_email_and_declared_names():
    text = "Gọi chị Lan 0912 345 678 hoặc +84 (91) 234-5678, email an.nguyen@example.org; năm 2019-2020."
    out = voices.scrub(text, ["Lan"])
    assert "0912" not in out and "234-5678" not in out and "@" not in out
    assert out.count("[phone]") == 2 and "[e-mail]" in out and "[name]" in out
    assert "2019-2020" in out  # a year range is not a phone number
    # Names: whole words, case-insensitive, longest first, NFC/NFD alike.
    import unicodedata

    nfd = unicodedata.normalize("NFD", "nguyễn văn an nói với Lan, Lanh ở lại")
    out = voices.scrub(nfd, ["Nguyễn Văn An", "Lan"], lang="vi")
    assert out == "[tên] nói với [tên], Lanh ở lại"
    assert voices.scrub("id 12345", [re.compile(r"id \d+")]) == "[name]"


def test_quotes_only_for_themes_raised_in_enough_activities(seg, themes):
    q = voices.select_quotes(seg, min_activities=3, per_theme=5, names=["Lan"], themes=themes)
    assert set(q["theme"]) == {"water"}  # jobs: 2 activities < 3
    # at most one quote per activity, so 3 quotes from a1, a2, a3
    assert len(q) == 3
    assert sorted(seg.set_index("segment_id").loc[q["segment_id"], "activity_id"]) == [
        "a1",
        "a2",
        "a3",
    ]
    joined = " ".join(q["text"])
    assert "0912" not in joined and "@example.org" not in joined and "Lan" not in joined
    q2 = voices.select_quotes(seg, min_activities=2, per_theme=1, themes=themes)
    assert q2["theme"].tolist() == ["jobs", "water"]


def test_quote_choice_is_deterministic_and_independent_of_row_order(seg):
    a = voices.select_quotes(seg, min_activities=1, per_theme=2)
    b = voices.select_quotes(seg.iloc[::-1].reset_index(drop=True), min_activities=1, per_theme=2)
    pd.testing.assert_frame_equal(a, b)


HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click me](javascript:alert(1))",
    "<a href='javascript:alert(1)'>x</a>",
    "```{code-cell} python\nimport os\n```",
    ":::{note}\nboo\n:::",
    "{eval-rst}`.. raw:: html` and {math}`x^2` and $x$",
    "# Heading\n- list\n    indented code",
    "visit www.evil.example or https://evil.example",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_as_text_is_inert(text):
    safe = voices.as_text(text)
    for bad in ("<", ">", "`", "{", "}", "javascript:", "onerror=", "](", ":::", "$", "\n", "www."):
        assert bad not in safe
    # ... and reads the same once decoded (nothing lost, nothing added)
    assert html.unescape(safe) == " ".join(text.split())


@pytest.mark.parametrize("text", HOSTILE)
def test_as_text_renders_verbatim_through_myst(text):
    mdit = pytest.importorskip("myst_parser.parsers.mdit")
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig

    md = mdit.create_md_parser(
        MdParserConfig(enable_extensions={"linkify", "dollarmath", "colon_fence", "deflist"}),
        RendererHTML,
    )
    out = md.render(voices.as_text(text))
    assert out.startswith("<p>") and out.count("<") == 2  # only <p> and </p>
    assert html.unescape(out[3:-5]) == " ".join(text.split())


def test_bad_inputs_name_file_row_and_field(files):
    path = files / "qualitative.csv"
    path.write_text(
        SEGMENTS.replace("s03,a2,fgd,north,pwd", "s03,a2,focus,north,pwd"), encoding="utf-8"
    )
    with pytest.raises(
        InputError, match=r"qualitative.csv, row 4, field 'type'.*Use one of: kii, fgd, dialogue"
    ):
        voices.read_segments(path)
    path.write_text(SEGMENTS.replace(",1\ns02", ",yes\ns02"), encoding="utf-8")
    with pytest.raises(InputError, match=r"row 2, field 'story'"):
        voices.read_segments(path)
    path.write_text("segment_id,text\n1,x\n", encoding="utf-8")
    with pytest.raises(InputError, match="lacks column"):
        voices.read_segments(path)
    acts = files / "activities.csv"
    acts.write_text(
        ACTIVITIES.replace(
            "a3,kii,2022-05-03,central,youth,1,0,0", "a3,kii,2022-05-03,central,youth,1,2,0"
        ),
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"row 4, field 'participants_female'.*exceeds"):
        voices.read_activities(acts)


def test_unknown_theme_is_reported(seg, themes, files):
    with pytest.raises(InputError, match="theme 'jobs' is not in themes.csv"):
        voices.check_themes(seg, themes[themes["theme"] != "jobs"], files / "qualitative.csv")
