"""The CGD quality statement: from the store, nothing under the threshold, deterministic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voicescount import estimates, quality
from voicescount.registry import PARTICIPATION_STAGES, CitizenData, Project

ROOT = Path(__file__).resolve().parents[1]
CYCLES = Project(ROOT).cycles()


@pytest.fixture(scope="module")
def project() -> Project:
    return Project(ROOT)


@pytest.mark.parametrize(("iso", "cycle"), CYCLES)
def test_every_example_cycle_has_a_statement_from_its_store(project, iso, cycle):
    st = quality.statement(project, iso, cycle)
    store = estimates.load(project, iso, cycle)
    assert st["format"] == quality.FORMAT and st["synthetic"] is True
    assert "synthetic" in st["limitations"]
    assert st["sample"]["received"] == store.summary["received"]
    assert st["sample"]["quarantined"] == store.summary["quarantined"]
    assert st["disclosure"]["suppressed"] == int(store.estimates["suppressed"].sum())
    assert st["consent"]["rows_without_consent"] == store.summary["issues_by_rule"].get(
        "error:consent", 0
    )
    inputs = store.provenance["inputs"]
    for ins in st["instruments"]:
        assert ins["data"]["sha256"] == inputs[ins["data"]["path"]]  # the exact version used
        assert ins["form"] is None or ins["form"]["sha256"] == inputs[ins["form"]["path"]]
    # coverage against the census margins: population shares of each raked dimension sum to 1
    cells = st["coverage"]["cells"]
    assert len(cells) == len(store.coverage)
    for dim in st["coverage"]["raked_to"]:
        shares = [c["population_share"] for c in cells if c["dimension"] == dim]
        assert sum(shares) == pytest.approx(1, abs=1e-5)
    # the example cycles declare their producers and participation (cycle.yml citizen_data)
    cd = project.cycle(iso, cycle).citizen_data
    assert cd is not None and st["producers"]["collected_by"] == cd.collected_by
    assert set(st["participation"]) == set(PARTICIPATION_STAGES)
    assert st["participation"]["design"] == cd.participation["design"]
    assert st["consent"]["how"] == cd.consent


@pytest.mark.parametrize(("iso", "cycle"), CYCLES)
def test_no_count_below_the_suppression_threshold(project, iso, cycle):
    st = quality.statement(project, iso, cycle)
    k = project.rules.suppress_min_n
    for c in st["coverage"]["cells"]:
        assert c["n"] is None or c["n"] == 0 or c["n"] >= k
        if c["n"] is None:
            assert c["sample_share"] is None  # a share of a known total would give n back


def test_small_cells_are_withheld():
    assert quality._count(3, 5) is None
    assert quality._count(0, 5) == 0 and quality._count(5, 5) == 5


def test_json_is_byte_identical_across_runs_and_parses(project, tmp_path):
    a = quality.write_statement(project, "VN", 2022, tmp_path / "a").read_bytes()
    b = quality.write_statement(project, "VN", 2022, tmp_path / "b").read_bytes()
    assert a == b and a.endswith(b"\n")
    data = json.loads(a)
    assert data["cycle"] == 2022 and data["country"] == "VN"
    assert ("quality", quality.quality_path("VN", 2022)) in estimates.download_files(
        project, "VN", 2022
    )


def test_what_is_not_declared_says_so(project, monkeypatch):
    cyc = project.cycle("VN", 2022)
    bare = cyc.model_copy(update={"citizen_data": None})
    monkeypatch.setattr(project, "cycle", lambda iso, c: bare)
    st = quality.statement(project, "VN", 2022)
    assert st["producers"]["initiated_by"] == quality.NOT_DECLARED
    assert set(st["participation"].values()) == {quality.NOT_DECLARED}
    assert st["consent"]["how"] == quality.NOT_DECLARED
    assert "not declared" in " ".join(quality.sentences(project, st, "en"))


def test_declared_producers_are_reported(project, monkeypatch):
    cyc = project.cycle("VN", 2022)
    cd = CitizenData(
        initiated_by=["Women's union"],
        collected_by=["trained community members"],
        participation={"design": "Youth groups chose the questions."},
        consent="Asked aloud before the interview.",
    )
    changed = cyc.model_copy(update={"citizen_data": cd})
    monkeypatch.setattr(project, "cycle", lambda iso, c: changed)
    st = quality.statement(project, "VN", 2022)
    assert st["producers"]["initiated_by"] == ["Women's union"]
    assert st["producers"]["designed_by"] == quality.NOT_DECLARED
    assert st["participation"]["design"] == "Youth groups chose the questions."
    assert st["participation"]["use"] == quality.NOT_DECLARED
    assert st["consent"]["how"] == "Asked aloud before the interview."
    words = quality.sentences(project, st, "en")
    assert any("Women's union" in w for w in words)


def test_participation_stages_are_validated():
    with pytest.raises(ValueError, match="design"):
        CitizenData(participation={"funding": "x"})


def test_methods_page_shows_the_statement(project, tmp_path):
    from voicescount import report

    page = report.methods(project, "VN", 2022, "vi", tmp_path)
    text = str(page.section("quality"))
    assert "Khung Copenhagen" in text and "synthetic example" in text


def test_open_sdg_metadata_references_the_statement(project, tmp_path):
    import yaml

    from voicescount.publish import export

    export(project, "VN", 2022, ["opensdg"], tmp_path)
    metas = sorted((tmp_path / "opensdg" / "meta").glob("*.yml"))
    assert metas
    for path in metas[:3]:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert meta["cgd_quality_statement"] == quality.quality_path("VN", 2022)
