"""HTML to text for WARC responses, with the standard library's ``html.parser``.

Visible text only: ``script`` / ``style`` / ``noscript`` / ``template`` content is
dropped, block tags (``p``, ``div``, ``li``, ``br``, headings, table cells, ...) become line
breaks, runs of whitespace collapse to one space and blank lines are dropped. Character
references are decoded.
"""

from __future__ import annotations

from html.parser import HTMLParser

__all__ = ["html_to_text"]

_HTML_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template"})
_HTML_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div",
        "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
        "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
        "summary", "table", "td", "th", "title", "tr", "ul",
    }
)  # fmt: skip


class _HTMLTextExtractor(HTMLParser):
    """Collect visible text: drop script/style/noscript, block tags become newlines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _HTML_SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag in _HTML_BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in _HTML_BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HTML_SKIPPED_TAGS:
            self._skip_depth = max(self._skip_depth - 1, 0)
        elif tag in _HTML_BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.pieces.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML page: one line per block, whitespace collapsed."""
    parser = _HTMLTextExtractor()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.pieces).split("\n"))
    return "\n".join(line for line in lines if line)
