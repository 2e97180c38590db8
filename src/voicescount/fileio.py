"""One way to write build files: under a lock, atomically, deterministically.

Chapter notebooks run in parallel processes and a run may be killed at any moment, so every
cached build file (prepared data, the cycle store, manifests, the table of contents) is
written to a temp file beside it and moved into place with `os.replace`: a reader sees the
old file or the new one, never half of one. Parquet is written with fixed options and no
index, so the same table gives the same bytes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Exclusive lock: parallel notebook processes of one cycle wait for the first one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file of this process and `os.replace`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    """`atomic_write_bytes` of UTF-8 text (newlines written as given)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def arrow_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Columns of mixed Python types (text and numbers in one item) become text for parquet."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            kind = pd.api.types.infer_dtype(out[c], skipna=True)
            if kind not in ("string", "empty", "boolean", "floating", "integer"):
                out[c] = out[c].map(lambda v: v if v is None or v != v else str(v)).astype("str")
    return out


def parquet_bytes(df: pd.DataFrame) -> bytes:
    """Deterministic parquet bytes: no index, fixed compression and page options."""
    table = pa.Table.from_pandas(arrow_safe(df), preserve_index=False)
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
    return sink.getvalue().to_pybytes()


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Deterministic parquet (`parquet_bytes`), written atomically."""
    atomic_write_bytes(path, parquet_bytes(df))


__all__ = [
    "arrow_safe",
    "atomic_write_bytes",
    "atomic_write_text",
    "locked",
    "parquet_bytes",
    "write_parquet",
]
