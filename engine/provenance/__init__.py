"""Provenance against known model outputs: the reference index, matching rules,
per-document flags with evidence and their roll-up per cluster (``pipeline.py``).

The names below are the package's public face: other pipelines (``dedup
--reference``) import them from here, never from the modules inside.
"""

from engine.provenance.matching import (
    CLUSTER_FLAGS_SCHEMA,
    FLAGS_SCHEMA,
    LABEL_RANK,
    LABELS,
    ClusterFlagStats,
    ProvenanceParams,
    keep_unflagged,
)
from engine.provenance.pipeline import FlagResult, add_human_text, build_reference, flag
from engine.provenance.reference import IndexParams, ReferenceIndex

__all__ = [
    "CLUSTER_FLAGS_SCHEMA",
    "FLAGS_SCHEMA",
    "LABELS",
    "LABEL_RANK",
    "ClusterFlagStats",
    "FlagResult",
    "IndexParams",
    "ProvenanceParams",
    "ReferenceIndex",
    "add_human_text",
    "build_reference",
    "flag",
    "keep_unflagged",
]
