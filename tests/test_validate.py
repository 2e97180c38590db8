"""Validation rules, each triggered by a small frame; quarantine accounting; file-level errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from voicescount import validate as V
from voicescount.contract import load_contract
from voicescount.errors import InputError
from voicescount.registry import Country, Cycle, Project


@pytest.fixture(scope="module")
def contract(project_root):
    return load_contract(project_root / "data")


@pytest.fixture(scope="module")
def vn() -> Country:
    return Country(
        iso="VN",
        name={"en": "Viet Nam"},
        languages=["en"],
        regions=[{"code": "north", "name": {"en": "N"}}, {"code": "south", "name": {"en": "S"}}],
        youth={"min": 16, "max": 30},
        age_bands=[16, 25, 35, 45, 60],
    )


@pytest.fixture(scope="module")
def cycle() -> Cycle:
    inst = {"label": {"en": "x"}, "min_duration_minutes": 10, "max_duration_minutes": 120}
    return Cycle.model_validate(
        {
            "country": "VN",
            "cycle": 2022,
            "languages": ["en"],
            "sdgs": [1],
            "instruments": {
                "adults": {**inst, "population": "adults", "data": "exports/adults.csv"},
                "children": {**inst, "population": "children", "data": "exports/children.csv"},
                "cso": {**inst, "population": "cso", "data": "exports/cso.csv"},
            },
        }
    )


def adults(n: int = 4, **over) -> pd.DataFrame:
    """A clean adults frame; keyword arguments override columns."""
    start = pd.Timestamp("2022-05-01 09:00", tz="UTC")
    df = pd.DataFrame(
        {
            "_source_row": np.arange(2, n + 2),
            "respondent_id": [f"r{i}" for i in range(n)],
            "consent": [True] * n,
            "region": ["north", "south"] * (n // 2) + ["north"] * (n % 2),
            "sex": ["female", "male"] * (n // 2) + ["female"] * (n % 2),
            "age": [20 + 7 * i for i in range(n)],
            "weight": [1.5] * n,
            "stratum": ["s1"] * n,
            "psu": [f"p{i}" for i in range(n)],
            "started_at": [start] * n,
            "ended_at": [start + pd.Timedelta(minutes=30)] * n,
            "wg_seeing": [1, 2, 3, 4][:n] + [1] * max(0, n - 4),
            "q_trust": list(range(n)),
        }
    )
    for k, v in over.items():
        df[k] = v
    return df


def run(df, contract, cycle, vn, name="adults"):
    return V.validate_instrument(df, contract, cycle, name, V.ValidationRules(country=vn))


def rules_of(res) -> list[tuple]:
    return sorted(
        zip(res.issues["row"].tolist(), res.issues["rule"], res.issues["severity"], strict=True)
    )


def test_clean_frame_passes_and_casts(contract, cycle, vn):
    df = adults()
    df["age"] = df["age"].astype(str)  # text from a CSV export
    res = run(df, contract, cycle, vn)
    assert res.issues.empty
    assert len(res.kept) == 4 and res.quarantine.empty
    assert str(res.kept["age"].dtype) == "Int64"


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("age", "twenty", "type"),
        ("age", 25.5, "type"),
        ("age", 130, "range"),
        ("sex", "F", "allowed_codes"),
        ("region", "atlantis", "allowed_codes"),
        ("wg_seeing", 9, "allowed_codes"),
        ("weight", 0, "range"),
        ("stratum", None, "required_value"),
        ("consent", False, "consent"),
        ("consent", None, "consent"),
        ("consent", "maybe", "type"),
        ("validation_status", "not_approved", "not_approved"),
    ],
)
def test_row_errors_quarantine(contract, cycle, vn, column, value, rule):
    df = adults()
    if column not in df:
        df[column] = "approved"
    df[column] = df[column].astype(object)
    df.loc[1, column] = value
    res = run(df, contract, cycle, vn)
    assert (3, rule, "error") in rules_of(res)
    assert res.quarantine["_source_row"].tolist() == [3]
    assert rule in res.quarantine["reason"].iloc[0]
    assert len(res.kept) + len(res.quarantine) == res.received == 4
    row = res.issues[res.issues["rule"] == rule].iloc[0]
    assert row["respondent_id"] == "r1" and row["file"] == "exports/adults.csv"
    assert row["hint"] and row["message"]


def test_unknown_code_hint_names_the_mapping(contract, cycle, vn):
    df = adults(sex=["female", "2", "male", "male"])
    res = run(df, contract, cycle, vn)
    hint = res.issues.loc[res.issues["rule"] == "allowed_codes", "hint"].iloc[0]
    assert "instruments.adults.codes.sex" in hint and "'2'" in hint


def test_missing_required_column_raises(contract, cycle, vn):
    df = adults().drop(columns=["sex", "psu"])
    with pytest.raises(InputError) as exc:
        run(df, contract, cycle, vn)
    msg = str(exc.value)
    assert "exports/adults.csv" in msg and "sex, psu" in msg and "instruments.adults.mapping" in msg


def test_duplicate_ids_same_and_different_answers(contract, cycle, vn):
    df = adults(6)
    df.loc[1, "respondent_id"] = "r0"  # same id, different answers: both quarantined
    df.loc[5] = df.loc[4]  # an exact resend: keep the first copy
    df.loc[5, "_source_row"] = 99
    res = run(df, contract, cycle, vn)
    dup = res.issues[res.issues["rule"] == "duplicate_id"]
    assert sorted(dup["row"].tolist()) == [2, 3, 99]
    assert sorted(res.quarantine["_source_row"].tolist()) == [2, 3, 99]
    assert res.received == len(res.kept) + len(res.quarantine) == 6


def test_duplicate_submission_other_id(contract, cycle, vn):
    df = adults(4)
    df.loc[3, [c for c in df.columns if c not in ("respondent_id", "_source_row")]] = df.loc[
        2, [c for c in df.columns if c not in ("respondent_id", "_source_row")]
    ]
    df.loc[3, "started_at"] = df.loc[2, "started_at"] + pd.Timedelta(minutes=5)
    df.loc[3, "ended_at"] = df.loc[2, "ended_at"] + pd.Timedelta(minutes=5)
    res = run(df, contract, cycle, vn)
    assert (5, "duplicate_submission", "error") in rules_of(res)
    assert res.quarantine["_source_row"].tolist() == [5]


def test_durations(contract, cycle, vn):
    df = adults(4)
    s = df["started_at"]
    df["ended_at"] = [
        s[0] + pd.Timedelta(minutes=3),
        s[1] + pd.Timedelta(minutes=300),
        s[2] - pd.Timedelta(minutes=1),
        s[3] + pd.Timedelta(minutes=11),
    ]
    res = run(df, contract, cycle, vn)
    got = rules_of(res)
    assert (2, "duration_short", "error") in got
    assert (3, "duration_long", "warning") in got
    assert (4, "duration_negative", "warning") in got
    assert res.quarantine["_source_row"].tolist() == [2]


def test_timestamps_as_kobo_text(contract, cycle, vn):
    df = adults(2)
    df["started_at"] = ["2022-05-01T09:00:00.000+07:00", "2022-05-01T09:00:00.000+07:00"]
    df["ended_at"] = ["2022-05-01T09:05:00.000+07:00", "2022-05-01T09:45:00.000+07:00"]
    res = run(df, contract, cycle, vn)
    assert rules_of(res) == [(2, "duration_short", "error")]


def test_skip_logic_children_and_cso(contract, cycle, vn):
    kids = adults(3, age=[10, 12, 16], gender_identity=["woman", None, None])
    kids = kids.drop(columns=["wg_seeing"])
    kids["cf_seeing"] = [1, 1, 1]
    res = run(kids, contract, cycle, vn, "children")
    got = rules_of(res)
    assert (2, "child_age_band", "error") in got and (4, "child_age_band", "error") in got
    assert (2, "children_no_sogi", "warning") in got
    assert res.kept["_source_row"].tolist() == [3]
    cso = adults(2).drop(columns=["sex", "age"])
    res = run(cso, contract, cycle, vn, "cso")
    assert [r[1] for r in rules_of(res)] == ["cso_no_wg", "cso_no_wg"]
    assert res.kept["wg_seeing"].isna().all() and len(res.kept) == 2
    assert set(res.log["action"]) == {"set_missing"} and len(res.log) == 2


def test_adult_too_young(contract, cycle, vn):
    res = run(adults(2, age=[15, 40]), contract, cycle, vn)
    assert rules_of(res) == [(2, "adult_age_band", "error")]


def test_accounting_with_many_errors(contract, cycle, vn):
    rng = np.random.default_rng(1)
    df = adults(40)
    df["sex"] = rng.choice(["female", "male", "x", None], size=40).astype(object)
    df["consent"] = rng.choice([True, False], size=40, p=[0.8, 0.2])
    res = run(df, contract, cycle, vn)
    assert res.received == 40 == len(res.kept) + len(res.quarantine)
    bad = set(res.issues.loc[res.issues["severity"] == "error", "row"])
    assert bad == set(res.quarantine["_source_row"])
    assert (res.log["action"] == "quarantine").sum() == len(res.quarantine)
    # issues are sorted (deterministic output)
    assert res.issues["row"].is_monotonic_increasing


def test_cycle_summary_and_stop(contract, cycle, vn, tmp_path):
    res = run(adults(3, consent=[False] * 3), contract, cycle, vn)
    cv = V.CycleValidation(
        iso="VN",
        cycle=2022,
        results={"adults": res},
        issues=res.issues,
        counts={"adults": res.counts()},
    )
    cv.stop_reasons.append("adults: every one of 3 rows was quarantined")
    text = cv.summary()
    assert "STOPPED" in text and "consent" in text and "Without recorded consent" in text
    with pytest.raises(V.ValidationFailed):
        cv.raise_if_stopped()
    V.write_csv(cv.quarantine(), tmp_path / "q.csv")
    q = pd.read_csv(tmp_path / "q.csv")
    assert list(q.columns[:4]) == ["instrument", "_source_row", "respondent_id", "reason"]
    assert len(q) == 3


# --------------------------------------------------------------------------- all problems at once

WG = ["wg_seeing", "wg_hearing", "wg_walking", "wg_cognition", "wg_selfcare", "wg_communication"]
WG_CHOICES = ["no_difficulty", "some_difficulty", "a_lot_of_difficulty", "cannot_do_at_all"]


def _kobo_like_cycle(root, n: int = 30):
    """ZZ 2021 as a Kobo project exports it: WG answers and sex as choice *names*, one mapped
    question missing from the export. Six WG columns + sex + the mapping = 8 problems."""
    import openpyxl
    import yaml

    cdir = root / "data" / "ZZ" / "2021"
    wb = openpyxl.Workbook()
    survey = wb.active
    survey.title = "survey"
    survey.append(["type", "name", "label::English (en)"])
    survey.append(["select_one sex", "sex", "Sex"])
    for q in WG:
        survey.append(["select_one wg", q, f"Difficulty ({q})"])
    choices = wb.create_sheet("choices")
    choices.append(["list_name", "name", "label::English (en)"])
    choices.append(["sex", "m", "Male"])
    choices.append(["sex", "f", "Female"])
    for c in WG_CHOICES:
        choices.append(["wg", c, c.replace("_", " ").capitalize()])
    (cdir / "forms").mkdir()
    wb.save(cdir / "forms" / "adults.xlsx")
    rows = []
    for i in range(n):
        row = {
            "respondent_id": f"r{i}",
            "consent": "true",
            "region": "north" if i % 2 else "south",
            "stratum": "north" if i % 2 else "south",
            "psu": f"c{i % 6}",
            "weight": 1.0,
            "sex": "m" if i % 3 else "f",
            "age": 20 + i,
        }
        row.update({q: WG_CHOICES[(i + k) % 4] for k, q in enumerate(WG)})
        rows.append(row)
    pd.DataFrame(rows).to_csv(cdir / "exports" / "adults.csv", index=False)
    path = cdir / "cycle.yml"
    cyc = yaml.safe_load(path.read_text(encoding="utf-8"))
    cyc["instruments"]["adults"]["form"] = "forms/adults.xlsx"
    cyc["instruments"]["adults"]["mapping"] = {"q_water_basic": "sdg6/water_source"}
    path.write_text(yaml.safe_dump(cyc, allow_unicode=True), encoding="utf-8")
    return cdir


def test_validate_reports_every_problem_and_one_fix_block(tiny_project, tmp_path):
    import yaml

    cdir = _kobo_like_cycle(tiny_project.root)
    project = Project(tiny_project.root)
    cv = V.validate_cycle(project, "ZZ", 2021, out_dir=tmp_path)
    assert not cv.ok
    # every problem of the instrument in one run, not the first only
    assert len(cv.stop_reasons) == 8, cv.stop_reasons
    assert sum("has codes that cycle.yml does not map" in r for r in cv.stop_reasons) == 7
    assert sum("has no column 'sdg6/water_source'" in r for r in cv.stop_reasons) == 1
    assert len(cv.issues) == 8 and set(cv.issues["column"]) >= set(WG) | {"sex"}
    block = cv.fix_yaml()
    fix = yaml.safe_load(block)
    codes = fix["instruments"]["adults"]["codes"]
    # guesses from the form: the n-th WG choice is code n; "Male" is the contract's "male"
    for q in WG:
        assert codes[q] == dict(zip(WG_CHOICES, [1, 2, 3, 4], strict=True))
    assert codes["sex"] == {"f": "female", "m": "male"}
    assert "# guess: choice 1 of 4 in list 'wg'" in block
    assert "# guess: its label is 'Male'" in block
    # the summary carries the block, and fixes.yml holds it
    text = cv.summary()
    assert "paste into data/ZZ/2021/cycle.yml" in text and "no_difficulty: 1" in text
    assert (tmp_path / "fixes.yml").read_text(encoding="utf-8") == block + "\n"

    # one round of edits: paste the block (the mapping has no guess: drop it) -> clean
    path = cdir / "cycle.yml"
    cyc = yaml.safe_load(path.read_text(encoding="utf-8"))
    cyc["instruments"]["adults"]["codes"] = codes
    cyc["instruments"]["adults"]["mapping"] = {}
    path.write_text(yaml.safe_dump(cyc, allow_unicode=True), encoding="utf-8")
    cv = V.validate_cycle(Project(tiny_project.root), "ZZ", 2021, out_dir=tmp_path)
    assert cv.ok, cv.summary()
    assert not (tmp_path / "fixes.yml").exists()


def test_one_problem_keeps_its_own_error(tiny_project, tmp_path):
    """A single problem is raised as itself (its class, place and hint), not wrapped."""
    from voicescount import intake

    cdir = tiny_project.root / "data" / "ZZ" / "2021"
    df = pd.read_csv(cdir / "exports" / "adults.csv")
    df["sex"] = ["m", "f", "m"]
    df.to_csv(cdir / "exports" / "adults.csv", index=False)
    project = Project(tiny_project.root)
    with pytest.raises(InputError, match="column 'sex'") as exc:
        intake.read_instrument(project, project.cycle("ZZ", 2021), "adults")
    assert type(exc.value) is InputError
    assert exc.value.fix == {
        "instruments": {"adults": {"codes": {"sex": {"f": ANY_FILL, "m": ANY_FILL}}}}
    }


class _AnyFill:
    def __eq__(self, other):
        from voicescount.errors import Fill

        return isinstance(other, Fill) and other.value == "TODO"


ANY_FILL = _AnyFill()


def test_validate_checks_every_row_of_the_side_files(tiny_project, tmp_path):
    """Bad side-file rows stop the run at validation, all of them at once, not one per run
    of the notebook that reads the file."""
    import yaml

    from voicescount import prepare

    cdir = tiny_project.root / "data" / "ZZ" / "2021"
    (cdir / "side").mkdir()
    (cdir / "side" / "activities.csv").write_text(
        "activity_id,type,date,region,group,participants,participants_female,"
        "participants_with_disability\n"
        "A1,kii,2021-03-02,north,youth,1,1,0\n"
        "A2,interview,2021-03-03,north,women,5,5,0\n"
        "A3,fgd,2021-03-04,south,women,six,2,0\n"
        "A4,fgd,2021-03-05,south,pwd,4,5,0\n",
        encoding="utf-8",
    )
    path = cdir / "cycle.yml"
    cyc = yaml.safe_load(path.read_text(encoding="utf-8"))
    cyc["activities"] = "side/activities.csv"
    path.write_text(yaml.safe_dump(cyc, allow_unicode=True), encoding="utf-8")
    cv = prepare.validate(Project(tiny_project.root), "ZZ", 2021, out_dir=tmp_path)
    assert not cv.ok
    side = cv.issues[cv.issues["file"].eq("side/activities.csv")]
    assert sorted(zip(side["row"].astype(int), side["column"], strict=True)) == [
        (3, "type"),
        (4, "participants"),
        (5, "participants_female"),
    ]
    assert len(cv.stop_reasons) == 3 and all(r.startswith("activities:") for r in cv.stop_reasons)
    assert "side/activities.csv row 3, type" in cv.summary()
