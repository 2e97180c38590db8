"""Personal data never reaches the published outputs.

Every file under report/, _build/ and exports/ (the book, its downloads, executed notebooks)
is scanned for the planted canaries and for the values of every declared identifier column
(cycle.yml `identifiers`) read from the raw exports: names, phone numbers, e-mails, device
ids, exact GPS. Zip containers (xlsx, docx) are scanned member by member, Parquet through its
string columns. Papermill's injected parameters must hold no absolute path and no secret.
They run on what `make report` produced, or else on the VN 2022 example cycle run, built and
exported for the test session (the `example_book` fixture): that cycle holds the canaries.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from voicescount.intake import read_raw
from voicescount.registry import Project

ROOT = Path(__file__).resolve().parents[1]
OUTPUT_DIRS = ["report", "_build", "exports"]
CANARIES = ["Nguyen Van Canary", "+84 912 000 111", "84912000111"]
SECRET_KEY = re.compile(r"token|passw|secret|api[_-]?key|credential", re.IGNORECASE)
NUMBER = re.compile(r"-?\d+\.\d+")
MIN_LEN = 6  # shorter values ('yes', '12') are not identifying and would match anywhere

pytestmark = pytest.mark.slow


def _output_files(root: Path) -> list[Path]:
    files = []
    for d in OUTPUT_DIRS:
        base = root / d
        if base.is_dir():
            # dot files are the runner's temporaries and manifests, never published
            files += [
                p
                for p in base.rglob("*")
                if p.is_file() and ".jupyter_cache" not in p.parts and not p.name.startswith(".")
            ]
    return sorted(files)


@pytest.fixture(scope="module")
def outputs(example_book) -> list[Path]:
    files = _output_files(example_book)
    assert any(p.suffix == ".html" for p in files), f"no built page under {example_book}"
    assert any(p.suffix == ".docx" for p in files), f"no export under {example_book}"
    return files


def _texts(path: Path) -> list[tuple[str, str]]:
    """(where, text) pieces of a file: zip members and Parquet string cells included."""
    data = path.read_bytes()
    out = [(str(path), data.decode("utf-8", errors="replace"))]
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                text = z.read(name).decode("utf-8", errors="replace")
                out.append((f"{path}!{name}", text))
    if path.suffix == ".parquet":
        import pandas as pd

        df = pd.read_parquet(path)
        text = df.astype(str).to_csv(index=False)
        out.append((f"{path} (parquet)", text))
    return out


def _identifier_values() -> dict[str, set[str]]:
    """Declared identifier values from every cycle's raw exports, by 'ISO/cycle/instrument'."""
    project = Project(ROOT)
    found: dict[str, set[str]] = {}
    for iso, cyc in project.cycles():
        cycle = project.cycle(iso, cyc)
        cdir = project.cycle_dir(iso, cyc)
        for name, inst in cycle.instruments.items():
            idents = set(cycle.identifiers) | set(inst.identifiers)
            if not idents:
                continue
            raw = read_raw(cdir / inst.data, inst)
            for table in [raw.main, *raw.repeats.values()]:
                cols = [
                    i
                    for i, h in enumerate(table.headers)
                    if any(h == x or h.endswith("/" + x) or x.endswith("/" + h) for x in idents)
                ]
                vals = found.setdefault(f"{iso}/{cyc}/{name}", set())
                for row in table.rows:
                    for i in cols:
                        v = row[i] if i < len(row) else None
                        if v is None:
                            continue
                        text = str(v).strip()
                        # exact GPS: only coordinates with 4+ decimals identify a place
                        if isinstance(v, float) and len(text.split(".")[-1]) < 4:
                            continue
                        if len(text) >= MIN_LEN:
                            vals.add(text)
    return found


def test_identifier_values_are_found_in_the_raw_exports():
    """The scan below is only as good as its list: the planted canary must be in it."""
    values = set().union(*_identifier_values().values())
    assert "Nguyen Van Canary" in values
    assert "+84 912 000 111" in values
    assert len(values) > 100


def test_no_identifier_or_canary_in_any_published_file(outputs):
    idents = _identifier_values()
    needles = {v: k for k, vals in idents.items() for v in vals}
    needles.update({c: "canary" for c in CANARIES})
    # Index the needles by their first token: one pass over each text's tokens, then a
    # startswith check, keeps the scan linear in the output size (thousands of values).
    by_first: dict[str, list[str]] = {}
    for v in needles:
        by_first.setdefault(v.split()[0], []).append(v)
    token = re.compile(r"[^\s\"'<>,;|()\[\]{}]+")
    hits = []
    for path in outputs:
        for where, text in _texts(path):
            for m in token.finditer(text):
                for v in by_first.get(m.group(0), ()):
                    # a bare GPS number can equal a drawing coordinate in an SVG; names,
                    # phones and e-mails are still searched there
                    if path.suffix == ".svg" and NUMBER.fullmatch(v):
                        continue
                    if text.startswith(v, m.start()):
                        hits.append(f"{where}: {v!r} ({needles[v]})")
    assert not hits, f"{len(hits)} identifying values published:\n" + "\n".join(hits[:20])


def test_injected_parameters_hold_no_absolute_path_or_secret(outputs, example_book):
    notebooks = [p for p in outputs if p.suffix == ".ipynb"]
    assert notebooks, "no executed notebook under report/"
    roots = {str(ROOT), str(example_book)}
    for nb_path in notebooks:
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        pm = nb.get("metadata", {}).get("papermill", {})
        params = pm.get("parameters", {})
        for k, v in params.items():
            assert not SECRET_KEY.search(k), f"{nb_path}: parameter {k!r} looks like a secret"
            if isinstance(v, str):
                assert not v.startswith(("/", "~")) and not re.match(r"^[A-Za-z]:[\\/]", v), (
                    f"{nb_path}: parameter {k}={v!r} is an absolute path"
                )
        for key in ("input_path", "output_path"):
            assert not str(pm.get(key, "")).startswith("/"), f"{nb_path}: papermill {key}"
        text = nb_path.read_text(encoding="utf-8")
        for root in roots:
            assert root not in text, f"{nb_path} records {root}"
