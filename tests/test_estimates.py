"""estimates: the cycle store is computed and checked once, keyed by its inputs and the earlier
cycles it reads, deterministic, and read (not recomputed) by the pages; the functions that
moved here from report (codes only, no labels)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from conftest import ROOT

from voicescount import disclosure, estimates, report
from voicescount.provenance import sha256_file, source_fingerprint
from voicescount.registry import DimensionSet, Project

_DISCLOSURE_CHECKS = []


def _counting(fn):
    def wrapped(*a, **k):
        _DISCLOSURE_CHECKS.append(1)
        return fn(*a, **k)

    return wrapped


@pytest.fixture
def counted(monkeypatch):
    """Counts of the expensive steps: the estimate computation and the disclosure check."""
    calls = {"compute": 0, "check": 0}
    compute, check = estimates.compute_estimates, estimates.check_published

    def counting_compute(*a, **k):
        calls["compute"] += 1
        return compute(*a, **k)

    def counting_check(*a, **k):
        calls["check"] += 1
        return check(*a, **k)

    monkeypatch.setattr(estimates, "compute_estimates", counting_compute)
    monkeypatch.setattr(estimates, "check_published", counting_check)
    monkeypatch.setattr(report, "check_published", counting_check)  # a page calling it counts
    monkeypatch.setattr(disclosure, "check_published", _counting(disclosure.check_published))
    monkeypatch.setattr(estimates, "_CACHE", {})
    return calls


def _fresh(project: Project) -> Project:
    """The same project as a new process sees it (no in-process store cache)."""
    estimates._CACHE.clear()
    return Project(project.root)


def _text(view) -> str:
    """A page's text, whichever display object the page builder returns."""
    return view.markdown() if hasattr(view, "markdown") else view._repr_html_()


def _parquets(project: Project, cycle: int) -> dict[str, bytes]:
    sdir = estimates.store_dir(project, "ZZ", cycle)
    return {p.name: p.read_bytes() for p in sorted(sdir.glob("*.parquet"))}


def test_store_is_built_once_then_read(tiny_project, counted):
    store = estimates.load(tiny_project, "ZZ", 2023)
    assert counted == {"compute": 2, "check": 2}  # 2023 and the 2021 store it reads
    assert store.previous == 2021 and store.notes == []
    assert set(store.history["cycle"]) == {2021, 2023}
    again = estimates.load(tiny_project, "ZZ", 2023)  # same process: files unchanged
    assert counted["compute"] == 2 and again.key == store.key
    again.estimates.loc[:, "estimate"] = -1.0  # a page changing its copy changes nothing else
    assert (estimates.load(tiny_project, "ZZ", 2023).estimates["estimate"] != -1.0).any()
    fresh = estimates.load(_fresh(tiny_project), "ZZ", 2023)  # another process: read from disk
    assert counted == {"compute": 2, "check": 2}
    pd.testing.assert_frame_equal(fresh.estimates, store.estimates)
    assert fresh.key == store.key


def test_check_published_runs_once_per_build_not_per_page(tiny_project, counted, tmp_path):
    estimates.load(tiny_project, "ZZ", 2023)
    before, checks = counted["check"], len(_DISCLOSURE_CHECKS)
    for lang in ("en", "vi"):
        report.key_findings(tiny_project, "ZZ", 2023, lang, out_dir=tmp_path / lang)
        report.trends_chapter(tiny_project, "ZZ", 2023, lang, out_dir=tmp_path / lang)
        report.inequalities(tiny_project, "ZZ", 2023, lang, out_dir=tmp_path / lang)
        report.header(tiny_project, "ZZ", 2023, lang, "key_findings")
    assert counted["check"] == before and counted["compute"] == 2
    assert len(_DISCLOSURE_CHECKS) == checks  # no page checks a table again


def test_key_follows_inputs_and_earlier_cycles(tiny_project, counted):
    key_21 = estimates.load(tiny_project, "ZZ", 2021).key
    key_23 = estimates.load(tiny_project, "ZZ", 2023).key
    # an input of 2023 changes 2023's key only
    csv = tiny_project.cycle_dir("ZZ", 2023) / "exports" / "adults.csv"
    csv.write_text(csv.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    p = _fresh(tiny_project)
    assert estimates.load(p, "ZZ", 2021).key == key_21
    key_23b = estimates.load(p, "ZZ", 2023).key
    assert key_23b != key_23
    # an input of the earlier cycle changes both
    csv = tiny_project.cycle_dir("ZZ", 2021) / "exports" / "adults.csv"
    csv.write_text(csv.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    p = _fresh(tiny_project)
    assert estimates.load(p, "ZZ", 2021).key != key_21
    store = estimates.load(p, "ZZ", 2023)
    assert store.key != key_23b
    assert store.provenance["earlier_stores"] == {"ZZ 2021": estimates.load(p, "ZZ", 2021).key}
    assert counted["compute"] == 5  # 2021, 2023; 2023; 2021, 2023


def test_store_tables_are_byte_identical_across_builds(tiny_project, counted):
    estimates.load(tiny_project, "ZZ", 2023)
    first = _parquets(tiny_project, 2023)
    assert set(first) == {f"{n}.parquet" for n in estimates.TABLES}
    meta = estimates.store_dir(tiny_project, "ZZ", 2023) / estimates.STORE_JSON
    meta.write_text("{}", encoding="utf-8")  # no valid key: rebuilt
    estimates.load(_fresh(tiny_project), "ZZ", 2023)
    assert counted["compute"] == 3
    assert _parquets(tiny_project, 2023) == first


def test_provenance_record(tiny_project):
    store = estimates.load(tiny_project, "ZZ", 2023)
    rec = store.provenance
    root = tiny_project.root
    assert rec["country"] == "ZZ" and rec["cycle"] == 2023
    assert rec["parameters"] == {"country": "ZZ", "cycle": 2023}
    assert rec["key"] == store.key and rec["source"] == source_fingerprint()
    assert rec["store"] == "build/ZZ/2023/store" and "pandas" in rec["packages"]
    # this cycle's inputs and the earlier cycle's (the store reads its tables), hashed
    for rel in ("data/ZZ/2023/cycle.yml", "data/ZZ/2021/exports/adults.csv", "data/rules.yml"):
        assert rec["inputs"][rel] == sha256_file(root / rel)
    assert list(rec["inputs"]) == sorted(rec["inputs"])
    meta = json.loads((root / "build/ZZ/2023/store/store.json").read_text(encoding="utf-8"))
    assert meta["key"] == store.key and meta["summary"]["kept"] == store.summary["kept"]
    # a cycle-scope page shows the store's hashes instead of hashing the files again
    head = _text(report.header(tiny_project, "ZZ", 2023, "en", "methods"))
    assert rec["inputs"]["data/ZZ/2023/cycle.yml"] in head


def test_broken_earlier_cycle_is_a_note_not_a_failure(tiny_project, tmp_path):
    (tiny_project.cycle_dir("ZZ", 2021) / "exports" / "adults.csv").unlink()
    store = estimates.load(tiny_project, "ZZ", 2023)
    [note] = store.notes
    assert note.startswith("ZZ 2021: ") and "adults.csv" in note
    assert store.note_for("ZZ", 2021) == note.removeprefix("ZZ 2021: ")
    assert store.previous == 2021 and store.changes.empty
    assert set(store.history["cycle"]) == {2023}
    page = _text(report.key_findings(tiny_project, "ZZ", 2023, "en", out_dir=tmp_path))
    assert "2021" in page and "exports/adults" in page  # the note names what is missing
    with pytest.raises(Exception, match="adults.csv"):
        estimates.load(tiny_project, "ZZ", 2021)  # the broken cycle itself has no store


def test_download_files_name_every_export_per_language(tiny_project):
    files = estimates.download_files(tiny_project, "ZZ", 2023)
    kinds = [k for k, _ in files]
    assert ("csv", "downloads/estimates_ZZ_2023.csv") in files
    assert {"vnr_docx:en", "vnr_docx:vi", "pdf:en", "pdf:vi"} <= set(kinds)
    assert len(kinds) == len(set(kinds))


# --------------------------------------------------------------------------- moved functions


@pytest.fixture(scope="module")
def dims() -> DimensionSet:
    return DimensionSet.model_validate(yaml.safe_load((ROOT / "data/dimensions.yml").read_text()))


def test_respondent_and_group_counts_are_codes(dims):
    df = pd.DataFrame(
        {"sex": ["male", "female", None, "female", "x"], "disability": ["with_disability"] * 5}
    )
    counts = estimates.respondent_counts(df, "sex", dims, None)
    assert counts.to_dict("list") == {"code": ["female", "male", "x", ""], "n": [2, 1, 1, 1]}
    assert estimates.respondent_counts(df, "lgbt", dims, None).empty
    groups = estimates.group_counts({"a": df, "c": df.head(2)}, {"a": "adults", "c": "cso"})
    g = groups.set_index("group")["n"]
    assert list(groups.columns) == ["group", "n"]
    assert (g["women"], g["pwd"], g["cso"], g["children"]) == (2, 5, 2, 0)


def test_coverage_and_kish_deff():
    df = pd.DataFrame({"region": ["n", "n", "s", None], "w": [1.0, 1.0, 2.0, 5.0]})
    margins = pd.DataFrame({"dimension": ["region"] * 2, "code": ["n", "s"],
                            "population": [300, 100]})  # fmt: skip
    cov = estimates.coverage(df, margins, "w").set_index("code")
    assert cov.loc["n", "n"] == 2 and cov.loc["n", "sample_share"] == pytest.approx(2 / 3)
    assert cov.loc["n", "weighted_share"] == pytest.approx(0.5)
    assert cov.loc["s", "population_share"] == pytest.approx(0.25)
    assert estimates.kish_deff(pd.Series([1, 1, 2, 2])) == pytest.approx(4 * 10 / 36)
    assert estimates.kish_deff(pd.Series([3.0] * 5)) == pytest.approx(1.0)
