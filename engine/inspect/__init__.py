"""Look at what a run found: clusters with word diffs, flag evidence, removed spans.

:func:`inspect_output` opens a finished output folder (:mod:`~engine.inspect.outputs`),
picks what to show and reads those documents back from the run's inputs
(:mod:`~engine.inspect.documents`), and returns a JSON-ready *view*:

- dedup (``clusters.parquet``): the largest clusters (``top``), one cluster
  (``cluster``) or the cluster of one document (``doc``), members beside a word diff
  against the kept document and their estimated Jaccard to it
  (:mod:`~engine.inspect.dedup_view`);
- flag (``flags.parquet``): the most covered flagged documents (``top``) or one
  (``doc``), with evidence ranges highlighted beside the matching reference text
  (:mod:`~engine.inspect.flag_view`);
- substr (``spans.parquet``): the documents with the most bytes to remove (``top``) or
  one (``doc``), removed ranges marked, with where their kept copy is
  (:mod:`~engine.inspect.substr_view`).

:func:`render` turns a view into terminal text (:mod:`~engine.inspect.render`); word
diffs and highlighted ranges are segment lists (:mod:`~engine.inspect.marks`).

Example:
    >>> view = inspect_output("out/", top=3)  # doctest: +SKIP
    >>> print(render(view, color=False, width=100))  # doctest: +SKIP
"""

from __future__ import annotations

import os

from engine.inspect.dedup_view import cluster_of_doc, dedup_view, largest_clusters
from engine.inspect.flag_view import flag_view, most_flagged
from engine.inspect.outputs import NotAnOutput, OutputFolder, open_output
from engine.inspect.render import render
from engine.inspect.substr_view import most_marked, substr_view

DEFAULT_TOP = 5


def inspect_output(
    out: str | os.PathLike,
    *,
    top: int | None = None,
    cluster: int | None = None,
    doc: str | None = None,
    max_members: int = 10,
    max_chars: int = 2000,
) -> dict:
    """The view of an output folder (see the module docstring).

    Args:
        out: the ``--out`` folder of a finished dedup, substr or flag run.
        top: how many clusters / documents to show (default 5 when neither
            ``cluster`` nor ``doc`` is given).
        cluster: a cluster id (dedup only). doc: a document id.
        max_members: members shown per cluster (the kept one first).
        max_chars: characters of each text shown (longer texts are cut, with a note).

    Raises:
        NotAnOutput: ``out`` is missing or not a finished output folder.
        ValueError: a bad choice (two of top/cluster/doc, a cluster id on a flag
            output, an unknown id) or inputs that cannot be read back.
    """
    chosen = [
        name for name, v in (("top", top), ("cluster", cluster), ("doc", doc)) if v is not None
    ]
    if len(chosen) > 1:
        raise ValueError(f"give one of top, cluster and doc, not {' and '.join(chosen)}")
    if top is not None and top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    if max_members < 1 or max_chars < 1:
        raise ValueError("max_members and max_chars must be at least 1")
    folder = open_output(out)
    if cluster is not None and folder.kind != "dedup":
        raise ValueError(f"{folder.path} is a {folder.kind} output: clusters are dedup's")
    top = DEFAULT_TOP if not chosen else top
    if folder.kind == "dedup":
        if doc is not None:
            cluster = cluster_of_doc(folder, doc)
        ids = [cluster] if cluster is not None else largest_clusters(folder, top)
        return dedup_view(folder, ids, max_members=max_members, max_chars=max_chars)
    if folder.kind == "flag":
        ids = [doc] if doc is not None else most_flagged(folder, top)
        return flag_view(folder, ids, max_chars=max_chars)
    ids = [doc] if doc is not None else most_marked(folder, top)
    return substr_view(folder, ids, max_chars=max_chars)


__all__ = ["NotAnOutput", "OutputFolder", "inspect_output", "open_output", "render"]
