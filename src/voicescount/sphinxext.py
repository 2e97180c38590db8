"""Sphinx fixes for the book's theme, found by the browser tests (tests/test_browser.py).

Enabled in `_config.yml` (`sphinx: extra_extensions: [voicescount.sphinxext]`).

- Jupyter Book v1 with sphinx-thebe 0.3 adds thebe's inline configuration script twice
  (`const THEBE_JS_URL = ...`; once with filename None, once ''), so every page logs "Identifier 'THEBE_JS_URL' has already
  been declared". Duplicate script entries are dropped from each page's context.
- `assets/voicescount-a11y.js` gives the theme's sidebar expand buttons (`<summary>` holding
  only an icon) an accessible name, and drops the `role="list"` that docutils puts on
  bibliography entries whose children are not list items (axe-core: summary-name,
  aria-required-children; WCAG 4.1.2 and 1.3.1).
- MathJax is served from the book (`_static/mathjax/`), never from a CDN: Sphinx's default
  `mathjax_path` is cdn.jsdelivr.net, which sends readers' browsers to a third party and
  breaks the math offline. The files come from the `django-static-mathjax` wheel (MathJax
  3.2.2, the version Sphinx's default names, as plain files; no Django needed) and are
  copied into the built book. `_config.yml` sets `mathjax_path: mathjax/tex-mml-chtml.js`;
  the default CDN address is replaced by it here too, and any other remote address is an
  error, so no build of the book can load math from another site.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

ASSETS = Path(__file__).parent / "assets"
A11Y_JS = "voicescount-a11y.js"
EXPLORER_JS, EXPLORER_CSS = "voicescount-explorer.js", "voicescount-explorer.css"
# mathjax_path is relative to _static; MATHJAX_DIR is copied to _static/mathjax.
MATHJAX_PATH = "mathjax/tex-mml-chtml.js"
MATHJAX_ENTRY = "tex-mml-chtml.js"
_REMOTE = ("http://", "https://", "//")


def mathjax_dir() -> Path:
    """MathJax 3's es5 build as installed by the django-static-mathjax wheel (in the lock)."""
    import mathjax  # the wheel's package: static files only

    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def _mathjax_local(app: Any, config: Any) -> None:
    from sphinx.errors import ExtensionError
    from sphinx.ext.mathjax import MATHJAX_URL

    path = str(config.mathjax_path or "")
    if path == MATHJAX_URL:  # Sphinx's default (a CDN): use the book's own copy
        config.mathjax_path = path = MATHJAX_PATH
    if path.startswith(_REMOTE):
        raise ExtensionError(
            f"mathjax_path {path!r} is on another site; the book serves MathJax itself "
            f"(set `mathjax_path: {MATHJAX_PATH}` under sphinx: config: in _config.yml)."
        )


def _copy_mathjax(app: Any, exception: Exception | None) -> None:
    """Copy the MathJax entry file and the components it loads on demand (input extensions,
    CHTML fonts, a11y, speech rules, menu) into _static/mathjax: 9 MB, about 90 files."""
    if exception is not None or app.builder.format != "html":
        return
    if not str(app.config.mathjax_path).startswith("mathjax/"):
        return
    src = mathjax_dir()
    dest = Path(app.outdir) / "_static" / "mathjax"
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / MATHJAX_ENTRY, dest / MATHJAX_ENTRY)
    shutil.copyfile(src.parent / "LICENSE", dest / "LICENSE")
    for sub in sorted(p for p in src.iterdir() if p.is_dir()):
        shutil.copytree(sub, dest / sub.name, dirs_exist_ok=True)


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
    app.connect("config-inited", _mathjax_local)
    app.connect("build-finished", _copy_mathjax)
    app.add_js_file(A11Y_JS, defer="defer")
    # The indicator explorer (voicescount.explorer): does nothing on a page without one.
    app.add_js_file(EXPLORER_JS, defer="defer")
    app.add_css_file(EXPLORER_CSS)
    # After the other handlers added their scripts (the default priority is 500).
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
