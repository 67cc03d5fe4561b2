"""HTML of one report: an executed notebook through nbconvert, with a table of contents.

Self-contained: figures are embedded as data URIs and no external script is referenced. A
figure's alternative text comes from its output metadata (``alt``, set by every
:mod:`metakit.plots` figure), and its display size from ``width``/``height`` (figures are
rendered at twice that resolution).
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any


def report_names(review: str, with_code: bool) -> list[str]:
    """File names of a review's reports, the code-free one first."""
    return [f"{review}.html"] + ([f"{review}-with-code.html"] if with_code else [])


_TOC_MARK = "<!-- metakit:toc -->"

_REPORT_TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block html_head_js_requirejs %}{% endblock html_head_js_requirejs %}
{% block html_head_js_mathjax %}{% endblock html_head_js_mathjax %}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
{% block extra_css %}
<style type="text/css">
nav.metakit-toc, footer.metakit-provenance { margin: 1em 0; padding: 0.5em 1em;
  border: 1px solid #ddd; background: #fafafa; font-size: 90%;
  font-family: var(--jp-content-font-family, system-ui, sans-serif); }
nav.metakit-toc ul { margin: 0; padding-left: 1.2em; }
nav.metakit-toc li.toc-h3 { margin-left: 1.2em; }
footer.metakit-provenance table { border-collapse: collapse; margin-bottom: 0.5em; }
footer.metakit-provenance td, footer.metakit-provenance th { padding: 2px 8px;
  border-bottom: 1px solid #eee; text-align: left; }
.jp-RenderedImage img { max-width: 100%; height: auto; }
</style>
{% endblock extra_css %}
{% block data_png scoped %}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
{%- set alt = output | get_metadata('alt', 'image/png') -%}
{%- if alt %} alt="{{ alt | escape_html }}"{% endif -%}
{%- set width = output | get_metadata('width', 'image/png') -%}
{%- if width is not none %} width="{{ width | escape_html }}"{% endif -%}
{%- set height = output | get_metadata('height', 'image/png') -%}
{%- if height is not none %} height="{{ height | escape_html }}"{% endif %}>
</div>
{% endblock data_png %}
{% block body_header %}{{ super() }}
""" + _TOC_MARK + """
{% endblock body_header %}
{% block body_footer %}
{{ resources.metakit_footer }}
{{ super() }}
{% endblock body_footer %}
"""


class _HeadingParser(HTMLParser):
    """Collects ``(level, id, text)`` of ``h1``-``h3`` elements that carry an ``id``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[tuple[int, str, str]] = []
        self._current: tuple[int, str] | None = None
        self._text: list[str] = []
        self._in_anchor = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in ("h1", "h2", "h3") and attributes.get("id"):
            self._current, self._text = (int(tag[1]), attributes["id"] or ""), []
        elif tag == "a" and "anchor-link" in (attributes.get("class") or ""):
            self._in_anchor = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._in_anchor = False
        elif self._current and tag == f"h{self._current[0]}":
            self.headings.append((*self._current, "".join(self._text).strip()))
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current and not self._in_anchor:
            self._text.append(data)


def toc_html(page: str) -> str:
    """A table of contents of the markdown headings (levels 1-3) of a rendered notebook."""
    parser = _HeadingParser()
    parser.feed(page)
    items = "".join(
        f'<li class="toc-h{level}"><a href="#{html.escape(anchor)}">{html.escape(text)}</a></li>'
        for level, anchor, text in parser.headings)
    items += '<li class="toc-h2"><a href="#provenance">Provenance of this report</a></li>'
    return (f'<nav id="toc" class="metakit-toc"><details><summary><strong>Contents</strong>'
            f"</summary><ul>{items}</ul></details></nav>")


def render_report(notebook: Any, footer: str, with_code: bool) -> str:
    """Self-contained HTML of an executed notebook (an ``nbformat`` node).

    Code cells are hidden unless ``with_code``; no external script is referenced (MathJax,
    require.js and mermaid are left out, so formulas should be written in Unicode).
    """
    from jinja2 import DictLoader

    exporter = _report_exporter()(
        template_name="lab",
        extra_loaders=[DictLoader({"metakit-report.html.j2": _REPORT_TEMPLATE})],
        exclude_input=not with_code, exclude_input_prompt=not with_code,
        exclude_output_prompt=not with_code, embed_images=True)
    exporter.template_file = "metakit-report.html.j2"
    page, _ = exporter.from_notebook_node(notebook, resources={"metakit_footer": footer})
    page = _FOCUSABLE.sub(r'\1 tabindex="0">', page)
    return page.replace(_TOC_MARK, toc_html(page), 1)


_FOCUSABLE = re.compile(r'(<div class="[^"]*\b(?:jp-OutputArea-output|jp-Cell-inputWrapper)\b'
                        r'[^"]*"[^>]*?)(?<!tabindex="0")>')
"""The divs nbconvert makes keyboard-focusable (``tabindex="0"``)."""


def _report_exporter() -> type:
    """nbconvert's HTML exporter without its BeautifulSoup pass over the finished page.

    That pass adds a placeholder alt text to images without one (every report figure carries a
    real one, and the browser test fails on a missing one) and ``tabindex`` to input and output
    areas (done here with :data:`_FOCUSABLE`); on a report's 11,000 tags it took two-thirds of
    the rendering (0.45 of 0.65 s for nonunion, twice per review). Everything else is
    ``HTMLExporter.from_notebook_node`` as nbconvert 7 defines it.
    """
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class ReportExporter(HTMLExporter):
        def from_notebook_node(self, nb: Any, resources: Any = None,
                               **kw: Any) -> tuple[str, dict[str, Any]]:
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            self.register_filter("highlight_code", self.filters.get(
                "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
            resources = self._init_resources(resources)
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources))
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    return ReportExporter



def title_of(notebook: Any, review: str) -> str:
    """The first level-1 markdown heading of a notebook (as plain text, without Markdown's
    backticks and asterisks), else ``metakit: <review>``."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, flags=re.MULTILINE)
            if match:
                return re.sub(r"[`*]", "", match.group(1)).strip()
    return f"metakit: {review}"
