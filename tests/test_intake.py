"""Intake: every export shape onto the contract, no personal data out, and clear errors.

Exports are generated in tmp_path (no binary fixtures in the repo); the real KoboToolbox/ODK
fixtures are read in place from ../shared/reference/kobo.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import unicodedata
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml

from voicescount.contract import load_contract
from voicescount.errors import ConfigError, InputError, VoicesError
from voicescount.intake import read_export, read_instrument, to_utc
from voicescount.registry import Instrument, Project
from voicescount.xlsform import read_form

ROOT = Path(__file__).resolve().parents[1]

HEADER = [
    "_uuid",
    "_submission_time",
    "region",
    "demo/Sex",
    "demo/age",
    "consent",
    "stratum",
    "psu",
    "weight",
    "respondent_name",
    "phone",
    "province",
    "q_water",
]
ROWS = [
    ["u1", "2022-05-01T10:00:00", "north", "1", "34", "yes", "s1", "c1", "1.5",
     "Nguyễn Văn Canary", "0912345678", "Hà Nội", "yes"],
    ["u2", "2022-05-01T11:00:00", "south", "2", "19", "yes", "s1", "c1", "1.5",
     "Trần Thị Canary", "0987654321", "Đắk Lắk", "no"],
    ["u3", "2022-05-02T09:30:00+07:00", "central", "2", "61", "no", "s2", "c2", "2.25",
     "Lê Canary", "0911111111", "Huế", "yes"],
    ["u4", "2022-05-02T10:00:00", "north", "1", "45", "yes", "s2", "c3", "2.25",
     "Phạm Canary", "0922222222", "Hà Nội", ""],
]  # fmt: skip
CYCLE_IDENTIFIERS = ["respondent_name", "phone"]


# ---------------------------------------------------------------------- helpers


def csv_text(header=HEADER, rows=ROWS, sep=";") -> str:
    return "\r\n".join(sep.join(r) for r in [header, *rows]) + "\r\n"


def cp1258(text: str) -> bytes:
    """Encode as Windows-1258 the way Vietnamese Windows does: base letter + combining mark."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        try:
            out.append(ch.encode("cp1258"))
            continue
        except UnicodeEncodeError:
            pass
        dd = unicodedata.normalize("NFD", ch)
        for i in range(1, len(dd)):
            base = unicodedata.normalize("NFC", dd[:i] + dd[i + 1 :])
            try:
                out.append((base + dd[i]).encode("cp1258"))
                break
            except UnicodeEncodeError:
                continue
        else:  # pragma: no cover - test helper
            raise ValueError(ch)
    return b"".join(out)


def xlsx_bytes(sheets: dict[str, list[list]]) -> bytes:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def typed_rows():
    """ROWS with numbers as numbers (as in a real XLSX export)."""
    out = []
    for r in ROWS:
        r = list(r)
        r[3], r[4], r[8] = int(r[3]), int(r[4]), float(r[8])
        r[12] = r[12] or None
        out.append(r)
    return out


@pytest.fixture
def project(tmp_path) -> Project:
    data = tmp_path / "data"
    data.mkdir()
    for name in ("contract.yml", "countries.yml", "dimensions.yml", "rules.yml"):
        shutil.copy(ROOT / "data" / name, data / name)
    return Project(tmp_path)


def setup_cycle(project: Project, files: dict[str, bytes], data="exports/adults.csv", **inst):
    """Write a VN/2022 cycle with one instrument 'adults' and the given raw files."""
    cdir = project.cycle_dir("VN", 2022)
    cdir.mkdir(parents=True, exist_ok=True)
    for rel, blob in files.items():
        (cdir / rel).parent.mkdir(parents=True, exist_ok=True)
        (cdir / rel).write_bytes(blob)
    identifiers = inst.pop("cycle_identifiers", CYCLE_IDENTIFIERS)
    spec = {
        "label": {"en": "Adults"},
        "population": "adults",
        "data": data,
        "mapping": {"sex": "Sex", "age": "age"},
        "codes": {"sex": {"1": "male", "2": "female"}},
    }
    spec.update(inst)
    cycle = {
        "country": "VN",
        "cycle": 2022,
        "languages": ["en", "vi"],
        "sdgs": [6],
        "identifiers": identifiers,
        "instruments": {"adults": spec},
    }
    (cdir / "cycle.yml").write_text(yaml.safe_dump(cycle, allow_unicode=True), encoding="utf-8")
    return cdir


def read(project: Project):
    return read_instrument(project, project.cycle("VN", 2022), "adults")


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# ---------------------------------------------------------------------- good inputs


@pytest.mark.parametrize("sep", [";", ",", "\t"])
def test_kobo_csv_sniffed_mapped_and_stripped_of_identifiers(project, sep):
    cdir = setup_cycle(project, {"exports/adults.csv": csv_text(sep=sep).encode("utf-8")})
    before = digest(cdir)
    res = read(project)
    assert digest(cdir) == before
    df = res.data
    assert res.format == "kobo-csv"
    assert list(df["_source_row"]) == [2, 3, 4, 5]
    assert list(df["respondent_id"]) == ["u1", "u2", "u3", "u4"]
    assert list(df["sex"]) == ["male", "female", "female", "male"]
    assert list(df["age"]) == [34, 19, 61, 45] and str(df["age"].dtype) == "Int64"
    assert list(df["weight"]) == [1.5, 1.5, 2.25, 2.25]
    assert list(df["consent"]) == [True, True, False, True]
    assert list(df["province"]) == ["Hà Nội", "Đắk Lắk", "Huế", "Hà Nội"]
    assert df["q_water"].tolist()[:3] == ["yes", "no", "yes"] and pd.isna(df["q_water"][3])
    assert df["submitted_at"][2] == pd.Timestamp("2022-05-02T02:30:00", tz="UTC")
    assert set(df["instrument"]) == {"adults"} and set(df["country"]) == {"VN"}
    assert set(df["cycle"]) == {2022}
    assert res.removed_identifiers == ["phone", "respondent_name"]
    # canary: no name or phone number anywhere in what intake hands on
    text = df.to_csv(index=False)
    assert "Canary" not in text and "0912345678" not in text
    allowed = set(load_contract(project.data_dir).names()) | {
        "_source_row",
        "instrument",
        "country",
        "cycle",
    }
    assert all(c in allowed or c.startswith("q_") for c in df.columns)


def test_bom_and_utf16_exports_read(project):
    text = csv_text()
    setup_cycle(project, {"exports/adults.csv": b"\xef\xbb\xbf" + text.encode("utf-8")})
    assert list(read(project).data["respondent_id"])[0] == "u1"  # BOM not in the header
    tsv = csv_text(sep="\t")
    setup_cycle(project, {"exports/adults.csv": tsv.encode("utf-16")})  # Excel "Unicode text"
    assert list(read(project).data["province"])[1] == "Đắk Lắk"


def test_windows_1258_declared_is_decoded_and_nfc(project):
    setup_cycle(project, {"exports/adults.csv": cp1258(csv_text())}, encoding="cp1258")
    df = read(project).data
    assert list(df["province"]) == ["Hà Nội", "Đắk Lắk", "Huế", "Hà Nội"]
    assert all(unicodedata.is_normalized("NFC", v) for v in df["province"])


def test_unknown_code_in_one_row_is_left_for_validation(project):
    rows = [list(r) for r in ROWS]
    rows[1][3] = "9"
    setup_cycle(project, {"exports/adults.csv": csv_text(rows=rows).encode()})
    res = read(project)
    assert list(res.data["sex"]) == ["male", "9", "female", "male"]
    u = res.unknown_codes
    assert u.to_dict("records") == [
        {"column": "sex", "export_column": "demo/Sex", "value": "9", "count": 1, "rows": "3"}
    ]
    assert any("'9' x1 (rows 3)" in n for n in res.notes)


def test_codes_can_map_to_null_and_regions_checked(project):
    rows = [list(r) for r in ROWS]
    rows[0][4] = "don't know"
    rows[2][2] = "atlantis"
    setup_cycle(
        project,
        {"exports/adults.csv": csv_text(rows=rows).encode()},
        codes={"sex": {"1": "male", "2": "female"}, "age": {"don't know": None}},
    )
    res = read(project)
    assert pd.isna(res.data["age"][0]) and res.data["age"][1] == 19
    assert res.unknown_codes["value"].tolist() == ["atlantis"]


def test_kobo_xlsx_dates_select_multiple_formulas(project):
    header = [*HEADER, "q_sources", "q_sources/tap", "q_sources/well", "_index"]
    rows = []
    for i, r in enumerate(typed_rows(), start=1):
        r[1] = 44682.5 + i  # Excel serial date
        sel = ["tap well", 1, 1] if i % 2 else [None, None, None]
        rows.append([*r, *sel, i])
    rows[2][11] = '=HYPERLINK("http://x")'
    setup_cycle(
        project,
        {"exports/adults.xlsx": xlsx_bytes({"Adults": [header, *rows]})},
        data="exports/adults.xlsx",
    )
    res = read(project)
    df = res.data
    assert res.format == "kobo-xlsx"
    assert df["submitted_at"][0] == pd.Timestamp("2022-05-02T12:00:00", tz="UTC")
    assert df["q_sources"].tolist()[0] == "tap well" and pd.isna(df["q_sources"][1])
    assert df["q_sources__tap"].tolist()[:2] == [1, pd.NA]
    assert df["province"][2] == '=HYPERLINK("http://x")'  # kept as text, not evaluated
    assert any("formula-looking" in n and "rows 4" in n for n in res.notes)


def test_select_multiple_dummies_only_equals_aggregate(project):
    header = ["_uuid", "region", "sex", "age", "consent", "q_src/tap", "q_src/well", "q_src/river"]
    rows = [
        ["a", "north", "1", "20", "1", "1", "0", "1"],
        ["b", "north", "2", "30", "1", "0", "0", "0"],
        ["c", "south", "2", "40", "1", "", "", ""],
    ]
    setup_cycle(project, {"exports/adults.csv": csv_text(header, rows, ",").encode()})
    df = read(project).data
    assert df["q_src"].tolist()[:2] == ["river tap", ""]
    assert pd.isna(df["q_src"][2])
    assert df["q_src__river"].tolist()[:2] == [1, 0]


def _adult_form(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "survey"
    for r in [
        ["type", "name", "label::English (en)", "label::Tiếng Việt (vi)"],
        ["begin group", "demo", "About you", "Về bạn"],
        ["select_one sex", "Sex", "Sex", "Giới tính"],
        ["integer", "age", "Age", "Tuổi"],
        ["end group", None, None, None],
        ["select_multiple src", "sources", "Water sources", "Nguồn nước"],
        ["geopoint", "home", "Home", "Nhà"],
    ]:
        ws.append(r)
    wc = wb.create_sheet("choices")
    for r in [
        ["list_name", "name", "label::English (en)", "label::Tiếng Việt (vi)"],
        ["sex", "1", "Male", "Nam"],
        ["sex", "2", "Female", "Nữ"],
        ["src", "tap", "Piped water", "Nước máy"],
        ["src", "well", "Dug well", "Giếng đào"],
    ]:
        wc.append(r)
    wb.save(path)


def test_label_export_translated_back_with_form(project, tmp_path):
    header = ["_uuid", "region", "demo/Sex", "demo/age", "consent", "sources", "home"]
    rows = [
        ["a", "north", "Nữ", "20", "1", "Piped water Dug well", "21.0285 105.8542 0 5"],
        ["b", "north", "Male", "30", "1", "Dug well", "10.1 106.2 0 5"],
        ["c", "south", "Female", "40", "1", "", ""],
    ]
    cdir = setup_cycle(
        project,
        {"exports/adults.csv": csv_text(header, rows).encode()},
        form="forms/adults.xlsx",
        values="labels",
        mapping={"sex": "Sex", "age": "age", "q_sources": "sources"},
    )
    _adult_form(cdir / "forms" / "adults.xlsx")
    res = read(project)
    df = res.data
    assert list(df["sex"]) == ["female", "male", "female"]
    assert df["q_sources"].tolist()[:2] == ["tap well", "well"]
    assert df["q_sources__well"].tolist()[:2] == [1, 1]
    assert "home" in res.removed_identifiers and "home" not in df.columns
    assert "21.0285" not in df.to_csv()
    assert res.codebook.choice_label("Sex", "2", "vi") == "Nữ"


def test_label_headers_resolved_through_the_form(project):
    header = ["_uuid", "region", "Sex", "Age", "consent", "Water sources"]
    rows = [["a", "north", "Female", "20", "1", "Dug well"], ["b", "south", "Nam", "30", "1", ""]]
    cdir = setup_cycle(
        project,
        {"exports/adults.csv": csv_text(header, rows).encode()},
        form="forms/adults.xlsx",
        values="labels",
        mapping={"sex": "Sex", "age": "age", "q_sources": "sources"},
    )
    _adult_form(cdir / "forms" / "adults.xlsx")
    df = read(project).data
    assert list(df["sex"]) == ["female", "male"]
    assert df["q_sources"][0] == "well" and pd.isna(df["q_sources"][1])


def test_mapped_geopoint_is_coarsened(project):
    header = ["_uuid", "region", "demo/Sex", "demo/age", "consent", "home"]
    rows = [["a", "north", "1", "20", "1", "21.02851 105.85423 0 5"]]
    cdir = setup_cycle(
        project,
        {"exports/adults.csv": csv_text(header, rows).encode()},
        form="forms/adults.xlsx",
        mapping={"sex": "Sex", "age": "age", "q_place": "home"},
    )
    _adult_form(cdir / "forms" / "adults.xlsx")
    res = read(project)
    assert res.data["q_place"].tolist() == ["21.03 105.85"]
    assert any("coarsened" in n for n in res.notes)


def test_odk_central_csv(project):
    header = [
        "SubmissionDate", "start", "demo-Sex", "demo-age", "region", "consent", "meta-instanceID",
        "KEY", "SubmitterID", "SubmitterName", "ReviewState",
    ]  # fmt: skip
    rows = [
        ["2022-05-01T10:00:00.000Z", "2022-05-01T09:40:00.000+07:00", "1", "22", "north", "1",
         "uuid:aa", "uuid:aa", "5", "Canary Collector", "approved"],
        ["2022-05-01T11:00:00.000Z", "2022-05-01T10:40:00.000+07:00", "2", "23", "south", "1",
         "uuid:bb", "uuid:bb", "5", "Canary Collector", "rejected"],
    ]  # fmt: skip
    setup_cycle(project, {"exports/adults.csv": csv_text(header, rows, ",").encode()})
    res = read(project)
    df = res.data
    assert res.format == "odk-csv"
    assert list(df["respondent_id"]) == ["uuid:aa", "uuid:bb"]
    assert list(df["validation_status"]) == ["approved", "not_approved"]
    assert df["started_at"][0] == pd.Timestamp("2022-05-01T02:40:00", tz="UTC")
    assert {"SubmitterID", "SubmitterName"} <= set(res.removed_identifiers)
    assert "Canary" not in df.to_csv()


@pytest.mark.parametrize("kind", ["spss", "stata"])
def test_spss_and_stata_with_value_labels(project, kind):
    import pyreadstat

    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "region": ["north", "south", "north"],
            "sex": [1.0, 2.0, 2.0],
            "age": [20.0, 31.0, None],
            "consent": [1.0, 1.0, 1.0],
            "name": ["Canary A", "Canary B", "Canary C"],
            "province": ["Huế", None, "nan"],  # pandas saves a missing string as "nan"
        }
    )
    ext = "sav" if kind == "spss" else "dta"
    cdir = setup_cycle(
        project,
        {},
        data=f"exports/adults.{ext}",
        mapping={"respondent_id": "id", "sex": "sex", "age": "age"},
        identifiers=["name"],
    )
    (cdir / "exports").mkdir()
    labels = {"sex": {1.0: "Male", 2.0: "Female"}}
    path = str(cdir / "exports" / f"adults.{ext}")
    if kind == "spss":
        pyreadstat.write_sav(frame, path, variable_value_labels=labels)
    else:
        pyreadstat.write_dta(frame, path, variable_value_labels={"sex": {1: "Male", 2: "Female"}})
    res = read(project)
    df = res.data
    assert list(df["sex"]) == ["male", "female", "female"]
    assert df["age"].tolist()[:2] == [20, 31] and pd.isna(df["age"][2])
    assert list(df["_source_row"]) == [1, 2, 3]
    assert res.codebook.choice_label("sex", 2, "en") == "Female"
    assert res.removed_identifiers == ["name"]
    assert df["province"][0] == "Huế" and df["province"][1:].isna().all()


def test_kobo_json_api_submissions(project):
    subs = {
        "count": 2,
        "results": [
            {
                "_id": 1, "_uuid": "a", "_submission_time": "2022-05-01T10:00:00",
                "_validation_status": {"uid": "validation_status_on_hold", "label": "On hold"},
                "demo/Sex": "1", "demo/age": "20", "region": "north", "consent": "yes",
                "_geolocation": [21.0, 105.8],
                "kids": [{"kids/q_kid_age": "3"}, {"kids/q_kid_age": "5"}],
            },
            {
                "_id": 2, "_uuid": "b", "_submission_time": "2022-05-01T11:00:00",
                "_validation_status": {}, "demo/Sex": "2", "demo/age": "33",
                "region": "south", "consent": "yes", "kids": [{"kids/q_kid_age": "1"}],
            },
        ],
    }  # fmt: skip
    setup_cycle(
        project, {"exports/adults.json": json.dumps(subs).encode()}, data="exports/adults.json"
    )
    res = read(project)
    assert list(res.data["validation_status"]) == ["on_hold", "none"]
    assert "_geolocation" in res.removed_identifiers
    kids = res.repeats["kids"]
    assert kids[["respondent_id", "q_kid_age"]].values.tolist() == [
        ["a", "3"],
        ["a", "5"],
        ["b", "1"],
    ]
    assert kids["_parent_index"].tolist() == [1, 1, 2]


def test_excel_serials_and_iso_to_utc():
    assert to_utc(45365.5) == pd.Timestamp("2024-03-14T12:00:00", tz="UTC")
    assert to_utc("45365") == pd.Timestamp("2024-03-14", tz="UTC")
    assert to_utc("2017-12-28T10:01:27.000-05:00") == pd.Timestamp("2017-12-28T15:01:27", tz="UTC")
    assert to_utc(None) is None
    with pytest.raises(ValueError):
        to_utc("yesterday")


# ---------------------------------------------------------------------- malformed corpus


def _csv(**kw) -> dict[str, bytes]:
    return {"exports/adults.csv": csv_text(**kw).encode("utf-8")}


def _rows(**changes) -> list[list[str]]:
    """ROWS with cells replaced: {(row, col): value}."""
    rows = [list(r) for r in ROWS]
    for (i, j), v in changes.get("cells", {}).items():
        rows[i][j] = v
    return rows


def _good_xlsx() -> bytes:
    return xlsx_bytes({"Adults": [HEADER, *typed_rows()]})


def _encrypted() -> bytes:
    # an OLE2 compound file holding EncryptionInfo/EncryptedPackage streams (Excel's password
    # protection); only the header and the stream names matter to the reader
    return (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\x00" * 504
        + "EncryptionInfo".encode("utf-16-le")
        + b"\x00" * 64
        + "EncryptedPackage".encode("utf-16-le")
        + b"\x00" * 512
    )


X = {"data": "exports/adults.xlsx"}

# name: (files, instrument settings, exception, key words in the message)
CORPUS = {
    "cp1258_undeclared": (
        {"exports/adults.csv": cp1258(csv_text())}, {}, InputError,
        ["not UTF-8", "encoding: cp1258"],
    ),
    "utf16_no_bom": (
        {"exports/adults.csv": csv_text().encode("utf-16-le")}, {}, InputError,
        ["UTF-16", "byte-order mark", "utf-16-le"],
    ),
    "utf16_bom_declared_cp1258": (
        {"exports/adults.csv": csv_text().encode("utf-16")}, {"encoding": "cp1258"}, InputError,
        ["UTF-16", "cp1258"],
    ),
    "utf8_declared_cp1258": (
        _csv(), {"encoding": "cp1258"}, InputError, ["valid UTF-8", "Remove `encoding:`"],
    ),
    "utf8_bom_declared_cp1258": (
        {"exports/adults.csv": b"\xef\xbb\xbf" + csv_text().encode()}, {"encoding": "cp1258"},
        InputError, ["UTF-8 byte-order mark"],
    ),
    "unknown_codec": (_csv(), {"encoding": "klingon-8"}, InputError, ["klingon-8", "cp1258"]),
    "latin1_declared_ascii_bad_bytes": (
        {"exports/adults.csv": b"\x81" + csv_text().encode()}, {"encoding": "cp1258"},
        InputError, ["cannot be read as 'cp1258'"],
    ),
    "truncated_xlsx": (
        {"exports/adults.xlsx": _good_xlsx()[:1500]}, X, InputError, ["truncated", "again"],
    ),
    "encrypted_xlsx": (
        {"exports/adults.xlsx": _encrypted()}, X, InputError, ["password-protected", "remove"],
    ),
    "xls_named_xlsx": (
        {"exports/adults.xlsx": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1024}, X,
        InputError, [".xls", "save it as .xlsx"],
    ),
    "xls_extension": (
        {"exports/adults.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1024},
        {"data": "exports/adults.xls"}, InputError, ["97-2003", ".xlsx"],
    ),
    "csv_named_xlsx": (
        {"exports/adults.xlsx": csv_text().encode()}, X, InputError, ["text (CSV?)", "Rename"],
    ),
    "xlsx_named_csv": (
        {"exports/adults.csv": _good_xlsx()}, {}, InputError, ["Excel workbook", ".xlsx"],
    ),
    "empty_file": ({"exports/adults.csv": b""}, {}, InputError, ["empty", "0 bytes"]),
    "blank_lines_only": ({"exports/adults.csv": b"\r\n \r\n"}, {}, InputError, ["no data"]),
    "header_only": (_csv(rows=[]), {}, InputError, ["header but no data rows"]),
    "header_only_xlsx": (
        {"exports/adults.xlsx": xlsx_bytes({"A": [HEADER]})}, X, InputError, ["no data rows"],
    ),
    "renamed_mapped_column": (
        _csv(header=[h if h != "demo/Sex" else "demo/Sexe" for h in HEADER]), {}, InputError,
        ["has no column 'Sex'", "closest headers: demo/Sexe"],
    ),
    "missing_required_column": (
        _csv(header=[h if h != "region" else "regoin" for h in HEADER]), {}, InputError,
        ["required contract column 'region'", "regoin", "mapping"],
    ),
    "mapping_names_absent_column": (
        _csv(), {"mapping": {"sex": "Sex", "age": "age", "q_toilet": "toilet_type"}},
        InputError, ["has no column 'toilet_type'", "q_toilet"],
    ),
    "unknown_codes_many_rows": (
        _csv(rows=_rows(cells={(0, 3): "M", (1, 3): "F", (2, 3): "F"})), {}, InputError,
        ["'F' x2 (rows 3, 4)", "'M' x1 (rows 2)", "codes:", "sex:"],
    ),
    "mixed_types_numeric": (
        _csv(rows=_rows(cells={(1, 4): "nineteen"})), {}, InputError,
        ["'demo/age'", "not numbers", "row 3: 'nineteen'", "null"],
    ),
    "fractional_integer": (
        _csv(rows=_rows(cells={(0, 4): "34.5"})), {}, InputError, ["whole numbers", "34.5"],
    ),
    "bad_datetime": (
        _csv(rows=_rows(cells={(3, 1): "yesterday"})), {}, InputError,
        ["_submission_time", "dates/times", "row 5"],
    ),
    "second_header_row": (_csv(rows=[HEADER, *ROWS]), {}, InputError, ["second header row"]),
    "ragged_rows": (
        {"exports/adults.csv": (csv_text() + "u5;2022-05-03;north;1\r\n").encode()}, {},
        InputError, ["different number of fields", "row 6 has 4"],
    ),
    "duplicate_columns": (
        _csv(header=[*HEADER[:-1], "phone"]), {}, InputError, ["duplicate column names: phone"],
    ),
    "ambiguous_group_path": (
        _csv(header=[*HEADER[:-1], "household/age"]), {}, InputError,
        ["matches several headers", "demo/age", "household/age"],
    ),
    "wrong_sheet": (
        {"exports/adults.xlsx": _good_xlsx()}, {**X, "sheet": "Data"}, InputError,
        ["no sheet 'Data'", "Adults"],
    ),
    "values_beyond_header_xlsx": (
        {"exports/adults.xlsx": xlsx_bytes({"A": [HEADER, [*typed_rows()[0], "stray"]]})}, X,
        InputError, ["beyond the last header"],
    ),
    "truncated_json": (
        {"exports/adults.json": b'[{"_uuid": "a", "region": "no'}, {"data": "exports/adults.json"},
        InputError, ["not valid JSON"],
    ),
    "json_without_submissions": (
        {"exports/adults.json": b'{"detail": "Not found."}'}, {"data": "exports/adults.json"},
        InputError, ["no list of submissions"],
    ),
    "corrupt_sav": (
        {"exports/adults.sav": b"$FL2@(#) not really spss" + b"\x00" * 100},
        {"data": "exports/adults.sav"}, InputError, ["SPSS .sav"],
    ),
    "unknown_extension": (
        {"exports/adults.ods": b"PK\x03\x04"}, {"data": "exports/adults.ods"}, InputError,
        ["'.ods'", "CSV, XLSX"],
    ),
    "cycle_points_to_missing_file": (
        {}, {"data": "exports/gone.csv"}, ConfigError, ["exports/gone.csv", "does not exist"],
    ),
    "identifier_mapped": (
        _csv(), {"mapping": {"sex": "Sex", "age": "age", "q_name": "respondent_name"}},
        ConfigError, ["personal data", "q_name"],
    ),
    "labels_without_form": (
        _csv(), {"values": "labels"}, ConfigError, ["`values: labels`", "`form:`"],
    ),
    "mapping_unknown_contract_column": (
        _csv(), {"mapping": {"sex": "Sex", "age": "age", "gender": "Sex"}}, ConfigError,
        ["'gender'", "neither a contract column"],
    ),
}  # fmt: skip


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 25


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_malformed_input(project, case):
    files, inst, exc_type, words = CORPUS[case]
    cdir = setup_cycle(project, files, **inst)
    before = digest(cdir)
    with pytest.raises(exc_type) as info:
        read(project)
    err = info.value
    assert isinstance(err, VoicesError) and err.exit_code == 2
    message = str(err)
    assert "\n" not in message.split(" Add them")[0]  # one paragraph (YAML hints aside)
    for word in words:
        assert word in message, (case, message)
    assert str(cdir) in message or "cycle.yml" in message  # names the file
    assert err.hint
    assert digest(cdir) == before  # raw files byte-for-byte unchanged, nothing written


def test_label_row_under_xml_header(project):
    header = ["_uuid", "region", "demo/Sex", "demo/age", "consent", "sources"]
    rows = [
        ["", "", "Sex", "Age", "", "Water sources"],
        ["a", "north", "1", "20", "1", "tap"],
    ]
    cdir = setup_cycle(
        project, {"exports/adults.csv": csv_text(header, rows).encode()}, form="forms/adults.xlsx"
    )
    _adult_form(cdir / "forms" / "adults.xlsx")
    before = digest(cdir)
    with pytest.raises(InputError, match="question labels") as info:
        read(project)
    assert info.value.exit_code == 2 and info.value.row == 2
    assert digest(cdir) == before


# ---------------------------------------------------------------------- real fixtures


def _inst(path: Path, **kw) -> Instrument:
    return Instrument(label={"en": "x"}, population="adults", data=str(path), **kw)


@pytest.fixture(scope="module")
def lax_contract():
    """The contract with nothing required, for third-party forms that carry no LNOB columns."""
    c = load_contract(ROOT / "data")
    return c.model_copy(
        update={"columns": [col.model_copy(update={"required": False}) for col in c.columns]}
    )


FORMPACK_ITEMS = {
    "dietary_needs": {"q_diet": "dietary_accommodations"},
    "favorite_coffee": {"q_coffee": "favorite_coffee_type"},
    "grouped_translated": {
        "q_symmetry": "What_kind_of_symmetry_do_you_have",
        "q_segments": "How_many_segments_does_your_body_have",
        "q_fluids": "Do_you_have_body_flu_intracellular_space",
    },
    "restaurant_profile": {},
    "nested_grouped_repeatable": {"q_tree": "What_kind_of_tree_is_this"},
}


def test_every_formpack_form_and_its_submissions(shared_reference, lax_contract):
    paths = sorted((shared_reference / "kobo").glob("formpack__*/v*.json"))
    read_count = 0
    for path in paths:
        before = hashlib.sha256(path.read_bytes()).hexdigest()
        key = path.parent.name.removeprefix("formpack__")
        subs = json.loads(path.read_text(encoding="utf-8"))["submissions"]
        if not subs:
            with pytest.raises(InputError, match="no data rows"):
                read_export(path, _inst(path, format="kobo-json"), contract=lax_contract)
            continue
        res = read_export(
            path,
            _inst(path, format="kobo-json", mapping=FORMPACK_ITEMS.get(key, {})),
            contract=lax_contract,
        )
        read_count += 1
        assert len(res.data) == len(subs), path
        assert res.codebook is not None and res.codebook.questions
        assert list(res.data["_source_row"]) == list(range(1, len(subs) + 1))
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before
        if key == "restaurant_profile":
            assert "location" in res.removed_identifiers
            assert "12.34" not in res.data.to_csv()
    assert read_count == 10

    k = shared_reference / "kobo"
    diet = read_export(
        k / "formpack__dietary_needs" / "v1.json",
        _inst(k, format="kobo-json", mapping=FORMPACK_ITEMS["dietary_needs"]),
        contract=lax_contract,
    ).data
    assert diet["q_diet"].tolist() == [
        "gluten_free",
        "vegan vegetarian",
        "gluten_free vegan vegetarian lactose_free",
    ]
    assert diet["q_diet__vegan"].tolist() == [0, 1, 1]

    gt = read_export(
        k / "formpack__grouped_translated" / "v1.json",
        _inst(k, format="kobo-json", mapping=FORMPACK_ITEMS["grouped_translated"]),
        contract=lax_contract,
    )
    df = gt.data
    assert df["q_symmetry"].tolist()[:2] == ["spherical radial bilateral", "bilateral"]
    assert pd.isna(df["q_symmetry"][2]) and pd.isna(df["q_symmetry__radial"][2])
    assert df["q_segments"].tolist()[:2] == [7, 1]  # typed by the form (integer)
    assert df["respondent_id"][0] == "6d1b903a-6d50-4504-bd7b-76c1a5098ed9"
    assert df["started_at"][0] == pd.Timestamp("2017-12-28T15:01:27", tz="UTC")
    assert gt.codebook.languages == ["en", "es"]

    nest = read_export(
        k / "formpack__nested_grouped_repeatable" / "v2.json",
        _inst(k, format="kobo-json", mapping=FORMPACK_ITEMS["nested_grouped_repeatable"]),
        contract=lax_contract,
    )
    assert list(nest.data["validation_status"]) == ["approved", "not_approved"]
    assert sorted(nest.repeats) == ["group_egg", "group_nest", "group_tree"]
    trees = nest.repeats["group_tree"]
    assert trees["q_tree"].tolist()[:2] == ["pine", "spruce"]
    eggs = nest.repeats["group_egg"]
    # every egg leads back, through its nest and tree, to a submission
    assert eggs["respondent_id"].notna().all()
    assert eggs["respondent_id"].tolist()[:3] == ["f16d9a3f-0892-413e-81d4-758ab188ea0b"] * 3


def test_pyxform_forms_read_as_codebooks(shared_reference):
    k = shared_reference / "kobo"
    for path in sorted(k.glob("pyxform__*/*.xlsx")):
        assert read_form(path).questions


def test_meeting_form_export_with_repeats(shared_reference, lax_contract):
    folder = shared_reference / "kobo" / "kobo-transfer__meeting_form"
    export = next(folder.glob("Meeting_Form_*.xlsx"))
    before = hashlib.sha256(export.read_bytes()).hexdigest()
    res = read_export(
        export,
        _inst(
            export,
            identifiers=["Participant_name"],
            mapping={"q_rating": "Discussion_rating", "q_session": "Session_number"},
        ),
        contract=lax_contract,
        codebook=read_form(folder / "aLcg7HtfpBHyCsyNmRvqme.xlsx"),
    )
    assert hashlib.sha256(export.read_bytes()).hexdigest() == before
    assert res.format == "kobo-xlsx"
    df = res.data
    assert len(df) == 5 and list(df["_source_row"]) == [2, 3, 4, 5, 6]
    assert df["respondent_id"][0] == "73a23093-2215-4812-9071-14e2d2b65e5a"
    assert df["submitted_at"][0] == pd.Timestamp("2024-03-14T09:36:52", tz="UTC")
    assert sorted(res.repeats) == ["feedback", "participants", "topics_discussed"]
    for name in ("Project_location", "_Project_location_latitude", "participants/Participant_name"):
        assert name in res.removed_identifiers
    topics = res.repeats["topics_discussed"]
    assert topics["q_rating"].tolist()[:3] == [3, 5, 3]
    assert topics["respondent_id"].tolist()[:2] == [
        "73a23093-2215-4812-9071-14e2d2b65e5a",
        "f5279bc4-db5f-41ba-91b5-062603515346",
    ]
    parts = res.repeats["participants"]
    assert "Charles" not in parts.to_csv() and len(parts) == 8
    feedback = res.repeats["feedback"]
    assert feedback["_parent_table"].unique().tolist() == ["participants"]
    # feedback -> participant 1 -> submission 1
    assert feedback["respondent_id"][0] == "73a23093-2215-4812-9071-14e2d2b65e5a"
    assert feedback["q_session"][0] == "session_2__october_5"
    text = df.to_csv() + "".join(t.to_csv() for t in res.repeats.values())
    assert "1.464691" not in text


def test_geolocation_export_drops_all_gps(shared_reference, lax_contract):
    folder = shared_reference / "kobo" / "kobo-transfer__geolocation_test"
    export = next(folder.glob("Geolocation_Test_*.xlsx"))
    res = read_export(
        export,
        _inst(export),
        contract=lax_contract,
        codebook=read_form(folder / "aF63GwUngXUuysbHQ2oaKy.xlsx"),
    )
    assert set(res.removed_identifiers) >= {
        "Record_your_current_location",
        "_Record_your_current_location_latitude",
        "_Record_your_current_location_longitude",
        "_Record_your_current_location_altitude",
        "_Record_your_current_location_precision",
        "Record_a_line",
        "Record_a_line_001",
    }
    assert "31.36617" not in res.data.to_csv() and "16.36231" not in res.data.to_csv()
    assert res.data["started_at"][0] == pd.Timestamp("2024-03-14T21:00:01.582", tz="UTC")
    assert len(res.data) == 5


def test_spss_select_multiple_dummies_with_form(project):
    """SPSS names cannot hold '/', so dummies are `q_x_choice`: one item, not one per dummy."""
    import pyreadstat

    frame = pd.DataFrame(
        {
            "uuid": ["a", "b"],
            "region": ["north", "south"],
            "Sex": [1.0, 2.0],
            "age": [20.0, 30.0],
            "consent": [1.0, 1.0],
            "sources": ["tap well", "well"],
            "sources_tap": [1.0, 0.0],
            "sources_well": [1.0, 1.0],
        }
    )
    cdir = setup_cycle(
        project,
        {},
        data="exports/adults.sav",
        form="forms/adults.xlsx",
        mapping={"respondent_id": "uuid", "sex": "Sex", "age": "age", "q_sources": "sources"},
    )
    _adult_form(cdir / "forms" / "adults.xlsx")
    (cdir / "exports").mkdir()
    pyreadstat.write_sav(frame, str(cdir / "exports" / "adults.sav"))
    df = read(project).data
    items = sorted(c for c in df.columns if c.startswith("q_"))
    assert items == ["q_sources", "q_sources__tap", "q_sources__well"]
    assert df["q_sources__tap"].tolist() == [1, 0]


def test_every_example_cycle_reads(project_root):
    """The example generator's exports (data/<ISO>/<cycle>/) all pass intake."""
    proj = Project(project_root)
    cycles = proj.cycles()
    if not cycles:
        pytest.skip("no example cycles under data/ yet")
    for iso, cyc in cycles:
        cycle = proj.cycle(iso, cyc)
        for name in cycle.instruments:
            res = read_instrument(proj, cycle, name)
            assert len(res.data) > 0, (iso, cyc, name)
            assert res.data["respondent_id"].notna().all(), (iso, cyc, name)
            for ident in res.removed_identifiers:
                assert ident not in res.data.columns


def test_calamine_and_openpyxl_read_the_same(shared_reference, lax_contract, monkeypatch):
    """The fast reader (calamine) and the fallback (openpyxl) give identical frames."""
    from voicescount import intake

    folder = shared_reference / "kobo" / "kobo-transfer__meeting_form"
    export = next(folder.glob("Meeting_Form_*.xlsx"))
    inst = _inst(
        export, identifiers=["Participant_name"], mapping={"q_rating": "Discussion_rating"}
    )
    fast = read_export(export, inst, contract=lax_contract)
    monkeypatch.setattr(intake, "_calamine_sheets", lambda source: None)
    slow = read_export(export, inst, contract=lax_contract)
    pd.testing.assert_frame_equal(fast.data, slow.data)
    for name in fast.repeats:
        pd.testing.assert_frame_equal(fast.repeats[name], slow.repeats[name])
    assert fast.removed_identifiers == slow.removed_identifiers


def test_review_status_labels_and_naive_times_noted(project):
    header = ["_uuid", "start", "region", "sex", "age", "consent", "_validation_status"]
    rows = [
        ["a", "2022-05-01T09:00:00", "north", "1", "20", "1", "Approved"],
        ["b", "2022-05-01T09:30:00+07:00", "north", "2", "30", "1", "Not approved"],
        ["c", "2022-05-01T10:00:00", "south", "2", "40", "1", ""],
    ]
    setup_cycle(project, {"exports/adults.csv": csv_text(header, rows).encode()})
    res = read(project)
    assert list(res.data["validation_status"]) == ["approved", "not_approved", "none"]
    assert res.data["started_at"][1] == pd.Timestamp("2022-05-01T02:30:00", tz="UTC")
    assert any("2 time(s) carry no UTC offset" in n for n in res.notes)


def test_semicolon_csv_with_commas_in_answers(project):
    rows = [list(r) for r in ROWS]
    for r in rows:
        r[11] = "Ba Đình, Hà Nội, Việt Nam"
    setup_cycle(project, {"exports/adults.csv": csv_text(rows=rows, sep=";").encode()})
    df = read(project).data
    assert set(df["province"]) == {"Ba Đình, Hà Nội, Việt Nam"}
    assert list(df["age"]) == [34, 19, 61, 45]


def test_odk_central_repeat_files_joined_by_key(project):
    main_h = ["SubmissionDate", "demo-Sex", "demo-age", "region", "consent", "KEY"]
    main_r = [
        ["2022-05-01T10:00:00.000Z", "1", "22", "north", "1", "uuid:aa"],
        ["2022-05-01T11:00:00.000Z", "2", "23", "south", "1", "uuid:bb"],
    ]
    hh_h = ["hh-q_member_age", "hh-member_name", "PARENT_KEY", "KEY"]
    hh_r = [
        ["40", "Canary One", "uuid:aa", "uuid:aa/hh[1]"],
        ["12", "Canary Two", "uuid:aa", "uuid:aa/hh[2]"],
        ["70", "Canary Three", "uuid:bb", "uuid:bb/hh[1]"],
    ]
    visit_h = ["q_visit", "PARENT_KEY", "KEY"]
    visit_r = [["clinic", "uuid:bb/hh[1]", "uuid:bb/hh[1]/visit[1]"]]
    setup_cycle(
        project,
        {
            "exports/adults.csv": csv_text(main_h, main_r, ",").encode(),
            "exports/adults-hh.csv": csv_text(hh_h, hh_r, ",").encode(),
            "exports/adults-visit.csv": csv_text(visit_h, visit_r, ",").encode(),
        },
        identifiers=["member_name"],
    )
    res = read(project)
    hh = res.repeats["hh"]
    assert hh["respondent_id"].tolist() == ["uuid:aa", "uuid:aa", "uuid:bb"]
    assert hh["q_member_age"].tolist() == ["40", "12", "70"]
    assert "hh-member_name" in res.removed_identifiers and "Canary" not in hh.to_csv()
    visit = res.repeats["visit"]
    assert visit[["_parent_table", "_parent_index", "respondent_id"]].values.tolist() == [
        ["hh", 3, "uuid:bb"]
    ]


def test_odk_repeat_with_unknown_parent_key(project):
    main_h = ["SubmissionDate", "demo-Sex", "demo-age", "region", "consent", "KEY"]
    main_r = [["2022-05-01T10:00:00.000Z", "1", "22", "north", "1", "uuid:aa"]]
    cdir = setup_cycle(
        project,
        {
            "exports/adults.csv": csv_text(main_h, main_r, ",").encode(),
            "exports/adults-hh.csv": csv_text(
                ["q_x", "PARENT_KEY", "KEY"], [["1", "uuid:zz", "uuid:zz/hh[1]"]], ","
            ).encode(),
        },
    )
    before = digest(cdir)
    with pytest.raises(InputError, match="PARENT_KEY 'uuid:zz'") as info:
        read(project)
    assert "adults-hh.csv" in str(info.value) and info.value.exit_code == 2
    assert digest(cdir) == before


def test_unknown_codes_in_repeats_are_noted_not_quarantined(shared_reference, lax_contract):
    """Repeat rows are not respondents: their unknown codes must not point at main-table rows."""
    path = shared_reference / "kobo" / "formpack__nested_grouped_repeatable" / "v1.json"
    codebook = read_form(path)
    codebook.choices["tree_type"].pop("spruce")
    res = read_export(
        path,
        _inst(path, format="kobo-json", mapping={"q_tree": "What_kind_of_tree_is_this"}),
        contract=lax_contract,
        codebook=codebook,
    )
    assert res.unknown_codes.empty
    assert any("repeat 'group_tree'" in n and "'spruce'" in n for n in res.notes)


@pytest.mark.parametrize(
    "gps_headers",
    [
        ["location/gps", "_location/gps_latitude", "_location/gps_longitude"],  # Kobo
        ["location-gps-Latitude", "location-gps-Longitude", "location-gps-Accuracy"],  # ODK
    ],
)
def test_declared_gps_removed_in_every_spelling(project, gps_headers):
    header = ["_uuid", "region", "sex", "age", "consent", *gps_headers]
    rows = [["a", "north", "1", "20", "1", "21.0285", "105.8542", "4.5"]]
    setup_cycle(
        project, {"exports/adults.csv": csv_text(header, rows).encode()}, identifiers=["gps"]
    )
    res = read(project)
    assert sorted(res.removed_identifiers) == sorted(gps_headers)
    assert "21.0285" not in res.data.to_csv()


def test_codes_match_despite_case_and_float_text(project):
    rows = [list(r) for r in ROWS]
    rows[0][3], rows[1][3] = "1.0", "2.0"  # a CSV saved from SPSS writes floats
    rows[2][2] = "North"  # region spelt with a capital
    rows[3][2] = "01"  # not the same code as "1": leading zeros are kept
    setup_cycle(project, {"exports/adults.csv": csv_text(rows=rows).encode()})
    res = read(project)
    assert list(res.data["sex"]) == ["male", "female", "female", "male"]
    assert list(res.data["region"]) == ["north", "south", "north", "01"]
    assert res.unknown_codes["value"].tolist() == ["01"]


# ---------------------------------------------------------------------- property: CSV round trip

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from voicescount.intake import read_raw  # noqa: E402

_CELL = st.text(alphabet="abcXYZ019 ,;\t\"'\nàộữĐ-=+@", max_size=12)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    width=st.integers(1, 5),
    data=st.data(),
    sep=st.sampled_from([";", ",", "\t"]),
    bom=st.booleans(),
)
def test_csv_round_trip(tmp_path, width, data, sep, bom):
    """Whatever the cells hold (separators, quotes, newlines, accents), they come back as written."""
    header = [f"c{i}" for i in range(width)]
    rows = data.draw(
        st.lists(
            st.lists(_CELL, min_size=width, max_size=width).filter(
                lambda r: any(c.strip() for c in r)
            ),
            min_size=1,
            max_size=6,
        )
    )
    buf = io.StringIO(newline="")
    writer = __import__("csv").writer(buf, delimiter=sep, lineterminator="\r\n")
    writer.writerows([header, *rows])
    path = tmp_path / "rt.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8"))
    raw = read_raw(path, Instrument(label={"en": "x"}, population="adults", data="rt.csv"))
    assert raw.main.headers == header
    expected = [[unicodedata.normalize("NFC", c) or None for c in r] for r in rows]
    assert raw.main.rows == expected


def test_one_column_csv_keeps_separators_in_answers(tmp_path):
    path = tmp_path / "one.csv"
    path.write_bytes(b'comment\r\na,b;c\r\n"x\r\ny"\r\n')
    raw = read_raw(path, Instrument(label={"en": "x"}, population="adults", data="one.csv"))
    assert raw.main.headers == ["comment"]
    assert raw.main.rows == [["a,b;c"], ["x\r\ny"]]
    assert raw.main.row_numbers == [2, 3]


# --------------------------------------------------------------------------- declared design columns


def _replicate_cycle(tmp_path, n: int = 240, glob: str = "rw_*", extra: str = ""):
    """The tiny ZZ 2023 cycle with JK1 replicate-weight columns (one per PSU) in its export."""
    import numpy as np

    from tests.conftest import make_tiny_project

    root = make_tiny_project(tmp_path / "tiny")
    rng = np.random.default_rng(16)
    region = rng.choice(["north", "south"], n)
    psu = np.array([f"c{k}" for k in rng.integers(0, 12, n)])
    w = rng.uniform(1, 3, n).round(2)
    df = pd.DataFrame(
        dict(respondent_id=[f"r{i}" for i in range(n)], consent="true", region=region,
             stratum=region, psu=psu, weight=w, sex=rng.choice(["female", "male"], n),
             age=rng.integers(16, 90, n), q_water_basic=rng.choice(["yes", "no"], n),
             fpc1=0.05)
    )  # fmt: skip
    psus = sorted(set(psu))
    R = len(psus)
    for r, p in enumerate(psus, start=1):  # delete-one-PSU jackknife (JK1)
        df[f"design/rw_{r}"] = np.where(psu == p, 0.0, w * R / (R - 1)).round(6)
    cdir = root / "data" / "ZZ" / "2023"
    df.to_csv(cdir / "exports" / "adults.csv", index=False)
    yml = cdir / "cycle.yml"
    yml.write_text(
        yml.read_text(encoding="utf-8")
        + f"design:\n  replicates: {{type: JK1, columns: '{glob}'}}\n{extra}",
        encoding="utf-8",
    )
    return root, df, psus


def test_declared_replicate_columns_are_carried_and_used(tmp_path):
    """Replicate weights given in the export (design.replicates.columns) reach the estimates:
    the store's SE is the JK1 variance of those columns, (R-1)/R sum (theta_r - mean)^2."""
    import numpy as np

    from voicescount import estimates

    root, df, psus = _replicate_cycle(tmp_path)
    project = Project(root)
    res = read_instrument(project, project.cycle("ZZ", 2023), "adults")
    reps = [c for c in res.data.columns if c.startswith("rw_")]
    assert len(reps) == len(psus) and str(res.data[reps[0]].dtype) == "Float64"
    est = estimates.load(project, "ZZ", 2023).estimates
    row = est[(est.variable == "basic_water") & (est.grouping == "")].iloc[0]
    # the rows validation kept (random answers can make a duplicate submission)
    out = pd.read_csv(project.build_dir("ZZ", 2023) / "quarantine.csv")
    df = df[~df.respondent_id.isin(out.respondent_id)]
    assert row.n == len(df) >= len(psus) * 15
    y = (df.q_water_basic == "yes").to_numpy(float)
    theta = [np.average(y, weights=df[f"design/rw_{r}"]) for r in range(1, len(psus) + 1)]
    R = len(theta)
    se = np.sqrt((R - 1) / R * np.sum((np.array(theta) - np.mean(theta)) ** 2))
    # the store publishes rounded values (3 decimals)
    assert row.estimate == pytest.approx(np.average(y, weights=df.weight), abs=5e-4)
    assert row.se == pytest.approx(se, abs=5e-4)
    assert se > 0.01


def test_declared_design_columns_missing_from_the_export_are_named(tmp_path):
    root, _df, _psus = _replicate_cycle(tmp_path, glob="repw*")
    project = Project(root)
    with pytest.raises(InputError, match="no replicate-weight column matching 'repw\\*'"):
        read_instrument(project, project.cycle("ZZ", 2023), "adults")


def test_a_declared_fpc_outside_the_contract_is_carried_as_a_number(tmp_path):
    root, _df, _psus = _replicate_cycle(tmp_path)
    yml = root / "data" / "ZZ" / "2023" / "cycle.yml"
    text = yml.read_text(encoding="utf-8").replace(
        "  replicates: {type: JK1, columns: 'rw_*'}\n", "  fpc: fpc1\n"
    )
    yml.write_text(text, encoding="utf-8")
    project = Project(root)
    res = read_instrument(project, project.cycle("ZZ", 2023), "adults")
    assert res.data["fpc1"].tolist() == [0.05] * len(res.data)
