"""Two clean runs from the same inputs give the same published bytes.

Two fresh copies of the tiny fixture project, in folders with different absolute paths, are
run and built independently. A template added here draws on the report's own modules: the page
header (provenance with input hashes), a design-based estimate (stats.estimate), its chart
(figures: SVG + CSV table alternative) and a counts chart, so the check covers what the real
chapters write. Compared byte for byte: every report/**/tables/*.csv and figures/*.svg, the
executed notebooks (nothing needs normalising: the runner drops papermill's timestamps) and
the exporters that need no browser (Open SDG, SDMX, downloads incl. Parquet and CITATION.cff,
VNR .md/.docx) for an example cycle computed twice from a cold cache.
"""

from __future__ import annotations

import hashlib
import io
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, make_tiny_project, write_template

from voicescount.book import build_book
from voicescount.registry import Project
from voicescount.runner import execute

pytestmark = pytest.mark.slow

REPRO_CELLS = [
    "from pathlib import Path\n"
    "import pandas as pd\n"
    "from voicescount import figures, report\n"
    "from voicescount.registry import Project\n"
    "from voicescount.stats import Design, estimate\n"
    "project = Project(project_root, data_dir=data_dir)",
    'report.header(project, country, cycle, lang, "repro")',
    "df = pd.read_csv(Path(data_dir) / country / str(cycle) / 'exports' / 'adults.csv')\n"
    "df['older'] = (df['age'] >= 30).astype(float)\n"
    "est = estimate(df, ['older'], Design(weight='weight'), by=[[], ['sex']])\n"
    "est[['variable', 'grouping', 'sex', 'estimate', 'se', 'n']]",
    "figures.show(figures.dot_whisker(est, 'older', 'sex', dimensions=project.dimensions,\n"
    "    country=project.country(country), lang=lang, suppress_n=0), '.', 'older-by-sex')",
    "counts = df.groupby('region').size().reset_index(name='n').rename(columns={'region': 'label'})\n"
    "figures.show(figures.counts_bar(counts, what='people heard', lang=lang), '.', 'heard')",
]


def _add_repro_template(root: Path) -> None:
    write_template(root / "analyses" / "repro.ipynb", "Reproducibility", REPRO_CELLS, "repro")
    chapters = root / "analyses" / "chapters.yml"
    chapters.write_text(chapters.read_text(encoding="utf-8") + "  - repro\n", encoding="utf-8")


def _fresh_run(dest: Path) -> Project:
    project = Project(make_tiny_project(dest))
    _add_repro_template(project.root)
    out, err = io.StringIO(), io.StringIO()
    summary = execute(project, jobs=2, progress=False, check=False, out=out, err=err)
    assert summary.ok, "; ".join(f.message for f in summary.failed)
    assert out.getvalue().strip() == "executed: 8  skipped: 0  failed: 0"
    build_book(project)
    return project


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Project, Project]:
    base = tmp_path_factory.mktemp("repro")
    return _fresh_run(base / "first"), _fresh_run(base / "second-copy")


def _files(root: Path, pattern: str) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.glob(pattern))
        if p.is_file()
    }


def _same(a: dict[str, bytes], b: dict[str, bytes]) -> None:
    assert sorted(a) == sorted(b)
    differ = [k for k in a if a[k] != b[k]]
    first = ""
    if differ:  # the first differing line, to say what varies
        la, lb = a[differ[0]].splitlines(), b[differ[0]].splitlines()
        i = next(
            (i for i, (x, y) in enumerate(zip(la, lb, strict=False)) if x != y),
            min(len(la), len(lb)),
        )
        first = f"\nfirst difference in {differ[0]}, line {i + 1}: {la[i : i + 1]!r} vs {lb[i : i + 1]!r}"
    assert not differ, f"differ between two clean runs: {differ}{first}"


def test_tables_are_byte_identical(runs):
    a, b = (_files(p.root, "report/**/tables/*.csv") for p in runs)
    assert len(a) == 8  # 2 charts x 2 cycles x 2 languages
    _same(a, b)


def test_figures_are_byte_identical_svg(runs):
    a, b = (_files(p.root, "report/**/figures/*.svg") for p in runs)
    assert len(a) == 8
    for name, data in a.items():
        assert data.lstrip().startswith(b"<?xml"), name
        # no date or creator metadata, glyphs as paths (no font the reader may lack)
        assert b"<dc:date>" not in data and b"Matplotlib v" not in data, name
        assert b"font-family" not in data, name
    _same(a, b)


def test_executed_notebooks_are_byte_identical(runs):
    """Nothing legitimately varies: papermill's timestamps are dropped by the runner, paths
    are relative, the SVGs inside the outputs are deterministic."""
    a, b = (_files(p.root, "report/**/*.ipynb") for p in runs)
    assert len(a) == 8 and not any(Path(k).name.startswith(".") for k in a)
    _same(a, b)


def test_built_pages_show_the_full_input_hashes(runs):
    project = runs[0]
    known = project.root / "data/ZZ/2023/exports/adults.csv"
    digest = hashlib.sha256(known.read_bytes()).hexdigest()
    earlier = hashlib.sha256((project.root / "data/ZZ/2021/exports/adults.csv").read_bytes())
    page = (project.root / "_build/html/vi/report/ZZ/2023/vi/repro.html").read_text(
        encoding="utf-8"
    )
    assert "voicescount-provenance" in page
    assert "data/ZZ/2023/exports/adults.csv" in page and digest in page
    # the trend dependency: a page also names the earlier cycle's inputs
    assert earlier.hexdigest() in page
    assert str(project.root) not in page
    # the same digest in the second run's page
    other = runs[1].root / "_build/html/vi/report/ZZ/2023/vi/repro.html"
    assert digest in other.read_text(encoding="utf-8")


def test_book_pages_of_two_runs_match(runs):
    """The HTML of the report pages is identical too (the theme's search index and static
    files are Sphinx's business, not compared)."""
    a, b = (_files(p.root / "_build/html", "*/report/*/**/*.html") for p in runs)
    assert len(a) == 8
    _same(a, b)


# --------------------------------------------------------------------------- exports

EXAMPLE = ("KE", 2023)
NO_BROWSER_KINDS = ["opensdg", "sdmx", "downloads", "vnr"]


def _export_fresh(dest: Path) -> dict[str, bytes]:
    """Copy the example data (no build/ cache), export every kind that needs no browser."""
    from voicescount.publish import export

    dest.mkdir()
    shutil.copytree(ROOT / "data", dest / "data")
    shutil.copytree(ROOT / "analyses", dest / "analyses")  # the VNR chapter reads chapters.yml
    project = Project(dest)
    iso, cycle = EXAMPLE
    export(project, iso, cycle, NO_BROWSER_KINDS, dest / "exports")
    return _files(dest / "exports", "**/*")


def test_exports_are_byte_identical_from_a_cold_cache(tmp_path):
    if not (ROOT / "data" / EXAMPLE[0] / str(EXAMPLE[1]) / "cycle.yml").is_file():
        pytest.skip("example cycle KE 2023 not in data/")
    a = _export_fresh(tmp_path / "one")
    b = _export_fresh(tmp_path / "two-elsewhere")
    names = set(a)
    iso, cycle = EXAMPLE
    for must in (
        f"opensdg_{iso}_{cycle}.zip",
        f"sdmx/{iso}_{cycle}.csv",
        f"downloads/estimates_{iso}_{cycle}.csv",
        f"downloads/estimates_{iso}_{cycle}.parquet",
        "downloads/CITATION.cff",
        "downloads/data_dictionary.csv",
        f"vnr/vnr_{iso}_{cycle}_en.docx",
        f"vnr/vnr_{iso}_{cycle}_en.md",
    ):
        assert must in names, must
    _same(a, b)
