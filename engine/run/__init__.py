"""Machinery every pipeline shares: the Dask runner, the output-folder claim, atomic
writes, task fingerprints and reuse, summaries, progress and memory figures."""
