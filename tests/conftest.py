"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_REFERENCE = ROOT.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """Real-world fixtures from public projects, read in place from ../shared/reference."""
    if not SHARED_REFERENCE.is_dir():
        pytest.skip(
            f"reference fixtures not found at {SHARED_REFERENCE} (shared/ is not beside the repo)"
        )
    return SHARED_REFERENCE


TINY = ROOT / "tests" / "fixtures" / "tiny"
# The tiny fixture borrows these from the repository so it tracks the real data contract.
BORROWED = ("contract.yml", "dimensions.yml", "indicators.yml", "rules.yml")


def make_tiny_project(dest: Path) -> Path:
    """Copy tests/fixtures/tiny to `dest` and add the repository's contract and catalogues."""
    import shutil

    shutil.copytree(TINY, dest)
    for name in BORROWED:
        shutil.copy(ROOT / "data" / name, dest / "data" / name)
    return dest


@pytest.fixture
def tiny_project(tmp_path):
    """A runnable copy of the tiny fixture project (one country, two cycles) in tmp_path."""
    from voicescount.registry import Project

    return Project(make_tiny_project(tmp_path / "tiny"))


# --------------------------------------------------------------------------- templates


def write_template(path: Path, title: str, cells: list[str], id_prefix: str | None = None) -> None:
    """Write a template chapter for the tiny fixture: a `parameters` cell, a title, `cells`.

    With `id_prefix`, cell ids are fixed (nbformat otherwise draws random ones), as a
    committed template file has them.
    """
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell(
        'country = "ZZ"\ncycle = 2021\nlang = "en"\ndata_dir = "data"\nproject_root = "."'
    )
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_markdown_cell(f"# {title}")]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    if id_prefix is not None:
        for i, cell in enumerate(nb.cells):
            cell.id = f"{id_prefix}-{i}"
    nbformat.write(nb, path)


# --------------------------------------------------------------------------- example book

EXAMPLE_CYCLE = ("VN", 2022)


def _built(root: Path) -> bool:
    return (root / "_build" / "html" / "index.html").is_file() and (root / "report").is_dir()


@pytest.fixture(scope="session")
def example_book() -> Path:
    """A project whose example output exists: report/, _build/html and exports/.

    The repo itself when `make report` has run; otherwise a copy holding only the VN 2022
    example cycle (the one with the planted canary and hostile text), run, built and exported
    once per test session. xdist workers share it through a file lock, so it is built once.
    """
    if _built(ROOT) and (ROOT / "_build" / "html" / "downloads").is_dir():
        return ROOT
    import fcntl
    import hashlib
    import shutil
    import subprocess
    import sys
    import tempfile

    iso, cyc = EXAMPLE_CYCLE
    key = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    base = Path(tempfile.gettempdir()) / f"voicescount-example-book-{key}"
    with open(f"{base}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = base / ".complete"
        if done.is_file():
            return base
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        for name in ("_config.yml", "intro.md"):
            shutil.copy2(ROOT / name, base / name)
        for name in ("analyses", "handbook"):
            shutil.copytree(ROOT / name, base / name)
        data = base / "data"
        data.mkdir()
        for f in (ROOT / "data").glob("*.yml"):
            shutil.copy2(f, data / f.name)
        shutil.copytree(ROOT / "data" / "official", data / "official")
        for f in (ROOT / "data" / iso).glob("*.*"):
            (data / iso).mkdir(exist_ok=True)
            shutil.copy2(f, data / iso / f.name)
        shutil.copytree(ROOT / "data" / iso / str(cyc), data / iso / str(cyc))
        cli = [sys.executable, "-m", "voicescount.cli", "--root", str(base)]
        run = subprocess.run(
            [*cli, "all", "--jobs", "2", "--no-progress"], capture_output=True, text=True
        )
        assert run.returncode == 0, f"example run/build failed:\n{run.stdout}\n{run.stderr}"
        out = base / "exports" / iso / str(cyc)
        exp = subprocess.run(
            [*cli, "export", "opensdg", "sdmx", "downloads", "vnr",
             "--country", iso, "--cycle", str(cyc), "--out", str(out)],
            capture_output=True, text=True,
        )  # fmt: skip
        assert exp.returncode == 0, f"example export failed:\n{exp.stdout}\n{exp.stderr}"
        done.touch()
    return base
