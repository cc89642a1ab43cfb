"""Ouroboros: near-duplicates, repeated substrings and model-output provenance at scale.

Public API::

    engine.dedup(inputs, out=None, **params) -> DedupResult
    engine.minhash(texts, num_perm=128, ngram=5, shingle="word", seed=42, backend="auto")
    engine.suffix_array(data, backend="auto") -> int64 array
    engine.repeated_spans(texts, min_span=100, keep="first", reference=None) -> pyarrow.Table
    engine.substr(inputs, out=None, min_span=100, ...) -> SubstrResult
    engine.ReferenceIndex.build(texts, ids) / .save(path) / .load(path) / .add / .match(texts)
    engine.build_reference(inputs, out, ...) -> (ReferenceIndex, summary)
    engine.flag(inputs, out=None, reference=REFDIR, ...) -> FlagResult
    engine.run_pipeline("pipeline.yaml" or a mapping) -> PipelineResult

Names are imported on first use, so ``import engine`` stays cheap.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "minhash": "engine.neardup.signatures",
    "dedup": "engine.neardup.pipeline",
    "DedupResult": "engine.neardup.result",
    "DedupParams": "engine.neardup.params",
    "optimal_bands_rows": "engine.neardup.params",
    "repeated_spans": "engine.substrings.spans",
    "remove_spans": "engine.substrings.spans",
    "substr": "engine.substrings.pipeline",
    "SubstrResult": "engine.substrings.pipeline",
    "suffix_array": "kernels.suffix_array",
    "lcp_array": "kernels.lcp",
    "ReferenceIndex": "engine.provenance",
    "build_reference": "engine.provenance",
    "add_human_text": "engine.provenance",
    "flag": "engine.provenance",
    "FlagResult": "engine.provenance",
    "ProvenanceParams": "engine.provenance",
    "run_pipeline": "engine.chain",
    "PipelineResult": "engine.chain",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
