"""HTML to text for WARC responses, through resiliparse (lexbor's HTML5 parser).

Two modes (the read option ``html_text``, ``--html-text``):

- ``"main"`` (the default): the page's main content only. resiliparse's boilerplate
  heuristics drop navigation, headers, footers, sidebars, cookie banners and comment
  sections. Crawl pipelines train on main content, and for near-duplicate detection it
  matters more still: the navigation and footer that every page of a site shares would
  otherwise make different short pages of one site look alike (``python -m
  bench.bench_html`` measures it).
- ``"full"``: every visible text node, boilerplate included.

Both drop ``script`` / ``style`` / ``noscript`` / ``template`` content, comments, the
``head`` (its ``title`` too), alt texts, list bullets and form fields; character
references are decoded. Block elements become line breaks; the text is then normalized
as one line per block: runs of white space (``\\xa0`` included) collapse to one space,
lines are stripped and blank lines dropped (``pre`` blocks keep their line breaks, not
their indentation).

Payload bytes become the ``str`` given here in :mod:`engine.io.charset`.
"""

from __future__ import annotations

from resiliparse.extract.html2text import extract_plain_text

from engine.io.options import DEFAULT_HTML_TEXT, HTML_TEXT_MODES

__all__ = ["html_to_text"]

# what neither mode keeps: not text a reader of the page sees as prose
_EXTRACT_OPTIONS = {
    "preserve_formatting": True,
    "list_bullets": False,
    "alt_texts": False,
    "links": False,
    "form_fields": False,
    "noscript": False,
}


def html_to_text(html: str, mode: str = DEFAULT_HTML_TEXT) -> str:
    """Visible text of an HTML page: one line per block, white space collapsed.

    Args:
        html: the page, decoded (see :func:`engine.io.charset.decode_payload`); any
            string is accepted, malformed markup is parsed as browsers do.
        mode: ``"main"`` (main content, boilerplate removed) or ``"full"`` (every
            visible text node).

    Returns:
        The text, lines joined by ``"\\n"``, no blank or padded lines; ``""`` when the
        page has no (main) text.

    Raises:
        ValueError: ``mode`` is not one of :data:`engine.io.options.HTML_TEXT_MODES`.

    Example:
        >>> html_to_text("<nav><a href='/'>Home</a></nav><main><p>Body  text</p></main>")
        'Body text'
        >>> html_to_text("<nav><a href='/'>Home</a></nav><p>Body</p>", "full")
        'Home\\nBody'
    """
    if mode not in HTML_TEXT_MODES:
        raise ValueError(f"html_text must be one of {list(HTML_TEXT_MODES)}, got {mode!r}")
    if not html:
        return ""
    text = extract_plain_text(html, main_content=mode == "main", **_EXTRACT_OPTIONS)
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)
