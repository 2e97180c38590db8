"""The handbook's sources keep the writing rules the book build cannot check by itself.

Broken references fail the build late and far from the cause; these checks fail fast and
name the file and line: toc files exist, citations and cross-references resolve, labels are
unique, sources keep one sentence per line, and each chapter ends with its checklist.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TOC_PARTS = [ROOT / "handbook" / "_toc_part.yml", ROOT / "handbook" / "training" / "_toc_part.yml"]
NO_CHECKLIST = {"handbook/bibliography"}

CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
REF = re.compile(r"\{ref\}`(?:[^`<]*<([^`>]+)>|([^`]+))`")
TERM = re.compile(r"\{term\}`(?:[^`<]*<([^`>]+)>|([^`]+))`")
LABEL = re.compile(r"^\(([A-Za-z0-9_.:-]+)\)=\s*$", re.M)
# A sentence end followed by the start of another sentence on the same line.
TWO_SENTENCES = re.compile(r"[a-z0-9)\]*_`'\"][.!?][)\"'*]*\s+[\"'(*]*[A-Z]")


def _toc_files(node) -> list[str]:
    out = []
    if isinstance(node, list):
        for item in node:
            out += _toc_files(item)
    elif isinstance(node, dict):
        if "file" in node:
            out.append(node["file"])
        for key in ("chapters", "sections", "parts"):
            if key in node:
                out += _toc_files(node[key])
    return out


def toc_entries() -> list[str]:
    entries = []
    for part in TOC_PARTS:
        entries += _toc_files(yaml.safe_load(part.read_text(encoding="utf-8")))
    return entries


def source_path(entry: str) -> Path:
    for ext in (".md", ".ipynb"):
        path = ROOT / f"{entry}{ext}"
        if path.is_file():
            return path
    raise FileNotFoundError(entry)


def texts() -> dict[Path, str]:
    """Markdown text of every page in the handbook and training toc (notebook markdown cells)."""
    out = {}
    for entry in toc_entries():
        path = source_path(entry)
        if path.suffix == ".ipynb":
            nb = nbformat.read(path, as_version=4)
            out[path] = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        else:
            out[path] = path.read_text(encoding="utf-8")
    return out


def prose_lines(text: str):
    """(line number, line) outside code fences, directives, tables, comments and URLs."""
    fence = None
    comment = False
    for no, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if fence:
            if stripped.startswith(fence):
                fence = None
            continue
        if stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            continue
        if stripped.startswith("<!--"):
            comment = "-->" not in stripped
            continue
        if comment:
            comment = "-->" not in stripped
            continue
        if stripped.startswith("|") or "http" in stripped:
            continue
        line = re.sub(r"^\s*(?:[-*+]|\d+\.)\s+", "", line)  # a list marker is not a sentence end
        yield no, re.sub(r"`[^`]*`", "`x`", line)


def test_toc_parts_are_lists_of_parts_and_files_exist():
    for part in TOC_PARTS:
        data = yaml.safe_load(part.read_text(encoding="utf-8"))
        assert isinstance(data, list) and all("caption" in p and "chapters" in p for p in data)
    entries = toc_entries()
    assert len(entries) == len(set(entries)), "a page is listed twice"
    for entry in entries:
        assert not entry.endswith((".md", ".ipynb")), f"{entry}: toc paths have no extension"
        source_path(entry)


def test_cite_keys_exist_in_bibliography():
    bib = (ROOT / "handbook" / "references.bib").read_text(encoding="utf-8")
    keys = set(re.findall(r"^@\w+\{([^,\s]+),", bib, flags=re.M))
    used = set()
    for path, text in texts().items():
        for match in CITE.finditer(text):
            for key in match.group(1).split(","):
                used.add(key.strip())
                assert key.strip() in keys, f"{path.name}: unknown citation key '{key.strip()}'"
    assert used, "no citations found: the check itself is broken"
    unused = keys - used
    assert not unused, f"bibliography entries never cited: {sorted(unused)}"


def test_labels_unique_and_refs_resolve():
    labels: dict[str, Path] = {}
    all_text = texts()
    for path, text in all_text.items():
        for label in LABEL.findall(text):
            assert label not in labels, f"label '{label}' in {path.name} and {labels[label].name}"
            labels[label] = path
    for path, text in all_text.items():
        for match in REF.finditer(text):
            target = match.group(1) or match.group(2)
            assert target in labels, f"{path.name}: {{ref}} to unknown label '{target}'"


def test_terms_are_in_glossary():
    glossary = (ROOT / "handbook" / "glossary.md").read_text(encoding="utf-8")
    terms = set(re.findall(r"^([A-Z][^\n]*)\n  ", glossary, flags=re.M))
    for path, text in texts().items():
        for match in TERM.finditer(text):
            target = match.group(1) or match.group(2)
            assert target in terms, f"{path.name}: {{term}} '{target}' is not in the glossary"


def test_one_sentence_per_line():
    problems = []
    for path, text in texts().items():
        if path.suffix != ".md":
            continue
        for no, line in prose_lines(text):
            if TWO_SENTENCES.search(line):
                problems.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()[:80]}")
    assert not problems, "more than one sentence on a line:\n" + "\n".join(problems)


def test_sentence_check_catches_two_sentences():
    assert TWO_SENTENCES.search("This is one. This is two.")
    assert not TWO_SENTENCES.search("Use `a.b` for e.g. weights, see {ref}`x`.")


@pytest.mark.parametrize("entry", [e for e in toc_entries() if e not in NO_CHECKLIST])
def test_each_page_ends_with_a_checklist(entry):
    path = source_path(entry)
    if path.suffix == ".ipynb":
        pytest.skip("exercise notebooks end with their discussion, not a checklist")
    headings = re.findall(r"^##\s+(.+)$", path.read_text(encoding="utf-8"), flags=re.M)
    assert headings and headings[-1].strip() == "Checklist", (
        f"{entry} does not end with a checklist"
    )


def test_template_follows_its_own_rules():
    text = (ROOT / "handbook" / "_template.md").read_text(encoding="utf-8")
    assert LABEL.search(text)
    assert re.findall(r"^##\s+(.+)$", text, flags=re.M)[-1] == "Checklist"
    assert "handbook/_template" not in toc_entries()


@pytest.mark.slow
def test_handbook_builds_without_warnings(tmp_path):
    """Build only the handbook and training parts with Jupyter Book v1, warnings as errors."""
    import shutil
    import subprocess
    import sys

    shutil.copytree(ROOT / "handbook", tmp_path / "handbook")
    (tmp_path / "intro.md").write_text("# Handbook build check\n", encoding="utf-8")
    (tmp_path / "_config.yml").write_text(
        "title: check\nexecute:\n  execute_notebooks: 'off'\n"
        "bibtex_bibfiles: [handbook/references.bib]\n"
        "exclude_patterns: [handbook/_template.md, handbook/_generated/*]\n",
        encoding="utf-8",
    )
    parts = []
    for part in TOC_PARTS:
        parts += yaml.safe_load(part.read_text(encoding="utf-8"))
    toc = {"format": "jb-book", "root": "intro", "parts": parts}
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False), encoding="utf-8")
    jb = Path(sys.executable).with_name("jupyter-book")
    run = subprocess.run(
        [str(jb), "build", str(tmp_path), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
