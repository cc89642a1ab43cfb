"""HTML fragments of texts: word-level diffs and highlighted byte ranges.

Every fragment is escaped (documents are untrusted input) and bounded in size: long
unchanged stretches of a diff are folded to their edges, texts are cut at a byte budget.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Sequence

__all__ = ["MAX_DIFF_WORDS", "highlight_ranges", "preview", "word_diff"]

MAX_DIFF_WORDS = 4000  # words of each side compared (a longer text's tail is cut)
CONTEXT_WORDS = 12  # unchanged words kept on each side of a change
_WORDS = re.compile(r"\S+")


def preview(text: str, max_chars: int = 600) -> str:
    """``text`` escaped and cut to ``max_chars`` characters (the cut is marked)."""
    if len(text) <= max_chars:
        return html.escape(text)
    more = f'<span class="cut">… {len(text) - max_chars:,} more characters</span>'
    return html.escape(text[:max_chars]) + more


def _equal_run(words: Sequence[str], first: bool, last: bool) -> str:
    """An unchanged run of words, folded to its edges when long."""
    keep_head = 0 if first else CONTEXT_WORDS
    keep_tail = 0 if last else CONTEXT_WORDS
    if len(words) <= keep_head + keep_tail + 4:
        return html.escape(" ".join(words))
    head = " ".join(words[:keep_head])
    tail = " ".join(words[len(words) - keep_tail :]) if keep_tail else ""
    folded = len(words) - keep_head - keep_tail
    fold = f'<span class="fold">… {folded:,} words unchanged …</span>'
    return " ".join(part for part in (html.escape(head), fold, html.escape(tail)) if part)


def word_diff(kept: str, member: str) -> tuple[str, float]:
    """The word-level diff of ``member`` against ``kept`` as HTML, and their word ratio.

    Returns ``(fragment, ratio)``: removed words in ``<del>``, added ones in ``<ins>``,
    unchanged runs folded to :data:`CONTEXT_WORDS` words around each change; ``ratio``
    is difflib's similarity of the two word sequences (0..1). Each side is compared on
    its first :data:`MAX_DIFF_WORDS` words (a note says when a side was cut).
    """
    old_words = _WORDS.findall(kept)
    new_words = _WORDS.findall(member)
    cut = len(old_words) > MAX_DIFF_WORDS or len(new_words) > MAX_DIFF_WORDS
    old_words, new_words = old_words[:MAX_DIFF_WORDS], new_words[:MAX_DIFF_WORDS]
    matcher = difflib.SequenceMatcher(None, old_words, new_words, autojunk=False)
    opcodes = matcher.get_opcodes()
    pieces = []
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            pieces.append(_equal_run(old_words[i1:i2], index == 0, index == len(opcodes) - 1))
            continue
        if i2 > i1:
            pieces.append(f"<del>{html.escape(' '.join(old_words[i1:i2]))}</del>")
        if j2 > j1:
            pieces.append(f"<ins>{html.escape(' '.join(new_words[j1:j2]))}</ins>")
    if cut:
        pieces.append(f'<span class="cut">(compared on the first {MAX_DIFF_WORDS:,} words)</span>')
    if not opcodes:
        pieces.append('<span class="fold">(both texts are empty)</span>')
    return " ".join(pieces), matcher.ratio()


def highlight_ranges(
    text: str, ranges: Sequence[tuple[int, int, str]], max_bytes: int = 6000
) -> str:
    """``text`` as HTML with byte ranges marked.

    Args:
        text: the document.
        ranges: ``(start, end, title)``: UTF-8 byte offsets into ``text`` (end
            exclusive) and the tooltip of the mark; overlapping ranges are merged.
        max_bytes: bytes of the text shown; the rest is cut with a note.
    """
    data = text.encode("utf-8")
    shown = data[:max_bytes]
    merged: list[list] = []
    for start, end, title in sorted(ranges):
        start, end = max(0, int(start)), min(len(shown), int(end))
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            merged[-1][2] = merged[-1][2] if title in merged[-1][2] else f"{merged[-1][2]}; {title}"
        else:
            merged.append([start, end, title])
    pieces, position = [], 0
    for start, end, title in merged:
        pieces.append(html.escape(shown[position:start].decode("utf-8", "replace")))
        marked = html.escape(shown[start:end].decode("utf-8", "replace"))
        pieces.append(f'<mark title="{html.escape(title)}">{marked}</mark>')
        position = end
    pieces.append(html.escape(shown[position:].decode("utf-8", "replace")))
    if len(data) > max_bytes:
        pieces.append(f'<span class="cut">… {len(data) - max_bytes:,} more bytes</span>')
    return "".join(pieces)
