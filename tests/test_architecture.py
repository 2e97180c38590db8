"""Architecture (issue 12): layers import downward only, no private names across modules, and
function-level imports only of heavy optional dependencies.

The layers and the other import contracts are in pyproject.toml `[tool.importlinter]`; `make
lint` runs them as `lint-imports`, and these tests run the same contracts through
import-linter's API so that `make test` (CI) enforces them too. The two source checks that
import-linter cannot express are done here on the AST of src/voicescount/.

There are no exceptions: a new violation is fixed where it is, never listed away.
"""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib
from pathlib import Path

import grimp
import pytest
from importlinter import cli as importlinter_cli

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "voicescount"
PACKAGE = "voicescount"


# The only third-party packages a function may import: heavy ones that only one path needs,
# so that `import voicescount.<module>` (the CLI, every notebook kernel) does not pay for them.
# Import costs measured with `python -X importtime` on the 2-core machine (cumulative).
HEAVY_OPTIONAL = {
    "scipy": "scipy.stats ~1.1 s; only quantiles need it (stats' t, estimates' normal)",
    "playwright": "~110 ms; the browser driver, PDF printing only",
    "pypdf": "~95 ms; finishing the printed PDF only",
    "docx": "~55 ms plus lxml; the VNR .docx only",
    "papermill": "~280 ms; executing notebooks only (runner workers)",
    "jupyter_client": "kernel machinery; executing notebooks only (runner workers)",
    "jupyter_core": "kernel machinery; executing notebooks only (runner workers)",
    "nbclient": "~185 ms; executing the handbook and trainer notebooks only",
    "nbconvert": "~310 ms; training slides only",
    "IPython": "~155 ms; showing a chart inside a notebook only",
    "openpyxl": "~260 ms; reading or writing .xlsx only",
    "pyreadstat": "~200 ms; reading .sav/.dta only",
    "python_calamine": "reading .xlsx exports fast, that format only",
    "sphinx": "only inside a Sphinx build (sphinxext)",
    "mathjax": "only inside a Sphinx build (sphinxext: the book's own MathJax files)",
}


# --------------------------------------------------------------------------- import-linter


def _toml(value) -> str:
    """A TOML value for the strings, booleans and lists of strings of the contracts."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # JSON strings are TOML basic strings


def _lint(tmp_path: Path, ignore: set[str]) -> int:
    """Run the project's contracts as `lint-imports` does (its report goes to stdout), with
    `ignore` added to every contract's ignore_imports; returns the exit code."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    cfg = cfg["tool"]["importlinter"]
    lines = ["[tool.importlinter]"]
    lines += [f"{k} = {_toml(v)}" for k, v in cfg.items() if k != "contracts"]
    for contract in cfg["contracts"]:
        contract = dict(contract)
        if ignore:
            contract["ignore_imports"] = sorted(set(contract.get("ignore_imports", [])) | ignore)
            contract["unmatched_ignore_imports_alerting"] = "none"
        lines += ["", "[[tool.importlinter.contracts]]"]
        lines += [f"{k} = {_toml(v)}" for k, v in contract.items()]
    path = tmp_path / "importlinter.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    saved = list(sys.path)
    try:
        return importlinter_cli.lint_imports(config_filename=str(path), no_cache=True, no_logo=True)
    finally:
        sys.path[:] = saved  # lint_imports puts the working directory first on sys.path


def test_import_contracts_hold(tmp_path, capfd):
    code = _lint(tmp_path, set())
    report = capfd.readouterr().out
    assert code == 0, f"an import breaks pyproject's [tool.importlinter] contracts:\n{report}"


def test_the_layer_contract_catches_an_upward_import(tmp_path, capfd, monkeypatch):
    """The contracts can fail: the same configuration with an import of cli from stats."""
    real = grimp.build_graph

    def with_upward_import(*args, **kwargs):
        graph = real(*args, **kwargs)
        graph.add_import(
            importer="voicescount.stats",
            imported="voicescount.cli",
            line_number=1,
            line_contents="x",
        )
        return graph

    monkeypatch.setattr(grimp, "build_graph", with_upward_import)
    code = _lint(tmp_path, set())
    report = capfd.readouterr().out
    assert code != 0
    assert "voicescount.stats -> voicescount.cli" in report


# --------------------------------------------------------------------------- the AST checks


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join((PACKAGE, *parts))] = path
    return out


def _absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    """The absolute module name of a `from X import ...` in `module`."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(module: str, source: str, is_package: bool = False) -> list[tuple]:
    """(line, what) for each private name of another package module that `module` imports
    (`from .x import _y`) or reads off an imported package module (`x._y`)."""
    tree = ast.parse(source)
    found, aliases = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            src = _absolute(module, node, is_package)
            if src != PACKAGE and not src.startswith(PACKAGE + "."):
                continue
            for a in node.names:
                target = src if src != PACKAGE else f"{PACKAGE}.{a.name}"
                if src != PACKAGE and _private(a.name) and src != module:
                    found.append((node.lineno, f"{src}.{a.name}"))
                if src == PACKAGE or f"{src}.{a.name}" in _modules():
                    aliases[a.asname or a.name] = target if src == PACKAGE else f"{src}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(PACKAGE + ".") and a.asname:
                    aliases[a.asname] = a.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and _private(node.attr)
            and aliases[node.value.id] != module
        ):
            found.append((node.lineno, f"{aliases[node.value.id]}.{node.attr}"))
    return found


def inner_imports(module: str, source: str, is_package: bool = False) -> list[tuple]:
    """(line, imported module) for each import inside a function of `module`."""
    out = []
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Import):
                out += [(node.lineno, a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                src = _absolute(module, node, is_package)
                if src == PACKAGE:  # from . import x
                    out += [(node.lineno, f"{PACKAGE}.{a.name}") for a in node.names]
                else:
                    out.append((node.lineno, src))
    return sorted(set(out))


def _not_allowed(imported: str) -> bool:
    return imported.startswith(PACKAGE + ".") or imported.split(".")[0] not in HEAVY_OPTIONAL


def _scan(check) -> dict[tuple[str, str], list[str]]:
    """{(module, imported): ['file:line', ...]} over src/voicescount."""
    out: dict[tuple[str, str], list[str]] = {}
    for module, path in _modules().items():
        is_package = path.name == "__init__.py"
        for line, what in check(module, path.read_text(encoding="utf-8"), is_package):
            where = f"{path.relative_to(ROOT)}:{line}"
            out.setdefault((module, what), []).append(where)
    return out


def test_no_module_imports_another_modules_private_names():
    found = _scan(private_imports)
    assert not found, "private names used across modules (make them public, documented):\n" + (
        "\n".join(f"{' '.join(w)}: {what}" for (_, what), w in sorted(found.items()))
    )


def test_function_level_imports_are_only_of_heavy_optional_dependencies():
    found = {key: where for key, where in _scan(inner_imports).items() if _not_allowed(key[1])}
    assert not found, (
        "imports inside functions: move them to the module top (a circle is fixed by moving the "
        "shared piece down, not hidden in a function); only HEAVY_OPTIONAL may be lazy:\n"
        + "\n".join(
            f"{' '.join(w)}: {mod} imports {imp}" for (mod, imp), w in sorted(found.items())
        )
    )


@pytest.mark.parametrize(
    "source, private, inner",
    [
        ("from .stats import _levels\n", ["voicescount.stats._levels"], []),
        ("from . import stats\nx = stats._raking\n", ["voicescount.stats._raking"], []),
        ("from voicescount.book import _toc_files\n", ["voicescount.book._toc_files"], []),
        ("from .stats import __doc__, Design\n", [], []),
        ("from ._own import x\n", [], []),  # a private module is not a private name
        ("def f():\n    from .cli import build_parser\n", [], ["voicescount.cli"]),
        ("def f():\n    from . import voices\n", [], ["voicescount.voices"]),
        ("def f():\n    import shutil\n", [], ["shutil"]),
        ("def f():\n    from playwright.sync_api import x\n", [], []),
        ("import argparse\nfrom .x import y\n", [], []),
    ],
)
def test_the_source_checks_catch_what_they_forbid(source, private, inner):
    module = "voicescount.lnob"
    assert [w for _, w in private_imports(module, source)] == private
    assert [m for _, m in inner_imports(module, source) if _not_allowed(m)] == inner


# --------------------------------------------------------------------------- HTML only in templates

HTML_TAG = re.compile(
    r"<(/?)(a|p|div|span|table|thead|tbody|tr|td|th|ul|ol|li|h[1-6]|details|summary|section"
    r"|figure|figcaption|img|blockquote|br|nav|html|head|body|style|svg|script|iframe)\b[^>]*>",
    re.IGNORECASE,
)
# Strings with a tag-shaped part that are not HTML output: (file, start of the string, why).
NOT_HTML = {
    ("render.py", "^\\((?P<a>"): "a regular expression's named group",
}


def html_strings(source: str) -> list[tuple[int, str]]:
    """(line, text) of each string constant, docstrings aside, that holds an HTML tag."""
    tree = ast.parse(source)
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docs
        and HTML_TAG.search(node.value)
    ]


def test_html_is_written_only_by_the_templates():
    """Pages, headers, charts and the printed report are templates/*.j2 (autoescaped); no
    module assembles HTML from strings (issue 12)."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for line, text in html_strings(path.read_text(encoding="utf-8")):
            if not any(path.name == f and text.startswith(s) for f, s in NOT_HTML):
                found.append(f"{path.relative_to(ROOT)}:{line}: {text[:70]!r}")
    assert not found, "HTML assembled in Python (write it in a template):\n" + "\n".join(found)


def test_the_html_check_catches_markup_in_code():
    assert html_strings('x = f"<p>{y}</p>"\n')
    assert html_strings("def f():\n    return '<details><summary>'\n")
    assert not html_strings('def f():\n    """Returns a <figure>."""\n')
    assert not html_strings("hint = 'map it to {val: <code>}'\n")
