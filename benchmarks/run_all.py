"""Run every benchmarks/bench_*.py and print one Markdown table.

Contract for a benchmark script: it prints a Markdown table (a header row, a `|---|` row,
then data rows) to stdout, possibly with prose around it. Columns whose header mentions
"median" or "time", "peak" or "memory", and "note" fill the combined table's columns of
those names; every other column becomes part of the "case" (`header=value`). Extra arguments
are passed to every script (e.g. `--repeat 1`).

    .venv/bin/python benchmarks/run_all.py
    .venv/bin/python benchmarks/run_all.py --repeat 1
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse_tables(text: str) -> list[dict[str, str]]:
    """Rows of every Markdown table in `text`, as {header: cell}."""
    rows: list[dict[str, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines) - 1:
        head, rule = lines[i].strip(), lines[i + 1].strip()
        if head.startswith("|") and rule.startswith("|") and set(rule) <= set("|-: "):
            headers = _cells(head)
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(dict(zip(headers, _cells(lines[i]), strict=False)))
                i += 1
        else:
            i += 1
    return rows


def combine(bench: str, row: dict[str, str]) -> tuple[str, str, str, str, str]:
    median = peak = note = ""
    case = []
    for header, value in row.items():
        h = header.lower()
        if ("median" in h or "time" in h) and not median:
            median = value
        elif ("peak" in h or "memory" in h) and not peak:
            peak = value
        elif h == "note":
            note = value
        else:
            case.append(f"{header}={value}" if header not in ("case", "") else value)
    return bench, ", ".join(case), median, peak, note


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    out_rows = []
    failed = []
    for script in scripts:
        name = script.stem.removeprefix("bench_")
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(script), *argv], capture_output=True, text=True, check=False
        )
        took = time.perf_counter() - start
        print(f"{script.name}: exit {proc.returncode} in {took:.0f} s", file=sys.stderr)
        if proc.returncode != 0:
            failed.append(script.name)
            print(proc.stderr[-2000:], file=sys.stderr)
            continue
        out_rows += [combine(name, r) for r in parse_tables(proc.stdout)]
    print("| benchmark | case | median | peak MiB | note |")
    print("|---|---|---:|---:|---|")
    for row in out_rows:
        print("| " + " | ".join(row) + " |")
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
