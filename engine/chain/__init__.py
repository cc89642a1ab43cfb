"""One pipeline over the same inputs: dedup -> substr -> flag (any subset, in that
order), one cleaned corpus in the input's own format (``ouroboros run PIPELINE.yaml``).

Modules: ``files`` (YAML/TOML config files, also behind every command's ``--config``),
``config`` (the pipeline's keys, validated), ``steps`` (one step run or reused),
``corpus`` (the flag step's filtered copy, ``OUT/corpus/``) and ``pipeline``
(:func:`run_pipeline`).
"""

from engine.chain.pipeline import PipelineResult, run_pipeline

__all__ = ["PipelineResult", "run_pipeline"]
