"""The CGD data contract, loaded from `data/contract.yml`.

Intake maps every export onto these columns, validation checks them, derive adds the LNOB
variables. Keeping the contract as data means a new column is a YAML edit, and the handbook
documents the same file the code checks against.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import Field

from .registry import Labels, Strict, label, load_model

Population = Literal["adults", "cso", "children"]


class ContractColumn(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: Literal["string", "integer", "number", "boolean", "category", "datetime"]
    role: Literal["id", "meta", "geo", "demographic", "wg", "cfm", "design", "consent", "item"]
    required: bool = False
    codes: list[str | int] | None = None
    range: tuple[float, float] | None = None
    populations: list[Population] = ["adults", "cso", "children"]
    description: Labels


class DerivedColumn(Strict):
    name: str
    description: Labels


class Contract(Strict):
    version: int
    columns: list[ContractColumn]
    item_prefix: str = "q_"
    derived: list[DerivedColumn] = []

    def column(self, name: str) -> ContractColumn:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def for_population(self, population: Population) -> list[ContractColumn]:
        return [c for c in self.columns if population in c.populations]

    def required(self, population: Population) -> list[str]:
        return [c.name for c in self.for_population(population) if c.required]

    def by_role(self, role: str) -> list[str]:
        return [c.name for c in self.columns if c.role == role]

    def is_item(self, name: str) -> bool:
        return name.startswith(self.item_prefix)


def load_contract(data_dir: str | Path) -> Contract:
    return load_model(Contract, Path(data_dir) / "contract.yml")


def _allowed(col: ContractColumn) -> str:
    """Allowed values as one readable cell: the code list, a range, or blank."""
    if col.codes is not None:
        return ", ".join(str(c) for c in col.codes)
    if col.range is not None:
        lo, hi = col.range
        return f"{lo:g} to {hi:g}"
    return ""


def contract_table(contract: Contract, lang: str = "en", *, derived: bool = False):
    """The data contract as a table for the handbook, with descriptions in `lang`.

    The handbook renders this table instead of a hand-written copy, so the documentation of
    the contract cannot drift from the file the code validates against. Rows keep the order
    of `contract.yml` (the order an analyst reads it in). With `derived=True` the table lists
    the columns computed by `voicescount.derive` (name and description only).
    """
    if derived:
        rows = [
            {"column": d.name, "description": label(d.description, lang)} for d in contract.derived
        ]
        return pd.DataFrame(rows, columns=["column", "description"])
    rows = [
        {
            "column": c.name,
            "type": c.type,
            "role": c.role,
            "required": "yes" if c.required else "no",
            "populations": ", ".join(c.populations),
            "allowed": _allowed(c),
            "description": label(c.description, lang),
        }
        for c in contract.columns
    ]
    return pd.DataFrame(
        rows,
        columns=["column", "type", "role", "required", "populations", "allowed", "description"],
    )
