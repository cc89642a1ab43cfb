"""Stage 1 of near-duplicate search: MinHash signatures of every document.

- :func:`minhash`: the array-level API (texts in, signatures out, no files).
- :func:`signature_task`: one input part read in batches, its signatures written to
  ``_work/signatures/part-NNNNN.arrow`` (Arrow IPC) with columns ``doc_id`` string,
  ``row`` int64, ``n_bytes`` int64 (UTF-8 bytes of the text), ``signature``
  fixed_size_list<uint32>[num_perm], stamped with the parameters that made it
  (:mod:`engine.run.reuse`). Band keys are not stored: the shuffle computes them once.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from engine.io import InputPart, ReadOptions, ReadReport, in_memory_kind, read_part, text_batches
from engine.io.texts import as_large_string_array, pack
from engine.neardup.params import DedupParams
from engine.run.atomic import fixed_list, read_arrow, write_arrow_atomic
from engine.run.memory import peak_rss_mib
from engine.run.progress import prefetch
from engine.run.reuse import fingerprint, reusable, stamped
from kernels.backend import array_module, resolve_backend, to_host
from kernels.hashing import MAX_HASH32
from kernels.minhash import signatures as compute_signatures


def minhash(
    texts,
    *,
    text_column: str = "text",
    num_perm: int = 128,
    ngram: int = 5,
    shingle: str = "word",
    seed: int = 42,
    backend: str = "auto",
):
    """MinHash signatures of documents.

    Args:
        texts: list of str, pyarrow string array/column, or pandas Series; or a
            table-like input with a ``text_column`` (pyarrow Table/RecordBatch/
            RecordBatchReader, pandas DataFrame, Hugging Face Dataset/IterableDataset,
            mapping of columns) or an iterator of str, read batch by batch
            (:func:`engine.io.text_batches`). A null or non-string text raises.
        text_column: the column holding the text, for a table-like ``texts``.
        num_perm: signature length K. ngram: shingle width in words or characters.
        shingle: "word" or "char". seed: permutation seed.
        backend: "auto", "cpu" or "cuda".

    Returns:
        uint32 array (n_docs, num_perm), one row per input row: NumPy on cpu, CuPy on
        a GPU. Documents without any shingle have every entry 0xFFFFFFFF.

    Example:
        >>> import engine
        >>> sig = engine.minhash(["the cat sat on the mat", "the cat sat on a mat"],
        ...                      num_perm=64, ngram=2, backend="cpu")
        >>> sig.shape, sig.dtype.name
        ((2, 64), 'uint32')
    """
    params = DedupParams(shingle=shingle, ngram=ngram, num_perm=num_perm, seed=seed)
    resolved = resolve_backend(backend)
    if in_memory_kind(texts) is None:
        data, offsets = pack(as_large_string_array(texts))
        return signatures_of_packed(data, offsets, params, resolved)
    xp = array_module(resolved)
    blocks = [
        signatures_of_packed(*pack(batch), params, resolved)
        for batch in text_batches(texts, text_column)
    ]
    return xp.concatenate(blocks) if blocks else xp.zeros((0, num_perm), dtype=xp.uint32)


def signatures_of_packed(data: np.ndarray, offsets: np.ndarray, params: DedupParams, backend: str):
    """uint32 (n, num_perm) signatures of packed texts (``data`` uint8, ``offsets``
    int64 (n + 1,)), on ``backend``'s array module."""
    return compute_signatures(
        data,
        offsets,
        num_perm=params.num_perm,
        ngram=params.ngram,
        shingle=params.shingle,
        seed=params.seed,
        backend=backend,
    )


def has_shingles(signatures: np.ndarray) -> np.ndarray:
    """bool (n,): False for documents without any shingle (signature all 0xFFFFFFFF).

    A document with shingles has an all-max signature with probability 2**-(32K).
    """
    return ~np.all(signatures == MAX_HASH32, axis=1)


def signature_file(work: Path, part: InputPart) -> Path:
    """Where stage 1 writes the signatures of ``part``."""
    return work / "signatures" / f"part-{part.index:05d}.arrow"


def read_signatures(work: Path, part: InputPart) -> pa.Table:
    """The signature file of ``part`` (memory-mapped Arrow IPC)."""
    return read_arrow(signature_file(work, part))


def signature_fingerprint(params: DedupParams, read: ReadOptions) -> str:
    """What the signature files depend on: shingling, permutations, columns and how
    HTML pages become text."""
    return fingerprint(
        params.signature_fingerprint(), read.text_column, read.id_column, read.html_text
    )


def signature_task(
    part: InputPart, params: DedupParams, backend: str, read: ReadOptions, work: str
) -> dict:
    """Stage 1 for one part; returns a small dict (counts, seconds, read report)."""
    path = signature_file(Path(work), part)
    stage_fp = signature_fingerprint(params, read)
    result = reusable(path, stage_fp, part)
    if result is not None:
        return {"reused": True, **result}
    started = time.perf_counter()
    report = ReadReport()
    ids, rows, n_bytes, sigs = [], [], [], []
    for batch in prefetch(read_part(part, **read.read_part_kwargs(), report=report)):
        data, offsets = pack(batch.column("text").combine_chunks())
        sigs.append(to_host(signatures_of_packed(data, offsets, params, backend)))
        n_bytes.append(np.diff(offsets))
        ids.append(batch.column("doc_id").combine_chunks())
        rows.append(batch.column("row").to_numpy())
    result = {
        "documents": int(sum(len(r) for r in rows)),
        "bytes": int(sum(int(b.sum()) for b in n_bytes)),
        "seconds": round(time.perf_counter() - started, 4),
        "peak_rss_mib": peak_rss_mib(),
        "report": report.to_dict(),
    }
    table = pa.table(
        {
            "doc_id": pa.concat_arrays(ids) if ids else pa.array([], type=pa.string()),
            "row": pa.array(np.concatenate(rows) if rows else np.zeros(0, np.int64), pa.int64()),
            "n_bytes": pa.array(
                np.concatenate(n_bytes) if n_bytes else np.zeros(0, np.int64), pa.int64()
            ),
            "signature": fixed_list(
                np.concatenate(sigs) if sigs else np.zeros((0, params.num_perm), np.uint32)
            ),
        }
    )
    write_arrow_atomic(path, stamped(table, stage_fp, part, result))
    return {"reused": False, **result}


def signature_column(work: Path, parts: list[InputPart], name: str) -> np.ndarray:
    """One int64 column (``row`` or ``n_bytes``) of every part's signature file,
    concatenated in input order."""
    columns = [read_signatures(work, p).column(name).to_numpy() for p in parts]
    return np.concatenate(columns).astype(np.int64) if columns else np.zeros(0, np.int64)
