"""Saying so when a stage will wait for kernels to compile.

The CPU kernels are compiled by Numba on first use and cached on disk (``cache=True``):
the first run on a machine (or after an upgrade) spends tens of seconds compiling
before its first stage makes progress. :func:`notice_compilation` logs a line before
such a stage ("compiling kernels, once per machine") so the pause is explained; runs
with a warm cache print nothing.
"""

from __future__ import annotations

import importlib
import logging
import os

log = logging.getLogger("ouroboros")

#: stage name -> the kernel modules its tasks compile.
STAGE_KERNELS = {
    "signatures": ("shingle", "minhash", "hashing"),
    "shuffle": ("lsh",),
    "edges": ("lsh",),
    "spans": ("suffix_array", "lcp", "spans", "winnow"),
    "flag": ("normalize", "seeds", "chains", "postings"),
}

_noticed: set[str] = set()


def uncached_kernels(modules: tuple[str, ...]) -> list[str]:
    """``module.function`` names of the disk-cached CPU kernels in ``kernels.<module>``
    that have no cache index on this machine yet (inlined helpers are not counted:
    they compile into their callers)."""
    missing = []
    for name in modules:
        module = importlib.import_module(f"kernels.{name}")
        for attr, obj in vars(module).items():
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            index = getattr(
                getattr(getattr(obj, "_cache", None), "_cache_file", None), "_index_path", None
            )
            if not index or getattr(obj, "targetoptions", {}).get("inline") == "always":
                continue
            if not os.path.exists(index):
                missing.append(f"{name}.{attr}")
    return missing


def notice_compilation(stage: str) -> list[str]:
    """Log once per process and stage when ``stage``'s kernels are not compiled yet;
    returns the uncached kernels (empty: nothing to say)."""
    if stage in _noticed or stage not in STAGE_KERNELS:
        return []
    _noticed.add(stage)
    try:
        missing = uncached_kernels(STAGE_KERNELS[stage])
    except Exception:  # a check that fails must never fail the run
        return []
    if missing:
        log.info(
            "%s: compiling %d kernels on first use, once per machine (cached on disk for "
            "later runs); this stage waits for it",
            stage,
            len(missing),
        )
    return missing
