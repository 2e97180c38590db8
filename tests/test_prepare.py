"""prepare_cycle end to end on a small project built in a temp folder: outputs, accounting,
caching, determinism, stopping errors; and validate_cycle's files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from voicescount import prepare
from voicescount.errors import ValidationFailed
from voicescount.registry import Project
from voicescount.validate import validate_cycle

WG = ["wg_seeing", "wg_hearing", "wg_walking", "wg_cognition", "wg_selfcare", "wg_communication"]

INDICATORS = {
    "indicators": [
        {
            "id": "school_youth",
            "sdg": {"goal": 4, "target": "4.1"},
            "instrument": "adults",
            "rule": {"item": "q_school", "equals": "yes"},
            "population": {"item": "youth", "equals": "youth"},
            "label": {"en": "In school"},
            "definition": {"en": "Share of youth in school"},
        },
        {
            "id": "safe_child",
            "sdg": {"goal": 16, "target": "16.1"},
            "instrument": "children",
            "rule": {"item": "q_safe", "in": [1, 2]},
            "label": {"en": "Feels safe"},
            "definition": {"en": "Share of children who feel safe"},
        },
    ]
}


def _adults_csv(path: Path) -> None:
    rows = []
    for i in range(12):
        rows.append(
            {
                "respondent_id": f"a{i:02d}",
                "consent": "yes" if i != 3 else "no",  # row 5: no consent -> quarantined
                "region": ["north", "south"][i % 2],
                "sex": ["female", "male"][i % 2],
                "age": 18 + 4 * i,
                "weight": 2.0,
                "stratum": "s1",
                "psu": f"p{i % 4}",
                "gender_identity": "woman" if i % 2 == 0 else "man",
                "sexual_orientation": "heterosexual" if i != 6 else "gay",
                **{w: (3 if (i == 2 and w == "wg_walking") else 1) for w in WG},
                "q_school": ["yes", "no"][i % 3 == 0],
            }
        )
    pd.DataFrame(rows).to_csv(path, index=False)


def _children_csv(path: Path) -> None:
    rows = []
    for i in range(6):
        rows.append(
            {
                "respondent_id": f"c{i:02d}",
                "consent": "yes",
                "region": "north",
                "sex": "female" if i % 2 else "male",
                "age": 11 + i,  # 16 is outside the child band -> quarantined
                "weight": 1.0,
                "stratum": "s1",
                "psu": "p1",
                "cf_seeing": 1,
                "cf_anxiety": 1 if i == 0 else 5,
                "q_safe": 1 + i % 3,
            }
        )
    pd.DataFrame(rows).to_csv(path, index=False)


@pytest.fixture()
def project(tmp_path, project_root) -> Project:
    data = tmp_path / "data"
    data.mkdir()
    for name in ("contract.yml", "countries.yml", "dimensions.yml", "rules.yml"):
        shutil.copy(project_root / "data" / name, data / name)
    (data / "indicators.yml").write_text(yaml.safe_dump(INDICATORS), encoding="utf-8")
    cdir = data / "VN" / "2022"
    (cdir / "exports").mkdir(parents=True)
    _adults_csv(cdir / "exports" / "adults.csv")
    _children_csv(cdir / "exports" / "children.csv")
    inst = {"format": "csv", "codes": {"consent": {"yes": True, "no": False}}}
    cycle = {
        "country": "VN",
        "cycle": 2022,
        "languages": ["en"],
        "sdgs": [4, 16],
        "instruments": {
            "adults": {
                "label": {"en": "Adults"},
                "population": "adults",
                "data": "exports/adults.csv",
                **inst,
            },
            "children": {
                "label": {"en": "Children"},
                "population": "children",
                "data": "exports/children.csv",
                **inst,
            },
        },
    }
    (cdir / "cycle.yml").write_text(yaml.safe_dump(cycle, sort_keys=False), encoding="utf-8")
    return Project(tmp_path)


def test_prepare_outputs_and_accounting(project):
    p = prepare.prepare_cycle(project, "VN", 2022)
    s = p.summary
    assert s["instruments"]["adults"]["received"] == 12
    assert s["instruments"]["adults"]["quarantined"] == 1
    assert s["instruments"]["children"]["quarantined"] == 1
    assert s["received"] == s["kept"] + s["quarantined"] == 18
    adults = p.data("adults")
    assert len(adults) == 11 and adults["respondent_id"].is_monotonic_increasing
    assert adults.loc[adults["respondent_id"] == "a02", "disability"].item() == "with_disability"
    assert adults.loc[adults["respondent_id"] == "a06", "lgbt"].item() == "lgbt"
    assert "sex×disability" in adults
    # indicator: 1/0 for youth, NaN outside the population
    yo = adults.set_index("respondent_id")
    assert yo.loc["a00", "school_youth"] == 0.0 and yo.loc["a01", "school_youth"] == 1.0
    assert pd.isna(yo.loc["a10", "school_youth"])  # 58: not youth
    kids = p.data("children")
    assert kids["child_functioning"].tolist() == ["with_difficulty"] + ["without_difficulty"] * 4
    assert set(kids["safe_child"]) <= {0.0, 1.0}
    both = p.all_respondents()
    assert len(both) == 16 and set(both["instrument"]) == {"adults", "children"}
    assert set(p.quarantine["reason"].str.split(" ").str[0]) == {"consent", "child_age_band"}
    assert p.validation is not None and p.validation.ok


def test_cache_and_determinism(project, tmp_path):
    first = prepare.prepare_cycle(project, "VN", 2022)
    names = [
        "adults.parquet",
        "children.parquet",
        "issues.csv",
        "quarantine.csv",
        "cleaning_log.csv",
        "summary.json",
    ]
    before = {n: (first.dir / n).read_bytes() for n in names}
    mtimes = {n: (first.dir / n).stat().st_mtime_ns for n in names}
    again = prepare.prepare_cycle(project, "VN", 2022)  # cached: nothing rewritten
    assert {n: (again.dir / n).stat().st_mtime_ns for n in names} == mtimes
    assert again.validation is not None and again.validation.counts["adults"]["kept"] == 11
    forced = prepare.prepare_cycle(project, "VN", 2022, force=True)
    assert {n: (forced.dir / n).read_bytes() for n in names} == before
    # a changed input invalidates the cache
    csv = project.cycle_dir("VN", 2022) / "exports" / "children.csv"
    csv.write_text(csv.read_text().replace("c05,yes,north,female,16", "c05,yes,north,female,15"))
    changed = prepare.prepare_cycle(project, "VN", 2022)
    assert changed.summary["instruments"]["children"]["quarantined"] == 0
    assert json.loads((changed.dir / "summary.json").read_text())["kept"] == 17


def test_stopping_error_raises_and_writes_issues(project):
    csv = project.cycle_dir("VN", 2022) / "exports" / "adults.csv"
    df = pd.read_csv(csv).drop(columns=["psu"])
    df.to_csv(csv, index=False)
    with pytest.raises(ValidationFailed) as exc:
        prepare.check_cycle(project, "VN", 2022)
    assert "psu" in str(exc.value) and "issues.csv" in str(exc.value)
    issues = pd.read_csv(project.build_dir("VN", 2022) / "issues.csv")
    assert ((issues["rule"] == "file") & (issues["column"] == "psu")).any()
    assert not (project.build_dir("VN", 2022) / "summary.json").exists()


def test_validate_cycle_writes_files(project, tmp_path):
    cv = validate_cycle(project, "VN", 2022, tmp_path / "out")
    assert cv.ok
    for key in ("issues", "cleaning_log", "quarantine"):
        assert cv.paths[key].exists()
    q = pd.read_csv(cv.paths["quarantine"])
    assert sorted(q["respondent_id"]) == ["a03", "c05"]
    text = cv.summary()
    assert "adults" in text and "consent" in text


def test_cli_validate_path_and_flags(project, capsys, tmp_path):
    """`voicescount validate PATH` / `--country --cycle`: summary, CSV files, exit codes."""
    from voicescount.cli import main

    cdir = project.cycle_dir("VN", 2022)
    code = main(["validate", str(cdir), "--out", str(tmp_path / "v")])
    out = capsys.readouterr().out
    assert code == 0  # quarantined rows alone do not stop the run
    assert "VN 2022: OK" in out and "consent" in out and "child_age_band" in out
    assert (tmp_path / "v" / "issues.csv").exists() and (
        tmp_path / "v" / "cleaning_log.csv"
    ).exists()
    code = main(["--root", str(project.root), "validate", "--country", "VN", "--cycle", "2022"])
    assert code == 0 and (project.build_dir("VN", 2022) / "validation" / "quarantine.csv").exists()
    csv = cdir / "exports" / "adults.csv"
    pd.read_csv(csv).drop(columns=["sex"]).to_csv(csv, index=False)
    code = main(["validate", str(cdir), "--out", str(tmp_path / "v")])
    out = capsys.readouterr().out
    assert code == 2 and "STOPPED" in out and "sex" in out
    code = main(["validate", str(tmp_path)])
    assert code == 2 and "cycle.yml" in capsys.readouterr().err


def _prepare_in_child(root: str) -> str:
    return prepare.prepare_cycle(Project(root), "VN", 2022).summary["input_key"]


@pytest.mark.slow
def test_parallel_processes_share_one_build(project):
    """Notebook processes of one cycle started together: one prepares, the others reuse."""
    import multiprocessing as mp

    with mp.get_context("fork").Pool(3) as pool:
        keys = pool.map(_prepare_in_child, [str(project.root)] * 3)
    assert len(set(keys)) == 1
    built = project.build_dir("VN", 2022)
    assert not list(built.glob(".*.tmp"))  # no temp file left behind
    assert json.loads((built / "summary.json").read_text())["input_key"] == keys[0]
