"""The work folder of a finished run (``OUT/_work/``): its size, and removing it.

``_work/`` holds what a rerun reuses (signatures, shuffle, edges, spans of shards, flag
parts): about 1-2x the input's size after a dedup. It stays by default, so that a rerun
with another threshold or keep policy redoes only the stages that changed; ``summary.json``
records its size (``work``). ``--clean-work`` (:func:`clean_work`) removes it after a
successful run, all but the claim files that mark the folder as an Ouroboros output
(``run.json``, ``lock``: :mod:`engine.run.output`), so a rerun starts from the inputs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from engine.run.output import LOCK_FILE, RUN_FILE, WORK

CLAIM_FILES = (RUN_FILE, LOCK_FILE)


def work_bytes(out_dir: str | os.PathLike) -> int:
    """Bytes held under ``out_dir/_work`` (0 when there is none)."""
    total = 0
    for folder, _, files in os.walk(Path(out_dir) / WORK):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total


def work_summary(out_dir: str | os.PathLike, removed: bool = False) -> dict:
    """``summary.json``'s ``work`` entry: the folder, its bytes, whether it was removed."""
    folder = Path(out_dir) / WORK
    return {"path": str(folder), "bytes": work_bytes(out_dir), "removed": removed}


def clean_work(out_dir: str | os.PathLike) -> int:
    """Remove ``out_dir/_work`` but its claim files; returns the bytes freed."""
    folder = Path(out_dir) / WORK
    if not folder.is_dir():
        return 0
    before = work_bytes(out_dir)
    for entry in folder.iterdir():
        if entry.name in CLAIM_FILES:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    return before - work_bytes(out_dir)


def finish_work(out_dir: str | os.PathLike, clean: bool) -> dict:
    """At the end of a successful run: the ``work`` summary entry (size before any
    removal), and the work folder removed when ``clean``."""
    entry = work_summary(out_dir)
    if clean:
        clean_work(out_dir)
        entry["removed"] = True
    return entry
