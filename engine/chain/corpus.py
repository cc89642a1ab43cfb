"""The corpus files of a pipeline: the flag step's filtered copy, and ``OUT/corpus/``.

- :func:`write_unflagged`: with ``drop_flagged``, the flag step's input documents
  whose label is not dropped, in the input's own format with every column
  (:func:`engine.io.write_kept.write_kept`), into ``OUT/flag/deduped/``.
- :func:`link_corpus`: the last corpus-writing step's files, hard-linked (copied where
  links are refused) into ``OUT/corpus/``, named ``{part:05d}-{input file name}``:
  each step names its files ``{part:05d}-{its input's name}``, and the prefixes of the
  steps before the last are taken off again.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.io import InputPart, ReadOptions, ReadReport, input_paths, read_part
from engine.io.run_plan import plan_run
from engine.io.write_kept import DEDUPED_DIR, write_kept
from engine.run.dask_runner import session

log = logging.getLogger("ouroboros")

CORPUS_DIR = "corpus"
_PART_PREFIX = re.compile(r"\d{5,}-")

__all__ = [
    "CORPUS_DIR",
    "DEDUPED_DIR",
    "corpus_files",
    "count_documents",
    "link_corpus",
    "write_unflagged",
]


def corpus_files(folder: Path, remove: bool = False) -> list[Path]:
    """The files of a corpus folder in name order (hidden files, e.g. unfinished
    writes, left out); with ``remove`` the folder is deleted and ``[]`` returned."""
    if remove:
        shutil.rmtree(folder, ignore_errors=True)
        return []
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def local_files(inputs: list[str]) -> list[Path] | None:
    """The local files ``inputs`` name (folders walked in sorted order, hidden entries
    skipped, as the planner does); None when an input is a URL or does not exist."""
    files: list[Path] = []
    for given in inputs:
        if "://" in given:
            return None
        path = Path(given)
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                files.extend(Path(root) / n for n in sorted(names) if not n.startswith("."))
        else:
            return None
    return files


def write_unflagged(
    inputs: list[str], flags_path: Path, step_dir: Path, spec, progress: bool
) -> int:
    """Write the documents of ``inputs`` whose label (``flags_path``, one row per
    document read, in input order) is not in ``spec.drop_labels`` to
    ``step_dir/deduped/``; returns the number of documents dropped.

    The inputs are read with the step's read options, as the flag step read them, so
    the n-th row of ``flags.parquet`` is the n-th document read (however the inputs are
    split into parts).

    Raises:
        RuntimeError: the inputs no longer hold the documents that were flagged.
    """
    options = spec.options
    read = _read_options(options)
    plan = plan_run(
        input_paths(inputs),
        options.get("partition_size", "auto"),
        options.get("scheduler", "auto"),
        options.get("workers"),
    )
    parts = plan.parts
    labels = pq.read_table(flags_path, columns=["label"]).column("label")
    drop = pc.is_in(labels, value_set=pa.array(list(spec.drop_labels), pa.string()))
    drop = np.asarray(drop.to_numpy(zero_copy_only=False), dtype=bool)
    with session(plan.scheduler, plan.workers, out=step_dir) as runner:
        rows = runner.stage("corpus-rows", _rows_task, [(p, read) for p in parts], show=progress)
        n_read = sum(len(r) for r in rows)
        if n_read != len(drop):
            raise RuntimeError(
                f"{', '.join(inputs)} now hold {n_read} readable documents, but "
                f"{flags_path} flags {len(drop)}: the inputs changed after they were "
                "flagged; run the pipeline again"
            )
        bounds = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
        args = [
            (part, part_rows[~drop[bounds[i] : bounds[i + 1]]], str(step_dir))
            for i, (part, part_rows) in enumerate(zip(parts, rows))
        ]
        written = runner.stage("write-corpus", _write_task, args, show=progress)
    keep = {Path(w).name for w in written if w is not None}
    for path in corpus_files(step_dir / DEDUPED_DIR):
        if path.name not in keep:
            path.unlink(missing_ok=True)  # an earlier run's file for a part now empty
    return int(np.count_nonzero(drop))


def count_documents(folder: Path, options: dict) -> int:
    """Documents readable in the corpus files of ``folder`` with a step's read options
    (ids aside: they do not change what is read)."""
    read = _read_options({**options, "id_column": None})
    files = [str(f) for f in corpus_files(folder)]
    if not files:
        return 0
    plan = plan_run(files, options.get("partition_size", "auto"), "threads", 1)
    return sum(len(_rows_task(part, read)) for part in plan.parts)


def _read_options(options: dict) -> ReadOptions:
    return ReadOptions(
        text_column=options.get("text_column", "text"),
        id_column=options.get("id_column"),
        strict=options.get("strict", False),
    )


def _rows_task(part: InputPart, read: ReadOptions) -> np.ndarray:
    """int64 (n,): the row numbers of the documents ``part`` yields, in order."""
    rows = [
        batch.column("row").to_numpy()
        for batch in read_part(part, **read.read_part_kwargs(), report=ReadReport())
    ]
    return np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, np.int64)


def _write_task(part: InputPart, kept_rows: np.ndarray, out: str) -> str | None:
    path = write_kept(part, kept_rows, out)
    return None if path is None else str(path)


def link_corpus(out_dir: Path, source: Path | None, writing_steps: int) -> Path | None:
    """Make ``out_dir/corpus/`` hold the files of ``source`` (a step's ``deduped/``);
    returns its path, or None (and no ``corpus/``) when ``source`` is None.

    ``writing_steps``: how many steps wrote a corpus up to ``source``'s (each added
    one ``NNNNN-`` prefix to the names). The new folder is assembled under ``_work``
    and then swapped in, so ``corpus/`` never mixes two runs' files.
    """
    target = out_dir / CORPUS_DIR
    staging = out_dir / "_work" / "corpus-new"
    retired = out_dir / "_work" / "corpus-old"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(retired, ignore_errors=True)
    if source is None:
        shutil.rmtree(target, ignore_errors=True)
        return None
    staging.mkdir(parents=True)
    for path in corpus_files(source):
        _link_or_copy(path, staging / corpus_name(path.name, writing_steps))
    if target.exists():
        os.replace(target, retired)
    os.replace(staging, target)
    shutil.rmtree(retired, ignore_errors=True)
    return target


def corpus_name(name: str, writing_steps: int) -> str:
    """``name`` with the part prefixes of all but the last writing step taken off:
    ``00002-00000-data.jsonl.gz`` (2 steps) -> ``00002-data.jsonl.gz``."""
    outer = _PART_PREFIX.match(name)
    if outer is None:
        return name
    rest = name[outer.end() :]
    for _ in range(writing_steps - 1):
        inner = _PART_PREFIX.match(rest)
        if inner is None:
            break
        rest = rest[inner.end() :]
    return outer.group(0) + rest


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError as err:
        if err.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
        shutil.copy2(source, target)
