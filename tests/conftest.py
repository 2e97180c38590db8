"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
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
        kit = subprocess.run(  # the training kit's zip beside the training pages, as make report
            [*cli, "training", "--out", str(base / "build" / "training-kit"), "--into-book"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert kit.returncode == 0, f"example training kit failed:\n{kit.stdout}\n{kit.stderr}"
        done.touch()
    return base


# --------------------------------------------------------------------------- raked designs
# Shared by test_stats and test_lnob: R's raked weights on the committed designs, random
# designs for the property tests, and R's raking linearisation transcribed row by row.

R_FIXTURES = ROOT / "tests" / "fixtures" / "r"


def raked_fixture_design(name: str) -> pd.DataFrame:
    """Design `name` (tests/fixtures/r/design_<name>.csv) with R's raked weights and the
    PSU-level `area` margin make_reference.R rakes to."""
    df = pd.read_csv(R_FIXTURES / f"design_{name}.csv")
    w = pd.read_csv(R_FIXTURES / "reference_raked_weights.csv").query("design == @name")
    assert (w["row"].to_numpy() == np.arange(1, len(df) + 1)).all()
    return df.assign(weight=w["weight"].to_numpy(), area=w["area"].to_numpy())


def random_survey(rng: np.random.Generator, n: int, **choices) -> pd.DataFrame:
    """A small random stratified design: stratum 0 has a single PSU, `sex` is drawn first,
    then each of `choices` (a list of values, or (values, probabilities)) in order, and
    `area` is constant within PSUs."""
    strata = rng.integers(0, 4, n)
    psu = strata * 10 + rng.integers(0, 1 + strata, n)  # stratum 0 has one PSU
    cols = {
        "stratum": strata,
        "psu": psu,
        "weight": rng.uniform(0.2, 5.0, n),
        "sex": rng.choice(["f", "m"], n),
    }
    for name, spec in choices.items():
        values, prob = spec if isinstance(spec, tuple) else (spec, None)
        cols[name] = rng.choice(values, n, p=prob)
    cols["area"] = np.where(psu % 2 == 1, "urban", "rural")
    return pd.DataFrame(cols)


def r_raked_rows(df: pd.DataFrame, y: np.ndarray, domains: list, margins, psu) -> tuple:
    """R on the rows: each domain's mean and scores w (y - mean) / W (0 outside it and for
    missing items), survey:::svyrecvar's 10 sweeps of `x - psw * ave(x / psw, margin)` over
    all rows (psw = the weights), PSU totals, their covariance within strata ("adjust":
    a single-PSU stratum contributes z z'). Returns (means, covariance matrix)."""
    w = df["weight"].to_numpy()
    cells = [pd.factorize(df[m])[0] for m in margins]
    X, est = [], []
    for inside in domains:
        inn = inside & ~np.isnan(y)
        W = w[inn].sum()
        p = (w[inn] * y[inn]).sum() / W
        x = np.where(inn, w * (np.nan_to_num(y) - p) / W, 0.0)
        for _ in range(10):
            for c in cells:  # ave(x / psw, margin): the mean over the rows of each cell
                x = x - w * (np.bincount(c, weights=x / w) / np.bincount(c))[c]
        X.append(x)
        est.append(p)
    Z = pd.DataFrame(np.column_stack(X)).groupby([df["stratum"].to_numpy(), psu]).sum()
    V = 0.0
    for _, z in Z.groupby(level=0):
        z = z.to_numpy()
        k = len(z)
        V = V + (k / (k - 1) * (z - z.mean(0)).T @ (z - z.mean(0)) if k > 1 else z.T @ z)
    return np.array(est), V
