"""Texts cut into marked segments: word diffs, highlighted byte ranges, truncation.

A *segment list* is a list of ``{"op": OP, "text": str}`` dicts, OP one of ``equal``
(plain text), ``delete`` (in the kept document only), ``insert`` (in the other
document only) or ``mark`` (a highlighted range: evidence, a removed span).
Concatenating the texts of a segment list gives back the (truncated) text shown.
"""

from __future__ import annotations

import difflib
import re

EQUAL, DELETE, INSERT, MARK = "equal", "delete", "insert", "mark"
_WORDS = re.compile(r"\S+|\s+")


def _segment(op: str, text: str) -> dict:
    return {"op": op, "text": text}


def _append(segments: list[dict], op: str, text: str) -> None:
    """Add ``text`` to ``segments``, merging it into the last segment of the same op."""
    if not text:
        return
    if segments and segments[-1]["op"] == op:
        segments[-1]["text"] += text
    else:
        segments.append(_segment(op, text))


def word_diff(kept: str, other: str) -> list[dict]:
    """A word-level diff of ``other`` against ``kept`` (difflib over words; whitespace
    runs count as separators and are shown as in ``other``, or as in ``kept`` for
    deleted words).

    Example:
        >>> [s["op"] for s in word_diff("a b c", "a x c")]
        ['equal', 'delete', 'insert', 'equal']
    """
    kept_tokens = _WORDS.findall(kept)
    other_tokens = _WORDS.findall(other)
    kept_words = [t for t in kept_tokens if not t.isspace()]
    other_words = [t for t in other_tokens if not t.isspace()]
    # each word with the whitespace that follows it, for display
    kept_shown = _with_spaces(kept_tokens)
    other_shown = _with_spaces(other_tokens)
    matcher = difflib.SequenceMatcher(None, kept_words, other_words, autojunk=False)
    segments: list[dict] = []
    if other_tokens and other_tokens[0].isspace():
        _append(segments, EQUAL, other_tokens[0])
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            _append(segments, EQUAL, "".join(other_shown[j1:j2]))
            continue
        if tag in ("delete", "replace"):
            _append(segments, DELETE, "".join(kept_shown[i1:i2]))
        if tag in ("insert", "replace"):
            _append(segments, INSERT, "".join(other_shown[j1:j2]))
    return segments


def _with_spaces(tokens: list[str]) -> list[str]:
    """Words, each joined with the whitespace run that follows it (leading space dropped)."""
    shown: list[str] = []
    for token in tokens:
        if token.isspace():
            if shown:
                shown[-1] += token
        else:
            shown.append(token)
    return shown


def marked_ranges(text: str, ranges: list[tuple[int, int]]) -> list[dict]:
    """``text`` cut into ``equal`` and ``mark`` segments; ``ranges`` are UTF-8 byte
    ranges ``[start, end)`` (may overlap; clipped to the text)."""
    data = text.encode("utf-8")
    merged: list[list[int]] = []
    for start, end in sorted((max(0, s), min(len(data), e)) for s, e in ranges):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    segments: list[dict] = []
    at = 0
    for start, end in merged:
        _append(segments, EQUAL, _decode(data[at:start]))
        _append(segments, MARK, _decode(data[start:end]))
        at = end
    _append(segments, EQUAL, _decode(data[at:]))
    return segments


def byte_slice(text: str, start: int, end: int) -> str:
    """The UTF-8 bytes ``[start, end)`` of ``text``, decoded (bad cuts replaced)."""
    return _decode(text.encode("utf-8")[max(0, start) : max(0, end)])


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def truncate_text(text: str, limit: int) -> tuple[str, str | None]:
    """``text`` cut to ``limit`` characters, and a note when it was cut."""
    if len(text) <= limit:
        return text, None
    return text[:limit], f"showing {limit} of {len(text)} characters"


def truncate_segments(
    segments: list[dict], limit: int, uncounted: str | None = None
) -> tuple[list[dict], str | None]:
    """The segments holding the first ``limit`` characters, and a note when they were
    cut. Segments of op ``uncounted`` (a diff's deletions: not part of the text shown)
    do not count toward the limit and are kept up to the cut."""
    total = sum(len(s["text"]) for s in segments if s["op"] != uncounted)
    if total <= limit:
        return segments, None
    out: list[dict] = []
    left = limit
    for segment in segments:
        if left <= 0:
            break
        if segment["op"] == uncounted:
            out.append(segment)
            continue
        out.append(_segment(segment["op"], segment["text"][:left]))
        left -= len(segment["text"])
    return out, f"showing {limit} of {total} characters"
