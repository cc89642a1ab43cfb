"""Views (:mod:`engine.inspect.dedup_view`, ``flag_view``, ``substr_view``) as terminal text.

Marked segments are coloured on a terminal (``color=True``: deleted words red,
inserted words green, evidence yellow, removed ranges red) and otherwise bracketed:
``[-deleted-]``, ``[+inserted+]``, ``[*evidence*]``, and ``[-removed-]`` for the
ranges ``substr`` removes. Lines are wrapped to ``width`` characters; a dedup member
is shown beside its cluster's kept document (two columns) when ``width`` allows,
otherwise as one column holding the word diff.
"""

from __future__ import annotations

import re

from engine.inspect.marks import DELETE, EQUAL, INSERT, MARK

RESET = "\x1b[0m"
COLORS = {DELETE: "\x1b[31;9m", INSERT: "\x1b[32;1m", MARK: "\x1b[30;43m"}
BRACKETS = {DELETE: ("[-", "-]"), INSERT: ("[+", "+]"), MARK: ("[*", "*]")}
MIN_SIDE_BY_SIDE = 60  # narrower terminals get one column
GUTTER = " | "
_TOKENS = re.compile(r"\S+|\s+")


def _styled_tokens(segments: list[dict], color: bool, removed: bool) -> list[tuple[str, int]]:
    """``(shown, visible length)`` per word; ``"\\n"`` tokens for line breaks."""
    out: list[tuple[str, int]] = []
    for segment in segments:
        op = DELETE if removed and segment["op"] == MARK else segment["op"]
        words = [t for t in _TOKENS.findall(segment["text"]) if not t.isspace() or "\n" in t]
        words = ["\n" if w.isspace() else w for w in words]
        if op == EQUAL:
            out.extend((w, len(w)) for w in words)
            continue
        if color:
            out.extend((w if w == "\n" else f"{COLORS[op]}{w}{RESET}", len(w)) for w in words)
            continue
        opening, closing = BRACKETS[op]
        printable = [i for i, w in enumerate(words) if w != "\n"]
        if not printable:
            continue
        first, last = printable[0], printable[-1]
        words[first] = opening + words[first]
        words[last] = words[last] + closing
        out.extend((w, len(w)) for w in words)
    return out


def wrap_segments(
    segments: list[dict], width: int, *, color: bool, removed: bool = False
) -> list[str]:
    """A segment list as lines of at most ``width`` visible characters (words longer
    than a line are cut)."""
    width = max(8, width)
    lines: list[str] = []
    line: list[str] = []
    used = 0
    for shown, length in _styled_tokens(segments, color, removed):
        if shown == "\n":
            if line:
                lines.append(" ".join(line))
                line, used = [], 0
            continue
        while length > width and not color:  # a very long word: cut it
            if line:
                lines.append(" ".join(line))
                line, used = [], 0
            lines.append(shown[:width])
            shown, length = shown[width:], length - width
        if line and used + 1 + length > width:
            lines.append(" ".join(line))
            line, used = [], 0
        line.append(shown)
        used += length + (1 if used else 0)
    if line:
        lines.append(" ".join(line))
    return lines


def _visible(line: str) -> int:
    return len(re.sub(r"\x1b\[[0-9;]*m", "", line))


def side_by_side(left: list[str], right: list[str], width: int) -> list[str]:
    """Two columns of wrapped lines (each at most ``width`` visible characters)."""
    rows = []
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else ""
        b = right[i] if i < len(right) else ""
        rows.append(a + " " * (width - _visible(a)) + GUTTER + b)
    return rows


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _note(item: dict) -> list[str]:
    return [f"  ({item['note']})"] if item.get("note") else []


def render_dedup(view: dict, *, color: bool, width: int) -> list[str]:
    lines = []
    threshold = view.get("threshold")
    for cluster in view["clusters"]:
        shown = cluster["members_shown"]
        lines.append(
            f"== cluster {cluster['cluster_id']}: {_count(cluster['cluster_size'], 'document')}"
            + (f" (showing {shown})" if shown < cluster["cluster_size"] else "")
        )
        kept = next((m for m in cluster["members"] if m["keep"]), None)
        for member in cluster["members"]:
            lines.append("")
            lines.extend(_member_lines(member, kept, threshold, color=color, width=width))
        lines.append("")
    return lines


def _member_lines(member: dict, kept: dict | None, threshold, *, color: bool, width: int):
    role = "kept" if member["keep"] else "member"
    head = f"-- {role} {member['doc_id']} (row {member['position']})"
    if not member["keep"] and member["similarity"] is not None:
        head += f", similarity {member['similarity']:.3f} to the kept document"
        if threshold is not None and member["similarity"] < threshold:
            head += f" (below the threshold {threshold}: joined through other members)"
    lines = [head, *_note(member)]
    segments = member["segments"]
    if member["keep"] or width < MIN_SIDE_BY_SIDE or kept is None:
        return lines + wrap_segments(segments, width, color=color)
    column = (width - len(GUTTER)) // 2
    left = [f"kept {kept['doc_id']}"[:column]] + wrap_segments(
        [s for s in segments if s["op"] != INSERT], column, color=color
    )
    right = ["this document (word diff)"[:column]] + wrap_segments(
        [s for s in segments if s["op"] != DELETE], column, color=color
    )
    return lines + side_by_side(left, right, column)


def render_flag(view: dict, *, color: bool, width: int) -> list[str]:
    lines = [f"reference index: {view['reference']}", ""]
    for doc in view["documents"]:
        lines.append(
            f"== {doc['doc_id']}: {doc['label']}, cov_doc {doc['cov_doc']:.3f}, cov_ref "
            f"{doc['cov_ref']:.3f}, longest match {doc['longest_match']} bytes, references "
            f"{', '.join(doc['ref_ids']) or '-'}"
        )
        lines.extend(_note(doc))
        lines.extend(wrap_segments(doc["segments"], width, color=color))
        column = (width - len(GUTTER)) // 2
        for e in doc["evidence"]:
            lines.append("")
            lines.append(
                f"-- evidence bytes [{e['start']}, {e['end']}) = {e['ref_id']} bytes "
                f"[{e['ref_start']}, {e['ref_end']})"
            )
            texts = [e["text"] or "(text not available)", e["ref_text"] or "(not in the index)"]
            if width < MIN_SIDE_BY_SIDE:
                for text in texts:
                    lines.extend(wrap_segments([{"op": EQUAL, "text": text}], width, color=color))
                continue
            left, right = (
                wrap_segments([{"op": EQUAL, "text": t}], column, color=color) for t in texts
            )
            lines.extend(side_by_side(["document", *left], ["reference", *right], column))
        lines.append("")
    return lines


def render_substr(view: dict, *, color: bool, width: int) -> list[str]:
    lines = []
    for doc in view["documents"]:
        lines.append(
            f"== {doc['doc_id']}: {len(doc['spans'])} ranges, {doc['bytes_marked']} bytes to remove"
        )
        lines.extend(_note(doc))
        lines.extend(wrap_segments(doc["segments"], width, color=color, removed=True))
        for span in doc["spans"]:
            lines.append(
                f"  bytes [{span['start']}, {span['end']}): kept copy in "
                f"{span['source_doc_id']} at byte {span['source_start']}"
            )
        lines.append("")
    return lines


RENDERERS = {"dedup": render_dedup, "flag": render_flag, "substr": render_substr}


def render(view: dict, *, color: bool = False, width: int = 100) -> str:
    """A view as terminal text (see the module docstring)."""
    lines = RENDERERS[view["kind"]](view, color=color, width=width)
    if not lines or all(not line for line in lines):
        lines = ["nothing to show"]
    return "\n".join(lines).rstrip() + "\n"
