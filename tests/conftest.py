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
        pytest.skip(f"reference fixtures not found at {SHARED_REFERENCE} (shared/ is not beside the repo)")
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
