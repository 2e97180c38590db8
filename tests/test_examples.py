"""The synthetic example generator: deterministic, valid against the registry, realistic shapes."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
import yaml

from voicescount.errors import ConfigError
from voicescount.registry import Project

ROOT = Path(__file__).resolve().parents[1]
# The generator is a repository tool (tools/examples), not part of the installed package.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from tools.examples import generate as examples  # noqa: E402

DATA = ROOT / "data"
REGISTRY = ("countries.yml", "dimensions.yml", "rules.yml", "contract.yml", "indicators.yml")
WG_ITEMS = (
    "wg_seeing",
    "wg_hearing",
    "wg_walking",
    "wg_cognition",
    "wg_selfcare",
    "wg_communication",
)


def _project_copy(tmp: Path, scale: float) -> Path:
    data = tmp / "data"
    data.mkdir(parents=True)
    for name in REGISTRY:
        shutil.copy(DATA / name, data / name)
    examples.generate(data, scale=scale)
    return tmp


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    return _project_copy(tmp_path_factory.mktemp("small"), scale=0.05)


def _read(cdir: Path, inst: dict) -> pd.DataFrame:
    path = cdir / inst["data"]
    if path.suffix == ".xlsx":
        return pd.read_excel(path)
    if path.suffix == ".sav":
        return pyreadstat.read_sav(str(path))[0]
    if path.suffix == ".dta":
        return pyreadstat.read_dta(str(path))[0]
    sep = ";" if b";" in path.read_bytes().splitlines()[0] else ","
    return pd.read_csv(path, sep=sep, encoding=inst.get("encoding") or "utf-8", dtype=str)


@pytest.mark.slow
def test_generator_is_byte_identical(small, tmp_path):
    other = _project_copy(tmp_path, scale=0.05)
    base_a, base_b = small / "data", other / "data"
    files_a = sorted(p for p in base_a.rglob("*") if p.is_file())
    files_b = sorted(p for p in base_b.rglob("*") if p.is_file())
    assert examples.digest(files_a, base_a) == examples.digest(files_b, base_b)
    # a different seed gives different data
    seeded = tmp_path / "seeded"
    examples.generate(seeded, seed=1, scale=0.05, registry_dir=DATA)
    assert (seeded / "VN/2022/exports/adults.xlsx").read_bytes() != (
        base_a / "VN/2022/exports/adults.xlsx"
    ).read_bytes()


def test_every_cycle_validates_and_maps_existing_columns(small):
    project = Project(small)
    cycles = project.cycles()
    assert ("VN", 2020) in cycles and ("KE", 2023) in cycles and ("BD", 2023) in cycles
    for iso, cyc in cycles:
        cycle = project.cycle(iso, cyc)
        assert cycle.synthetic
        for name, inst in cycle.instruments.items():
            df = _read(project.cycle_dir(iso, cyc), inst.model_dump())
            missing = [c for c in [*inst.mapping.values(), *inst.identifiers] if c not in df]
            assert not missing, f"{iso}/{cyc}/{name}: {missing}"
            for col in ("respondent_id", "weight", "stratum", "psu", "region", "consent"):
                assert col in inst.mapping, f"{iso}/{cyc}/{name} does not map {col}"


def test_indicator_items_exist_in_their_instruments():
    project = Project(ROOT)
    derived = {"youth", "disability", "age_group", "lgbt", "sex", "age"}
    for ind in project.indicators.indicators:
        needed = ind.rule.items() | (ind.population.items() if ind.population else set())
        cycle = project.cycle("VN", 2022)
        mapped = set(cycle.instruments[ind.instrument].mapping) | derived
        assert needed <= mapped, f"{ind.id}: {needed - mapped}"
        assert {"en", "vi"} <= set(ind.label) and {"en", "vi"} <= set(ind.definition)


def test_committed_counts_and_planted_problems():
    """Reads the committed VN 2022 files: counts in range, dirt and canary present."""
    cdir = DATA / "VN" / "2022"
    cyc = yaml.safe_load((cdir / "cycle.yml").read_text(encoding="utf-8"))
    frames = {n: _read(cdir, i) for n, i in cyc["instruments"].items()}
    assert 2200 <= len(frames["adults"]) <= 2400
    assert 150 <= len(frames["cso"]) <= 250
    assert 450 <= len(frames["children"]) <= 550
    assert 2800 <= sum(len(f) for f in frames.values()) <= 3200
    adults = frames["adults"]
    assert adults["_uuid"].duplicated().sum() >= 5
    assert adults["intro/consent"].isna().sum() >= 3
    assert {9, 131} <= set(adults["demographics/age"].dropna().astype(int))
    assert (adults["_validation_status"] == "Not Approved").sum() >= 3
    assert "quite_safe" in set(adults["sdg16/q_safe_walking"].dropna())
    minutes = (
        pd.to_datetime(adults["end"]) - pd.to_datetime(adults["start"])
    ).dt.total_seconds() / 60
    assert (minutes < 5).sum() >= 3
    comments = set(adults["closing/q_comment"].dropna())
    assert examples.HOSTILE_SCRIPT in comments and examples.HOSTILE_FORMULA in comments
    flat = adults.astype(str)
    assert (flat == examples.CANARY_NAME).any().any() and (
        flat == examples.CANARY_PHONE
    ).any().any()
    assert {"respondent_name", "phone"} <= {
        c.split("/")[-1] for c in cyc["instruments"]["adults"]["identifiers"]
    }
    # select_multiple both as one column and as 0/1 columns
    assert "sdg16/q_discrim_grounds" in adults and "sdg16/q_discrim_grounds/disability" in adults


@pytest.mark.slow
def test_planted_gaps_in_raw_data():
    """Women with disabilities in rural areas and minorities are behind; VN improves."""
    wg = list(WG_ITEMS)

    def load(cycle):
        df = pd.read_excel(DATA / "VN" / str(cycle) / "exports" / "adults.xlsx")
        df.columns = [c.split("/")[-1] for c in df.columns]
        df = df.loc[:, ~df.columns.duplicated()]
        return df

    df = load(2024)
    dis = df[wg].apply(pd.to_numeric, errors="coerce").ge(3).any(axis=1)
    water = df["q_water_basic"].eq("yes")
    target = dis & df["sex"].eq("female") & df["urban_rural"].eq("rural")
    others = ~dis & df["urban_rural"].eq("urban")
    assert water[target].mean() < water[others].mean() - 0.1
    mino = df["ethnicity"].eq("minority")
    assert (
        df.loc[mino, "q_discriminated"].eq("yes").mean()
        > df.loc[~mino, "q_discriminated"].eq("yes").mean()
    )
    lgbt = df["sexual_orientation"].isin(["lesbian", "gay", "bisexual"]) | df[
        "gender_identity"
    ].isin(["transgender_woman", "transgender_man", "non_binary"])
    assert 0.025 <= lgbt.mean() <= 0.06
    assert (
        load(2024)["q_climate_heard"].eq("yes").mean()
        > load(2020)["q_climate_heard"].eq("yes").mean()
    )


def test_design_has_two_psus_per_stratum_and_varying_weights():
    df = pd.read_excel(DATA / "VN" / "2022" / "exports" / "adults.xlsx")
    per = df.groupby("design/stratum")["location/commune_id"].nunique()
    assert per.min() >= 2
    assert df["design/weight"].std() > 0


def test_population_margins_are_consistent():
    pop = pd.read_csv(DATA / "VN" / "population.csv")
    totals = pop.groupby("dimension")["population"].sum()
    assert totals.nunique() == 1
    assert set(pop.loc[pop.dimension == "age_group", "code"]) == {
        "16-24",
        "25-34",
        "35-44",
        "45-59",
        "60+",
    }


def test_official_formats():
    un = pd.read_csv(DATA / "official" / "VN" / "unsdg" / "VC_SNS_WALN_DRK.csv")
    assert list(un.columns[:9]) == [
        "Goal",
        "Target",
        "Indicator",
        "SeriesCode",
        "SeriesDescription",
        "GeoAreaCode",
        "GeoAreaName",
        "TimePeriod",
        "Value",
    ]
    osdg = pd.read_csv(DATA / "official" / "VN" / "opensdg" / "indicator_16-1-4.csv")
    assert osdg.columns[0] == "Year" and osdg.columns[-1] == "Value"
    assert not any("isab" in c for c in osdg.columns)


@pytest.mark.slow
def test_committed_data_equals_fresh_generation(tmp_path):
    fresh = _project_copy(tmp_path, scale=1.0) / "data"
    files = sorted(
        p for iso in ["VN", "KE", "BD", "official"] for p in (fresh / iso).rglob("*") if p.is_file()
    )
    committed = sorted(
        p for iso in ["VN", "KE", "BD", "official"] for p in (DATA / iso).rglob("*") if p.is_file()
    )
    # Same file list (nothing stale, nothing missing) and the same bytes in every file.
    assert examples.digest(files, fresh) == examples.digest(committed, DATA)


def test_forms_are_data_with_shared_blocks():
    """The questionnaires come from tools/examples/forms/*.yml; includes expand as declared."""
    cso = {q.name: q for q in examples.FORMS["cso"]}
    assert "urban_rural" not in cso and "gps" not in cso  # include location without: [...]
    assert cso["stratum"].calculation == "${region}"  # include design set: {...}
    adults = examples.FORMS["adults"]
    assert [q.name for q in adults[:3]] == ["start", "end", "deviceid"]
    names = {
        f: [q.label for q in rows if q.name == "respondent_name"]
        for f, rows in examples.FORMS.items()
    }
    assert all(labels and labels[0].get("en") for labels in names.values())
    assert len({lab[0]["en"] for lab in names.values()}) == 3  # each form words it its own way
    group = next(q for q in adults if q.type == "begin_group" and q.name == "wg")
    assert group.label["en"].startswith("Difficulties")  # group labels from common.yml
    ke = examples.COUNTRIES["KE"]
    plan = examples.Plan("adults", "adults", 10, "odk-csv")
    age = next(q for q in examples.form_rows(plan, ke) if q.name == "age")
    assert age.constraint == ". >= 18 and . <= 110"
    assert examples._names("adults", "difficulty") == list(WG_ITEMS)
    assert examples.BASE_LISTS["yes_no"][0][0] == "yes"


@pytest.mark.parametrize(
    ("file", "old", "new", "expect"),
    [
        ("choices.yml", "- name: 'yes'", "- name: yes", "choices.yml, row yes_no#1"),
        ("cso.yml", "- include: closing", "- include: closng", "cso.yml, row"),
        ("cso.yml", "  - gps\n", "  - gsp\n", "no rows named ['gsp']"),
        ("adults.yml", "  required: true", "  required: 'yes'", "field 'required'"),
    ],
)
def test_bad_form_files_name_file_and_row(tmp_path, file, old, new, expect):
    forms = tmp_path / "forms"
    shutil.copytree(examples.FORMS_DIR, forms)
    text = (forms / file).read_text(encoding="utf-8")
    assert old in text
    (forms / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        examples.load_forms(forms)
    assert expect in str(err.value)
