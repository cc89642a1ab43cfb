"""What reading saw: the user-facing error, the per-task counters, and problem recording.

- :class:`InputError`: bad input the user must fix; the message names the fix.
- :class:`ReadReport`: counters (files, documents, reason -> skipped count) and up to
  :data:`MAX_PROBLEMS` located examples; one per partition task, merged in the driver.
  Nothing is dropped silently: every unusable row or file is counted here.
- :data:`STRICT_REASONS`: the skip reasons that abort a strict read (damaged data, not
  merely data of another kind).
- :data:`READ_ERRORS`: the exceptions that mean "this file cannot be read (further)";
  :func:`read_error_reason` names the skip reason for one of them.
"""

from __future__ import annotations

import gzip
import os
import zlib
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import zstandard

__all__ = [
    "DETAIL_CHARS",
    "TooManySkipped",
    "check_skipped",
    "MAX_PROBLEMS",
    "READ_ERRORS",
    "STRICT_REASONS",
    "InputError",
    "ReadReport",
    "read_error_reason",
    "strict_message",
    "truncate",
]

MAX_PROBLEMS = 1000  # located examples kept per report (all problems are counted)
DETAIL_CHARS = 200  # characters of an example's ``detail`` kept

# Skip reasons that abort a strict read: the data is damaged, not merely of another kind.
STRICT_REASONS = frozenset(
    {
        "malformed_json",
        "missing_text",
        "non_string_text",
        "missing_id",
        "warc_record_error",
        "warc_length_mismatch",
        "corrupt_row_group",
        "corrupt_batch",
        "unreadable_file",
        "corrupt_compression",
        "missing_file",
    }
)

# Exceptions that mean "this file cannot be read (further)": see read_error_reason.
READ_ERRORS = (OSError, EOFError, zlib.error, zstandard.ZstdError, pa.ArrowException)
_COMPRESSION_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error, zstandard.ZstdError)


class InputError(ValueError):
    """Bad input that the user must fix (the message names the fix)."""


@dataclass
class ReadReport:
    """Counters of what reading saw; one per partition task, merged with :meth:`merge`.

    Attributes:
        files: files opened (a file split into several parts counts once).
        documents: rows yielded as documents (empty text included).
        skipped: reason -> number of rows or files skipped for that reason.
        invalid_utf8_documents: documents whose bytes had invalid UTF-8 (replaced by U+FFFD).
        problems: located examples, ``{"file", "line"|"offset"|"row", "reason",
            "detail"}``; at most 1000 are kept (all are counted).
        fallback_ids: documents whose ``id_column`` value was missing or null, given the
            default ``path:row`` id instead.
        problems_omitted: examples not kept because of the cap.
        warnings: reason -> number of documents read with a warning (read, not skipped:
            e.g. ``charset_detected``); in :meth:`to_dict` only when there are some.
    """

    files: int = 0
    documents: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    invalid_utf8_documents: int = 0
    problems: list[dict] = field(default_factory=list)
    fallback_ids: int = 0
    problems_omitted: int = 0
    warnings: dict[str, int] = field(default_factory=dict)

    def add_problem(
        self,
        reason: str,
        file: str | os.PathLike,
        *,
        line: int | None = None,
        offset: int | None = None,
        row: int | None = None,
        detail: str = "",
    ) -> None:
        """Record one located example (does not touch the counters in ``skipped``).

        ``line`` / ``row``: 0-based line or row number; ``offset``: byte offset in the
        file; ``detail`` is cut to :data:`DETAIL_CHARS` characters.
        """
        if len(self.problems) >= MAX_PROBLEMS:
            self.problems_omitted += 1
            return
        problem: dict[str, Any] = {"file": os.fsdecode(file)}
        for key, value in (("line", line), ("offset", offset), ("row", row)):
            if value is not None:
                problem[key] = int(value)
        problem["reason"] = reason
        problem["detail"] = truncate(detail)
        self.problems.append(problem)

    def count_skip(
        self,
        reason: str,
        file: str | os.PathLike,
        *,
        line: int | None = None,
        offset: int | None = None,
        row: int | None = None,
        detail: str = "",
        example_limit: int | None = None,
    ) -> None:
        """Count one skipped row or file under ``reason`` and record an example.

        ``example_limit``: record an example only for the first that many of this reason.
        """
        count = self.skipped.get(reason, 0) + 1
        self.skipped[reason] = count
        if example_limit is None or count <= example_limit:
            self.add_problem(reason, file, line=line, offset=offset, row=row, detail=detail)

    def count_warning(
        self,
        reason: str,
        file: str | os.PathLike,
        *,
        row: int | None = None,
        detail: str = "",
        example_limit: int | None = None,
    ) -> None:
        """Count one document read with a warning under ``reason`` (not a skip) and
        record an example (only for the first ``example_limit`` of this reason)."""
        count = self.warnings.get(reason, 0) + 1
        self.warnings[reason] = count
        if example_limit is None or count <= example_limit:
            self.add_problem(reason, file, row=row, detail=detail)

    @property
    def total_skipped(self) -> int:
        """Sum of all ``skipped`` counts."""
        return sum(self.skipped.values())

    def merge(self, other: ReadReport) -> ReadReport:
        """Add ``other``'s counts and examples to this report; returns ``self``."""
        self.files += other.files
        self.documents += other.documents
        self.invalid_utf8_documents += other.invalid_utf8_documents
        self.fallback_ids += other.fallback_ids
        for reason, count in other.skipped.items():
            self.skipped[reason] = self.skipped.get(reason, 0) + count
        for reason, count in other.warnings.items():
            self.warnings[reason] = self.warnings.get(reason, 0) + count
        room = max(MAX_PROBLEMS - len(self.problems), 0)
        self.problems.extend(dict(problem) for problem in other.problems[:room])
        self.problems_omitted += other.problems_omitted + max(len(other.problems) - room, 0)
        return self

    @classmethod
    def from_dict(cls, data: dict) -> ReadReport:
        """Inverse of :meth:`to_dict` (e.g. for reports returned by worker tasks)."""
        return cls(
            files=int(data.get("files", 0)),
            documents=int(data.get("documents", 0)),
            skipped={str(k): int(v) for k, v in data.get("skipped", {}).items()},
            invalid_utf8_documents=int(data.get("invalid_utf8_documents", 0)),
            problems=[dict(problem) for problem in data.get("problems", [])],
            fallback_ids=int(data.get("fallback_ids", 0)),
            problems_omitted=int(data.get("problems_omitted", 0)),
            warnings={str(k): int(v) for k, v in data.get("warnings", {}).items()},
        )

    def to_dict(self) -> dict:
        """JSON-serialisable form, for ``summary.json``."""
        out = {
            "files": self.files,
            "documents": self.documents,
            "skipped": dict(sorted(self.skipped.items())),
            "invalid_utf8_documents": self.invalid_utf8_documents,
            "fallback_ids": self.fallback_ids,
            "problems": [dict(problem) for problem in self.problems],
            "problems_omitted": self.problems_omitted,
        }
        if self.warnings:
            out["warnings"] = dict(sorted(self.warnings.items()))
        return out


def truncate(text: str, limit: int = DETAIL_CHARS) -> str:
    """``text`` cut to at most ``limit`` characters (the cut ends in ``"..."``)."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_error_reason(err: BaseException) -> str:
    """The skip reason for one of :data:`READ_ERRORS`: ``"missing_file"``,
    ``"corrupt_compression"`` or ``"unreadable_file"``."""
    if isinstance(err, FileNotFoundError):
        return "missing_file"
    if isinstance(err, _COMPRESSION_ERRORS):
        return "corrupt_compression"
    return "unreadable_file"


def strict_message(path: str, reason: str, where: dict, detail: str) -> str:
    """The ``InputError`` message of a strict read stopped by ``reason``.

    ``where``: the location, e.g. ``{"line": 12}`` or ``{"offset": 4096}`` (bytes).
    """
    place = "".join(f" {key} {value}" for key, value in where.items())
    return (
        f"{path}{place}: {reason}: {truncate(detail)}. Fix the input, or read without "
        "strict mode to skip such rows and count them in the report"
    )


class TooManySkipped(ValueError):
    """A run skipped more than its allowed share of records as damaged."""


def check_skipped(n_documents: int, reports, max_skipped: float) -> dict:
    """Raise :class:`TooManySkipped` when the damaged records (:data:`STRICT_REASONS`)
    are more than ``max_skipped`` (0-1) of all records read (documents + damaged).

    ``reports``: read reports in ``ReadReport.to_dict()`` form (plan and tasks).
    Returns ``{"damaged": n, "share": s, "max_skipped": max_skipped}`` for the summary.
    """
    damaged: dict[str, int] = {}
    for report in reports:
        for reason, count in report.get("skipped", {}).items():
            if reason in STRICT_REASONS:
                damaged[reason] = damaged.get(reason, 0) + int(count)
    n_damaged = sum(damaged.values())
    total = n_documents + n_damaged
    share = n_damaged / total if total else 0.0
    if share > max_skipped:
        shown = ", ".join(f"{reason} {count}" for reason, count in sorted(damaged.items()))
        raise TooManySkipped(
            f"skipped {n_damaged} of {total} records as damaged ({share:.1%}: {shown}), "
            f"more than --max-skipped {max_skipped:.0%}; the outputs would silently miss "
            "them. Look at summary.json's read report or the examples above, fix the "
            "input or --text-column, or raise --max-skipped (e.g. --max-skipped 100%)"
        )
    return {"damaged": n_damaged, "share": round(share, 6), "max_skipped": max_skipped}
