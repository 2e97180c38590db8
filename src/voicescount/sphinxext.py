"""Sphinx fixes for the book's theme, found by the browser tests (tests/test_browser.py).

Enabled in `_config.yml` (`sphinx: extra_extensions: [voicescount.sphinxext]`).

- Jupyter Book v1 with sphinx-thebe 0.3 adds thebe's inline configuration script twice
  (`const THEBE_JS_URL = ...`; once with filename None, once ''), so every page logs "Identifier 'THEBE_JS_URL' has already
  been declared". Duplicate script entries are dropped from each page's context.
- `assets/voicescount-a11y.js` gives the theme's sidebar expand buttons (`<summary>` holding
  only an icon) an accessible name, and drops the `role="list"` that docutils puts on
  bibliography entries whose children are not list items (axe-core: summary-name,
  aria-required-children; WCAG 4.1.2 and 1.3.1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ASSETS = Path(__file__).parent / "assets"
A11Y_JS = "voicescount-a11y.js"


def _dedupe_scripts(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for s in scripts:
        # An inline script is registered once with filename None and once with '', which is
        # why Sphinx's own check kept both; compare them as the same (empty) filename.
        key = (str(getattr(s, "filename", "") or ""), tuple(sorted(s.attributes.items())))
        if key in seen:
            continue
        seen.add(key)
        unique.append(s)
    scripts[:] = unique


def _static(app: Any) -> None:
    if str(ASSETS) not in app.config.html_static_path:
        app.config.html_static_path.append(str(ASSETS))


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", _static)
    app.add_js_file(A11Y_JS, defer="defer")
    # After the other handlers added their scripts (the default priority is 500).
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
