"""What the entry points accept, checked before anything is read: paths for the
pipelines over files, text containers for the array-level API. ``engine.dedup``,
``engine.substr``, ``engine.flag`` and ``engine.minhash`` also take tables, DataFrames,
datasets and streams of text (:mod:`engine.io.in_memory`); anywhere else such an object
is refused with a ``TypeError`` that says what to pass instead: it is never iterated as
a list of paths, and its column names are never taken for documents.

A ``list`` or ``tuple`` of ``str`` is always a list of paths; an entry that holds a line
break or is longer than any path (4096 characters) is refused as a document given where
paths are expected (documents go in as ``iter(texts)`` or ``pandas.Series(texts)``).
A ``set`` is refused (no order), and so are a NumPy array and an open file.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from engine.io.in_memory import DOCUMENT_KINDS, in_memory_kind

PATHS_ACCEPTED = "a path (str or os.PathLike) or a list of paths to files or folders"
MAX_PATH_CHARS = 4096
TEXTS_ACCEPTED = "a list of str (or bytes), a pyarrow string array or column, or a pandas Series"


def table_kind(obj) -> str | None:
    """A name for ``obj`` when it is a table-like object (DataFrame, Arrow table or
    batch reader, Hugging Face dataset or dataset dict, mapping of columns); else None.
    The recognition is :func:`engine.io.in_memory.in_memory_kind`'s, less the kinds
    that hold documents rather than tables (a Series, a string array, an iterator)."""
    try:
        kind = in_memory_kind(obj)
    except TypeError:  # a DatasetDict: a table of splits
        return f"a Hugging Face {type(obj).__name__}"
    return None if kind in DOCUMENT_KINDS else kind


def input_paths(inputs) -> list[str]:
    """``inputs`` as a list of path strings (order kept).

    Raises:
        TypeError: for anything but :data:`PATHS_ACCEPTED`; a table-like object gets a
            message that says how to pass it here (a Parquet file written from it), a
            list entry that looks like a document one that says how to pass documents.
    """
    kind = table_kind(inputs)
    if kind is not None:
        raise TypeError(
            f"inputs must be {PATHS_ACCEPTED}; got {kind}. engine.dedup, engine.substr and "
            "engine.flag read it as it is; here write it to Parquet (e.g. "
            "df.to_parquet('docs.parquet'), pyarrow.parquet.write_table(table, "
            "'docs.parquet'), dataset.to_parquet('docs.parquet')) and pass that path"
        )
    if isinstance(inputs, (str, os.PathLike)):
        return [os.fspath(inputs)]
    unordered = isinstance(inputs, (set, frozenset, dict))
    if unordered or isinstance(inputs, bytes) or not hasattr(inputs, "__iter__"):
        raise TypeError(f"inputs must be {PATHS_ACCEPTED}; got {type(inputs).__name__}")
    if isinstance(inputs, io.IOBase):
        raise TypeError(f"inputs must be {PATHS_ACCEPTED}; got an open file: pass its path")
    if type(inputs).__module__.partition(".")[0] == "numpy":
        raise TypeError(f"inputs must be {PATHS_ACCEPTED}; got a NumPy array: pass a list")
    paths = list(inputs)
    for i, path in enumerate(paths):
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(
                f"inputs[{i}] is {type(path).__name__}; inputs must be {PATHS_ACCEPTED}"
            )
        if isinstance(path, str) and ("\n" in path or len(path) > MAX_PATH_CHARS):
            raise TypeError(
                f"inputs[{i}] looks like a document, not a path (it holds a line break or "
                f"more than {MAX_PATH_CHARS} characters): a list of str is a list of paths. "
                "Pass documents as iter(texts) or pandas.Series(texts)"
            )
    return [os.fspath(p) if isinstance(p, Path) else str(p) for p in paths]


def check_texts(texts) -> None:
    """Refuse a table-like object where documents are expected (:data:`TEXTS_ACCEPTED`)."""
    kind = table_kind(texts)
    if kind is not None:
        raise TypeError(
            f"texts must be {TEXTS_ACCEPTED}; got {kind}: pass its text column "
            "(e.g. df['text'], table.column('text'), dataset['text'])"
        )
