"""publish: Open SDG, SDMX-CSV and download files follow their formats and leak nothing."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
import yaml

from voicescount.errors import ConfigError, InputError
from voicescount.publish import (
    SDMX_COLUMNS,
    CycleMeta,
    age_code,
    citation_cff,
    export_downloads,
    export_opensdg,
    export_sdmx,
    indicator_codes,
    load_sdmx_codes,
    safe_cell,
    validate_opensdg_file,
    validate_sdmx_file,
)
from voicescount.registry import (
    CountryRegistry,
    Cycle,
    DimensionSet,
    IndicatorCatalogue,
    load_model,
)

ROOT = Path(__file__).resolve().parents[1]
SECRET = 0.123456789  # the raw estimate of a suppressed cell: must appear nowhere


@pytest.fixture(scope="module")
def catalogue():
    def ind(id_, sdg, **kw):
        return {
            "id": id_,
            "sdg": sdg,
            "instrument": "adults",
            "rule": {"item": "q1", "in": [1, 2]},
            "label": {"en": id_.title()},
            "definition": {"en": f"Definition of {id_}"},
            **kw,
        }

    return IndicatorCatalogue.model_validate(
        {
            "indicators": [
                ind(
                    "poverty",
                    {"goal": 1, "target": "1.2", "indicator": "1.2.1"},
                    official={"indicator": "1.2.1", "series": "SI_POV_NAHC"},
                    population={"item": "age", "at_least": 16},
                ),
                ind("heard", {"goal": 16, "target": "16.7"}, label={"en": '=HYPERLINK("x")'}),
                ind(
                    "trust",
                    {"goal": 16, "target": "16.7"},
                    kind="mean",
                    unit="score",
                    rule={"item": "q_trust"},
                ),
            ]
        }
    )


@pytest.fixture(scope="module")
def meta():
    country = CountryRegistry.model_validate(
        {
            "countries": [
                {
                    "iso": "VN",
                    "name": {"en": "Viet Nam", "vi": "Việt Nam"},
                    "languages": ["en", "vi"],
                    "regions": [
                        {
                            "code": "north",
                            "name": {"en": "North", "vi": "Miền Bắc"},
                            "geocode": "VN-N",
                        },
                        {
                            "code": "south",
                            "name": {"en": "South", "vi": "Miền Nam"},
                            "geocode": "VN-S",
                        },
                    ],
                    "youth": {"min": 16, "max": 30},
                    "age_bands": [16, 25, 35, 45, 60],
                }
            ]
        }
    ).get("VN")
    cycle = Cycle.model_validate(
        {
            "country": "VN",
            "cycle": 2022,
            "synthetic": True,
            "languages": ["en", "vi"],
            "sdgs": [1, 16],
            "fieldwork": {"start": "2022-09-01", "end": "2022-11-30"},
            "instruments": {
                "adults": {"label": {"en": "Adults"}, "population": "adults", "data": "x.csv"}
            },
        }
    )
    dims = load_model(DimensionSet, ROOT / "data" / "dimensions.yml")
    return CycleMeta(country, cycle, dims, "VN LNOB partnership", "2022-11-30")


@pytest.fixture(scope="module")
def codes():
    return load_sdmx_codes(ROOT / "data" / "sdmx_codes.yml")


def _est():
    base = {
        "variable": "poverty",
        "grouping": "",
        "sex": None,
        "region": None,
        "ethnicity": None,
        "age_group": None,
        "estimate": 0.25,
        "se": 0.01,
        "ci_low": 0.23,
        "ci_high": 0.27,
        "deff": 1.5,
        "n": 500,
        "N": 2.0e6,
        "cv": 0.04,
        "flag": "",
        "suppressed": False,
        "suppression": "",
    }
    rows = [
        {},
        {"grouping": "sex", "sex": "female", "estimate": 0.3, "ci_low": 0.26, "ci_high": 0.34},
        {"grouping": "sex", "sex": "male", "estimate": 0.2, "ci_low": 0.17, "ci_high": 0.23},
        {"grouping": "region", "region": "north", "estimate": 0.31, "flag": "caution", "n": 25},
        # A suppressed cell whose statistics were NOT blanked upstream: must not leak.
        {
            "grouping": "sex×ethnicity",
            "sex": "female",
            "ethnicity": "minority",
            "estimate": SECRET,
            "se": SECRET,
            "ci_low": SECRET,
            "ci_high": SECRET,
            "n": 3,
            "N": 1234.5678,
            "cv": SECRET,
            "deff": SECRET,
            "suppressed": True,
            "suppression": "primary",
        },
        {
            "grouping": "age_group",
            "age_group": "60+",
            "estimate": 0.1234,
            "ci_low": 0.1,
            "ci_high": 0.15,
        },
        {"variable": "heard", "estimate": 0.6, "ci_low": 0.55, "ci_high": 0.65},
        {
            "variable": "heard",
            "grouping": "ethnicity",
            "ethnicity": "minority",
            "estimate": 0.4,
            "ci_low": 0.3,
            "ci_high": 0.5,
        },
        {"variable": "trust", "estimate": 3.456, "ci_low": 3.3, "ci_high": 3.6},
    ]
    return pd.DataFrame([{**base, **r} for r in rows])


def _csv(path):
    return list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8"))))


# --------------------------------------------------------------------------- safe_cell


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_safe_cell_neutralises(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["North", "", 3, -2.5, 0.0, True, None])
def test_safe_cell_leaves_others(value):
    assert safe_cell(value) == value


def test_codes_and_age():
    assert age_code("16-24") == "Y16T24" and age_code("60+") == "Y_GE60"
    assert age_code("adults") is None


def test_indicator_codes(catalogue):
    assert indicator_codes(catalogue) == {
        "poverty": "1.2.1",
        "heard": "16.7.91",
        "trust": "16.7.92",
    }


# --------------------------------------------------------------------------- Open SDG


def test_opensdg_files_valid_and_values(tmp_path, catalogue, meta):
    paths = export_opensdg(_est(), catalogue, meta, tmp_path)
    csvs = sorted(p for p in paths if p.suffix == ".csv")
    assert [p.name for p in csvs] == [
        "indicator_1-2-1.csv",
        "indicator_16-7-91.csv",
        "indicator_16-7-92.csv",
    ]
    for p in csvs:
        assert validate_opensdg_file(p) == [], p
    text = csvs[0].read_text(encoding="utf-8")
    assert "0.123" not in text and "1234" not in text
    rows = _csv(csvs[0])
    header = list(rows[0].keys())
    assert header[0] == "Year" and header[-1] == "Value"
    assert {
        "Series",
        "Units",
        "Sex",
        "Region",
        "Ethnicity",
        "Age group",
        "GeoCode",
        "Observation status",
    } <= set(header)
    total = [r for r in rows if not any(r[c] for c in ("Sex", "Region", "Ethnicity", "Age group"))]
    assert [r["Value"] for r in total] == ["25.0"]  # 0.25 on the 0-1 scale -> percent
    assert total[0]["Units"] == "Percentage (%)" and total[0]["Year"] == "2022"
    supp = [r for r in rows if r["Ethnicity"]]
    assert supp[0]["Value"] == "" and supp[0]["Observation status"].endswith("suppressed")
    north = [r for r in rows if r["Region"]][0]
    assert north["GeoCode"] == "VN-N" and north["Observation status"] == "Low reliability"
    assert [r["Value"] for r in rows if r["Age group"] == "60+"] == ["12.3"]
    heard = _csv(csvs[1])
    assert heard[0]["Series"].startswith("'=")  # formula neutralised
    assert "GeoCode" not in heard[0]
    assert _csv(csvs[2])[0]["Value"] == "3.46" and _csv(csvs[2])[0]["Units"] == "Mean score"
    meta_y = yaml.safe_load((tmp_path / "meta" / "1-2-1.yml").read_text(encoding="utf-8"))
    assert meta_y["reporting_status"] == "complete" and meta_y["data_non_statistical"] is False
    assert meta_y["source_organisation_1"] == "VN LNOB partnership"
    assert "q1 in [1, 2]" in meta_y["computation_numerator"]
    assert "age >= 16" in meta_y["computation_denominator"]
    assert meta_y["data_suppressed_cells"] == 1
    assert meta_y["data_caution_groups"] == ["poverty, Region: North"]
    assert "SYNTHETIC" in meta_y["data_footnote"]
    m16 = yaml.safe_load((tmp_path / "meta" / "16-7-91.yml").read_text(encoding="utf-8"))
    assert m16["national_indicator"] is True


def test_opensdg_labels_in_language(tmp_path, catalogue, meta):
    export_opensdg(_est(), catalogue, meta, tmp_path, lang="vi")
    rows = _csv(tmp_path / "data" / "indicator_1-2-1.csv")
    assert "Giới tính" in rows[0] and any(r["Giới tính"] == "Nữ" for r in rows)


def test_opensdg_validator_catches_errors(tmp_path):
    bad = tmp_path / "indicator_1-2-1.csv"
    bad.write_text("Sex,Year,Value\nF,2020,x\nF,2020,1\n,soon,\n", encoding="utf-8")
    problems = " | ".join(validate_opensdg_file(bad))
    assert "first column is 'Sex'" in problems
    assert "Value 'x' is not a number" in problems
    assert "same Year and disaggregation" in problems
    assert "Year 'soon' is not a year" in problems
    other = tmp_path / "data.csv"
    other.write_text("Year,Value,\n2020,1,\n", encoding="utf-8")
    problems = " | ".join(validate_opensdg_file(other))
    assert "file name" in problems and "no header" in problems


# The real files pass, except four that break a format rule (three described in the reference
# README; ONS 16-1-1 has two different national totals for 2012/13, lines 34 and 67).
EXPECTED_FAILURES = {
    "ONSdigital__sdg-data__indicator_16-1-1.csv": "line 67: same Year and disaggregation",
    "ONSdigital__sdg-data__indicator_1-5-2.csv": "Year 'There is no data",  # placeholder row
    "armstat__sdg-data-armenia__indicator_8-5-1.csv": "first column is 'Series'",
    "kazstat__sdg-data-kazstat__indicator_5-5-2.csv": "no header",  # trailing empty column
}


def test_validator_on_reference_files(shared_reference):
    files = sorted((shared_reference / "open-sdg").glob("*.csv"))
    assert len(files) == 10
    for f in files:
        problems = validate_opensdg_file(f)
        if f.name in EXPECTED_FAILURES:
            assert any(EXPECTED_FAILURES[f.name] in p for p in problems), (f.name, problems)
        else:
            assert problems == [], (f.name, problems)


# --------------------------------------------------------------------------- SDMX


def test_sdmx_columns_and_codes(tmp_path, catalogue, meta, codes):
    path = export_sdmx(_est(), catalogue, meta, tmp_path, codes=codes)
    assert validate_sdmx_file(path, codes, "VN") == []
    text = path.read_text(encoding="utf-8")
    assert "0.123" not in text and "1234" not in text
    rows = _csv(path)
    assert list(rows[0].keys()) == SDMX_COLUMNS
    assert {r["DATAFLOW"] for r in rows} == {"IAEG-SDGs:DF_SDG_GLH(1.24)"}
    pov = [r for r in rows if r["SERIES"] == "SI_POV_NAHC"]
    total = [
        r
        for r in pov
        if r["SEX"] == "_T"
        and r["REF_AREA"] == "704"
        and r["CUST_BREAKDOWN"] == "_T"
        and r["AGE"] == "_T"
    ][0]
    assert (total["OBS_VALUE"], total["LOWER_BOUND"], total["UPPER_BOUND"]) == (
        "25.0",
        "23.0",
        "27.0",
    )
    assert total["UNIT_MEASURE"] == "PT" and total["OBS_STATUS"] == "A"
    assert total["TIME_PERIOD"] == "2022" and total["TIME_DETAIL"] == "2022-09-01/2022-11-30"
    assert {r["SEX"] for r in pov} == {"_T", "F", "M"}
    north = [r for r in pov if r["REF_AREA"] == "VN_N"][0]
    assert north["OBS_STATUS"] == "U"
    supp = [r for r in pov if r["CUST_BREAKDOWN"] == "CGD_ETH_MINORITY"][0]
    assert supp["SEX"] == "F" and supp["OBS_VALUE"] == "" and supp["OBS_STATUS"] == "O"
    assert supp["CUST_BREAKDOWN_LB"] == "Ethnic minority"
    assert [r["AGE"] for r in pov if r["AGE"] != "_T"] == ["Y_GE60"]
    assert {r["SERIES"] for r in rows} == {"SI_POV_NAHC", "CGD_HEARD", "CGD_TRUST"}
    assert [r["UNIT_MEASURE"] for r in rows if r["SERIES"] == "CGD_TRUST"] == ["NUMBER"]


def test_sdmx_undeclared_code_is_config_error(tmp_path, catalogue, meta, codes):
    est = _est()
    est.loc[1, "sex"] = "other"
    with pytest.raises(ConfigError, match="sex = 'other'"):
        export_sdmx(est, catalogue, meta, tmp_path, codes=codes)
    est = _est().assign(religion=None)
    est.loc[0, "religion"] = "x"
    with pytest.raises(ConfigError, match="dimensions.religion"):
        export_sdmx(est, catalogue, meta, tmp_path, codes=codes)


def test_sdmx_codes_file_validated(tmp_path):
    src = (ROOT / "data" / "sdmx_codes.yml").read_text(encoding="utf-8")
    bad = tmp_path / "sdmx_codes.yml"
    bad.write_text(src.replace("column: SEX", "column: GENDER"), encoding="utf-8")
    with pytest.raises(ConfigError, match="dimensions.sex.column"):
        load_sdmx_codes(bad)
    bad.write_text(src.replace("CGD_LGBT,", "CGD LGBT,"), encoding="utf-8")
    with pytest.raises(ConfigError, match="not an SDMX ID"):
        load_sdmx_codes(bad)
    bad.write_text(src.replace('ref_area: "50"', 'ref_area: "050"'), encoding="utf-8")
    with pytest.raises(ConfigError, match="no leading zeros; write '50'"):  # CL_AREA's spelling
        load_sdmx_codes(bad)


# The SDG global DSD's code lists as read in a copy of the DSD kept by Open SDG (IAEG-SDGs
# CL_DISABILITY 1.0 and CL_AREA 1.14); only the codes data/sdmx_codes.yml uses.
SDG_DSD_SOURCE = (
    "https://github.com/open-sdg/sdg-build/blob/0b450bf08529dce715bcce32600c709e205324a7/"
    "tests/assets/data/sdmx/dsd.xml"
)
SDG_CL_DISABILITY = {
    "_T": "No breakdown",
    "PD": "Persons with disability",
    "PWD": "Persons without disability",
}
SDG_CL_AREA = {"704": "Viet Nam", "404": "Kenya", "50": "Bangladesh"}
M49 = {"VN": "704", "KE": "404", "BD": "50"}


def test_declared_codes_are_those_of_the_sdg_code_lists(codes):
    """DISABILITY_STATUS and REF_AREA codes as the SDG DSD lists them (SDG_DSD_SOURCE)."""
    text = (ROOT / "data" / "sdmx_codes.yml").read_text(encoding="utf-8")
    assert SDG_DSD_SOURCE in text  # the file cites what the test checks against
    disability = [d for d in codes.dimensions.values() if d.column == "DISABILITY_STATUS"]
    assert disability
    for dim in disability:
        assert set(dim.codes.values()) <= set(SDG_CL_DISABILITY) - {"_T"}
        assert not dim.custom
    yes = {d.codes.get("with_disability") or d.codes.get("with_difficulty") for d in disability}
    assert yes == {"PD"}  # PD is "with", PWD "without", not the other way round
    assert {iso: c.ref_area for iso, c in codes.countries.items()} == M49
    assert all(c.ref_area in SDG_CL_AREA for c in codes.countries.values())
    for country in codes.countries.values():  # our regions never pose as global area codes
        assert not set(country.regions.values()) & set(SDG_CL_AREA)


# --------------------------------------------------------------------------- downloads


CFF_SCHEMA = {  # the parts of the CFF 1.2.0 schema our file uses
    "type": "object",
    "required": ["cff-version", "message", "title", "authors"],
    "properties": {
        "cff-version": {"const": "1.2.0"},
        "message": {"type": "string", "minLength": 1},
        "title": {"type": "string", "minLength": 1},
        "type": {"enum": ["software", "dataset"]},
        "version": {"type": "string"},
        "date-released": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
        "license": {"type": "string"},
        "authors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "anyOf": [{"required": ["name"]}, {"required": ["family-names"]}],
            },
        },
    },
}


def test_downloads_match_input_and_hide_suppressed(tmp_path, catalogue, meta):
    paths = export_downloads(_est(), catalogue, meta, tmp_path)
    names = sorted(p.name for p in paths)
    assert names == [
        "CITATION.cff",
        "data_dictionary.csv",
        "data_dictionary.md",
        "estimates_VN_2022.csv",
        "estimates_VN_2022.parquet",
    ]
    csv_df = pd.read_csv(tmp_path / "estimates_VN_2022.csv", keep_default_na=False, na_values=[""])
    pq_df = pd.read_parquet(tmp_path / "estimates_VN_2022.parquet")
    est = _est()
    for df in (csv_df, pq_df):
        assert len(df) == len(est)
        supp = df[df["suppressed"]]
        assert len(supp) == 1
        for c in ("estimate", "se", "ci_low", "ci_high", "deff", "n", "N", "cv"):
            assert supp[c].isna().all(), c
        keys = ["variable", "grouping", "sex", "region", "ethnicity", "age_group"]
        got = df[~df["suppressed"]].astype({k: object for k in keys})
        want = est[~est["suppressed"]].astype({k: object for k in keys})
        for frame in (got, want):
            frame[keys] = frame[keys].where(frame[keys].notna(), "")
        both = want.merge(got, on=keys, suffixes=("_in", "_out"), validate="one_to_one")
        assert len(both) == len(want)
        for c in ("estimate", "se", "ci_low", "ci_high", "n", "N"):
            np.testing.assert_allclose(
                both[f"{c}_out"].astype(float), both[f"{c}_in"].astype(float), rtol=1e-11
            )
    raw = (tmp_path / "estimates_VN_2022.csv").read_text(encoding="utf-8")
    assert "0.123456" not in raw and "1234.5" not in raw
    assert (
        pq_df.attrs == {} and b"pandas" not in (tmp_path / "estimates_VN_2022.parquet").read_bytes()
    )
    dic = pd.read_csv(tmp_path / "data_dictionary.csv", keep_default_na=False)
    assert set(dic["column"]) == set(csv_df.columns)
    assert "minority = Ethnic minority" in dic.set_index("column").loc["ethnicity", "codes"]
    md = (tmp_path / "data_dictionary.md").read_text(encoding="utf-8")
    assert all(f"| {c} |" in md for c in csv_df.columns)
    cff = yaml.safe_load((tmp_path / "CITATION.cff").read_text(encoding="utf-8"))
    cff["date-released"] = str(cff["date-released"])
    jsonschema.validate(cff, CFF_SCHEMA)
    assert cff["date-released"] == "2022-11-30" and cff["version"] == "2022"
    assert cff["authors"] == [{"name": "VN LNOB partnership"}]
    assert "synthetic" in cff["title"]


def test_outputs_byte_identical_on_rerun(tmp_path, catalogue, meta, codes):
    est = _est()
    shuffled = est.sample(frac=1.0, random_state=1).reset_index(drop=True)
    for out, frame in ((tmp_path / "a", est), (tmp_path / "b", shuffled)):
        export_opensdg(frame, catalogue, meta, out)
        export_sdmx(frame, catalogue, meta, out, codes=codes)
        export_downloads(frame, catalogue, meta, out)
    files_a = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    files_b = sorted(
        p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file()
    )
    assert files_a == files_b and len(files_a) == 12
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_bad_estimate_tables(tmp_path, catalogue, meta):
    with pytest.raises(InputError, match="not in the catalogue"):
        export_downloads(_est().assign(variable="nope"), catalogue, meta, tmp_path)
    with pytest.raises(InputError, match="ci_low"):
        export_opensdg(_est().drop(columns="ci_low"), catalogue, meta, tmp_path)


def test_citation_never_today(meta):
    assert "date-released: 2022-11-30" in citation_cff(meta)


def test_cli_export_all(tmp_path, catalogue, meta):
    """`voicescount export opensdg sdmx downloads` writes every table format from one table."""
    import shutil

    from voicescount.cli import main

    data = tmp_path / "data"
    (data / "VN" / "2022").mkdir(parents=True)
    for name in ("countries.yml", "dimensions.yml", "sdmx_codes.yml"):
        shutil.copy(ROOT / "data" / name, data / name)
    (data / "indicators.yml").write_text(
        yaml.safe_dump(catalogue.model_dump(by_alias=True, exclude_none=True)), encoding="utf-8"
    )
    (data / "VN" / "2022" / "x.csv").write_text("a\n1\n", encoding="utf-8")
    (data / "VN" / "2022" / "cycle.yml").write_text(
        yaml.safe_dump(meta.cycle.model_dump(exclude_none=True)), encoding="utf-8"
    )
    est = _est()
    est.loc[est["region"] == "north", "region"] = "north"
    est_path = tmp_path / "est.parquet"
    est.to_parquet(est_path)
    code = main(
        [
            "--root",
            str(tmp_path),
            "export",
            "opensdg",
            "sdmx",
            "downloads",
            "--country",
            "VN",
            "--cycle",
            "2022",
            "--out",
            "out",
            "--estimates",
            str(est_path),
        ]
    )
    assert code == 0
    out = tmp_path / "out"
    assert validate_opensdg_file(out / "opensdg" / "data" / "indicator_1-2-1.csv") == []
    assert (out / "sdmx" / "VN_2022.csv").is_file()
    assert (out / "downloads" / "CITATION.cff").is_file()
    missing = main(
        [
            "--root",
            str(tmp_path),
            "export",
            "sdmx",
            "--country",
            "VN",
            "--cycle",
            "2022",
            "--out",
            "out",
        ]
    )
    assert missing == 2  # no build/VN/2022/estimates.parquet: an InputError, exit 2
