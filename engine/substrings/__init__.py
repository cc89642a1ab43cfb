"""Exact repeated substrings: suffix arrays over shards of the corpus, exact across
shards, byte ranges of later copies to cut (``pipeline.py`` lists the stages)."""
