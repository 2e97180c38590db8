"""Provenance: relative hashes, the trend dependency, the synthetic notice and page header."""

from __future__ import annotations

import hashlib
import json

import pytest

from voicescount.provenance import (
    cycle_input_files,
    file_hashes,
    page_header,
    provenance_record,
    source_fingerprint,
)
from voicescount.registry import Project


@pytest.fixture
def tiny(tiny_project) -> Project:
    return tiny_project


def test_file_hashes_are_sha256_keyed_by_relative_posix_path_and_sorted(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b/x.csv").write_bytes(b"1,2\n")
    (tmp_path / "a.yml").write_bytes(b"k: v\n")
    hashes = file_hashes([tmp_path / "b/x.csv", tmp_path / "a.yml"], root=tmp_path)
    assert list(hashes) == ["a.yml", "b/x.csv"]
    assert hashes["b/x.csv"] == hashlib.sha256(b"1,2\n").hexdigest()


def test_cycle_inputs_include_earlier_cycles_only(tiny):
    rel = {p.relative_to(tiny.root).as_posix() for p in cycle_input_files(tiny, "ZZ", 2023)}
    assert "data/ZZ/2021/exports/adults.csv" in rel and "data/ZZ/2023/cycle.yml" in rel
    rel21 = {p.relative_to(tiny.root).as_posix() for p in cycle_input_files(tiny, "ZZ", 2021)}
    assert not any("2023" in r for r in rel21)


def test_record_has_no_absolute_paths_and_names_versions(tiny):
    rec = provenance_record(tiny, "ZZ", 2021, "en", {"lang": "en", "country": "ZZ"})
    text = json.dumps(rec)
    assert str(tiny.root) not in text
    assert list(rec["parameters"]) == ["country", "lang"]
    assert rec["inputs"]["data/countries.yml"]
    assert rec["packages"]["pandas"] != "not installed"
    assert len(rec["source"]) == 64 and rec["source"] == source_fingerprint()


def test_page_header_shows_synthetic_notice_in_the_page_language(tiny):
    vi = page_header(tiny, "ZZ", 2021, "vi")._repr_html_()
    assert "Dữ liệu ví dụ tổng hợp" in vi and "<details" in vi
    assert "Trang này được tạo ra như thế nào" in vi
    assert "data/ZZ/2021/exports/adults.csv" in vi
    assert str(tiny.root) not in vi
    en = page_header(tiny, "ZZ", 2021, "en")
    assert "Synthetic example data" in en._repr_html_() and "Synthetic" in repr(en)


def test_no_notice_for_real_data(tiny):
    cyc = tiny.root / "data/ZZ/2021/cycle.yml"
    cyc.write_text(cyc.read_text().replace("synthetic: true", "synthetic: false"))
    html = page_header(Project(tiny.root), "ZZ", 2021, "en")._repr_html_()
    assert "Synthetic example data" not in html and "<details" in html
