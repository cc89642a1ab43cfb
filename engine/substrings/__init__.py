"""Exact repeated substrings: suffix arrays over shards of the corpus, exact across
shards, byte ranges of later copies to cut (``pipeline.py`` lists the stages).

Modules: ``spans`` (the in-memory API: ``repeated_spans``, ``remove_spans``; its
compiled half is :mod:`kernels.spans`), ``options``, ``single_shard``, ``cross_shard``
with ``fingerprints`` (its stages 1-2), ``deduped`` (texts with their spans cut out)
and ``pipeline`` (``substr`` over files).
"""
