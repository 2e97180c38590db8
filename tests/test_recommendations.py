"""Recommendations: uptake rate per cycle, partly integrated stated separately, tables."""

from __future__ import annotations

import pytest

from voicescount import recommendations as rec
from voicescount.errors import InputError

RECS = """rec_id,cycle,sdg,text_en,text_vi,target,vnr_chapter,status,evidence
r1,2020,5,Count unpaid care work,Thống kê công việc chăm sóc không lương,MOLISA,SDG 5,integrated,VNR 2020 p. 41
r2,2020,4.5,Sign language in schools,,MOET,SDG 4,integrated,VNR 2020 p. 33
r3,2020,1.2.1,Disaggregate poverty by disability,Phân tách nghèo theo khuyết tật,GSO,SDG 1,integrated,VNR 2020 p. 12
r4,2020,16,Consult CSOs on the VNR,,MPI,SDG 16,integrated,VNR 2020 p. 90
r5,2020,8,Youth jobs data,,MOLISA,SDG 8,partly,mentioned
r6,2022,13,Climate adaptation for PWD,,MONRE,SDG 13,not_integrated,
r7,2022,5,Violence survey,,GSO,SDG 5,partly,draft
"""


@pytest.fixture
def recs(tmp_path):
    p = tmp_path / "recommendations.csv"
    p.write_text(RECS, encoding="utf-8")
    return rec.read_recommendations(p)


def test_uptake_rate_per_cycle(recs):
    up = rec.uptake(recs).set_index("cycle")
    assert up.loc[2020, ["recommendations", "integrated", "partly", "not_integrated"]].tolist() == [
        5,
        4,
        1,
        0,
    ]
    assert up.loc[2020, "uptake_rate"] == pytest.approx(0.8)  # partly NOT folded in
    assert up.loc[2020, "partly_rate"] == pytest.approx(0.2)
    assert up.loc[2022, "uptake_rate"] == 0 and up.loc[2022, "partly"] == 1


def test_uptake_table_and_sentences_in_vietnamese(recs):
    up = rec.uptake(recs)
    tab = rec.uptake_table(up, lang="vi")
    assert tab["Được tiếp thu (%)"].tolist() == [80.0, 0.0]
    assert tab["Được tiếp thu một phần (%)"].tolist() == [20.0, 50.0]
    s = rec.uptake_sentences(up, lang="vi")
    assert s[0].startswith("Năm 2020, 4 trên 5 khuyến nghị (80%)")
    en = rec.uptake_sentences(up, lang="en")[1]
    assert en == (
        "In 2022, 0 of 2 recommendations (0%) were integrated into official reports; "
        "1 more (50%) were partly integrated."
    )


def test_recommendations_table_language_and_fallback(recs):
    tab = rec.recommendations_table(recs, lang="vi")
    assert tab["Khuyến nghị"].iloc[0] == "Thống kê công việc chăm sóc không lương"
    assert tab["Khuyến nghị"].iloc[1] == "Sign language in schools"  # no Vietnamese text yet
    assert tab["Tình trạng"].tolist()[:5] == ["Được tiếp thu"] * 4 + ["Được tiếp thu một phần"]
    assert tab["Cơ quan tiếp nhận"].iloc[0] == "MOLISA"


def test_uptake_by_target(recs):
    up = rec.uptake(recs, by="target").set_index("target")
    assert up.loc["GSO", ["recommendations", "integrated", "partly"]].tolist() == [2, 1, 1]


@pytest.mark.parametrize(
    ("old", "new", "pattern"),
    [
        (
            "MOLISA,SDG 8,partly",
            "MOLISA,SDG 8,partial",
            r"row 6, field 'status'.*integrated, partly, not_integrated",
        ),
        ("r6,2022,13", "r6,2022,18", r"row 7, field 'sdg'"),
        ("r7,2022", "r1,2022", r"row 8, field 'rec_id'.*twice"),
        ("r2,2020", "r2,20x0", r"row 3, field 'cycle'"),
    ],
)
def test_bad_rows(tmp_path, old, new, pattern):
    p = tmp_path / "recommendations.csv"
    p.write_text(RECS.replace(old, new), encoding="utf-8")
    with pytest.raises(InputError, match=pattern):
        rec.read_recommendations(p)
