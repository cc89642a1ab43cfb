"""Read a few documents' texts back from a run's inputs (for diffs, spans and evidence).

Only the parts that hold the wanted documents are read:

- default ids ``<path as given>:<row>``: each wanted file is planned alone (never split,
  so a large plain JSONL file is not scanned for line starts), Parquet files only in the
  row groups holding the wanted rows, and a file is read only up to its last wanted row;
- ids from an id column: the inputs are read in order until every wanted id is found
  or :data:`SCAN_BUDGET_BYTES` of input have been read.

Relative input paths are resolved against ``input_root`` (the folder the run was
started in; default: the current folder). What cannot be found is reported in
:attr:`Texts.missing` with the reason, never silently dropped.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow.parquet as pq

from engine.io import READ_ERRORS, InputError, InputPart, ReadReport, plan_parts, read_part

__all__ = ["SCAN_BUDGET_BYTES", "Texts", "read_texts"]

SCAN_BUDGET_BYTES = 2 * 10**9  # input bytes scanned at most when ids come from a column
_WHOLE_FILE = 2**62  # a partition size no file reaches: each file is one part


@dataclass
class Texts:
    """Texts found, by doc id, and why the others are absent.

    Attributes:
        found: doc_id -> text (as the pipelines read it: byte offsets in the outputs
            index its UTF-8 encoding).
        missing: doc_id -> reason it could not be read back.
    """

    found: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    def get(self, doc_id: str) -> str | None:
        return self.found.get(doc_id)


def _resolve(given: str, input_root: Path | None) -> str:
    if os.path.isabs(given) or input_root is None:
        return given
    return os.path.join(input_root, given)


def _split_default_id(doc_id: str) -> tuple[str, int] | None:
    path, sep, row = doc_id.rpartition(":")
    if not sep or not path or not row.isdigit():
        return None
    return path, int(row)


def read_texts(
    doc_ids: Iterable[str],
    inputs: list[str],
    *,
    text_column: str = "text",
    id_column: str | None = None,
    input_root: str | os.PathLike | None = None,
    scan_budget_bytes: int = SCAN_BUDGET_BYTES,
) -> Texts:
    """The texts of ``doc_ids`` (a few hundred at most), read back from ``inputs``.

    Args:
        doc_ids: ids as written in the outputs.
        inputs: the run's inputs as recorded in its ``summary.json``.
        text_column, id_column: the run's read options (``summary["parameters"]``).
        input_root: folder that relative ``inputs`` are relative to (default: cwd).
        scan_budget_bytes: with ``id_column``, input bytes read at most.
    """
    wanted = list(dict.fromkeys(doc_ids))
    texts = Texts()
    if not wanted:
        return texts
    root = Path(input_root) if input_root is not None else None
    if id_column is None:
        _read_by_position(wanted, texts, text_column, root)
    else:
        _read_by_scan(wanted, texts, inputs, text_column, id_column, root, scan_budget_bytes)
    for doc_id in wanted:
        if doc_id not in texts.found and doc_id not in texts.missing:
            texts.missing[doc_id] = "not found in the inputs (changed since the run?)"
    return texts


def _parts_of_file(path: str, rows: set[int]) -> list[InputPart]:
    """The part(s) of one file holding ``rows``: Parquet restricted to their row groups."""
    parts = plan_parts([path], partition_size=_WHOLE_FILE, report=ReadReport())
    if len(parts) != 1 or parts[0].fmt != "parquet":
        return parts
    metadata = pq.ParquetFile(parts[0].path).metadata
    groups, start = [], 0
    for group in range(metadata.num_row_groups):
        end = start + metadata.row_group(group).num_rows
        if any(start <= row < end for row in rows):
            groups.append(group)
        start = end
    return [replace(parts[0], row_groups=tuple(groups))]


def _read_by_position(wanted: list[str], texts: Texts, text_column: str, root) -> None:
    by_file: dict[str, dict[int, str]] = defaultdict(dict)
    for doc_id in wanted:
        located = _split_default_id(doc_id)
        if located is None:
            texts.missing[doc_id] = "not a <path>:<row> id, and the run named no id column"
            continue
        by_file[located[0]][located[1]] = doc_id
    for given, rows in by_file.items():
        path = _resolve(given, root)
        if not os.path.isfile(path):
            reason = f"input file {path!r} not found (pass the folder the run was started in)"
            texts.missing.update({doc_id: reason for doc_id in rows.values()})
            continue
        last_row = max(rows)
        try:
            for part in _parts_of_file(path, set(rows)):
                for table in read_part(part, text_column=text_column, report=ReadReport()):
                    row_numbers = table["row"].to_pylist()
                    for index, row in enumerate(row_numbers):
                        if row in rows:
                            texts.found[rows[row]] = table["text"][index].as_py()
                    if row_numbers and row_numbers[-1] >= last_row:
                        break
        except (InputError, *READ_ERRORS) as err:
            reason = f"{path}: cannot be read back ({type(err).__name__}: {err})"
            for doc_id in rows.values():
                texts.missing.setdefault(doc_id, reason)


def _read_by_scan(
    wanted, texts: Texts, inputs, text_column, id_column, root, scan_budget_bytes
) -> None:
    remaining = set(wanted)
    try:
        parts = plan_parts(
            [_resolve(given, root) for given in inputs],
            partition_size=_WHOLE_FILE,
            report=ReadReport(),
        )
    except (InputError, *READ_ERRORS) as err:
        texts.missing.update({d: f"inputs cannot be planned: {err}" for d in wanted})
        return
    scanned = 0
    for part in parts:
        if not remaining or scanned >= scan_budget_bytes:
            break
        scanned += part.size_bytes
        try:
            for table in read_part(
                part, text_column=text_column, id_column=id_column, report=ReadReport()
            ):
                for doc_id, text in zip(table["doc_id"].to_pylist(), table["text"].to_pylist()):
                    if doc_id in remaining:
                        texts.found[doc_id] = text
                        remaining.discard(doc_id)
        except (InputError, *READ_ERRORS):
            continue  # counted in the run's own read report; other parts may hold them
    reason = f"not found in the first {scanned:,} input bytes read back (scan budget)"
    texts.missing.update({doc_id: reason for doc_id in remaining})
