"""Exact repeated substrings: which byte ranges of which documents to remove.

Pure functions over in-memory texts and arrays (no files, no Dask).

Method (after Lee et al. 2022, "Deduplicating Training Data Makes Language Models
Better", google-research/deduplicate-text-datasets):

1. **Packing.** Documents are joined into one uint8 text, each followed by the byte
   ``0xFF`` (``pack_with_separators``). ``0xFF`` never occurs in UTF-8, so for ``str``
   inputs it is a true separator; raw ``bytes`` inputs may contain it, which is harmless
   because of step 3. Staying with uint8 (not uint16 tokens with per-document
   separators) keeps pydivsufsort usable on the CPU and halves the memory.
2. **Suffix array + LCP** of the packed text (``kernels.suffix_array``,
   ``kernels.lcp``; the LCP is capped at ``min_span``, all the threshold needs).
   Steps 3-7 are the compiled functions of :mod:`kernels.spans`.
3. **Windows.** For every position ``p`` whose window ``[p, p + min_span)`` lies inside
   its document, the window is *repeated* when the same ``min_span`` bytes start at
   another such position. All suffixes starting with the same ``min_span`` bytes are
   adjacent in the suffix array, linked by ``lcp >= min_span``; members whose window
   would cross their document's end are skipped (this is the cut at document
   boundaries: no match ever spans two documents, whatever the separator bytes are).
   A repeated substring of any length ``L >= min_span`` is the union of its windows.
4. **Keep rule** (occurrences ordered by document index, then byte offset):

   - ``keep="first"``: every occurrence but the first is marked; its source is the
     first occurrence.
   - ``keep="none"``: every occurrence is marked (Lee et al.'s behaviour); the source
     is the first *other* occurrence.
   - ``reference=...`` ("across" mode, Lee et al.'s ``across-similar``): a window of
     ``texts`` is marked when it also occurs in the reference texts; its source is the
     first reference occurrence. Repetitions inside ``texts`` alone do not count, and
     ``keep`` has no effect (the reference holds the kept copy).

5. **Merging.** Marked windows ``[p, p + min_span)`` of one document are merged into a
   range when they overlap or touch (``next start <= current end``).
6. **Exact pieces.** A row must name a real copy of its bytes:
   ``texts[source_doc][source_start : source_start + (end - start)]`` equals
   ``texts[doc][start:end]``. A merged range can join windows with different sources
   (a passage copied from one document next to, or overlapping, a passage copied from
   another; a phrase that occurs earlier elsewhere inside a copied passage), so it is cut
   into pieces. Windows whose source lies at the same shift (``source - position``)
   and that overlap or touch form one *copy*: every byte of their union equals the byte
   at that shift. Left to right, a piece starting at byte ``x`` follows, among the
   copies holding ``x``, the one that reaches farthest (ties: the smallest source
   position), runs on past it while the bytes still equal the bytes at the same shift
   (inside the range and inside the source document: periodic text stays one piece),
   and ends there; the next piece starts where it ends. A range made of one copy is one
   row, its source that of its first window (moved with the snapped start).
7. **UTF-8 snapping.** No row cuts a multi-byte character: a range's start moves
   forward past continuation bytes (``0b10xxxxxx``) to the next character start (the
   source start moves with it), and every piece end moves back to the start of the
   character it would cut (the next piece starts there, so the character goes to the
   next piece). A character that no single copy holds whole (its bytes repeat bytes of
   different places) and that no piece runs on through has no exact source and is not
   marked; apart from such characters, the marked bytes are the snapped merged ranges.
   Ranges left empty are dropped; shorter but non-empty ones are kept. Snapping is
   applied to every input (for non-UTF-8 bytes it only looks at the bit pattern).

Caveat of ``keep="first"``: the first window itself is never marked, but a later
overlapping window of the same periodic text can cover part of it (``"a" * 300`` with
``min_span=100`` keeps only ``"a"``), as in window-based dedup tools.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from engine.io import check_texts
from kernels.backend import resolve_backend, to_device, to_host
from kernels.lcp import lcp_array
from kernels.spans import (
    MODE_ACROSS,
    MODE_FIRST,
    MODE_NONE,
    mark_windows,
    merge_and_snap,
    window_starts,
)
from kernels.suffix_array import suffix_array

SEPARATOR = np.uint8(0xFF)
KEEP_RULES = ("first", "none")

SPANS_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("source_doc_id", pa.string()),
        ("source_start", pa.int64()),
    ]
)


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


def _as_bytes_list(texts, name: str = "texts") -> list[bytes]:
    """UTF-8 bytes of each document; str is encoded, bytes are taken as they are."""
    check_texts(texts)
    if isinstance(texts, (str, bytes, bytearray)):
        raise ValueError(f"{name} must be a sequence of documents, not a single string")
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    if isinstance(texts, pa.Array):
        kind = texts.type
        if not (
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_binary(kind)
            or pa.types.is_large_binary(kind)
        ):
            raise ValueError(f"{name} must be an Arrow string or binary array, got {kind}")
        if texts.null_count:
            first = int(np.flatnonzero(~np.asarray(texts.is_valid()))[0])
            raise ValueError(f"{name}[{first}] is null; drop or fill missing documents")
        texts = texts.cast(pa.large_binary()).to_pylist()
    elif hasattr(texts, "tolist") and hasattr(texts, "dtype"):  # pandas Series, NumPy
        texts = texts.tolist()
    out = []
    for i, text in enumerate(texts):
        if isinstance(text, str):
            out.append(text.encode("utf-8"))
        elif isinstance(text, (bytes, bytearray, memoryview)):
            out.append(bytes(text))
        elif text is None:
            raise ValueError(f"{name}[{i}] is None; drop or fill missing documents")
        else:
            raise ValueError(f"{name}[{i}] is {type(text).__name__}; expected str or bytes")
    return out


def pack_with_separators(texts: Sequence[bytes | str]) -> tuple[np.ndarray, np.ndarray]:
    """Join documents into one byte text, each document followed by ``0xFF``.

    Args:
        texts: n_docs documents (bytes, or str encoded as UTF-8).

    Returns:
        data: (total_bytes + n_docs,) uint8, ``doc_0 0xFF doc_1 0xFF ...``.
        doc_starts: (n_docs + 1,) int64 byte offsets; document d is
            ``data[doc_starts[d] : doc_starts[d + 1] - 1]`` and its separator sits at
            ``doc_starts[d + 1] - 1``; ``doc_starts[n_docs] == len(data)``.

    Example:
        >>> data, starts = pack_with_separators([b"ab", b"", b"c"])
        >>> bytes(data), starts.tolist()
        (b'ab\\xff\\xffc\\xff', [0, 3, 4, 6])
    """
    docs = _as_bytes_list(texts)
    doc_starts = np.zeros(len(docs) + 1, dtype=np.int64)
    if docs:
        np.cumsum(np.fromiter((len(d) + 1 for d in docs), np.int64, len(docs)), out=doc_starts[1:])
    if not docs:
        return np.zeros(0, dtype=np.uint8), doc_starts
    separator = SEPARATOR.tobytes()
    joined = separator.join(docs) + separator
    return np.frombuffer(joined, dtype=np.uint8).copy(), doc_starts


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def _check_params(min_span, keep) -> None:
    if isinstance(min_span, bool) or not isinstance(min_span, (int, np.integer)):
        raise ValueError(f"min_span must be an integer number of bytes, got {min_span!r}")
    if min_span < 1:
        raise ValueError(f"min_span must be >= 1 byte, got {min_span}; e.g. min_span=100")
    if keep not in KEEP_RULES:
        raise ValueError(
            f"keep must be 'first' (keep the first copy) or 'none' (remove all copies), "
            f"got {keep!r}"
        )


def _empty_arrays(with_reference: bool) -> dict[str, np.ndarray]:
    out = {
        name: np.zeros(0, dtype=np.int64)
        for name in ("doc_index", "start", "end", "source_doc_index", "source_start")
    }
    if with_reference:
        out["source_is_reference"] = np.zeros(0, dtype=np.bool_)
    return out


def _suffix_array_and_lcp(data: np.ndarray, max_lcp: int, backend: str):
    """Host (sa, lcp) of ``data``, each (len(data),) int64; the LCP capped at ``max_lcp``
    bytes. Built on ``backend`` ("cpu" or "cuda")."""
    if backend == "cpu":
        sa = suffix_array(data, backend="cpu")
        return sa, lcp_array(data, sa, backend="cpu", max_lcp=max_lcp)
    device_data = to_device(data, backend)
    device_sa = suffix_array(device_data, backend=backend)
    lcp = to_host(lcp_array(device_data, device_sa, backend=backend, max_lcp=max_lcp))
    return to_host(device_sa), lcp


def repeated_spans_arrays(
    texts: Sequence[bytes],
    *,
    min_span: int = 100,
    keep: str = "first",
    reference: Sequence[bytes] | None = None,
    backend: str = "cpu",
) -> dict[str, np.ndarray]:
    """Byte ranges of ``texts`` repeated elsewhere (or found in ``reference``).

    Args:
        texts: n_docs documents (bytes; str is encoded as UTF-8; see ``repeated_spans``
            for the other accepted containers).
        min_span: shortest repeated substring to report, in bytes (>= 1).
        keep: "first" (the first occurrence stays, later copies are marked) or "none"
            (every occurrence is marked). Ignored when ``reference`` is given.
        reference: documents to match ``texts`` against ("across" mode), or None.
        backend: "cpu", "cuda" or "auto": where the suffix array and LCP are built
            (the span scan itself runs on the host).

    Returns:
        One row per range to remove, ordered by (doc_index, start); every field is a
        NumPy array of the same length:

        - ``doc_index`` int64: index into ``texts``;
        - ``start``, ``end`` int64: byte offsets into that document, end exclusive,
          never inside a UTF-8 character;
        - ``source_doc_index`` int64: index into ``texts`` (into ``reference`` in
          across mode) of the copy the range repeats;
        - ``source_start`` int64: byte offset of that copy in its document; the
          ``end - start`` bytes there equal the row's bytes (see step 6 above);
        - ``source_is_reference`` bool (only when ``reference`` is given): True.

    Example:
        >>> spans = repeated_spans_arrays([b"hello world", b"say hello world"], min_span=5)
        >>> [int(spans[k][0]) for k in ("doc_index", "start", "end", "source_start")]
        [1, 4, 15, 0]
    """
    _check_params(min_span, keep)
    backend = resolve_backend(backend)
    docs = _as_bytes_list(texts)
    with_reference = reference is not None
    reference_docs = _as_bytes_list(reference, "reference") if with_reference else []
    n_text_docs = len(docs)
    if n_text_docs == 0:
        return _empty_arrays(with_reference)

    data, doc_starts = pack_with_separators(docs + reference_docs)
    total = int(data.shape[0])
    min_span = np.int64(min_span)
    reference_start = np.int64(doc_starts[n_text_docs])
    mode = MODE_ACROSS if with_reference else (MODE_FIRST if keep == "first" else MODE_NONE)

    valid = window_starts(doc_starts, np.int64(len(doc_starts) - 1), min_span, np.int64(total))
    if not valid.any():
        return _empty_arrays(with_reference)
    sa, lcp = _suffix_array_and_lcp(data, int(min_span), backend)
    sources = mark_windows(sa, lcp, valid, min_span, mode, reference_start)
    del sa, lcp, valid
    doc_index, start, end, source_global = merge_and_snap(
        data, doc_starts, np.int64(n_text_docs), sources, min_span
    )
    source_doc = np.searchsorted(doc_starts, source_global, side="right").astype(np.int64) - 1
    source_start = source_global - doc_starts[source_doc]
    out = {
        "doc_index": doc_index,
        "start": start,
        "end": end,
        "source_doc_index": source_doc - (n_text_docs if with_reference else 0),
        "source_start": source_start,
    }
    if with_reference:
        out["source_is_reference"] = source_doc >= n_text_docs
    return out


def _ids(ids, n: int, name: str, prefix: str) -> list[str]:
    if ids is None:
        return [f"{prefix}{i}" for i in range(n)]
    if isinstance(ids, (pa.Array, pa.ChunkedArray)):
        ids = ids.to_pylist()
    elif hasattr(ids, "tolist"):
        ids = ids.tolist()
    ids = [str(i) for i in ids]
    if len(ids) != n:
        raise ValueError(f"{name} has {len(ids)} entries but there are {n} documents")
    return ids


def repeated_spans(
    texts,
    *,
    doc_ids=None,
    min_span: int = 100,
    keep: str = "first",
    reference=None,
    reference_ids=None,
    backend: str = "auto",
) -> pa.Table:
    """Byte ranges to remove from each document, as the ``spans.parquet`` table.

    Args:
        texts: documents: a list of str (encoded as UTF-8) or bytes, a pyarrow string or
            binary array / chunked array, or a pandas Series of those.
        doc_ids: one id per document (turned into str); default "0", "1", ...
        min_span: shortest repeated substring to report, in bytes (>= 1).
        keep: "first" or "none" (see ``repeated_spans_arrays``).
        reference: documents to match against (across mode), same containers as texts.
        reference_ids: one id per reference document; default "ref:0", "ref:1", ...
        backend: "auto", "cpu" or "cuda".

    Returns:
        pyarrow.Table with columns ``doc_id`` string, ``start`` int64, ``end`` int64
        (UTF-8 byte offsets, end exclusive), ``source_doc_id`` string (a reference id in
        across mode), ``source_start`` int64; one row per range, ordered by document then
        start.

    Example:
        >>> table = repeated_spans(["hello world", "say hello world"], min_span=5)
        >>> table.to_pylist()
        [{'doc_id': '1', 'start': 4, 'end': 15, 'source_doc_id': '0', 'source_start': 0}]
    """
    docs = _as_bytes_list(texts)
    reference_docs = None if reference is None else _as_bytes_list(reference, "reference")
    ids = _ids(doc_ids, len(docs), "doc_ids", "")
    if reference_docs is not None:
        source_ids = _ids(reference_ids, len(reference_docs), "reference_ids", "ref:")
    else:
        if reference_ids is not None:
            raise ValueError("reference_ids was given without reference; pass both or neither")
        source_ids = ids
    spans = repeated_spans_arrays(
        docs, min_span=min_span, keep=keep, reference=reference_docs, backend=backend
    )
    return spans_table(
        spans, pa.array(ids, type=pa.string()), pa.array(source_ids, type=pa.string())
    )


def spans_table(
    spans: dict[str, np.ndarray], ids: pa.Array, source_ids: pa.Array | None = None
) -> pa.Table:
    """The ``SPANS_SCHEMA`` table of :func:`repeated_spans_arrays` rows.

    Args:
        spans: its result (``doc_index``, ``start``, ``end``, ``source_doc_index``,
            ``source_start``: (m,) int64 each; offsets in bytes).
        ids: (n_docs,) string array, the id of each document of ``texts``.
        source_ids: the ids ``source_doc_index`` points into (the reference ids in
            across mode); None: ``ids``.

    Returns:
        pyarrow.Table, one row per span, in the order of ``spans``.
    """
    source_ids = ids if source_ids is None else source_ids
    return pa.Table.from_arrays(
        [
            ids.take(pa.array(spans["doc_index"])),
            pa.array(spans["start"], type=pa.int64()),
            pa.array(spans["end"], type=pa.int64()),
            source_ids.take(pa.array(spans["source_doc_index"])),
            pa.array(spans["source_start"], type=pa.int64()),
        ],
        schema=SPANS_SCHEMA,
    )


def remove_spans(text, starts, ends=None, *, doc_ids=None):
    """The text with the byte ranges ``[starts[i], ends[i])`` cut out; or, for many
    documents at once, ``remove_spans(texts, spans)``.

    Args:
        text: one document's bytes (str is encoded as UTF-8); or a list of documents
            (str or bytes; a pyarrow array or pandas Series), with ``starts`` then the
            spans table :func:`repeated_spans` returns (``doc_id`` as ``doc_ids``, or
            ``doc_index``; ``start``, ``end``) and no ``ends``.
        starts, ends: (k,) int byte offsets, end exclusive; ranges may overlap or come
            in any order.
        doc_ids: many documents: the ids the spans' ``doc_id`` names (default "0",
            "1", ..., as :func:`repeated_spans` numbers documents).

    Returns:
        The remaining bytes, in order; for many documents a list, each document of the
        type it came in (str stays str; every range cuts whole UTF-8 characters).

    Example:
        >>> remove_spans(b"say hello world", [4], [15])
        b'say '
        >>> docs = ["hello world", "say hello world"]
        >>> remove_spans(docs, repeated_spans(docs, min_span=5))
        ['hello world', 'say ']
    """
    if ends is None and not isinstance(text, (str, bytes, bytearray, memoryview)):
        from engine.substrings.cutting import remove_spans_many

        return remove_spans_many(text, starts, doc_ids, cut_one=remove_spans)
    if ends is None:
        raise ValueError("remove_spans(text, starts, ends) needs ends for one document")
    if isinstance(text, str):
        text = text.encode("utf-8")
    starts = np.asarray(starts, dtype=np.int64).ravel()
    ends = np.asarray(ends, dtype=np.int64).ravel()
    if starts.shape != ends.shape:
        raise ValueError(f"starts and ends differ in length: {starts.size} vs {ends.size}")
    if starts.size and ((starts < 0).any() or (ends > len(text)).any() or (starts > ends).any()):
        raise ValueError(
            f"ranges must satisfy 0 <= start <= end <= len(text) = {len(text)}; "
            "pass offsets of this very document"
        )
    keep_mask = np.ones(len(text), dtype=np.bool_)
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        keep_mask[start:end] = False
    return np.frombuffer(text, dtype=np.uint8)[keep_mask].tobytes()
