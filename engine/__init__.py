"""Ouroboros: near-duplicates, repeated substrings and model-output provenance at scale.

Public API::

    engine.dedup(inputs, out=None, **params) -> DedupResult
    engine.minhash(texts, num_perm=128, ngram=5, shingle="word", seed=42, backend="auto")

Names are imported on first use, so ``import engine`` stays cheap.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "minhash": "engine.api",
    "dedup": "engine.dedup",
    "DedupResult": "engine.dedup",
    "DedupParams": "engine.params",
    "optimal_bands_rows": "engine.params",
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
