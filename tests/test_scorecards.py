"""Community score cards: means, gaps, regions, action follow-up across cycles."""

from __future__ import annotations

import pytest

from voicescount import scorecards
from voicescount.errors import InputError

SCORES = """cycle,region,commune,service,criterion,community_score,provider_score
2022,north,c1,health,attitude,2,4
2022,north,c2,health,attitude,3,5
2022,south,c3,health,attitude,4,4
2022,north,c1,health,waiting,1,3
2022,south,c3,health,waiting,2,
2024,north,c1,health,attitude,4,4
"""
ACTIONS = """action_id,cycle_raised,service,criterion,action_en,action_vi,responsible,due,status,status_cycle
a1,2022,health,attitude,Train staff,Tập huấn nhân viên,Commune health station,2023-06,in_progress,2022
a1,2022,health,attitude,Train staff,Tập huấn nhân viên,Commune health station,2023-06,done,2024
a2,2022,health,waiting,Open a second desk,,District health office,2023-12,not_started,2022
a2,2022,health,waiting,Open a second desk,,District health office,2023-12,dropped,2024
a3,2024,health,waiting,Publish opening hours,Công khai giờ mở cửa,Commune health station,2024-12,in_progress,2024
a4,2022,school,ramps,Build a ramp,Xây lối đi,Commune People's Committee,2023-01,done,2022
"""


@pytest.fixture
def scores(tmp_path):
    p = tmp_path / "scorecards.csv"
    p.write_text(SCORES, encoding="utf-8")
    return scorecards.read_scorecards(p)


@pytest.fixture
def actions(tmp_path):
    p = tmp_path / "scorecard_actions.csv"
    p.write_text(ACTIONS, encoding="utf-8")
    return scorecards.read_actions(p)


def test_summary_means_and_gap(scores):
    s = scorecards.summarise(scores).set_index(["cycle", "service", "criterion"])
    att = s.loc[(2022, "health", "attitude")]
    assert att["communes"] == 3
    assert att["community"] == pytest.approx(3.0)
    assert att["provider"] == pytest.approx(13 / 3)
    assert att["gap"] == pytest.approx((-2 - 2 + 0) / 3)
    wait = s.loc[(2022, "health", "waiting")]
    # c3 has no provider score: community mean uses both communes, the gap only the pair.
    assert wait["community"] == pytest.approx(1.5)
    assert wait["provider"] == pytest.approx(3.0)
    assert wait["gap"] == pytest.approx(-2.0) and wait["paired"] == 1
    assert s.loc[(2024, "health", "attitude"), "gap"] == 0


def test_summary_by_region_and_table(scores):
    s = scorecards.summarise(scores, by=("cycle", "region", "service", "criterion"))
    north = s[(s["cycle"] == 2022) & (s["region"] == "north") & (s["criterion"] == "attitude")]
    assert north[["communes", "community", "provider", "gap"]].values.tolist() == [
        [2, 2.5, 4.5, -2.0]
    ]
    tab = scorecards.scorecard_table(s, lang="vi")
    assert {"Điểm của cộng đồng", "Điểm của bên cung cấp", "Vùng"} <= set(tab.columns)


def test_action_followup_across_cycles(actions):
    f = scorecards.action_followup(actions).set_index("cycle")
    assert f.loc[2022, ["actions", "not_started", "in_progress", "done", "dropped"]].tolist() == [
        3,
        1,
        1,
        1,
        0,
    ]
    assert f.loc[2022, "completion_rate"] == pytest.approx(1 / 3)
    assert f.loc[2024, ["actions", "not_started", "in_progress", "done", "dropped"]].tolist() == [
        4,
        0,
        1,
        2,
        1,
    ]
    assert f.loc[2024, "completion_rate"] == pytest.approx(0.5)
    tab = scorecards.followup_table(scorecards.action_followup(actions), lang="vi")
    assert tab["Đã hoàn thành (%)"].tolist() == [33.3, 50.0]


def test_action_table_in_language(actions):
    tab = scorecards.action_table(actions, 2024, lang="vi")
    assert len(tab) == 4
    row = tab[tab["Hành động"] == "Tập huấn nhân viên"].iloc[0]
    assert row["Tình trạng"] == "Đã hoàn thành"
    # untranslated action falls back to English
    assert "Open a second desk" in tab["Hành động"].tolist()
    first = scorecards.action_table(actions, 2022, lang="en")
    assert len(first) == 3 and "Publish opening hours" not in first["Action"].tolist()


@pytest.mark.parametrize(
    ("old", "new", "pattern"),
    [
        (
            "c2,health,attitude,3,5",
            "c2,health,attitude,3,6",
            r"row 3, field 'provider_score'.*1 to 5",
        ),
        ("2022,south,c3,health,waiting", "22,south,c3,health,waiting", r"row 6, field 'cycle'"),
        ("2024,north,c1,health,attitude", "2022,north,c1,health,attitude", r"row 7.*twice"),
    ],
)
def test_bad_scores(tmp_path, old, new, pattern):
    p = tmp_path / "scorecards.csv"
    p.write_text(SCORES.replace(old, new), encoding="utf-8")
    with pytest.raises(InputError, match=pattern):
        scorecards.read_scorecards(p)


@pytest.mark.parametrize(
    ("old", "new", "pattern"),
    [
        ("2023-06,done,2024", "2023-06,finished,2024", r"row 3, field 'status'"),
        (
            "2024-12,in_progress,2024",
            "2024-12,in_progress,2023",
            r"row 6, field 'status_cycle'.*before",
        ),
        ("2023-12,dropped,2024", "2023-12,dropped,2022", r"row 5.*two statuses"),
    ],
)
def test_bad_actions(tmp_path, old, new, pattern):
    p = tmp_path / "a.csv"
    p.write_text(ACTIONS.replace(old, new), encoding="utf-8")
    with pytest.raises(InputError, match=pattern):
        scorecards.read_actions(p)


def test_labels_from_catalogue_with_readable_fallback():
    assert scorecards.label("service", "commune_health_station", "vi") == "Trạm y tế xã"
    assert scorecards.label("criterion", "waiting_time", "en") == "Waiting time"
    assert scorecards.label("criterion", "road_quality", "vi") == "Road quality"


def test_actions_across_cycles(tmp_path):
    header = ACTIONS.splitlines()[0]
    (tmp_path / "2022.csv").write_text(
        header + "\na1,2022,health,attitude,Train,,CHS,2023,in_progress,2022\n", encoding="utf-8"
    )
    (tmp_path / "2024.csv").write_text(
        header + "\na1,2022,health,attitude,Train,,CHS,2023,done,2024\n", encoding="utf-8"
    )
    both = scorecards.read_actions_across([tmp_path / "2022.csv", tmp_path / "2024.csv"])
    f = scorecards.action_followup(both).set_index("cycle")
    assert f["done"].tolist() == [0, 1] and f["in_progress"].tolist() == [1, 0]
    with pytest.raises(InputError, match=r"2022.csv.*another file"):
        scorecards.read_actions_across([tmp_path / "2022.csv", tmp_path / "2022.csv"])


def test_example_data_reads(project_root):
    side = project_root / "data" / "VN"
    paths = sorted(side.glob("*/side/scorecard_actions.csv"))
    if not paths:
        pytest.skip("example data not generated")
    f = scorecards.action_followup(scorecards.read_actions_across(paths))
    assert (f["actions"].diff().dropna() >= 0).all()  # actions accumulate across cycles
    sc = scorecards.read_scorecards(paths[-1].parent / "scorecards.csv")
    s = scorecards.summarise(sc)
    assert s["community"].between(1, 5).all() and s["provider"].between(1, 5).all()
