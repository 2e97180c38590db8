"""The data contract loads, and its handbook table mirrors contract.yml row for row."""

from __future__ import annotations

import pytest

from voicescount.contract import contract_table, load_contract


@pytest.fixture(scope="module")
def contract(project_root):
    return load_contract(project_root / "data")


def test_table_has_one_row_per_column_in_file_order(contract):
    table = contract_table(contract, "en")
    assert list(table["column"]) == contract.names()
    assert list(table.columns) == [
        "column",
        "type",
        "role",
        "required",
        "populations",
        "allowed",
        "description",
    ]


def test_required_codes_and_ranges_are_rendered(contract):
    table = contract_table(contract, "en").set_index("column")
    assert table.loc["respondent_id", "required"] == "yes"
    assert table.loc["province", "required"] == "no"
    assert table.loc["wg_seeing", "allowed"] == "1, 2, 3, 4"
    assert table.loc["age", "allowed"] == "10 to 110"
    assert table.loc["sex", "populations"] == "adults, children"
    assert table.loc["province", "allowed"] == ""


def test_descriptions_follow_language_with_english_fallback(contract):
    en = contract_table(contract, "en").set_index("column")["description"]
    vi = contract_table(contract, "vi").set_index("column")["description"]
    sw = contract_table(contract, "sw").set_index("column")["description"]
    assert en["wg_seeing"].startswith("Difficulty seeing")
    assert vi["wg_seeing"] != en["wg_seeing"]
    # No Swahili descriptions in the contract: English is shown rather than a blank cell.
    assert (sw == en).all()


def test_derived_table(contract):
    table = contract_table(contract, "en", derived=True)
    assert list(table.columns) == ["column", "description"]
    assert "disability" in set(table["column"])
    assert table["description"].str.len().min() > 0
