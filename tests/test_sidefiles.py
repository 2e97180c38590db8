"""Side-file reader: errors name file, spreadsheet row and column; text is stripped."""

from __future__ import annotations

import pandas as pd
import pytest

from voicescount import sidefiles
from voicescount.errors import InputError, Problems


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


def test_collecting_records_every_bad_row_then_raises_them_together(tmp_path):
    p = _write(tmp_path, "id,cycle,n\na1,2022,3\na1,22,-1\na2,1999,x\na3,2023,4\n")
    df = sidefiles.read_csv(p, ["id", "cycle", "n"], "test")
    with pytest.raises(Problems) as exc, sidefiles.collecting(p):
        sidefiles.check_unique(df, p, "id")
        cycles = sidefiles.to_cycle(df, p, "cycle")
        counts = sidefiles.to_count(df, p, "n")
        assert cycles.tolist() == [2022, 22, 1999, 2023] and counts.tolist() == [3, -1, pd.NA, 4]
    found = [(e.row, e.field) for e in exc.value.problems]
    assert found == [(3, "id"), (3, "cycle"), (4, "cycle"), (3, "n"), (4, "n")]
    # outside collecting(), the first bad row raises at once, as pages need
    with pytest.raises(InputError, match="row 3"):
        sidefiles.to_count(df, p, "n")


def test_collecting_lists_many_bad_rows_in_one_more_line(tmp_path):
    rows = "".join(f"a{i},{1000 + i}\n" for i in range(25))
    p = _write(tmp_path, "id,cycle\n" + rows)
    df = sidefiles.read_csv(p, ["id", "cycle"], "test")
    with pytest.raises(Problems) as exc, sidefiles.collecting(p):
        sidefiles.to_cycle(df, p, "cycle")
    probs = exc.value.problems
    assert len(probs) == sidefiles.MAX_ROWS_LISTED + 1
    assert "5 more row(s) fail the same check (rows 22, 23, 24, 25, 26)" in probs[-1].problem
