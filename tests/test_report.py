"""report: the overview chapter builder, from the registry, in the page's language."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from voicescount import report
from voicescount.registry import Project

TINY = Path(__file__).parent / "fixtures" / "tiny"


@pytest.fixture
def tiny(tmp_path) -> Project:
    shutil.copytree(TINY, tmp_path / "p")
    return Project(tmp_path / "p")


def test_overview_lists_sdgs_instruments_fieldwork_and_regions(tiny):
    html = report.overview(tiny, "ZZ", 2023, "en")._repr_html_()
    for text in (
        "SDG 1, SDG 5",
        "Youth, women and people with disabilities",
        "2023-03-01",
        "2023-04-15",
        "North, South",
        "Zedland",
    ):
        assert text in html


def test_overview_and_title_in_vietnamese(tiny):
    html = report.overview(tiny, "ZZ", 2023, "vi")._repr_html_()
    assert "Các vùng" in html and "Miền Bắc, Miền Nam" in html and "Xứ Zed" in html
    title = report.title(tiny, "ZZ", 2023, "vi")._repr_markdown_()
    assert title == "# Khảo sát người dân Xứ Zed 2023: Tổng quan"
    # an untranslated language falls back to English labels
    assert report.title(tiny, "ZZ", 2023, "fr")._repr_markdown_().endswith(": Overview")
