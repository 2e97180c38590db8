"""official: reading UN SDG database and Open SDG files, and comparing with CGD estimates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from voicescount.errors import ConfigError, InputError
from voicescount.official import (
    OFFICIAL_COLUMNS,
    compare,
    load_official_codes,
    official_misses,
    parse_age,
    parse_year,
    read_official,
    read_official_dir,
    read_opensdg_meta,
    unit_kind,
)
from voicescount.registry import CountryRegistry, IndicatorCatalogue

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def codes():
    return load_official_codes(ROOT / "data" / "official_codes.yml")


@pytest.fixture(scope="module")
def vn():
    return CountryRegistry.model_validate(
        {
            "countries": [
                {
                    "iso": "VN",
                    "name": {"en": "Viet Nam"},
                    "languages": ["en"],
                    "regions": [
                        {"code": "north", "name": {"en": "North"}, "geocode": "VN-N"},
                        {"code": "south", "name": {"en": "South"}, "geocode": "VN-S"},
                    ],
                    "youth": {"min": 16, "max": 30},
                    "age_bands": [16, 25],
                }
            ]
        }
    ).get("VN")


def _catalogue(official=None, sdg_indicator="1.2.1", kind="proportion", unit="percent"):
    ind = {
        "id": "poverty",
        "sdg": {"goal": 1, "target": "1.2", "indicator": sdg_indicator},
        "instrument": "adults",
        "kind": kind,
        "unit": unit,
        "rule": {"item": "q_poor", "equals": 1},
        "label": {"en": "Below poverty line"},
        "definition": {"en": "Share below the national poverty line"},
    }
    if official:
        ind["official"] = official
    return IndicatorCatalogue.model_validate({"indicators": [ind]})


def _write(tmp_path: Path, name: str, text: str, encoding="utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


# --------------------------------------------------------------------------- parsers


@pytest.mark.parametrize(
    "label,year",
    [
        ("2019", 2019),
        ("2011/12", 2011),
        ("2010/11", 2010),
        ("2013 Q1", 2013),
        ("2002/03-2007/08", 2002),
        ("There is no data for this indicator yet", None),
        ("19", None),
    ],
)
def test_parse_year(label, year):
    assert parse_year(label) == year


@pytest.mark.parametrize(
    "label,band",
    [
        ("16 to 24", "16-24"),
        ("Y16T24", "16-24"),
        ("15-24", "15-24"),
        ("Y_GE65", "65+"),
        ("65+", "65+"),
        ("75 and over", "75+"),
        ("<18Y", "0-17"),
        ("Under 1", "0-0"),
        ("15 and under", "0-15"),
        ("M25T28", "M25T28"),
    ],
)
def test_parse_age(label, band):
    assert parse_age(label) == band


def test_unit_kind():
    for u in ("PT", "Percentage (%)", "PERCENT", "percent", "%"):
        assert unit_kind(u) == "percent"
    assert unit_kind("Rate per 100,000 population") == "Rate per 100,000 population"


# --------------------------------------------------------------------------- Open SDG


def test_opensdg_blank_is_total_codes_mapped(tmp_path, codes, vn):
    p = _write(
        tmp_path,
        "indicator_1-2-1.csv",
        "\ufeffSeries,Units,Sex,Year,Location,GeoCode,Observation status,Unit multiplier,Value\r\n"
        '"Poverty, national",Percentage (%),,2010/11,,,Normal value,Units,20.5\r\n'
        '"Poverty, national",Percentage (%),FEMALE,2010/11,Urban,,Normal value,Units,18\r\n'
        '"Poverty, national",Percentage (%),Females,2010/11,,VN-N,Normal value,Units,30\r\n'
        '"Poverty, national",Percentage (%),male,2010/11,,,"Missing data; suppressed",Units,""\r\n',
    )
    df = read_official(p, codes=codes, country=vn)
    assert list(df.columns) == OFFICIAL_COLUMNS
    assert (df["indicator"] == "1.2.1").all()
    assert (df["year"] == 2010).all() and (df["year_label"] == "2010/11").all()
    total = df[df["sex"].isna() & df["urban_rural"].isna() & df["region"].isna()]
    assert total["value"].tolist() == [20.5]
    fu = df[(df["sex"] == "female") & (df["urban_rural"] == "urban")]
    assert fu["value"].tolist() == [18.0]
    assert df.loc[df["region"] == "north", "value"].tolist() == [30.0]
    male = df[df["sex"] == "male"]
    assert np.isnan(male["value"].iloc[0])
    assert male["obs_status"].iloc[0] == "Missing data; suppressed"
    assert df.attrs["unmapped"] == []


def test_unmapped_values_reported(tmp_path, codes):
    p = _write(tmp_path, "indicator_5-1-1.csv", "Year,Sex,Value\n2020,Nonbinary,1\n")
    df = read_official(p, codes=codes)
    assert df.attrs["unmapped"] == ["Sex=Nonbinary"]
    assert df["sex"].tolist() == ["Nonbinary"]


def test_other_breakdowns_kept_apart(tmp_path, codes):
    p = _write(
        tmp_path,
        "indicator_8-5-1.csv",
        '"Year","Type of occupation","Value"\n"2015","total","5"\n"2015","isco08-1","7"\n',
    )
    df = read_official(p, codes=codes).sort_values("value")
    assert df["other_breakdown"].tolist() == ["", "Type of occupation=isco08-1"]


@pytest.mark.parametrize(
    "text,match",
    [
        ("Year,Value\n2019,abc\n", "not a number"),
        ("Year,Value\nsoon,5\n", "is not a year"),
        ("Year,Sex\n2019,F\n", "no Value column"),
        ("Sex,Value\nF,1\n", "no Year"),
        ("Year,Value,\n2019,1,oops\n", "without a header"),
        ("", "is empty"),
    ],
)
def test_bad_files_raise_input_error(tmp_path, codes, text, match):
    p = _write(tmp_path, "indicator_1-2-1.csv", text)
    with pytest.raises(InputError, match=match) as err:
        read_official(p, codes=codes)
    assert "indicator_1-2-1.csv" in str(err.value)


def test_no_indicator_code(tmp_path, codes):
    p = _write(tmp_path, "poverty.csv", "Year,Value\n2019,1\n")
    with pytest.raises(InputError, match="indicator_G-T-I"):
        read_official(p, codes=codes)


def test_not_utf8(tmp_path, codes):
    p = _write(tmp_path, "indicator_1-2-1.csv", "Year,Sex,Value\n2019,Niña,1\n", "latin-1")
    with pytest.raises(InputError, match="UTF-8"):
        read_official(p, codes=codes)


# --------------------------------------------------------------------------- UN SDG database


UN_CSV = (
    "Goal,Target,Indicator,SeriesCode,SeriesDescription,GeoAreaCode,GeoAreaName,TimePeriod,"
    "Value,Time_Detail,TimeCoverage,UpperBound,LowerBound,BasePeriod,Source,GeoInfoUrl,FootNote,"
    "[Age],[Location],[Nature],[Reporting Type],[Sex],[Units]\n"
    '1,1.2,1.2.1,SI_POV_NAHC,"Proportion below national poverty line (%)",704,Viet Nam,2020,'
    "4.8,2020,,,,,VHLSS,,,ALLAGE,ALLAREA,C,G,BOTHSEX,PERCENT\n"
    '1,1.2,1.2.1,SI_POV_NAHC,"Proportion below national poverty line (%)",704,Viet Nam,2020,'
    "2.1,2020,,2.5,1.7,,VHLSS,,,ALLAGE,URBAN,C,G,BOTHSEX,PERCENT\n"
    '1,1.2,1.2.1,SI_POV_NAHC,"Proportion below national poverty line (%)",704,Viet Nam,2020,'
    "<1,2020,,,,,VHLSS,,,15-24,ALLAREA,C,G,FEMALE,PERCENT\n"
)


def test_un_sdg_database_download(tmp_path, codes):
    p = _write(tmp_path, "un_download.csv", UN_CSV)
    df = read_official(p, codes=codes)
    assert set(df["series"]) == {"SI_POV_NAHC"}
    assert set(df["indicator"]) == {"1.2.1"}
    assert set(df["unit"].map(unit_kind)) == {"percent"}
    assert set(df["area"]) == {""} and set(df["geocode"]) == {"704"}
    urban = df[df["urban_rural"] == "urban"].iloc[0]
    assert (urban["value"], urban["lower"], urban["upper"]) == (2.1, 1.7, 2.5)
    assert urban["nature"] == "C" and urban["source"] == "VHLSS"
    fy = df[df["sex"] == "female"].iloc[0]
    assert fy["age_group"] == "15-24" and fy["value"] == 1.0
    assert "'<1'" in fy["obs_status"]
    national = df[df[["sex", "age_group", "urban_rural"]].isna().all(axis=1)]
    assert national["value"].tolist() == [4.8]


# --------------------------------------------------------------------------- real files


def test_every_reference_file_reads(shared_reference, codes):
    files = sorted((shared_reference / "open-sdg").glob("*.csv"))
    assert len(files) == 10
    rows = {}
    for f in files:
        df = read_official(f, codes=codes)
        assert list(df.columns) == OFFICIAL_COLUMNS, f.name
        rows[f.name] = df
    # Spot checks against the README's description of each file.
    ons16 = rows["ONSdigital__sdg-data__indicator_16-1-1.csv"]
    assert ons16["year_label"].str.contains("/").all()
    assert ons16["value"].isna().sum() == 5
    assert (ons16.loc[ons16["value"].isna(), "obs_status"] == "Missing data; suppressed").all()
    assert len(rows["ONSdigital__sdg-data__indicator_1-5-2.csv"]) == 0
    assert rows["ONSdigital__sdg-data__indicator_1-5-2.csv"].attrs["placeholder_rows"] == 1
    arm13 = rows["armstat__sdg-data-armenia__indicator_13-1-1.csv"]
    assert len(arm13) == 20 and arm13["value"].isna().sum() == 9
    kz = rows["kazstat__sdg-data-kazstat__indicator_1-2-1.csv"]
    assert set(kz["sex"].dropna()) == {"female", "male"}
    assert set(kz["urban_rural"].dropna()) == {"urban", "rural"}
    assert set(kz["unit"].map(unit_kind)) == {"percent"}
    kz5 = rows["kazstat__sdg-data-kazstat__indicator_5-5-2.csv"]
    assert len(kz5) == 2375 and "16-24" in set(kz5["age_group"])
    malta = rows["NSOMalta__sdgdata__indicator_1-2-1.csv"]
    assert len(set(malta["series"])) == 2 and len(set(malta["unit"])) == 2
    assert set(malta["sex"].dropna()) == {"female", "male"}  # 'Both Sexes' is the total
    ons4 = rows["ONSdigital__sdg-data__indicator_4-4-1.csv"]
    assert set(ons4["disability"].dropna()) == {"with_disability", "without_disability"}
    nbs = rows["NBS-Nigeria__open-sdg-data__indicator_1-2-1.csv"]
    assert nbs["value"].isna().sum() == 1
    assert (nbs.loc[nbs["geocode"] == "NG", "area"] == "").all()
    arm8 = rows["armstat__sdg-data-armenia__indicator_8-5-1.csv"]
    assert set(arm8["sex"].dropna()) == {"female", "male"}
    for name, df in rows.items():
        assert df.attrs["unmapped"] == [], name


def test_reference_metadata(shared_reference):
    y = read_opensdg_meta(
        shared_reference / "open-sdg" / "NBS-Nigeria__open-sdg-data__meta_1-2-1.yml"
    )
    assert y["CONTACT_ORGANISATION"].startswith("NATIONAL BUREAU")
    assert y["SDG_SERIES_DESCR"] == ""
    md = read_opensdg_meta(shared_reference / "open-sdg" / "ONSdigital__sdg-data__meta_16-1-1.md")
    assert md["indicator_number"] == "16.1.1"
    assert md["reporting_status"] == "complete"
    assert md["expected_disaggregations"] == ["Sex", "Age"]


def test_read_official_dir_uses_meta_source(tmp_path, codes):
    d = tmp_path / "VN"
    (d / "meta").mkdir(parents=True)
    _write(d, "indicator_1-2-1.csv", "Year,Value\n2019,5\n")
    _write(d / "meta", "1-2-1.md", "---\nsource_organisation_1: GSO Viet Nam\n---\n")
    df = read_official_dir(d, codes=codes)
    assert df["source"].tolist() == ["GSO Viet Nam"]
    assert read_official_dir(tmp_path / "nowhere", codes=codes).empty


def test_codes_file_validated(tmp_path):
    bad = _write(tmp_path, "c.yml", "dimensions:\n  sex:\n    colums: [Sex]\n")
    with pytest.raises(ConfigError, match="c.yml") as err:
        load_official_codes(bad)
    assert "dimensions.sex" in str(err.value)
    bad2 = _write(tmp_path, "d.yml", "dimensions:\n  lgbt:\n    columns: [LGBT]\n")
    with pytest.raises(ConfigError, match="lgbt"):
        load_official_codes(bad2)


# --------------------------------------------------------------------------- compare


def _official(rows):
    base = {c: None for c in OFFICIAL_COLUMNS}
    recs = []
    for r in rows:
        rec = {
            **base,
            "indicator": "1.2.1",
            "series": "",
            "series_description": "",
            "year_label": str(r.get("year")),
            "area": "",
            "geocode": "",
            "other_breakdown": "",
            "unit": "Percentage (%)",
            "unit_mult": 0,
            "lower": np.nan,
            "upper": np.nan,
            "obs_status": "",
            "nature": "",
            "source": "x",
            "file": "f.csv",
            "row": 2,
            **r,
        }
        recs.append(rec)
    return pd.DataFrame.from_records(recs, columns=OFFICIAL_COLUMNS)


def _cgd(rows):
    base = {
        "variable": "poverty",
        "grouping": "",
        "sex": None,
        "ethnicity": None,
        "estimate": 0.2,
        "se": 0.01,
        "ci_low": 0.18,
        "ci_high": 0.22,
        "deff": 1.2,
        "n": 400,
        "N": 1e6,
        "cv": 0.05,
        "flag": "",
        "suppressed": False,
        "suppression": "",
    }
    return pd.DataFrame([{**base, **r} for r in rows])


def test_compare_statuses_and_percent_scale():
    official = _official(
        [
            {"year": 2018, "value": 50.0},  # older year: ignored
            {"year": 2020, "value": 21.0},  # total: inside CGD CI 18-22 -> agree
            {"year": 2020, "sex": "female", "value": 30.0},  # outside 23-27 -> differ
            {"year": 2020, "sex": "male", "value": 17.0, "lower": 15.0, "upper": 20.0},  # overlap
        ]
    )
    cgd = _cgd(
        [
            {},
            {"grouping": "sex", "sex": "female", "estimate": 0.25, "ci_low": 0.23, "ci_high": 0.27},
            {"grouping": "sex", "sex": "male", "estimate": 0.21, "ci_low": 0.195, "ci_high": 0.225},
            {
                "grouping": "sex",
                "sex": "intersex",
                "estimate": np.nan,
                "ci_low": np.nan,
                "ci_high": np.nan,
                "suppressed": True,
                "suppression": "primary",
            },
            {
                "grouping": "ethnicity",
                "ethnicity": "minority",
                "estimate": 0.4,
                "ci_low": 0.3,
                "ci_high": 0.5,
            },
        ]
    )
    res = compare(cgd, official, _catalogue())

    def key(r):
        return (
            r["sex"] if pd.notna(r["sex"]) else (r["ethnicity"] if pd.notna(r["ethnicity"]) else "")
        )

    st = {(r["grouping"], key(r)): r for r in res.to_dict("records")}
    total = st[("", "")]
    assert total["status"] == "agree" and total["official_year"] == 2020
    assert total["cgd_estimate"] == pytest.approx(20.0) and total["unit"] == "percent"
    assert total["cgd_ci_low"] == pytest.approx(18.0) and total["official_value"] == 21.0
    assert st[("sex", "female")]["status"] == "differ"
    assert st[("sex", "male")]["status"] == "agree"  # official 15-20 overlaps CGD 19.5-22.5
    assert st[("sex", "intersex")]["status"] == "suppressed"
    assert np.isnan(st[("sex", "intersex")]["cgd_estimate"])
    assert st[("ethnicity", "minority")]["status"] == "official data missing"
    assert official_misses(res)["ethnicity"].tolist() == ["minority"]


def test_compare_bounds_not_overlapping_differ():
    official = _official([{"year": 2020, "value": 30.0, "lower": 28.0, "upper": 32.0}])
    res = compare(_cgd([{}]), official, _catalogue())
    assert res["status"].tolist() == ["differ"]


def test_compare_year_and_missing_group_value():
    official = _official(
        [
            {"year": 2018, "value": 21.0},
            {"year": 2018, "sex": "female", "value": np.nan},
            {"year": 2020, "value": 40.0},
        ]
    )
    cgd = _cgd([{}, {"grouping": "sex", "sex": "female"}])
    res = compare(cgd, official, _catalogue(), year=2018)
    assert res["status"].tolist() == ["agree", "official data missing"]
    res = compare(cgd, official, _catalogue())
    assert res["official_year"].tolist() == [2020, 2020]
    assert res["status"].tolist() == ["differ", "official data missing"]


def test_compare_series_link_and_ambiguity():
    official = pd.concat(
        [
            _official([{"year": 2020, "value": 21.0, "series": "A"}]),
            _official([{"year": 2020, "value": 80.0, "series": "B", "unit": "Thousand Persons"}]),
        ]
    )
    with pytest.raises(ConfigError, match="official.series"):
        compare(_cgd([{}]), official, _catalogue())
    res = compare(_cgd([{}]), official, _catalogue({"indicator": "1.2.1", "series": "A"}))
    assert res["official_value"].tolist() == [21.0] and res["series"].tolist() == ["A"]


def test_compare_units_not_comparable():
    official = _official([{"year": 2020, "value": 80.0, "unit": "Thousand Persons"}])
    res = compare(_cgd([{}]), official, _catalogue())
    assert res["status"].tolist() == ["not comparable"]


def test_compare_unknown_variable():
    with pytest.raises(InputError, match="catalogue"):
        compare(_cgd([{"variable": "nope"}]), _official([]), _catalogue())


def test_compare_with_reference_file(shared_reference, codes):
    """ONS 1.2.1: by sex total and 16-24 band, latest year, CGD on the 0-1 scale."""
    df = read_official(
        shared_reference / "open-sdg" / "ONSdigital__sdg-data__indicator_1-2-1.csv", codes=codes
    )
    latest = int(df["year"].max())
    nat = df[(df["year"] == latest) & df["sex"].isna() & df["age_group"].isna()]["value"].iloc[0]
    cgd = _cgd([{"estimate": nat / 100, "ci_low": nat / 100 - 0.01, "ci_high": nat / 100 + 0.01}])
    res = compare(cgd, df, _catalogue())
    assert res["status"].tolist() == ["agree"]
    assert res["official_year"].tolist() == [latest]
