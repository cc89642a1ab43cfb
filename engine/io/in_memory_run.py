"""Running a pipeline over files on an in-memory input: :func:`accepts_in_memory`.

The decorated entry point (``dedup``, ``substr``, ``flag``) gets paths as before. Given
an in-memory input (:func:`engine.io.in_memory.in_memory_kind`), the wrapper

1. spills it to Parquet (:func:`engine.io.in_memory.spill`): with ``out=None`` into a
   temporary folder, else into ``OUT/_work/`` under a name made from the data's hash,
   so that running again on the same data into the same ``out`` resumes like a run over
   files (other data into that ``out`` is refused, as for other files);
2. runs the pipeline on that file, with document ids from ``id_column``, or the row
   number as a string without one (``row_ids=True``: the row number always, and the
   ids put back afterwards by the result, e.g. for spans);
3. tells the summary about the input (``summary.json`` rewritten when there is an
   ``out``) and hands the result the spilled input (``result.attach_input(spilled)``)
   while the file still exists, so it can align itself with the input's rows;
4. removes the spilled file (and the temporary folder), also when the run fails.

``write_deduped`` is refused for in-memory inputs: the caller holds the object, and
the result's helpers (``result.filter(obj)``, ``result.cut(obj)``) give it back
without the removed rows or spans.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.io.accepted import input_paths
from engine.io.in_memory import (
    IN_MEMORY_ACCEPTED,
    ROW_ID,
    TEXT,
    USER_ID,
    in_memory_kind,
    spill,
)
from engine.run.atomic import write_json_atomic

__all__ = ["accepts_in_memory"]

_CLAIM_FILES = {("_work", "run.json"), ("_work", "lock")}


def accepts_in_memory(row_ids: bool = False) -> Callable:
    """Decorator: let the pipeline entry ``run(inputs, out=None, **options)`` take
    in-memory inputs (see the module docstring); paths go straight to ``run``.

    ``row_ids``: run with the row number as document id even when ``id_column`` is
    given (the result maps ids back itself).
    """

    def decorate(run: Callable) -> Callable:
        @functools.wraps(run)
        def entry(inputs, out=None, **options):
            if in_memory_kind(inputs) is None:
                _check_paths(inputs)
                return run(inputs, out, **options)
            return _run_in_memory(run, inputs, out, options, row_ids)

        return entry

    return decorate


def _check_paths(inputs) -> None:
    """Raise the ``TypeError`` of :func:`input_paths`, naming in-memory inputs too."""
    try:
        input_paths(inputs)
    except TypeError as err:
        raise TypeError(f"{err}. In memory: {IN_MEMORY_ACCEPTED}") from None


def _run_in_memory(run: Callable, obj, out, options: dict, row_ids: bool):
    if options.get("write_deduped"):
        raise ValueError(
            "write_deduped writes files in the input's own format; for an in-memory "
            "input use the result's helpers instead (result.filter(obj) for dedup, "
            "result.cut(obj) for substr)"
        )
    text_column = options.pop("text_column", "text")
    id_column = options.pop("id_column", None)
    with _spill_folder(out) as folder:
        spilled = spill(
            obj,
            folder,
            text_column=text_column,
            id_column=id_column,
            strict=bool(options.get("strict", False)),
        )
        finished = False
        try:
            ids = USER_ID if id_column is not None and not row_ids else ROW_ID
            result = run(str(spilled.path), out, text_column=TEXT, id_column=ids, **options)
            spilled.describe(result.summary)
            if result.out is not None:
                write_json_atomic(Path(result.out) / "summary.json", result.summary)
            result.attach_input(spilled)
            finished = True
        finally:
            # a file this call did not write may be the input of a run that holds `out`
            if finished or spilled.created:
                spilled.path.unlink(missing_ok=True)
    return result


@contextmanager
def _spill_folder(out) -> Iterator[Path]:
    """Where the spilled file goes: a temporary folder (removed at the end) without
    ``out``; ``OUT/_work`` with one (``out`` removed again when the run fails and
    leaves nothing in it but the claim)."""
    if out is None:
        folder = Path(tempfile.mkdtemp(prefix="ouroboros-input-"))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    out = Path(os.path.abspath(out))
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} is a file; out must be a folder")
    created_out = not out.exists()
    created_work = not (out / "_work").exists()
    (out / "_work").mkdir(parents=True, exist_ok=True)
    try:
        yield out / "_work"
    except BaseException:
        if created_out and _holds_only_the_claim(out):
            shutil.rmtree(out, ignore_errors=True)
        elif created_work and not any((out / "_work").iterdir()):
            (out / "_work").rmdir()
        raise


def _holds_only_the_claim(out: Path) -> bool:
    files = [p.relative_to(out).parts for p in out.rglob("*") if not p.is_dir()]
    return all(parts in _CLAIM_FILES for parts in files)
