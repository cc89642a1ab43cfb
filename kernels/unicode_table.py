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
:func:`unicode_version` and recorded in run summaries).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import numpy as np

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


@lru_cache(maxsize=1)
def codepoint_table() -> np.ndarray:
    """The (0x110000,) uint32 table described in the module docstring (built once)."""
    table = np.empty(NUM_CODEPOINTS, dtype=np.uint32)
    for cp in range(NUM_CODEPOINTS):
        char = chr(cp)
        lower = ord(simple_lower(char))
        table[cp] = lower | (codepoint_class(char) << CLASS_SHIFT)
    table.setflags(write=False)
    return table


def unicode_version() -> str:
    """Unicode version of the table (that of this Python's ``unicodedata``)."""
    return unicodedata.unidata_version
