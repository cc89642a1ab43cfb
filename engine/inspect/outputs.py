"""Open a finished output folder: which command made it, its summary and its tables.

An output folder holds ``summary.json`` (written last by every command) whose
``command`` is ``dedup``, ``substr`` or ``flag``, and the command's table
(``clusters.parquet``, ``spans.parquet`` or ``flags.parquet``). Anything else (a
missing folder, a file, a folder no command wrote, a run that has not finished, a
``reference build`` index) is refused with a :class:`NotAnOutput` that says why.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

TABLES = {"dedup": "clusters.parquet", "substr": "spans.parquet", "flag": "flags.parquet"}


class NotAnOutput(ValueError):
    """The folder given to ``inspect`` is not a finished dedup, substr or flag output."""


@dataclass(frozen=True)
class OutputFolder:
    """A finished output folder.

    Attributes:
        path: the folder. kind: ``"dedup"``, ``"substr"`` or ``"flag"``.
        summary: the content of ``summary.json``.
    """

    path: Path
    kind: str
    summary: dict

    def table(self, name: str | None = None, columns: list[str] | None = None) -> pa.Table:
        """A table of the folder (default: the command's own table)."""
        return pq.read_table(self.path / (name or TABLES[self.kind]), columns=columns)

    def has(self, name: str) -> bool:
        return (self.path / name).is_file()

    @property
    def inputs(self) -> list[str]:
        return [str(p) for p in self.summary.get("inputs", [])]

    @property
    def reference_path(self) -> str | None:
        """The reference index a flag run (or a ``dedup --reference`` run) used."""
        reference = self.summary.get("reference")
        if reference is None:
            reference = self.summary.get("provenance", {}).get("reference")
        return None if not isinstance(reference, dict) else reference.get("path")


def open_output(path: str | os.PathLike) -> OutputFolder:
    """The output folder at ``path``; raises :class:`NotAnOutput` naming the problem."""
    folder = Path(path)
    if not folder.exists():
        raise NotAnOutput(f"{folder} does not exist: pass the --out folder of a finished run")
    if not folder.is_dir():
        raise NotAnOutput(f"{folder} is not a folder: pass the --out folder of a finished run")
    summary_path = folder / "summary.json"
    if not summary_path.is_file():
        if (folder / "_work" / "run.json").is_file():
            raise NotAnOutput(
                f"{folder} holds an unfinished run (no summary.json): run the same command "
                "again to finish it, then inspect it"
            )
        if (folder / "index.json").is_file():
            raise NotAnOutput(
                f"{folder} is a reference index; inspect the output of `ouroboros flag` "
                "that used it"
            )
        raise NotAnOutput(
            f"{folder} is not an ouroboros output folder (no summary.json): pass the --out "
            "folder of a dedup, substr or flag run"
        )
    try:
        summary = json.loads(summary_path.read_text())
    except (OSError, ValueError) as err:
        raise NotAnOutput(f"{summary_path} cannot be read ({err})") from None
    kind = summary.get("command") if isinstance(summary, dict) else None
    if kind not in TABLES:
        raise NotAnOutput(
            f"{folder} was written by {kind!r}; inspect reads dedup, substr and flag outputs"
        )
    if not (folder / TABLES[kind]).is_file():
        raise NotAnOutput(f"{folder} has no {TABLES[kind]}: the {kind} run did not finish")
    return OutputFolder(folder, kind, summary)
