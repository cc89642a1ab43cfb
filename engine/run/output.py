"""The output folder of a run: claimed by one command on one list of inputs."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.run.atomic import TEMPORARY_PREFIX, read_json, write_json_atomic

WORK = "_work"


class OutputInUse(ValueError):
    """The output folder holds the results of another command or other inputs."""


def claim_output(out: Path, command: str, inputs: list[str]) -> None:
    """Record which command and inputs own ``out``; refuse a folder owned by others.

    Rerunning the same command on the same inputs resumes (changed parameters only
    recompute the stages that depend on them) and first removes the temporary files
    an interrupted run left behind. Anything else is refused, because mixing two
    runs' work files would give wrong results.
    """
    marker = out / WORK / "run.json"
    claim = {"command": command, "inputs": [str(p) for p in inputs]}
    existing = read_json(marker)
    if existing is not None and existing != claim:
        raise OutputInUse(
            f"{out} holds the results of `ouroboros {existing.get('command')}` on "
            f"{existing.get('inputs')}; this run is `ouroboros {command}` on {claim['inputs']}. "
            "Choose another --out, or delete that folder to start over."
        )
    if existing is None:
        if out.exists() and any(p.name != WORK for p in out.iterdir()):
            raise OutputInUse(
                f"{out} is not empty and was not made by ouroboros; choose another --out"
            )
        write_json_atomic(marker, claim)
        return
    remove_temporaries(out)


def remove_temporaries(folder: Path) -> int:
    """Remove the ``.tmp-*`` files of interrupted writes under ``folder``; their count."""
    removed = 0
    for path in folder.rglob(f"{TEMPORARY_PREFIX}*"):
        if path.is_file():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def remove_stale(work: Path, keep_names: set[str]) -> None:
    """Remove work folders of earlier parameter sets (names not in ``keep_names``)."""
    for path in work.iterdir():
        if path.is_dir() and path.name not in keep_names:
            shutil.rmtree(path, ignore_errors=True)


@contextmanager
def output_folder(out: str | os.PathLike | None) -> Iterator[Path]:
    """The output folder of a run: ``out`` (created), or a temporary folder that is
    removed when the run ends (``out=None``: results are returned in memory)."""
    if out is not None:
        path = Path(out)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    temp = tempfile.mkdtemp(prefix="ouroboros-")
    try:
        yield Path(temp)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
