"""Near-duplicate documents: MinHash signatures, LSH shuffle, verified edges,
connected components, one kept document per cluster (``pipeline.py`` lists the stages)."""
