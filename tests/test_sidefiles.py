"""Side-file reader: errors name file, spreadsheet row and column; text is stripped."""

from __future__ import annotations

import pytest

from voicescount import sidefiles
from voicescount.errors import InputError


def _write(tmp_path, text, encoding="utf-8"):
    p = tmp_path / "side.csv"
    p.write_bytes(text.encode(encoding))
    return p


def test_reads_text_strips_and_keeps_free_text(tmp_path):
    p = _write(tmp_path, "\ufeffid , text,n\n a1 ,  hello  , 3 \n")
    df = sidefiles.read_csv(p, ["id", "text", "n"], "test", keep_spaces=["text"])
    assert df.loc[0, "id"] == "a1" and df.loc[0, "text"] == "  hello  "
    assert sidefiles.to_count(df, p, "n").tolist() == [3]


def test_errors_name_file_row_and_field(tmp_path):
    p = _write(tmp_path, "id,cycle,n\na1,2022,3\na1,22,-1\n")
    df = sidefiles.read_csv(p, ["id", "cycle", "n"], "test")
    with pytest.raises(InputError, match=r"side.csv, row 3, field 'id': id 'a1' appears twice"):
        sidefiles.check_unique(df, p, "id")
    with pytest.raises(InputError, match=r"row 3, field 'cycle'.*not a survey cycle"):
        sidefiles.to_cycle(df, p, "cycle")
    with pytest.raises(InputError, match=r"row 3, field 'n'.*whole number"):
        sidefiles.to_count(df, p, "n")
    with pytest.raises(InputError, match=r"row 2, field 'id'.*Use one of: b1"):
        sidefiles.check_allowed(df, p, "id", ["b1"])


def test_missing_file_columns_and_encoding(tmp_path):
    with pytest.raises(InputError, match="not found"):
        sidefiles.read_csv(tmp_path / "none.csv", ["id"], "test")
    p = _write(tmp_path, "id\nx\n")
    with pytest.raises(InputError, match=r"field 'cycle'.*lacks column\(s\) cycle"):
        sidefiles.read_csv(p, ["id", "cycle"], "test")
    p = _write(tmp_path, "id\nCafé\n", encoding="cp1252")
    with pytest.raises(InputError, match="not UTF-8"):
        sidefiles.read_csv(p, ["id"], "test")
