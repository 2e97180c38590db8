"""The prepared cycle: read, validate, derive and compute indicators once per input state.

Every chapter notebook of a cycle needs the same clean data. Notebooks run in parallel
processes, so the work is done once, under a file lock, and cached in `build/<ISO>/<cycle>/`
by a hash of the cycle's inputs (Project.cycle_inputs, the data contract) and the package's
code; later callers reuse it. Files are written atomically (temp file + os.replace) and
deterministically (sorted rows, fixed parquet options, no timestamps), so the same inputs
give byte-identical outputs.

Written per cycle: `<instrument>.parquet` (kept rows with derived and indicator columns, no
identifiers), `quarantine.csv`, `issues.csv`, `cleaning_log.csv`, and `summary.json` (written
last: its presence with a matching `input_key` marks a complete, current build).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import __version__, derive
from .errors import ValidationFailed
from .provenance import file_hashes, source_fingerprint
from .registry import Project
from .validate import ISSUE_COLUMNS, CycleValidation, validate_cycle

SUMMARY = "summary.json"
LOCK = ".prepare.lock"


def input_key(project: Project, iso: str, cycle: int | str) -> str:
    """Hash of everything the prepared data depend on: inputs, contract, code, version."""
    files = list(project.cycle_inputs(iso, cycle))
    contract = project.data_dir / "contract.yml"
    if contract.exists():
        files.append(contract)
    h = hashlib.sha256()
    h.update(f"voicescount {__version__}\0{source_fingerprint()}\0".encode())
    for rel, digest in file_hashes(files, root=project.root).items():
        h.update(f"{rel}\0{digest}\0".encode())
    return h.hexdigest()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Exclusive lock: parallel notebook processes of one cycle wait for the first one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _atomic_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _arrow_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Columns of mixed Python types (text and numbers in one item) become text for parquet."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            kind = pd.api.types.infer_dtype(out[c], skipna=True)
            if kind not in ("string", "empty", "boolean", "floating", "integer"):
                out[c] = out[c].map(lambda v: v if v is None or v != v else str(v)).astype("str")
    return out


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Deterministic parquet: no index, fixed compression and page options, atomic."""
    table = pa.Table.from_pandas(_arrow_safe(df), preserve_index=False)
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        compression="zstd",
        compression_level=3,
        use_dictionary=True,
        write_statistics=True,
        data_page_size=1 << 20,
        version="2.6",
    )
    _atomic_bytes(path, sink.getvalue().to_pybytes())


def _identifier_columns(cyc, name: str) -> set[str]:
    inst = cyc.instruments[name]
    return set(cyc.identifiers) | set(inst.identifiers)


@dataclass
class PreparedCycle:
    """A prepared cycle on disk: what the notebooks read."""

    dir: Path
    summary: dict
    validation: CycleValidation | None = field(default=None, repr=False)

    @property
    def instruments(self) -> list[str]:
        return sorted(self.summary["instruments"])

    def data(self, instrument: str) -> pd.DataFrame:
        """Clean rows of one instrument with derived and indicator columns."""
        if instrument not in self.summary["instruments"]:
            raise KeyError(f"no instrument '{instrument}' (have: {', '.join(self.instruments)})")
        return pd.read_parquet(self.dir / f"{instrument}.parquet")

    def all_respondents(self) -> pd.DataFrame:
        """Adults and children stacked (for 'who was heard'); CSOs are organisations."""
        frames = [
            self.data(name)
            for name in self.instruments
            if self.summary["instruments"][name]["population"] in ("adults", "children")
        ]
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True, sort=False)

    @cached_property
    def quarantine(self) -> pd.DataFrame:
        return pd.read_csv(self.dir / "quarantine.csv", dtype={"respondent_id": "str"})

    @cached_property
    def issues(self) -> pd.DataFrame:
        df = pd.read_csv(self.dir / "issues.csv", dtype={"respondent_id": "str"})
        return df.reindex(columns=ISSUE_COLUMNS)

    @cached_property
    def cleaning_log(self) -> pd.DataFrame:
        return pd.read_csv(self.dir / "cleaning_log.csv")


def _load_cached(bdir: Path, key: str) -> PreparedCycle | None:
    path = bdir / SUMMARY
    if not path.exists():
        return None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if summary.get("input_key") != key:
        return None
    needed = ["quarantine.csv", "issues.csv", "cleaning_log.csv"]
    needed += [f"{n}.parquet" for n in summary.get("instruments", {})]
    if not all((bdir / n).exists() for n in needed):
        return None
    return PreparedCycle(bdir, summary)


def _validation_from(prepared: PreparedCycle, iso: str, cycle: int) -> CycleValidation:
    counts = {
        n: {k: v for k, v in s.items() if k != "population"}
        for n, s in prepared.summary["instruments"].items()
    }
    return CycleValidation(
        iso=iso,
        cycle=int(cycle),
        issues=prepared.issues,
        counts=counts,
        paths={
            "issues": prepared.dir / "issues.csv",
            "cleaning_log": prepared.dir / "cleaning_log.csv",
            "quarantine": prepared.dir / "quarantine.csv",
        },
    )


def prepare_cycle(
    project: Project, iso: str, cycle: int | str, force: bool = False
) -> PreparedCycle:
    """Prepare (or reuse) a cycle's clean data in build/<ISO>/<cycle>/.

    Raises `ValidationFailed` (after writing issues.csv) when validation finds errors that
    stop the run; quarantined rows and warnings do not.
    """
    bdir = project.build_dir(iso, cycle)
    key = input_key(project, iso, cycle)
    with _locked(bdir / LOCK):
        if not force and (cached := _load_cached(bdir, key)) is not None:
            cached.validation = _validation_from(cached, iso, int(cycle))
            return cached
        (bdir / SUMMARY).unlink(missing_ok=True)
        cv = validate_cycle(project, iso, cycle, out_dir=bdir)
        cv.raise_if_stopped()
        cyc = project.cycle(iso, cycle)
        country = project.country(iso)
        combos = project.dimensions.intersections
        catalogue = project.indicators
        instruments: dict[str, dict] = {}
        for name in sorted(cv.results):
            vr = cv.results[name]
            df = derive.derive(vr.kept, country, vr.population, combos)
            ind = derive.indicators(df, catalogue, name)
            df = pd.concat([df.drop(columns=list(ind.columns), errors="ignore"), ind], axis=1)
            df = df.drop(columns=sorted(_identifier_columns(cyc, name) & set(df.columns)))
            df = df.drop(columns=["instrument"], errors="ignore")
            df.insert(0, "instrument", name)
            sort = [c for c in ("respondent_id", "_source_row") if c in df]
            df = df.sort_values(sort, kind="stable").reset_index(drop=True)
            write_parquet(df, bdir / f"{name}.parquet")
            gaps = derive.indicator_gaps(vr.kept, catalogue, name)
            instruments[name] = {
                "population": vr.population,
                **cv.counts[name],
                "indicators": sorted(ind.columns),
                "indicators_without_items": {k: gaps[k] for k in sorted(gaps)},
            }
        summary = {
            "country": iso,
            "cycle": int(cycle),
            "input_key": key,
            "voicescount": __version__,
            "instruments": instruments,
            "received": int(sum(v["received"] for v in instruments.values())),
            "kept": int(sum(v["kept"] for v in instruments.values())),
            "quarantined": int(sum(v["quarantined"] for v in instruments.values())),
            "warnings": int((cv.issues["severity"] == "warning").sum()),
            "issues_by_rule": {
                f"{sev}:{rule}": int(n)
                for (sev, rule), n in cv.issues.groupby(["severity", "rule"]).size().items()
            },
        }
        assert summary["received"] == summary["kept"] + summary["quarantined"]
        text = json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        _atomic_bytes(bdir / SUMMARY, text.encode("utf-8"))
        prepared = PreparedCycle(bdir, summary, validation=cv)
        return prepared


def check_cycle(project: Project, iso: str, cycle: int | str) -> CycleValidation:
    """Validate (and prepare) a cycle before any notebook runs: the runner's gate.

    Returns the validation when the run may go on (possibly with quarantined rows and
    warnings); raises `ValidationFailed` naming issues.csv when errors stop the run.
    """
    prepared = prepare_cycle(project, iso, cycle)
    assert prepared.validation is not None
    return prepared.validation


__all__ = [
    "PreparedCycle",
    "ValidationFailed",
    "check_cycle",
    "input_key",
    "prepare_cycle",
    "write_parquet",
]
