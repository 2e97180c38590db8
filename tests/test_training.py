"""Training kit and generated handbook tables: copies, slides, execution, no drift."""

from __future__ import annotations

import nbformat
import pytest

from voicescount import training, validate
from voicescount.registry import Cycle, DesignSpec, Fieldwork, Instrument, Project

WGSS = "03-questionnaires-wgss"  # runs on its own small table: no example data needed


@pytest.fixture(scope="module")
def project(project_root):
    return Project(project_root)


def _has_example_data(project) -> bool:
    return (project.cycle_dir("VN", 2022) / "cycle.yml").is_file()


def test_generated_tables_are_current(project):
    """The committed handbook includes equal what the code generates now."""
    out_dir = project.root / "handbook" / "_generated"
    for name, text in training.reference_tables(project).items():
        path = out_dir / name
        assert path.is_file(), f"{path} missing: run voicescount.training.write_reference_tables"
        assert path.read_text(encoding="utf-8") == text, (
            f"{path} is stale: run voicescount.training.write_reference_tables"
        )


def test_field_notes_name_existing_fields():
    models = {m.__name__: m for m in (Cycle, Instrument, DesignSpec, Fieldwork)}
    for model, field in training.FIELD_NOTES:
        assert field in models[model].model_fields, f"note for unknown field {model}.{field}"


def test_every_validation_rule_has_a_severity():
    assert set(training.RULE_SEVERITY) == set(validate.HINTS)
    table = training.validation_rules_table()
    assert (table["severity"].isin(["error", "warning"])).all()
    assert {r.id for r in validate.DEFAULT_SKIP_RULES} <= set(table["rule"])


def test_cycle_fields_cover_models():
    table = training.cycle_fields_table()
    assert "design.psu" in set(table["field"])
    assert "instruments.<key>.mapping" in set(table["field"])
    assert (table["meaning"].str.len() > 0).all(), "a cycle.yml field has no description"


def test_markdown_table_escapes_pipes_and_tags():
    import pandas as pd

    text = training.markdown_table(pd.DataFrame({"a": ["x|y"], "b": ["<key>"]}), ("b",))
    assert "x\\|y" in text and "`<key>`" in text


def test_raised_errors_reads_messages_and_hints(tmp_path):
    src = tmp_path / "m.py"
    src.write_text(
        "def f(p):\n"
        "    raise InputError(f'bad {p.name}.', path=p, hint='Fix it.')\n"
        "    raise ValueError('not listed')\n"
    )
    table = training.raised_errors(src)
    assert table.to_dict("records") == [
        {"error": "InputError", "problem": "bad {p.name}.", "fix": "Fix it."}
    ]


def test_at_least_six_sessions_with_solutions_and_titles(project):
    sessions = training.list_sessions(project)
    assert len(sessions) >= 6
    for s in sessions:
        nb = nbformat.read(s.notebook, as_version=4)
        tags = [t for c in nb.cells for t in c.metadata.get("tags", [])]
        assert training.SOLUTION_TAG in tags, f"{s.id} has no solution cell"
        assert s.title.startswith("Session"), s.title
        assert (s.notebook.parent / f"{s.id}.md").is_file()


def test_participant_copy_has_no_solution_and_no_outputs(project, tmp_path):
    out = training.build_kit(project, tmp_path, execute=False)
    assert len(out) == len(training.list_sessions(project))
    for folder in out:
        nb = nbformat.read(folder / "participant.ipynb", as_version=4)
        for cell in nb.cells:
            assert training.SOLUTION_TAG not in cell.metadata.get("tags", [])
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
        assert any(training.HINT_TAG in c.metadata.get("tags", []) for c in nb.cells)


def test_slides_contain_session_title(project, tmp_path):
    sessions = training.list_sessions(project)
    out = training.build_kit(project, tmp_path, execute=False)
    for s, folder in zip(sessions, out, strict=True):
        html = (folder / "slides.html").read_text(encoding="utf-8")
        assert "reveal" in html.lower()
        assert s.title.split(":")[0] in html


def test_unknown_session_is_a_config_error(project, tmp_path):
    from voicescount.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown training session"):
        training.build_kit(project, tmp_path, sessions=["99-nope"], execute=False)


@pytest.mark.slow
def test_trainer_copy_executes_cleanly(project, tmp_path):
    """The session that needs no example data always runs; the others when the data exist."""
    ids = [s.id for s in training.list_sessions(project)]
    if not _has_example_data(project):
        ids = [WGSS]
    out = training.build_kit(project, tmp_path, sessions=ids, timeout=300)
    for folder in out:
        nb = nbformat.read(folder / "trainer.ipynb", as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.execution_count is not None for c in code)
        assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)


@pytest.mark.slow
def test_handbook_examples_execute(project, tmp_path):
    if not _has_example_data(project):
        pytest.skip("example data data/VN/2022 not generated (make examples)")

    for path in training.example_notebooks(project):
        nb = nbformat.read(path, as_version=4)
        training._execute(nb, path.parent, 300)
        assert not any(
            o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", [])
        )
