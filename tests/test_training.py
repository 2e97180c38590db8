"""Training kit and generated handbook tables: copies, slides, execution, no drift."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from voicescount import training, validate
from voicescount.errors import ConfigError
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


def _stand_in_slides_assets(root: Path) -> Path:
    """An assets folder shaped like `make slides-assets` output (no download in tests)."""
    for rel in training.SLIDES_FILES:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("/* stand-in */\n", encoding="utf-8")
    theme = root / "reveal.js" / "dist" / "theme" / "simple.css"
    theme.write_text(
        "@import url(https://fonts.googleapis.com/css?family=Lato:400,700);\n.reveal { }\n",
        encoding="utf-8",
    )
    return root


def test_offline_slides_load_everything_from_the_kit(project, tmp_path):
    assets = _stand_in_slides_assets(tmp_path / "assets")
    kit = tmp_path / "kit"
    (folder,) = training.build_kit(
        project, kit, sessions=[WGSS], execute=False, slides_assets=assets
    )
    html = (folder / "slides.html").read_text(encoding="utf-8")
    tags = re.findall(r"<(?:script|link)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", html)
    required = re.findall(r'"(\.\./_slides/[^"]+\.js)"', html)  # reveal.js, via require.js
    imports = re.findall(r"import \w+ from '([^']+)'", html)
    assert "../_slides/reveal.js/dist/reveal.js" in required and imports
    for ref in tags + required + imports:
        assert not ref.startswith(("http:", "https:", "//")), f"loads {ref} from the internet"
        if not ref.startswith("data:"):
            assert (folder / ref).resolve().is_file(), f"{ref} is not in the kit"
    theme = (kit / "_slides" / "reveal.js" / "dist" / "theme" / "simple.css").read_text()
    assert "@import" not in theme and ".reveal" in theme


def test_incomplete_slides_assets_name_the_missing_file(project, tmp_path):
    assets = _stand_in_slides_assets(tmp_path / "assets")
    (assets / "require.js").unlink()
    with pytest.raises(ConfigError, match="lacks require.js") as err:
        training.build_kit(project, tmp_path / "kit", sessions=[WGSS], slides_assets=assets)
    assert "make slides-assets" in str(err.value)


@pytest.mark.slow
@pytest.mark.browser
def test_offline_slides_run_in_chromium_without_network(project, tmp_path):
    """With the real assets of `make slides-assets`: reveal.js starts and nothing is fetched."""
    assets = project.root / training.SLIDES_ASSETS
    if not (assets / ".complete").is_file():
        pytest.skip("no offline slides assets: run `make slides-assets` (needs npm)")
    from voicescount.pdf import CHROMIUM_ARGS, find_chromium

    try:
        chromium = find_chromium()
    except ConfigError as err:
        pytest.skip(str(err))
    from playwright.sync_api import sync_playwright

    (folder,) = training.build_kit(
        project, tmp_path, sessions=[WGSS], execute=False, slides_assets=assets
    )
    outside, errors = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context()

        def route(r):
            if r.request.url.startswith(("file:", "data:")):
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((folder / "slides.html").as_uri(), wait_until="load")
        page.wait_for_function("document.querySelector('.reveal.ready') !== null")
        page.keyboard.press("ArrowRight")
        page.wait_for_function("location.hash === '#/1'")
        browser.close()
    assert outside == [] and errors == []


def test_unknown_session_is_a_config_error(project, tmp_path):
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
