"""Test helper: a page's MyST as HTML, parsed the way the book parses it, without Sphinx.

myst-parser's docutils parser with the book's extensions (_config.yml `parse`); the one
Sphinx-only directive the templates use, sphinx-design's `dropdown`, is stood in for by a
<details> that parses its content, so what is inside is checked too. Fast enough for unit
tests; the slow book test builds real pages with Sphinx.
"""

from __future__ import annotations

from docutils import nodes
from docutils.core import publish_string
from docutils.parsers.rst import Directive, directives
from myst_parser.parsers.docutils_ import Parser

EXTENSIONS = ["colon_fence", "deflist", "dollarmath", "linkify"]


class _Dropdown(Directive):
    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec = {"class-container": directives.unchanged, "name": directives.unchanged}

    def run(self):
        node = nodes.container(
            classes=["dropdown", *self.options.get("class-container", "").split()]
        )
        title, _ = self.state.inline_text(" ".join(self.arguments), self.lineno)
        node += nodes.rubric("", "", *title)
        self.state.nested_parse(self.content, self.content_offset, node)
        return [node]


directives.register_directive("dropdown", _Dropdown)


def to_html(md: str) -> str:
    """The HTML body docutils makes of `md` (warnings raise: a page must parse cleanly)."""
    out = publish_string(
        str(md),
        parser=Parser(),
        writer_name="html5",
        settings_overrides={
            "myst_enable_extensions": EXTENSIONS,
            "myst_suppress_warnings": ["myst.header"],  # a page section starts at ##
            "myst_all_links_external": True,  # Sphinx makes tables/x.csv a checked download
            "halt_level": 2,  # a warning is an error, as in the -W book build
            "report_level": 2,
            "output_encoding": "unicode",
            "embed_stylesheet": False,
        },
    )
    return out.split("<body>", 1)[-1].split("</body>", 1)[0]
