"""Provenance: relative hashes, the trend dependency, the synthetic notice and page header."""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil

import nbformat
import pytest
from conftest import ROOT
from test_runner import add_country

from voicescount import report
from voicescount.provenance import (
    cycle_input_files,
    file_hashes,
    page_notices,
    provenance_record,
    source_fingerprint,
)
from voicescount.registry import Project
from voicescount.runner import chapter_entries, plan


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


def page_header(project, iso, cycle, lang):
    """A page's header as report.header renders it (the notices and the provenance block)."""
    return report.header(project, iso, cycle, lang, "page")


def test_page_notices_are_data_in_the_page_language(tiny):
    assert [n["name"] for n in page_notices(tiny, "ZZ", 2021, "en")] == ["synthetic"]
    sw = page_notices(tiny, "ZZ", 2021, "sw")
    assert [n["name"] for n in sw] == ["synthetic", "machine-drafted"]
    assert (
        sw[0]["kind"] == "warning"
        and sw[0]["title"] != page_notices(tiny, "ZZ", 2021, "en")[0]["title"]
    )


def test_page_header_shows_synthetic_notice_in_the_page_language(tiny):
    vi = page_header(tiny, "ZZ", 2021, "vi")._repr_html_()
    assert "Dữ liệu ví dụ tổng hợp" in vi and "<details" in vi
    assert "Trang này được tạo ra như thế nào" in vi
    assert "data/ZZ/2021/exports/adults.csv" in vi
    assert str(tiny.root) not in vi
    en = page_header(tiny, "ZZ", 2021, "en")
    assert "Synthetic example data" in en._repr_html_() and "Synthetic" in repr(en)


def test_machine_drafted_language_says_so_on_every_page(tiny):
    """sw.yml is marked machine-drafted (_meta): its pages carry the review notice; en and vi
    (reviewed) do not."""
    sw = page_header(tiny, "ZZ", 2021, "sw")._repr_html_()
    assert "voicescount-machine-drafted" in sw and "Tafsiri iliyoandaliwa na mashine" in sw
    assert "Data za mfano za kubuni" in sw  # the synthetic notice, in Kiswahili
    for lang in ("en", "vi"):
        assert "voicescount-machine-drafted" not in page_header(tiny, "ZZ", 2021, lang).text


def test_no_notice_for_real_data(tiny):
    cyc = tiny.root / "data/ZZ/2021/cycle.yml"
    cyc.write_text(cyc.read_text().replace("synthetic: true", "synthetic: false"))
    html = page_header(Project(tiny.root), "ZZ", 2021, "en")._repr_html_()
    assert "Synthetic example data" not in html and "<details" in html


@pytest.fixture
def two_countries(tiny) -> Project:
    """The tiny project plus a second country (YY 2021) and the real synthesis template,
    declared `inputs: all` as in analyses/chapters.yml."""
    add_country(tiny)
    shutil.copy(ROOT / "analyses" / "synthesis.ipynb", tiny.root / "analyses")
    chapters = tiny.root / "analyses" / "chapters.yml"
    chapters.write_text("chapters:\n  - tiny\n  - {notebook: synthesis, inputs: all}\n")
    return Project(tiny.root)


def test_all_scope_lists_every_countrys_inputs_as_the_runner_hashes_them(two_countries):
    project = two_countries
    jobs = {j.name: j for j in plan(project, langs=["en"])}
    for iso, cycle in (("ZZ", 2023), ("ZZ", 2021), ("YY", 2021)):
        manifest = jobs[f"{iso}/{cycle}/en/synthesis.ipynb"].manifest["inputs"]
        params = {"country": iso, "cycle": cycle, "lang": "en", "inputs": "all"}
        assert provenance_record(project, iso, cycle, "en", params)["inputs"] == manifest
    rec = provenance_record(project, "ZZ", 2023, "en", {"inputs": "all"})
    assert "data/YY/2021/exports/adults.csv" in rec["inputs"]
    assert "data/ZZ/2021/cycle.yml" in rec["inputs"]
    own = provenance_record(project, "ZZ", 2023, "en", {})  # a country page: its own cycles
    assert not any(k.startswith("data/YY/") for k in own["inputs"])
    with pytest.raises(ValueError, match="unknown inputs scope"):
        provenance_record(project, "ZZ", 2023, "en", {"inputs": "everything"})


def test_synthesis_page_header_lists_the_inputs_its_manifest_hashes(two_countries):
    """The header cell of analyses/synthesis.ipynb, run as the runner would run it."""
    real = {nb.stem: scope for nb, _, scope in chapter_entries(Project(ROOT))}
    assert real["synthesis"] == "all"
    project = two_countries
    job = {j.name: j for j in plan(project, langs=["en"])}["ZZ/2023/en/synthesis.ipynb"]
    nb = nbformat.read(ROOT / "analyses" / "synthesis.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if "report.header(" in c.source]
    ns = {"report": report, "project": project, "country": "ZZ", "cycle": 2023, "lang": "en"}
    exec(cell.source.replace("report.header(", "head = report.header("), ns)
    listed = re.findall(r"<tr><td><code>(.*?)</code></td>", ns["head"]._repr_html_())
    assert [html.unescape(p) for p in listed] == sorted(job.manifest["inputs"])
    assert "data/YY/2021/exports/adults.csv" in listed
