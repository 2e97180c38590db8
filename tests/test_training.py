"""Training kit and generated handbook tables: copies, slides, execution, no drift."""

from __future__ import annotations

import re
import zipfile
from html import escape as html_escape
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from voicescount import stats, training, validate
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


# --------------------------------------------------------------------------- the kit as met


def _tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def _solutions(session) -> dict[str, str]:
    nb = nbformat.read(session.notebook, as_version=4)
    return {c.metadata["exercise"]: c.source for c in nb.cells if training.SOLUTION_TAG in _tags(c)}


def test_every_exercise_has_answer_check_and_solution(project, tmp_path):
    """Answer cell assigning the exercise's variable, a check cell on it, a solution elsewhere."""
    seen = []
    for folder, s in zip(
        training.build_kit(project, tmp_path, execute=False),
        training.list_sessions(project),
        strict=True,
    ):
        nb = nbformat.read(folder / "participant.ipynb", as_version=4)
        assert not any(training._is_notes(c) for c in nb.cells), f"{s.id}: trainer notes"
        answers = [c for c in nb.cells if training.ANSWER_TAG in _tags(c)]
        checks = [c for c in nb.cells if training.CHECK_TAG in _tags(c)]
        assert answers and len(answers) == len(checks), s.id
        solutions = _solutions(s)
        for a, c in zip(answers, checks, strict=True):
            ex = training.EXERCISES[a.metadata["exercise"]]
            assert c.metadata["exercise"] == ex.id
            assert "Your answer" in a.source and f"{ex.answer} = ..." in a.source
            assert c.source == f'training.check("{ex.id}", {ex.answer})'
            assert re.search(rf"^{ex.answer} = ", solutions[ex.id], flags=re.M), ex.id
            seen.append(ex.id)
        setup = next(c.source for c in nb.cells if c.cell_type == "code")
        assert "training.find_project()" in setup and "parents" not in setup, s.id
    assert sorted(seen) == sorted(training.EXERCISES), "an exercise without its cells"


def test_indicator_is_named_plainly(project, tmp_path):
    item = project.indicators.get(training.SESSION_ITEM)
    assert item.instrument == "adults" and item.kind == "proportion"
    for sid in ("04-weights-ci", "05-disaggregation-flags"):
        (folder,) = training.build_kit(project, tmp_path, sessions=[sid], execute=False)
        nb = nbformat.read(folder / "participant.ipynb", as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert f'item = "{training.SESSION_ITEM}"' in code and " for i in " not in code


def test_check_says_right_wrong_or_not_answered_without_the_solution(project):
    """Session 3's check needs no example data; its messages are specific and never crash."""
    for empty in (..., None):
        result = training.check("03-cutoff", empty, project)
        assert result.status == "not answered" and "`disability`" in repr(result)
    right = ["without_disability", "without_disability", "with_disability", None]
    assert training.check("03-cutoff", right, project).ok
    refused = training.check("03-cutoff", right[:3] + ["without_disability"], project)
    assert refused.status == "wrong" and "person 4 refused" in refused.message
    some = training.check("03-cutoff", ["without_disability", "with_disability"] + right[2:])
    assert "person 2" in some.message and "a lot" in some.message
    for odd in (42, "x", pd.DataFrame({"a": [1]}), object()):
        assert training.check("03-cutoff", odd, project).status == "wrong"
    for result in (refused, some):
        assert "wg_disability(" not in result.message and "with_disability" not in result.message
    with pytest.raises(ConfigError, match="unknown exercise"):
        training.check("99-nope", 1, project)


def test_find_project_from_the_kit_the_repo_and_the_environment(project, tmp_path, monkeypatch):
    monkeypatch.delenv(training.PROJECT_ENV, raising=False)
    (folder,) = training.build_kit(project, tmp_path / "kit", sessions=[WGSS], execute=False)
    found = training.find_project(folder)
    assert found.root == (tmp_path / "kit" / training.KIT_PROJECT).resolve()
    assert (found.cycle_dir(*training.KIT_CYCLE) / "cycle.yml").is_file()
    assert found.rules == project.rules  # the report's disclosure rules travel with the kit
    assert training.find_project(project.root / "handbook" / "training").root == project.root
    with pytest.raises(ConfigError, match="cannot find the example project") as err:
        training.find_project(tmp_path / "elsewhere")
    assert training.PROJECT_ENV in str(err.value)
    monkeypatch.setenv(training.PROJECT_ENV, str(project.root))
    assert training.find_project(tmp_path / "elsewhere").root == project.root


def test_published_never_shows_a_cell_under_the_threshold(project):
    est = pd.DataFrame(
        {
            "variable": "v",
            "grouping": ["", "sex", "sex", "sex"],
            "sex": [None, "female", "male", "intersex"],
            "estimate": [0.5, 0.4, 0.6, 0.9],
            "se": 0.05,
            "ci_low": 0.3,
            "ci_high": 0.7,
            "deff": 1.0,
            "n": [300, 150, 146, 4],
            "N": 1000.0,
            "cv": 0.1,
            "flag": "",
        }
    )
    table = training.published(est, project)
    small = table["n"] < project.rules.suppress_min_n
    assert small.any() and table.loc[small, "estimate"].isna().all()
    assert table["suppressed"].sum() >= 2  # and a second cell, so it cannot be recovered


def test_slides_show_no_solution_and_carry_the_notes(project, tmp_path):
    for folder, s in zip(
        training.build_kit(project, tmp_path, execute=False),
        training.list_sessions(project),
        strict=True,
    ):
        html = (folder / "slides.html").read_text(encoding="utf-8")
        participant = nbformat.read(folder / "participant.ipynb", as_version=4)
        shared = "\n".join(c.source for c in participant.cells)
        for source in _solutions(s).values():
            for line in source.splitlines():
                line = line.strip()
                if len(line) >= 12 and line not in shared:
                    assert html_escape(line) not in html and line not in html, (s.id, line)
        nb = nbformat.read(s.notebook, as_version=4)
        notes = [c for c in nb.cells if training._is_notes(c)]
        assert notes, f"{s.id} has no trainer notes"
        assert html.count('<aside class="notes">') >= len(notes), s.id
        last = notes[-1].source.splitlines()[-1]
        assert html_escape(last, quote=False) in html, s.id


def test_kit_zip_holds_notebooks_data_and_marker(project, tmp_path):
    zip_path = tmp_path / "dl" / "training-kit.zip"
    out = training.build_kit(project, tmp_path / "training-kit", execute=False, zip_path=zip_path)
    names = set(zipfile.ZipFile(zip_path).namelist())
    iso, cycle = training.KIT_CYCLE
    assert f"training-kit/{training.KIT_MARKER}" in names and "training-kit/README.md" in names
    assert f"training-kit/{training.KIT_PROJECT}/data/{iso}/{cycle}/cycle.yml" in names
    assert f"training-kit/{training.KIT_PROJECT}/data/rules.yml" in names
    for folder in out:
        for f in ("participant.ipynb", "trainer.ipynb", "slides.html"):
            assert f"training-kit/{folder.name}/{f}" in names
    assert not any("/build/" in n for n in names)


def test_training_page_links_the_zip_make_report_puts_beside_it(project, tmp_path):
    """The training index links `training-kit.zip` beside itself; `make report` writes it
    beside every built training index (book at the root of _build/html or in editions)."""
    makefile = (project.root / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nreport:", 1)[1].split("\n\n", 1)[0]
    lines = recipe.splitlines()
    kit = next(i for i, line in enumerate(lines) if "voicescount training" in line)
    assert "--into-book" in lines[kit]
    assert kit > max(i for i, line in enumerate(lines) if "voicescount all" in line)
    page = (project.root / "handbook" / "training" / "index.md").read_text(encoding="utf-8")
    assert re.findall(r'<a href="([^"]+\.zip)"', page) == [training.BOOK_KIT_ZIP]

    book = Project(tmp_path / "book")
    with pytest.raises(ConfigError, match="no training pages"):
        training.book_zip_paths(book)
    pages = [tmp_path / "book/_build/html" / d / "handbook/training/index.html" for d in ("", "en")]
    for built in pages:
        built.parent.mkdir(parents=True)
        built.write_text("<html></html>", encoding="utf-8")
    zips = training.book_zip_paths(book)
    assert zips == sorted(p.parent / training.BOOK_KIT_ZIP for p in pages)
    training.build_kit(project, tmp_path / "kit", sessions=[WGSS], execute=False, zip_path=zips)
    assert all(zipfile.is_zipfile(z) for z in zips)


def _run_participant(folder: Path, fill: dict[str, str] | None) -> list[str]:
    """Execute a participant copy from its kit folder; the check cells' outputs, in order."""
    nb = nbformat.read(folder / "participant.ipynb", as_version=4)
    for cell in nb.cells:
        if fill is not None and training.ANSWER_TAG in _tags(cell):
            cell.source = fill[cell.metadata["exercise"]]
    training._execute(nb, folder, 300)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs), folder
    return [
        o.get("data", {}).get("text/plain", "")
        for c in code
        if training.CHECK_TAG in _tags(c)
        for o in c.outputs
    ]


@pytest.mark.slow
def test_participant_notebooks_run_from_a_kit_anywhere(project, tmp_path, monkeypatch):
    """Built into tmp, each participant copy runs there: answers filled, every check is right;
    answers left empty, every check says "not answered"; no cell errors either way."""
    monkeypatch.delenv(training.PROJECT_ENV, raising=False)
    sessions = training.list_sessions(project)
    if not _has_example_data(project):
        sessions = [s for s in sessions if s.id == WGSS]
    kit = tmp_path / "somewhere" / "kit"
    out = training.build_kit(project, kit, sessions=[s.id for s in sessions], execute=False)
    for folder, s in zip(out, sessions, strict=True):
        filled = _run_participant(folder, _solutions(s))
        assert filled and all(o.startswith("✔ Right") for o in filled), (s.id, filled)
        empty = _run_participant(folder, None)
        assert len(empty) == len(filled), s.id
        assert all("Not answered" in o for o in empty), (s.id, empty)


def test_checks_on_example_data_point_to_the_mistake(project):
    """Common mistakes get their own hint: the other weighting, a table not through the
    disclosure rules, a criterion with a smaller gap, counts of the wrong thing."""
    if not _has_example_data(project):
        pytest.skip("example data data/VN/2022 not generated (make examples)")
    df = training.load_example(project, *training.KIT_CYCLE, "adults")
    design = training.design_of(project, *training.KIT_CYCLE)
    item = training.SESSION_ITEM
    weighted = stats.estimate(df, [item], design=design)
    simple = stats.estimate(df, [item], design=stats.Design(weight=None))
    assert training.check("04-weighted", weighted, project).ok
    swapped = training.check("04-weighted", simple, project)
    assert swapped.status == "wrong" and "design=design" in swapped.message
    assert training.check("04-equal-weights", float(simple["estimate"].iloc[0]), project).ok
    raw = stats.estimate(df, [item], design=design, by=[["disability"], ["sex", "disability"]])
    unpublished = training.check("05-published", raw, project)
    assert "training.published" in unpublished.message
    assert training.check("05-published", training.published(raw, project), project).ok
    assert "by=" in training.check("05-published", training.published(weighted), project).message
    smaller = training.check("06-largest-gap", "medicine_availability", project)
    assert smaller.status == "wrong" and "not the largest" in smaller.message
    assert "not a criterion" in training.check("06-largest-gap", "nope", project).message
    wrong_counts = training.check("07-status", {"partly": 1}, project)
    assert wrong_counts.status == "wrong"
    for result in (swapped, unpublished, smaller, wrong_counts):
        assert not any(ch.isdigit() for ch in result.message.replace("05", "")), result


def test_the_kits_example_exports_hold_no_personal_data_and_the_same_numbers(project, tmp_path):
    """The kit is published with the book: its copy of the raw exports has every column
    intake removes blanked (the planted canary name and phone are gone), and its prepared
    data are the report's, row for row."""
    from voicescount import intake
    from voicescount.prepare import prepare_cycle

    dest = training.copy_example_project(project, tmp_path / "kit")
    kit = Project(dest)
    iso, cyc = training.KIT_CYCLE
    for path in (dest / "data" / iso / str(cyc) / "exports").iterdir():
        data = path.read_bytes()
        assert b"Canary" not in data and b"84912000111" not in data, path.name
    cycle = kit.cycle(iso, cyc)
    for name, inst in cycle.instruments.items():
        raw = intake.read_raw(kit.cycle_dir(iso, cyc) / inst.data, inst)
        removed = intake.read_instrument(kit, cycle, name).removed_identifiers
        cols = [i for i, h in enumerate(raw.main.headers) if h in removed]
        assert cols, f"{name}: no identifier column found to check"
        assert all(r[i] in (None, "") for r in raw.main.rows for i in cols if i < len(r)), name
        ours = prepare_cycle(project, iso, cyc).data(name)
        pd.testing.assert_frame_equal(prepare_cycle(kit, iso, cyc).data(name), ours)
