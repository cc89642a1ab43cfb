"""Codepoint table used by the shingling kernels: lowercase mapping and character class.

The table is one ``uint32`` per Unicode codepoint (``0x110000`` entries, 4.25 MiB):

- bits 0-20: the simple lowercase of the codepoint (``str.lower`` when it gives one
  character, else its first character, which is the Unicode simple mapping);
- bits 24-25: the class, one of ``WORD``, ``SEPARATOR``, ``IGNORED``.

Classes (from ``unicodedata.category``):

- ``SEPARATOR``: whitespace, punctuation (``P*``), symbols (``S*``), controls (``Cc``),
  separators (``Z*``), surrogates and private use. Runs of them split words, so
  punctuation is stripped and whitespace collapsed.
- ``IGNORED``: format characters (``Cf``: soft hyphen, zero-width joiner, ...) are
  dropped without splitting a word.
- ``WORD``: everything else (letters, marks, digits, unassigned codepoints).

The table comes from this Python's ``unicodedata`` (its Unicode version is reported by
:func:`unicode_version` and recorded in run summaries). Building it calls Python once per
codepoint (about 2.4 s); it is built once per machine and Unicode version and kept in
``$OUROBOROS_CACHE`` (default ``~/.cache/ouroboros``) as ``unicode-<version>-v1.npy``
(4.25 MiB, loaded in milliseconds), the way compiled kernels are kept by Numba's cache.
A cache that cannot be read or written is rebuilt in memory, never trusted half-written.
"""

from __future__ import annotations

import os
import sys
import tempfile
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np

TABLE_FORMAT = 1  # bump when the table's bits or classes change
CACHE_ENV = "OUROBOROS_CACHE"

WORD = 0
SEPARATOR = 1
IGNORED = 2

NUM_CODEPOINTS = 0x110000
CLASS_SHIFT = 24
LOWER_MASK = 0x1FFFFF


def codepoint_class(char: str) -> int:
    """Class of one character: WORD, SEPARATOR or IGNORED (see module docstring)."""
    category = unicodedata.category(char)
    if category == "Cf":
        return IGNORED
    if category[0] in "PSZ" or category in ("Cc", "Cs", "Co") or char.isspace():
        return SEPARATOR
    return WORD


def simple_lower(char: str) -> str:
    """Lowercase of one character, always one character long."""
    lowered = char.lower()
    return lowered[0] if lowered else char


def build_codepoint_table() -> np.ndarray:
    """The (0x110000,) uint32 table described in the module docstring, from
    ``unicodedata`` (about 2.4 s)."""
    table = np.empty(NUM_CODEPOINTS, dtype=np.uint32)
    for cp in range(NUM_CODEPOINTS):
        char = chr(cp)
        lower = ord(simple_lower(char))
        table[cp] = lower | (codepoint_class(char) << CLASS_SHIFT)
    return table


def table_cache_path() -> Path:
    """Where :func:`codepoint_table` keeps the table for this Unicode version."""
    base = os.environ.get(CACHE_ENV) or os.path.join("~", ".cache", "ouroboros")
    name = f"unicode-{unicodedata.unidata_version}-v{TABLE_FORMAT}.npy"
    return Path(os.path.expanduser(base)) / name


def _load_cached(path: Path) -> np.ndarray | None:
    try:
        table = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if table.dtype != np.uint32 or table.shape != (NUM_CODEPOINTS,):
        return None
    return table


def _store(path: Path, table: np.ndarray) -> None:
    """Write ``table`` to ``path`` atomically (a temporary file renamed); a folder that
    cannot be written is not an error: the next process builds the table again."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-unicode-", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, table, allow_pickle=False)
        os.replace(tmp, path)
    except OSError as err:
        print(f"ouroboros: cannot cache the Unicode table in {path}: {err}", file=sys.stderr)


@lru_cache(maxsize=1)
def codepoint_table() -> np.ndarray:
    """The (0x110000,) uint32 table described in the module docstring: read from the
    cache (:func:`table_cache_path`), else built and cached; once per process."""
    path = table_cache_path()
    table = _load_cached(path)
    if table is None:
        table = build_codepoint_table()
        _store(path, table)
    table.setflags(write=False)
    return table


def unicode_version() -> str:
    """Unicode version of the table (that of this Python's ``unicodedata``)."""
    return unicodedata.unidata_version
