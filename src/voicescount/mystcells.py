"""Executed notebooks: MyST outputs become Markdown cells, so the book parses real MyST.

A heading in a cell's output is only a rubric for myst-nb (no section, no "on this page"); in
a Markdown cell it is a section. `render.MyST` marks its text/markdown output with `MARK`; the
runner's `finalize_notebook` calls `outputs_to_cells` after papermill ran the notebook (see
render's module docstring for the experiment behind this). This module sits below the runner
and imports nothing of the package, so the runner needs no import of the page layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import nbformat

# Output metadata (under the output's "text/markdown" key) marking a MyST output.
MARK = "voicescount/myst"
# Tag of a code cell whose MyST output was moved into the Markdown cell after it.
MOVED_TAG = "voicescount-md"


def outputs_to_cells(nb: Any) -> Any:
    """Move each marked MyST output into a Markdown cell right after its code cell.

    The code cell keeps its source (the analyst sees the call), loses the moved output and is
    left out of the book (`remove-cell`); the Markdown cell gets a deterministic id, so
    re-running gives the same notebook.
    """
    cells = []
    for i, cell in enumerate(nb.cells):
        cells.append(cell)
        if cell.get("cell_type") != "code":
            continue
        kept, texts = [], []
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get("text/markdown", {})
            text = out.get("data", {}).get("text/markdown")
            if isinstance(meta, Mapping) and meta.get(MARK) and text is not None:
                texts.append("".join(text))
            else:
                kept.append(out)
        if not texts:
            continue
        cell["outputs"] = kept
        tags = list(cell.get("metadata", {}).get("tags", []))
        # Nothing else to show: the book leaves the cell out (the notebook keeps it).
        for tag in (MOVED_TAG, "remove-cell") if not kept else (MOVED_TAG,):
            if tag not in tags:
                tags.append(tag)
        cell.setdefault("metadata", {})["tags"] = tags
        md = nbformat.v4.new_markdown_cell("\n".join(x.rstrip("\n") + "\n" for x in texts))
        md.id = f"{str(cell.get('id') or i)[:60]}-md"
        cells.append(md)
    nb.cells = cells
    return nb
