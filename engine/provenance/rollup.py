"""Provenance per near-duplicate cluster: roll-ups of the members' flags and the choice
of an unflagged member to keep.

``dedup --reference`` streams flags part by part through :class:`ClusterFlagStats`
and :func:`keep_unflagged`; :func:`cluster_flags` and :func:`prefer_unflagged_keep`
are the same computations over whole ``clusters.parquet`` and ``flags.parquet``
tables, for runs of ``dedup`` and ``flag`` made separately on the same inputs.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.provenance.params import CLUSTER_FLAGS_SCHEMA, LABEL_RANK, LABELS


def _check_aligned(clusters: pa.Table, flags: pa.Table) -> None:
    """Raise ValueError (naming the fix) unless both tables hold the same documents in
    the same order, with the columns the roll-ups read."""
    for name in ("doc_id", "cluster_id", "keep"):
        if name not in clusters.column_names:
            raise ValueError(
                f"clusters lacks column {name!r} (columns: {clusters.column_names}); "
                "pass the clusters.parquet table"
            )
    for name in ("doc_id", "label", "cov_doc", "cov_ref", "ref_ids"):
        if name not in flags.column_names:
            raise ValueError(
                f"flags lacks column {name!r} (columns: {flags.column_names}); "
                "pass the flags.parquet table"
            )
    if clusters.num_rows != flags.num_rows:
        raise ValueError(
            f"clusters has {clusters.num_rows} rows but flags has {flags.num_rows}; "
            "both must hold the same documents in the same (input) order"
        )
    if not clusters.column("doc_id").equals(flags.column("doc_id")):
        raise ValueError(
            "clusters and flags list different doc_id values row by row; run `flag` on "
            "the same inputs as `dedup` (same order, same --id-column)"
        )


def label_ranks(labels) -> np.ndarray:
    """int8 (n,): :data:`LABEL_RANK` of each label (0 strongest); unknown labels raise."""
    array = labels if isinstance(labels, (pa.Array, pa.ChunkedArray)) else pa.array(labels)
    ranks = np.full(len(array), -1, dtype=np.int8)
    values = pc.cast(array, pa.string())
    for label, rank in LABEL_RANK.items():
        ranks[
            np.asarray(pc.equal(values, label).fill_null(False).to_numpy(zero_copy_only=False))
        ] = rank
    bad = np.flatnonzero(ranks < 0)
    if len(bad):
        raise ValueError(
            f"flags row {int(bad[0])} has label {values[int(bad[0])].as_py()!r}; "
            f"expected one of {LABELS}"
        )
    return ranks


class ClusterFlagStats:
    """Per-cluster aggregates of flagged members, fed in any number of row batches.

    Memory grows with the flagged documents only (unflagged rows are skipped), so a
    crawl's clusters can be rolled up without holding its flags table.

    Example:
        >>> flags = pa.table({"label": ["none", "verbatim_copy"], "cov_doc": [0.0, 0.9],
        ...                   "cov_ref": [0.0, 1.0], "ref_ids": [[], ["r1"]]})
        >>> stats = ClusterFlagStats()
        >>> stats.add(np.array([7, 7]), flags).tolist()
        [3, 0]
        >>> stats.table(np.array([7]), np.array([2])).to_pylist()[0]["frac_members_flagged"]
        0.5
    """

    def __init__(self) -> None:
        self.best: dict[int, int] = {}
        self.score: dict[int, float] = {}
        self.flagged: dict[int, int] = {}
        self.refs: dict[int, set[str]] = {}
        self.origins: dict[int, set[str]] = {}

    def add(self, cluster_id: np.ndarray, flags: pa.Table) -> np.ndarray:
        """Add flags rows (a flags table batch, FLAGS_SCHEMA columns ``label``,
        ``cov_doc``, ``cov_ref``, ``ref_ids``) with ``cluster_id`` (int64 (n,), one per
        row); returns the rows' label ranks (int8 (n,), :data:`LABEL_RANK`)."""
        ranks = label_ranks(flags.column("label"))
        rows = np.flatnonzero(ranks != LABEL_RANK["none"])
        if len(rows):
            taken = flags.take(pa.array(rows, type=pa.int64()))
            cov_doc = np.nan_to_num(taken.column("cov_doc").to_numpy(zero_copy_only=False))
            cov_ref = np.nan_to_num(taken.column("cov_ref").to_numpy(zero_copy_only=False))
            ref_ids = taken.column("ref_ids").to_pylist()
            for k, i in enumerate(rows.tolist()):
                c = int(cluster_id[i])
                self.best[c] = min(self.best.get(c, LABEL_RANK["none"]), int(ranks[i]))
                value = float(min(1.0, max(cov_doc[k], cov_ref[k])))
                self.score[c] = max(self.score.get(c, 0.0), value)
                self.flagged[c] = self.flagged.get(c, 0) + 1
                ids = ref_ids[k] or []
                self.refs.setdefault(c, set()).update(ids)
                self.origins.setdefault(c, set()).add(ids[0] if ids else "")
        return ranks

    def table(self, cluster_ids: np.ndarray, members: np.ndarray) -> pa.Table:
        """Rows (CLUSTER_FLAGS_SCHEMA) for ``cluster_ids`` (int64, in the order given)
        with ``members`` (int64) documents each."""
        n = len(cluster_ids)
        best = np.full(n, LABEL_RANK["none"], dtype=np.int64)
        score = np.zeros(n, dtype=np.float64)
        flagged = np.zeros(n, dtype=np.int64)
        refs: list[list[str]] = [[] for _ in range(n)]
        origin: list[str | None] = [None] * n
        ids = np.asarray(cluster_ids, dtype=np.int64)
        for j in np.flatnonzero(np.isin(ids, np.fromiter(self.best, np.int64, len(self.best)))):
            c = int(ids[j])
            best[j] = self.best[c]
            score[j] = self.score[c]
            flagged[j] = self.flagged[c]
            refs[j] = sorted(self.refs[c])
            o = self.origins[c]
            origin[j] = next(iter(o)) if len(o) == 1 and next(iter(o)) != "" else None
        return pa.Table.from_arrays(
            [
                pa.array(ids, type=pa.int64()),
                pa.array([LABELS[r] for r in best], type=pa.string()),
                pa.array(score, type=pa.float64()),
                pa.array(flagged / np.maximum(np.asarray(members), 1), type=pa.float64()),
                pa.array(refs, type=pa.list_(pa.string())),
                pa.array(origin, type=pa.string()),
            ],
            schema=CLUSTER_FLAGS_SCHEMA,
        )


def keep_unflagged(cluster_id: np.ndarray, keep: np.ndarray, flagged: np.ndarray) -> np.ndarray:
    """bool (n,): ``keep`` moved to the lowest-positioned unflagged member of each
    cluster whose kept member is flagged (clusters without an unflagged member keep
    their choice).

    Args:
        cluster_id: int64 (n,) cluster of each document, in input order.
        keep: bool (n,) the kept member of each cluster (one True per cluster).
        flagged: bool (n,) documents whose label is not ``none``.

    Example:
        >>> keep_unflagged(np.array([0, 0, 2]), np.array([True, False, True]),
        ...                np.array([True, False, True])).tolist()
        [False, True, True]
    """
    cluster_id = np.asarray(cluster_id, dtype=np.int64)
    new_keep = np.asarray(keep, dtype=bool).copy()
    flagged = np.asarray(flagged, dtype=bool)
    bad = np.flatnonzero(new_keep & flagged)
    if len(bad) == 0:
        return new_keep
    targets = np.unique(cluster_id[bad])
    candidates = np.flatnonzero(~flagged & np.isin(cluster_id, targets))
    uniq, first = np.unique(cluster_id[candidates], return_index=True)
    if len(uniq) == 0:
        return new_keep
    pos = np.minimum(np.searchsorted(uniq, cluster_id[bad]), len(uniq) - 1)
    found = uniq[pos] == cluster_id[bad]
    new_keep[bad[found]] = False
    new_keep[candidates[first[pos[found]]]] = True
    return new_keep


def cluster_flags(clusters: pa.Table, flags: pa.Table) -> pa.Table:
    """Provenance per near-duplicate cluster.

    Args:
        clusters: the ``clusters.parquet`` table (doc_id, cluster_id, cluster_size,
            keep), one row per document.
        flags: the ``flags.parquet`` table, rows aligned with ``clusters``.

    Returns:
        One row per cluster, ordered by ``cluster_id``:

        - ``cluster_id`` int64;
        - ``label`` string: the strongest member label (verbatim_copy >
          contains_output > partial_derivative > none);
        - ``provenance_score`` float64 in [0, 1]: the largest, over flagged members,
          of ``max(cov_doc, cov_ref)`` (how much of a member is explained by a
          reference, or of a reference by a member); 0 when no member is flagged;
        - ``frac_members_flagged`` float64: flagged members / members;
        - ``ref_ids`` list<string>: the union of the flagged members' ``ref_ids``,
          sorted;
        - ``origin_doc_id`` string, nullable: the reference id when every flagged
          member's best reference (first of its ``ref_ids``) is that same reference.

    Only the members' own flags are read: no member is marked flagged here. (The
    ``dedup --reference`` pipeline streams the same computation part by part:
    :class:`ClusterFlagStats`.)

    Example:
        >>> clusters = pa.table({"doc_id": ["a", "b", "c"], "cluster_id": [0, 0, 2],
        ...                      "keep": [True, False, True]})
        >>> flags = pa.table({"doc_id": ["a", "b", "c"],
        ...                   "label": ["verbatim_copy", "none", "none"],
        ...                   "cov_doc": [1.0, 0.0, 0.0], "cov_ref": [0.9, 0.0, 0.0],
        ...                   "ref_ids": [["r1"], [], []]})
        >>> rollup = cluster_flags(clusters, flags)
        >>> rollup.column("label").to_pylist(), rollup.column("origin_doc_id").to_pylist()
        (['verbatim_copy', 'none'], ['r1', None])
    """
    _check_aligned(clusters, flags)
    cluster_id = np.asarray(clusters.column("cluster_id").to_numpy(), dtype=np.int64)
    stats = ClusterFlagStats()
    stats.add(cluster_id, flags)
    unique_ids, members = np.unique(cluster_id, return_counts=True)
    return stats.table(unique_ids, members)


def prefer_unflagged_keep(clusters: pa.Table, flags: pa.Table) -> pa.Table:
    """``clusters`` with ``keep`` moved to an unflagged member where one exists.

    In each cluster whose kept member is flagged (label != none) and which has an
    unflagged member, the unflagged member with the lowest input position (row) is
    kept instead; clusters whose members are all flagged keep their original choice,
    and clusters whose kept member is unflagged are unchanged. Exactly one ``keep``
    per cluster is preserved. Other columns are returned as they are.

    Args:
        clusters: the ``clusters.parquet`` table (``doc_id``, ``cluster_id`` int64,
            ``keep`` bool, ...), one row per document.
        flags: the ``flags.parquet`` table, rows aligned with ``clusters``.

    Example:
        >>> clusters = pa.table({"doc_id": ["a", "b", "c"], "cluster_id": [0, 0, 2],
        ...                      "keep": [True, False, True]})
        >>> flags = pa.table({"doc_id": ["a", "b", "c"],
        ...                   "label": ["verbatim_copy", "none", "none"],
        ...                   "cov_doc": [1.0, 0.0, 0.0], "cov_ref": [0.9, 0.0, 0.0],
        ...                   "ref_ids": [["r1"], [], []]})
        >>> prefer_unflagged_keep(clusters, flags).column("keep").to_pylist()
        [False, True, True]
    """
    _check_aligned(clusters, flags)
    cluster_id = np.asarray(clusters.column("cluster_id").to_numpy(), dtype=np.int64)
    keep = np.asarray(clusters.column("keep").to_numpy(zero_copy_only=False), dtype=bool)
    flagged = label_ranks(flags.column("label")) != LABEL_RANK["none"]
    new_keep = keep_unflagged(cluster_id, keep, flagged)
    index = clusters.column_names.index("keep")
    return clusters.set_column(index, "keep", pa.array(new_keep, type=pa.bool_()))
