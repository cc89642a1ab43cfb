"""Texts of documents read back from the inputs a run recorded.

Outputs hold ids, not texts. :class:`DocumentReader` re-plans the inputs listed in
``summary.json`` (paths as the run was given them, with its ``partition_size``, text
and id columns) and reads only what it must:

- :meth:`DocumentReader.by_position` (dedup: a document's global input position is
  its row in ``clusters.parquet``): when the run's signature files are still in
  ``OUT/_work/signatures/`` and were made from the same parts (their stamps,
  :mod:`engine.run.reuse`), each position maps to its part and row, and only the parts
  holding wanted documents are read. Otherwise the inputs are read in order, counting
  documents, up to the last wanted position (positions do not depend on partitioning).
- :meth:`DocumentReader.by_id` (flag, substr): an id ``<path>:<row>`` (runs without
  ``--id-column``) is looked up in the parts of that file only; other ids by reading
  parts in order until every wanted id is found.

Relative input paths are resolved from the current folder, as the run resolved them:
run ``inspect`` from the folder the run was started in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.inspect.outputs import OutputFolder
from engine.io import InputPart, ReadReport, plan_parts, read_part
from engine.run.atomic import read_arrow
from engine.run.reuse import read_stamp


class DocumentReader:
    """Read documents of a finished run back from its inputs (see the module docstring)."""

    def __init__(self, folder: OutputFolder) -> None:
        self.folder = folder
        parameters = folder.summary.get("parameters", {})
        self.text_column = parameters.get("text_column", "text")
        self.id_column = parameters.get("id_column")
        size = parameters.get("partition_size", 256 * 2**20)
        inputs = folder.inputs
        if not inputs:
            raise ValueError(f"{folder.path}/summary.json lists no inputs")
        try:
            self.parts = plan_parts(inputs, int(size))
        except (OSError, ValueError) as err:
            raise ValueError(
                f"cannot read the inputs recorded in {folder.path}/summary.json ({err}); "
                "run inspect from the folder the run was started in, with its inputs in place"
            ) from None

    def _read(self, part: InputPart) -> Iterator[pa.Table]:
        yield from read_part(
            part,
            text_column=self.text_column,
            id_column=self.id_column,
            report=ReadReport(),
        )

    # ----------------------------------------------------------------- positions

    def _signature_rows(self) -> list[np.ndarray] | None:
        """Per part, int64 row numbers of its documents from the run's signature files;
        None when any is missing or was made from other parts."""
        rows = []
        for part in self.parts:
            path = self.folder.path / "_work" / "signatures" / f"part-{part.index:05d}.arrow"
            stamp = read_stamp(path)
            if not stamp or stamp.get("inputs") != [repr(part)]:
                return None
            rows.append(read_arrow(path).column("row").to_numpy().astype(np.int64))
        return rows

    def by_position(self, positions: Iterable[int]) -> dict[int, tuple[str, str]]:
        """``{position: (doc_id, text)}`` for the global input positions asked for;
        positions beyond the documents read are left out."""
        wanted = np.unique(np.asarray(list(positions), dtype=np.int64))
        if len(wanted) == 0:
            return {}
        rows = self._signature_rows()
        if rows is None:
            return self._scan_positions(wanted)
        offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
        found: dict[int, tuple[str, str]] = {}
        part_of = np.searchsorted(offsets, wanted, side="right") - 1
        for p in np.unique(part_of[wanted < offsets[-1]]):
            mine = wanted[part_of == p]
            row_to_position = dict(zip(rows[p][mine - offsets[p]].tolist(), mine.tolist()))
            for batch in self._read(self.parts[int(p)]):
                batch = _filtered(batch, "row", pa.array(list(row_to_position), pa.int64()))
                for doc_id, text, row in zip(*_columns(batch), strict=True):
                    found[row_to_position[row]] = (doc_id, text)
        return found

    def _scan_positions(self, wanted: np.ndarray) -> dict[int, tuple[str, str]]:
        found: dict[int, tuple[str, str]] = {}
        last = int(wanted[-1])
        position = 0
        for part in self.parts:
            for batch in self._read(part):
                lo, hi = np.searchsorted(wanted, [position, position + batch.num_rows])
                local = (wanted[lo:hi] - position).tolist()
                picked = batch.take(pa.array(local, pa.int64()))
                for i, (doc_id, text, _) in zip(local, zip(*_columns(picked)), strict=True):
                    found[position + i] = (doc_id, text)
                position += batch.num_rows
                if position > last:
                    return found
        return found

    # ----------------------------------------------------------------------- ids

    def by_id(self, doc_ids: Iterable[str]) -> dict[str, str]:
        """``{doc_id: text}`` for the ids asked for that the inputs hold (the first
        document of an id that occurs more than once)."""
        want = set(doc_ids)
        found: dict[str, str] = {}
        if not want:
            return found
        if self.id_column is None:
            by_path: dict[str, set[str]] = {}
            for doc_id in want:
                by_path.setdefault(doc_id.rpartition(":")[0], set()).add(doc_id)
            for part in self.parts:
                ids = by_path.get(part.id_path)
                if ids and not ids <= found.keys():
                    self._collect(part, ids, found)
            return found
        for part in self.parts:
            self._collect(part, want, found)
            if len(found) == len(want):
                break
        return found

    def _collect(self, part: InputPart, want: set[str], found: dict[str, str]) -> None:
        for batch in self._read(part):
            batch = _filtered(batch, "doc_id", pa.array(list(want), pa.string()))
            for doc_id, text, _row in zip(*_columns(batch), strict=True):
                found.setdefault(doc_id, text)


def _filtered(batch: pa.Table, column: str, values: pa.Array) -> pa.Table:
    """The rows of ``batch`` whose ``column`` is one of ``values``."""
    return batch.filter(pc.is_in(batch.column(column), value_set=values))


def _columns(batch: pa.Table) -> tuple[list, list, list]:
    """doc_id, text and row of a read batch as Python lists."""
    return (
        batch.column("doc_id").to_pylist(),
        batch.column("text").to_pylist(),
        batch.column("row").to_pylist(),
    )


def input_folder_hint(path: Path) -> str:
    """A note for texts that could not be found again."""
    return f"not found in the inputs of {path} (changed or moved since the run?)"
