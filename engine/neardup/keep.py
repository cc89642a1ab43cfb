"""Stage 5 of near-duplicate search: which member of each cluster is kept.

``first`` needs nothing but the cluster ids, ``longest`` the byte lengths from the
signature files, ``earliest`` a second pass over the inputs for each document's date
(:func:`dates_task`, one task per part).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.io import InputPart, ReadOptions, ReadReport, read_part
from engine.io.dates import parse_dates
from engine.neardup.signatures import read_signatures


def choose_kept(
    cluster_id: np.ndarray,
    n_bytes: np.ndarray,
    policy: str,
    dates: np.ndarray | None = None,
) -> np.ndarray:
    """bool (n,): the kept member of each cluster.

    ``first``: the cluster's smallest index (its id). ``longest``: the most bytes, ties
    to the smallest index. ``earliest``: the smallest ``dates`` value (int64
    microseconds, :func:`engine.io.dates.parse_dates`; undated documents hold the largest
    int64), ties to the smallest index.
    """
    n = cluster_id.shape[0]
    if policy == "first":
        return cluster_id == np.arange(n)
    if policy not in ("longest", "earliest"):
        raise ValueError(f"keep must be 'first', 'longest' or 'earliest', got {policy!r}")
    if policy == "longest":
        rank = -n_bytes.astype(np.int64)
    else:
        if dates is None or len(dates) != n:
            raise ValueError("keep='earliest' needs one date per document (dates=...)")
        rank = np.asarray(dates, dtype=np.int64)
    # sort by (cluster, rank, index); the first of each cluster wins
    order = np.lexsort((np.arange(n), rank, cluster_id))
    first = np.ones(n, dtype=bool)
    first[1:] = cluster_id[order][1:] != cluster_id[order][:-1]
    keep = np.zeros(n, dtype=bool)
    keep[order[first]] = True
    return keep


def date_column_for(part: InputPart, date_column: str | None) -> str:
    """The date column of a part: ``date_column``, else ``warc_date`` for WARC input and
    ``date`` for the rest."""
    if date_column is not None:
        return date_column
    return "warc_date" if part.fmt == "warc" else "date"


def dates_task(part: InputPart, read: ReadOptions, date_column: str | None) -> dict:
    """One part's document dates, in row order.

    Returns ``{"rows": int64 (n,), "dates": int64 (n,) microseconds (engine.io.dates),
    "undated": count}``.
    """
    column = date_column_for(part, date_column)
    rows: list[np.ndarray] = []
    dates: list[np.ndarray] = []
    undated = 0
    batches = read_part(part, **read.read_part_kwargs(), columns=[column], report=ReadReport())
    for table in batches:
        values, missing = parse_dates(table.column(column))
        rows.append(table.column("row").to_numpy())
        dates.append(values)
        undated += missing
    return {
        "rows": np.concatenate(rows) if rows else np.zeros(0, np.int64),
        "dates": np.concatenate(dates) if dates else np.zeros(0, np.int64),
        "undated": undated,
    }


def load_dates(parts: list[InputPart], results: list[dict], work: Path) -> tuple[np.ndarray, int]:
    """Dates of every document (global order) from :func:`dates_task` results, checked
    against the rows the signature files hold; and the undated count."""
    for part, result in zip(parts, results):
        rows = read_signatures(work, part).column("row").to_numpy()
        if not np.array_equal(rows, result["rows"]):
            raise RuntimeError(
                f"{part.path} no longer reads as it did when its signatures were computed; "
                "delete the output folder's _work and run again"
            )
    dates = [r["dates"] for r in results]
    return (
        np.concatenate(dates) if dates else np.zeros(0, np.int64),
        int(sum(r["undated"] for r in results)),
    )
