"""Registry validation: every error names the file, the entry (row) and the field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from voicescount.errors import ConfigError
from voicescount.registry import Project

TINY = Path(__file__).parent / "fixtures" / "tiny"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny(tmp_path) -> Project:
    shutil.copytree(TINY, tmp_path / "p")
    return Project(tmp_path / "p")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_fixture_and_repository_registries_load():
    tiny = Project(TINY)
    assert tiny.cycles() == [("ZZ", 2021), ("ZZ", 2023)]
    assert tiny.cycle("ZZ", 2021).synthetic
    repo = Project(REPO)
    assert {"VN", "KE", "BD"} <= {c.iso for c in repo.countries.countries}
    for iso, cyc in repo.cycles():
        assert repo.cycle(iso, cyc).country == iso


def test_bad_country_code_names_row_and_field(tiny):
    edit(tiny.root / "data/countries.yml", "iso: ZZ", "iso: Zed")
    with pytest.raises(ConfigError) as exc:
        _ = tiny.countries
    msg = str(exc.value)
    assert "countries.yml" in msg and "field 'iso'" in msg and "row" in msg


def test_misspelt_setting_is_named(tiny):
    edit(tiny.root / "data/ZZ/2021/cycle.yml", "synthetic:", "synthetc:")
    with pytest.raises(ConfigError) as exc:
        tiny.cycle("ZZ", 2021)
    assert exc.value.field == "synthetc" and "misspelt" in str(exc.value)


def test_impossible_goal_and_youth_band(tiny):
    edit(tiny.root / "data/ZZ/2023/cycle.yml", "sdgs: [1, 5]", "sdgs: [1, 18]")
    with pytest.raises(ConfigError, match="SDG 18 does not exist") as exc:
        tiny.cycle("ZZ", 2023)
    assert exc.value.field.startswith("sdgs")
    edit(tiny.root / "data/countries.yml", "youth: {min: 16, max: 30}", "youth: {min: 30, max: 16}")
    with pytest.raises(ConfigError, match="below min"):
        _ = Project(tiny.root).countries


def test_cycle_in_the_wrong_folder_and_missing_export(tiny):
    edit(tiny.root / "data/ZZ/2021/cycle.yml", "cycle: 2021", "cycle: 2022")
    with pytest.raises(ConfigError, match="lives in ZZ/2021") as exc:
        tiny.cycle("ZZ", 2021)
    assert exc.value.field == "country"
    (tiny.root / "data/ZZ/2023/exports/adults.csv").unlink()
    with pytest.raises(ConfigError, match="exports/adults.csv, which does not exist") as exc:
        tiny.cycle("ZZ", 2023)
    assert exc.value.field == "instruments.adults.data"


def test_language_not_spoken_in_the_country(tiny):
    edit(tiny.root / "data/ZZ/2021/cycle.yml", "languages: [en, vi]", "languages: [en, sw]")
    with pytest.raises(ConfigError, match="'sw' is not one of ZZ's languages"):
        tiny.cycle("ZZ", 2021)


def test_yaml_syntax_error_names_the_line(tiny):
    (tiny.root / "data/countries.yml").write_text("countries:\n  - iso: ZZ\n   name: [\n")
    with pytest.raises(ConfigError, match="not valid YAML") as exc:
        _ = tiny.countries
    assert str(exc.value.row).startswith("line ")


def test_missing_registry_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        _ = Project(tmp_path).countries


def test_cycle_is_parsed_once_per_file_state(tiny, monkeypatch):
    import os

    from voicescount import registry

    calls = []
    real = registry.load_model
    monkeypatch.setattr(registry, "load_model", lambda m, p: calls.append(p) or real(m, p))
    first = tiny.cycle("ZZ", 2021)
    assert tiny.cycle("ZZ", "2021") is first and len(calls) == 1 + 1  # cycle.yml, countries.yml
    path = tiny.root / "data/ZZ/2021/cycle.yml"
    edit(path, "languages: [en, vi]", "languages: [en]")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # coarse clocks
    assert tiny.cycle("ZZ", 2021).languages == ["en"] and len(calls) == 3
    assert Project(tiny.root).cycle("ZZ", 2021) is not first  # one cache per Project


@pytest.mark.parametrize(
    "how", ["absolute", "dotdot", "symlink", "other_cycle"], ids=lambda h: f"path_{h}"
)
def test_inputs_must_stay_inside_the_cycle_folder(tiny, tmp_path, how):
    """A report must not rest on files nobody keeps with the cycle: absolute paths, `..`
    and symbolic links out of data/<ISO>/<cycle>/ are refused, naming the key and path."""
    cyc = tiny.root / "data/ZZ/2021/cycle.yml"
    outside = tmp_path / "elsewhere" / "adults.csv"
    outside.parent.mkdir()
    shutil.copy(tiny.root / "data/ZZ/2021/exports/adults.csv", outside)
    before = outside.read_bytes()
    if how == "absolute":
        rel = str(outside)
    elif how == "dotdot":
        rel = "../../../../elsewhere/adults.csv"
    elif how == "symlink":
        (tiny.root / "data/ZZ/2021/exports/linked.csv").symlink_to(outside)
        rel = "exports/linked.csv"
    else:  # another cycle's export: inside data/, but not this cycle's
        rel = "../2023/exports/adults.csv"
    edit(cyc, "data: exports/adults.csv", f"data: {rel}")
    with pytest.raises(ConfigError) as exc:
        tiny.cycle("ZZ", 2021)
    assert exc.value.field == "instruments.adults.data"
    assert f"points to {rel}, which is" in exc.value.problem
    assert ("symbolic link out of" if how == "symlink" else "outside") in exc.value.problem
    assert "shared_folders" in exc.value.hint
    assert outside.read_bytes() == before


def test_a_declared_shared_folder_is_allowed_and_hashed(tiny):
    shared = tiny.root / "data/ZZ/shared"
    shared.mkdir()
    shutil.move(tiny.root / "data/ZZ/2021/exports/adults.csv", shared / "adults.csv")
    cyc = tiny.root / "data/ZZ/2021/cycle.yml"
    edit(cyc, "data: exports/adults.csv", "data: ../shared/adults.csv")
    with pytest.raises(ConfigError, match="outside the cycle folder"):
        tiny.cycle("ZZ", 2021)
    cyc.write_text(cyc.read_text(encoding="utf-8") + "shared_folders: [../shared]\n", "utf-8")
    assert tiny.cycle("ZZ", 2021).instruments["adults"].data == "../shared/adults.csv"
    assert shared / "adults.csv" in [p.resolve() for p in tiny.cycle_inputs("ZZ", 2021)]
    # a shared folder itself must be inside data/
    cyc.write_text(cyc.read_text(encoding="utf-8").replace("[../shared]", "[../../../..]"), "utf-8")
    with pytest.raises(ConfigError, match="is not a folder inside data/") as exc:
        tiny.cycle("ZZ", 2021)
    assert exc.value.field == "shared_folders[0]"


def test_every_schema_problem_of_a_file_is_named_at_once(tiny):
    cyc = tiny.root / "data/ZZ/2021/cycle.yml"
    edit(cyc, "population: adults", "population: grown-ups")
    edit(cyc, "sdgs: [1, 5]", "sdgs: [1, 19]\nsurvey_team: x")
    with pytest.raises(ConfigError) as exc:
        tiny.cycle("ZZ", 2021)
    text = exc.value.message()
    assert "and 2 more in this file" in text
    assert "SDG 19 does not exist" in text and "'sdgs" in text
    assert "field 'survey_team': is not a known setting" in text
    assert "field 'instruments.adults.population': Input should be 'adults'" in text
