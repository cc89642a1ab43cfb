"""Input and output of documents: plan partitions, read each format into Arrow
batches (``doc_id``, ``text``, ``row``), pack text for the kernels, count what cannot
be read, and write the kept documents back in the input's own format.

Reading is split in two so that a scheduler can spread it over workers:

- :func:`plan_parts` runs in the driver. It resolves files and directories into a list of
  :class:`InputPart` (cheap: it stats files, reads Parquet footers and scans large plain
  JSONL files once for line starts).
- :func:`read_part` runs in a worker. It yields Arrow tables of about ``batch_bytes`` of
  text each, so memory is bounded by the batch size, never by the file size.

Every table has the columns ``doc_id`` (string), ``text`` (large_string), ``row`` (int64:
0-based line / row / record number in its file), then the extra ``columns`` asked for.
Rows that cannot be used are counted in a :class:`ReadReport` (reason -> count) with
up to 1000 located examples; nothing is dropped silently.

Supported inputs:

- JSON Lines: ``.jsonl``, ``.json``, ``.ndjson``, optionally ``.gz`` / ``.zst`` / ``.zstd``.
- Parquet: ``.parquet``, ``.pq``.
- Arrow IPC: ``.arrow`` (stream or file format), ``.feather`` (V2), ``.ipc``.
- WARC / WET: ``.warc``, ``.wet``, optionally ``.gz``.
- Anything else: a text file, one document (row 0); ``.gz`` / ``.zst`` are decompressed.
- Directories, walked recursively in sorted order; hidden files and folders are skipped.
  A Hugging Face ``save_to_disk`` folder is read as its dataset (its ``.arrow`` data
  files in the order its metadata lists them, every split of a ``DatasetDict``).

Example::

    >>> report = ReadReport()
    >>> parts = plan_parts(["corpus/"], partition_size=parse_size("256MB"))
    >>> for part in parts:
    ...     for table in read_part(part, text_column="text", report=report):
    ...         ...

Modules, in the order data flows through them:

- :mod:`~engine.io.plan`: :class:`InputPart`, :func:`parse_size`, :func:`detect_format`,
  :func:`plan_parts` (with :mod:`~engine.io.hf_folder` for ``save_to_disk`` folders).
- :mod:`~engine.io.read`: :func:`read_part`, the dispatcher over the format readers
  :mod:`~engine.io.jsonl`, :mod:`~engine.io.parquet`, :mod:`~engine.io.arrow_ipc`
  (with :mod:`~engine.io.ipc_messages`), :mod:`~engine.io.text` and
  :mod:`~engine.io.warc` (with :mod:`~engine.io.html` for HTML pages), which share
  :mod:`~engine.io.reading` (state of one read, batching, decoding).
- :mod:`~engine.io.compression`: :func:`open_decompressed` (gzip, zstd) and
  :func:`iter_jsonl_lines`.
- :mod:`~engine.io.report`: :class:`InputError`, :class:`ReadReport`,
  :data:`READ_ERRORS`.
- :mod:`~engine.io.options`: :class:`ReadOptions`, the read options of every command.
- :mod:`~engine.io.in_memory`: tables, DataFrames, datasets and streams of text
  spilled to Parquet for the pipelines (:func:`accepts_in_memory`, from
  :mod:`~engine.io.in_memory_run`, wraps an entry point); :mod:`~engine.io.rows`:
  results aligned with the input's rows (:class:`InputRows`, :func:`select_rows`,
  :func:`replace_text`).
- :mod:`~engine.io.texts` (text -> uint8 data + int64 offsets for the kernels),
  :mod:`~engine.io.dates` (date column -> int64 microseconds) and
  :mod:`~engine.io.write_kept` (kept documents in the input's format, with
  :mod:`~engine.io.write_cut` for replaced texts) are imported as
  modules.

The names below are the package's public face; the other packages import them from
here, never from the modules inside (``texts``, ``dates`` and ``write_kept`` aside).
"""

from engine.io.accepted import check_texts, input_paths
from engine.io.compression import iter_jsonl_lines, open_decompressed
from engine.io.html import html_to_text
from engine.io.in_memory import IN_MEMORY_ACCEPTED, in_memory_kind, text_batches
from engine.io.in_memory_run import accepts_in_memory
from engine.io.options import ReadOptions
from engine.io.plan import InputPart, detect_format, parse_size, plan_parts
from engine.io.read import read_part
from engine.io.report import READ_ERRORS, InputError, ReadReport
from engine.io.rows import InputRows, replace_text, select_rows
from engine.io.warc import WARC_COLUMNS

__all__ = [
    "check_texts",
    "input_paths",
    "IN_MEMORY_ACCEPTED",
    "InputRows",
    "accepts_in_memory",
    "in_memory_kind",
    "replace_text",
    "select_rows",
    "text_batches",
    "READ_ERRORS",
    "WARC_COLUMNS",
    "InputError",
    "InputPart",
    "ReadOptions",
    "ReadReport",
    "detect_format",
    "html_to_text",
    "iter_jsonl_lines",
    "open_decompressed",
    "parse_size",
    "plan_parts",
    "read_part",
]
