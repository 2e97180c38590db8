"""scaffold / `voicescount init-cycle`: draft cycle.yml files from XLSForms and exports.

The drafts are checked on three kinds of input: the real KoboToolbox/pyxform forms under
/work/shared/reference/kobo (read from there, never copied into the repository), the shipped
VN 2022 example (how much of the hand-written cycle.yml the draft reproduces), and the Nepal
worked example (handbook/examples/new-country): draft, one round of edits, validation OK.
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from pathlib import Path

import pytest
import yaml

from voicescount import cli, scaffold
from voicescount.errors import ConfigError
from voicescount.registry import Cycle, Project, parse_model
from voicescount.validate import validate_cycle
from voicescount.xlsform import read_form

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path("/work/shared/reference/kobo")
KIT = ROOT / "handbook" / "examples" / "new-country"

#: Floors for reproducing the shipped cycles (measured 100% of mapping and codes entries).
MAPPING_FLOOR = 0.95
CODES_FLOOR = 0.90


def _project(tmp_path: Path) -> Project:
    """A throwaway project: the shipped registries plus Nepal (the kit's countries.yml entry)."""
    data = tmp_path / "data"
    data.mkdir()
    for f in (ROOT / "data").glob("*.yml"):
        shutil.copy(f, data / f.name)
    entry = (KIT / "countries-NP.yml").read_text(encoding="utf-8")
    body = "".join(
        "  " + line for line in entry.splitlines(True) if line.strip() and line[0] != "#"
    )
    reg = data / "countries.yml"
    reg.write_text(reg.read_text(encoding="utf-8").rstrip("\n") + "\n" + body, encoding="utf-8")
    return Project(tmp_path)


def _cycle_of(text: str, path: Path) -> Cycle:
    return parse_model(Cycle, yaml.safe_load(text), path)


# ---------------------------------------------------------------------- real reference forms


def _reference_cases() -> list[Path]:
    return sorted(p for p in REFERENCE.iterdir() if p.is_dir()) if REFERENCE.is_dir() else []


def _form_and_export(folder: Path) -> tuple[Path, Path | None]:
    """The folder's form (the last JSON version, or the .xlsx with a survey sheet) and the
    Kobo data export when the folder has one."""
    import openpyxl

    files = sorted(folder.iterdir())
    forms = [f for f in files if f.suffix == ".json"]
    if not forms:
        for f in files:
            if f.suffix == ".xlsx":
                wb = openpyxl.load_workbook(f, read_only=True)
                if "survey" in [s.lower() for s in wb.sheetnames]:
                    forms.append(f)
                wb.close()
    exports = [f for f in files if f.suffix == ".xlsx" and f not in forms]
    return forms[-1], (exports[0] if exports else None)


@pytest.mark.skipif(
    not REFERENCE.is_dir(), reason=f"{REFERENCE} (real Kobo/pyxform forms) is not on this machine"
)
@pytest.mark.parametrize("folder", _reference_cases(), ids=lambda p: p.name)
def test_reference_forms_give_valid_drafts(tmp_path, folder):
    project = _project(tmp_path)
    cdir = project.cycle_dir("NP", 2025)
    (cdir / "forms").mkdir(parents=True)
    (cdir / "exports").mkdir()
    form, export = _form_and_export(folder)
    shutil.copy(form, cdir / "forms" / form.name)  # into tmp_path only, never the repository
    cb = read_form(form)
    if export is not None:
        shutil.copy(export, cdir / "exports" / "data.xlsx")
        exp = "exports/data.xlsx"
    else:  # formpack fixtures carry no export: its Kobo headers (group paths, meta)
        headers = [
            q.path
            for q in cb.questions.values()
            if q.type not in ("begin_group", "begin_repeat", "note") and not q.repeat
        ] + ["_uuid", "_submission_time", "_validation_status"]
        with (cdir / "exports" / "data.csv").open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows([headers, ["x"] * len(headers)])
        exp = "exports/data.csv"
    path, draft = scaffold.init_cycle(project, "NP", 2025, f"forms/{form.name}", exp,
                                      instrument="main", population="adults")  # fmt: skip
    text = path.read_text(encoding="utf-8")
    cyc = _cycle_of(text, path)
    inst = cyc.instruments["main"]
    assert inst.mapping["respondent_id"] == "_uuid"
    assert inst.form == f"forms/{form.name}" and inst.data == exp
    iso = [x for x in cb.languages if len(x) in (2, 3) and x.isalpha() and x.islower()]
    iso = [x for x in iso if x != "und"]
    if iso:  # a translated form: the label columns are the cycle's languages
        assert cyc.languages == iso
    if len(iso) > 1:
        assert len(cyc.languages) > 1
    idents = set(inst.identifiers)
    for q in cb.identifying_questions():  # every GPS/phone question's export column
        assert any(i == q.path or i.startswith(f"_{q.path}_") for i in idents), q.path
    if folder.name == "kobo-transfer__geolocation_test":
        assert {"Record_your_current_location", "_Record_your_current_location_latitude",
                "Record_a_line"} <= idents  # fmt: skip
    guesses = [ln for ln in text.splitlines() if "# guess:" in ln and ln.lstrip()[:1] != "#"]
    assert guesses and all(ln.split("#", 1)[0].strip() for ln in guesses)  # on a value's line


# ---------------------------------------------------------------------- VN 2022 reproduction


def _copy_cycle(tmp_path: Path, iso: str, cycle: int) -> Project:
    """A copy of a shipped cycle folder (forms, exports) without its cycle.yml."""
    project = _project(tmp_path)
    src = ROOT / "data" / iso / str(cycle)
    for sub in ("forms", "exports"):
        if (src / sub).is_dir():
            shutil.copytree(src / sub, project.cycle_dir(iso, cycle) / sub)
    return project


def _reproduction(tmp_path: Path, iso: str = "VN", cycle: int = 2022) -> dict[str, tuple]:
    """Committed mapping and code entries the draft reproduces exactly: {kind: (ok, all)}."""
    committed = Project(ROOT).cycle(iso, cycle)
    project = _copy_cycle(tmp_path, iso, cycle)
    path = project.cycle_dir(iso, cycle) / "cycle.yml"
    counts = {"mapping": [0, 0], "codes": [0, 0]}
    for name, inst in committed.instruments.items():
        scaffold.init_cycle(project, iso, cycle, inst.form, inst.data, name, inst.population)
        drafted = _cycle_of(path.read_text(encoding="utf-8"), path).instruments[name]
        for col, export in inst.mapping.items():
            counts["mapping"][1] += 1
            counts["mapping"][0] += drafted.mapping.get(col) == export
        for col, table in inst.codes.items():
            for code, value in table.items():
                got = drafted.codes.get(col, {})
                counts["codes"][1] += 1
                counts["codes"][0] += code in got and got[code] == value
    # each instrument after the first was added to the draft: goals and languages merged
    draft = _cycle_of(path.read_text(encoding="utf-8"), path)
    assert list(draft.instruments) == list(committed.instruments)
    assert draft.sdgs == committed.sdgs and draft.languages == committed.languages
    counts["fieldwork"] = [int(draft.fieldwork == committed.fieldwork), 1]
    return {k: (v[0], v[1]) for k, v in counts.items()}


@pytest.mark.parametrize("iso,cycle", Project(ROOT).cycles(), ids=lambda v: str(v))
def test_shipped_cycles_are_reproduced(tmp_path, iso, cycle):
    """Drafting a shipped cycle from its forms and exports reproduces the hand-written
    cycle.yml: the share of mapping and code entries equal to the committed ones (all its
    instruments: Kobo XLSX/CSV, ODK Central CSV, SPSS, Stata)."""
    counts = _reproduction(tmp_path, iso, cycle)
    (m_ok, m_all), (c_ok, c_all) = counts["mapping"], counts["codes"]
    print(f"{iso} {cycle}: mapping {m_ok}/{m_all}, codes {c_ok}/{c_all}")
    assert m_all > 50 and c_all >= 5
    assert m_ok / m_all >= MAPPING_FLOOR
    assert c_ok / c_all >= CODES_FLOOR
    assert counts["fieldwork"] == (1, 1)  # first and last interview day of the first export


def test_reproduction_measure_can_fail(tmp_path, monkeypatch):
    """Without the alias table the psu columns (commune_id) are no longer found."""
    monkeypatch.setattr(scaffold, "ALIASES", {})
    counts = _reproduction(tmp_path)
    assert counts["mapping"][0] < counts["mapping"][1]


# ---------------------------------------------------------------------- the Nepal example


def _np_project(tmp_path: Path) -> Project:
    project = _project(tmp_path)
    cdir = project.cycle_dir("NP", 2025)
    for sub in ("forms", "exports"):
        shutil.copytree(KIT / sub, cdir / sub)
    return project


#: The one round of edits the NP draft needs (dotted path in cycle.yml -> value): the caste
#: and ethnic groups of Nepal have no contract code the draft can infer (majority / minority
#: is the analyst's call). validate lists all six at once in its paste-ready block.
NP_EDITS = {
    "instruments.adults.codes.ethnicity.brahmin_chhetri": "majority",
    "instruments.adults.codes.ethnicity.janajati": "minority",
    "instruments.adults.codes.ethnicity.dalit": "minority",
    "instruments.adults.codes.ethnicity.madhesi": "minority",
    "instruments.adults.codes.ethnicity.muslim": "minority",
    "instruments.adults.codes.ethnicity.other": "minority",
}


def _apply(path: Path, edits: dict[str, object]) -> int:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for dotted, value in edits.items():
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return len(edits)


def test_np_kit_is_reproducible(tmp_path):
    from tools.examples import new_country

    files = new_country.generate(tmp_path)
    for f in files:
        assert f.read_bytes() == (KIT / f.relative_to(tmp_path)).read_bytes(), f.name


def test_np_end_to_end(tmp_path, capsys):
    project = _np_project(tmp_path)
    cdir = project.cycle_dir("NP", 2025)
    raw = {p: p.read_bytes() for p in cdir.rglob("*.xlsx")}
    t0 = time.perf_counter()
    code = cli.main(["--root", str(tmp_path), "init-cycle", "--country", "NP", "--cycle", "2025",
                     "--form", "forms/adults.xlsx", "--export", "exports/adults.xlsx"])  # fmt: skip
    t_init = time.perf_counter() - t0
    assert code == 0
    path = cdir / "cycle.yml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith(scaffold.DRAFT_MARK) and "voicescount validate" in text
    cyc = project.cycle("NP", 2025)  # the Project's own checks: languages, files
    assert cyc.languages == ["en", "ne"]
    assert (cyc.fieldwork.start, cyc.fieldwork.end) == ("2025-03-10", "2025-03-24")
    inst = cyc.instruments["adults"]
    m = inst.mapping
    assert m["region"] == "location/province" and m["province"] == "location/district"
    assert m["wg_walking"] == "wg/wg_q3"  # by the WG wording only
    assert m["wg_seeing"] == "wg/difficulty_seeing" and m["sex"] == "respondent/resp_sex"
    assert m["psu"] == "location/cluster_id" and m["weight"] == "design/sampling_weight"
    assert m["q_water_basic"] == "services/water_basic"
    assert inst.codes["wg_seeing"] == {"no_difficulty": 1, "some_difficulty": 2,
                                       "a_lot_of_difficulty": 3, "cannot_do_at_all": 4,
                                       "refused": None, "dont_know": None}  # fmt: skip
    assert inst.codes["region"]["province_3"] == "bagmati"
    assert {"location/gps", "respondent/respondent_name", "respondent/phone"} <= set(
        inst.identifiers
    )
    assert 'wg_walking: wg/wg_q3  # guess: matched by label "do you have difficulty walking' in text
    first = validate_cycle(project, "NP", 2025, tmp_path / "v1")
    assert not first.ok  # the caste groups: every unmapped code reported in the one run
    stop = " ".join(first.stop_reasons) + " ".join(first.issues["message"].astype(str))
    for code in ("brahmin_chhetri", "janajati", "dalit", "madhesi", "muslim"):
        assert code in stop
    n_edits = _apply(path, NP_EDITS)
    t1 = time.perf_counter()
    result = validate_cycle(project, "NP", 2025, tmp_path / "v2")
    t_validate = time.perf_counter() - t1
    assert result.ok, result.summary()
    assert result.counts["adults"]["kept"] == 60
    assert n_edits <= 6
    assert {p: p.read_bytes() for p in cdir.rglob("*.xlsx")} == raw  # raw files untouched
    print(f"NP: {n_edits} edits; init-cycle {t_init:.2f} s, validate {t_validate:.2f} s")


# ---------------------------------------------------------------------- refusals and adding


def test_refuses_to_overwrite_and_adds_an_instrument(tmp_path):
    project = _np_project(tmp_path)
    cdir = project.cycle_dir("NP", 2025)
    args = ("forms/adults.xlsx", "exports/adults.xlsx")
    path, _ = scaffold.init_cycle(project, "NP", 2025, *args)
    with pytest.raises(ConfigError, match="already has an instrument 'adults'"):
        scaffold.init_cycle(project, "NP", 2025, *args)
    # a second instrument (here the same files, as "youth") is appended to the draft
    scaffold.init_cycle(project, "NP", 2025, *args, instrument="youth", population="adults")
    cyc = _cycle_of(path.read_text(encoding="utf-8"), path)
    assert list(cyc.instruments) == ["adults", "youth"]
    youth, adults = cyc.instruments["youth"].mapping, cyc.instruments["adults"].mapping
    assert youth["wg_walking"] == adults["wg_walking"]
    assert "q_water_basic" not in youth  # the catalogue's items are the `adults` instrument's
    # a reviewed (hand-edited) cycle.yml is never touched without --force
    path.write_text(path.read_text(encoding="utf-8").split("\n", 1)[1], encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="not an init-cycle draft"):
        scaffold.init_cycle(project, "NP", 2025, *args, instrument="other")
    assert path.read_bytes() == before
    scaffold.init_cycle(project, "NP", 2025, *args, force=True)
    assert list(_cycle_of(path.read_text(encoding="utf-8"), path).instruments) == ["adults"]
    # the raw files must already be in the cycle folder
    outside = tmp_path / "elsewhere.xlsx"
    shutil.copy(cdir / "forms" / "adults.xlsx", outside)
    with pytest.raises(ConfigError, match="outside the cycle folder"):
        scaffold.init_cycle(project, "NP", 2025, outside, args[1], force=True)
    with pytest.raises(ConfigError, match="does not exist"):
        scaffold.init_cycle(project, "NP", 2025, "forms/missing.xlsx", args[1], force=True)


def test_cli_error_is_one_paragraph(tmp_path, capsys):
    _np_project(tmp_path)
    code = cli.main(["--root", str(tmp_path), "init-cycle", "--country", "NP", "--cycle", "2025",
                     "--form", "forms/nope.xlsx", "--export", "exports/adults.xlsx"])  # fmt: skip
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_unmatched_codes_are_todo_comments_not_values():
    d = scaffold.InstrumentDraft(key="a", population="adults", form="f.xlsx", data="d.csv",
                                 format="kobo-csv", values="xml", label={"en": "A"})  # fmt: skip
    d.mapping["sex"] = scaffold.Line("s", "guess: x")
    d.todo_codes["sex"] = ["'x' (label 'X')"]
    text = "\n".join(scaffold.instrument_yaml(d))
    inst = yaml.safe_load("i:\n" + text)["i"]["a"]
    assert inst["codes"] == {"sex": {}} and "# TODO: no contract code found for 'x'" in text


def test_codes_inferred_from_choice_names_and_labels(tmp_path):
    """Choices that are not contract codes map by name or label: m/f, numbered yes/no,
    WG answers worded otherwise, provinces by name; what cannot be inferred stays TODO."""
    project = _project(tmp_path)
    cdir = project.cycle_dir("NP", 2025)
    (cdir / "forms").mkdir(parents=True)
    (cdir / "exports").mkdir()
    survey = [
        {"type": "select_one g", "name": "gender", "label": "Sex of respondent"},
        {"type": "select_one yn", "name": "agree", "label": "Do you agree to take part?"},
        {"type": "select_one pr", "name": "prov", "label": "Province"},
        {"type": "select_one d", "name": "q7", "label": "Do you have difficulty seeing, "
         "even if wearing glasses?"},
        {"type": "select_one ar", "name": "settlement_type", "label": "Area"},
        {"type": "geotrace", "name": "route", "label": "Walk the boundary"},
        {"type": "text", "name": "hh_head_name", "label": "Name of the household head"},
    ]  # fmt: skip
    choices = [
        {"list_name": "g", "name": "m", "label": "Male"},
        {"list_name": "g", "name": "f", "label": "Female"},
        {"list_name": "g", "name": "x", "label": "Third gender"},
        {"list_name": "yn", "name": "1", "label": "Yes"},
        {"list_name": "yn", "name": "2", "label": "No"},
        *[{"list_name": "pr", "name": str(i), "label": f"{n} Province"}
          for i, n in enumerate(["Koshi", "Madhesh", "Bagmati", "Gandaki"], 1)],
        {"list_name": "d", "name": "none", "label": "No"},
        {"list_name": "d", "name": "some", "label": "Yes, some difficulty"},
        {"list_name": "d", "name": "lot", "label": "Yes, a lot of difficulty"},
        {"list_name": "d", "name": "cannot", "label": "Cannot do at all"},
        {"list_name": "d", "name": "dk", "label": "Don't know"},
        {"list_name": "ar", "name": "u", "label": "Urban area"},
        {"list_name": "ar", "name": "r", "label": "Rural area"},
    ]  # fmt: skip
    form = {"survey": survey, "choices": choices, "settings": {"form_title": "T"}}
    (cdir / "forms" / "f.json").write_text(json.dumps(form), encoding="utf-8")
    headers = ["gender", "agree", "prov", "q7", "settlement_type", "route", "hh_head_name",
               "_uuid", "_submission_time"]  # fmt: skip
    with (cdir / "exports" / "e.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([headers, ["m", "1", "3", "some", "u", "", "", "a", ""]])
    path, d = scaffold.init_cycle(project, "NP", 2025, "forms/f.json", "exports/e.csv",
                                  instrument="adults")  # fmt: skip
    inst = _cycle_of(path.read_text(encoding="utf-8"), path).instruments["adults"]
    assert inst.mapping["sex"] == "gender" and inst.mapping["consent"] == "agree"
    assert inst.mapping["region"] == "prov" and inst.mapping["wg_seeing"] == "q7"
    assert inst.mapping["urban_rural"] == "settlement_type"
    assert inst.codes["sex"] == {"m": "male", "f": "female"}
    assert d.todo_codes["sex"] == ["'x' (label 'Third gender')"]
    assert inst.codes["consent"] == {"1": True, "2": False}
    assert inst.codes["region"] == {"1": "koshi", "2": "madhesh", "3": "bagmati", "4": "gandaki"}
    assert inst.codes["wg_seeing"] == {"none": 1, "some": 2, "lot": 3, "cannot": 4, "dk": None}
    assert inst.codes["urban_rural"] == {"u": "urban", "r": "rural"}
    assert {"route", "hh_head_name"} <= set(inst.identifiers)
    assert "stratum" in d.missing and "# stratum: <export column>  # TODO" in path.read_text()
