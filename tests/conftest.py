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
