"""``ouroboros run PIPELINE.yaml``: dedup -> substr -> flag over the same inputs, one
cleaned corpus.

Stages, in the order :func:`run_pipeline` runs them:

1. **config** (:mod:`engine.chain.config`): the file or mapping, validated before
   anything runs (unknown keys, unknown steps and steps out of order are errors that
   name the key).
2. **claim**: the pipeline's output folder is claimed as ``run`` on the inputs
   (:func:`engine.run.output.claim_output`): another pipeline's folder, or one in use,
   is refused.
3. **steps** (:mod:`engine.chain.steps`), in order, each into its own folder
   (``OUT/dedup``, ``OUT/substr``, ``OUT/flag``): the first reads the config's
   inputs, each later one the previous step's corpus (``OUT/<step>/deduped/``, in the
   input's own format and compression, every column kept). A finished step with the
   same options and the same upstream is reused without running; an interrupted one
   resumes through its own machinery.
4. **corpus** (:func:`engine.chain.corpus.link_corpus`): the last corpus-writing
   step's files in ``OUT/corpus/``. The flag step only annotates (``OUT/flag/
   flags.parquet``) unless its ``drop_flagged`` is set: then the documents with those
   labels leave the corpus. A pipeline of a flag step alone, annotating, has no corpus.
5. **summary**: ``OUT/summary.json``, written last: each step's record (documents
   and bytes in and out, dropped documents by reason, seconds, reused or not), the
   corpus path and totals.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.chain.config import PipelineConfig, parse_pipeline
from engine.chain.corpus import corpus_files, link_corpus
from engine.chain.files import load_config_file
from engine.chain.steps import inputs_fingerprint, run_step
from engine.io import input_paths
from engine.run.atomic import write_json_atomic
from engine.run.output import claim_output
from engine.run.summary import versions

log = logging.getLogger("ouroboros")


@dataclass
class PipelineResult:
    """What :func:`run_pipeline` returns.

    Attributes:
        summary: the ``summary.json`` content.
        out: the pipeline's output folder (absolute).
        corpus: ``out/corpus``, the cleaned corpus; None for a pipeline that writes
            none (a flag step alone, without ``drop_flagged``).
    """

    summary: dict
    out: Path
    corpus: Path | None

    @property
    def steps(self) -> dict[str, dict]:
        """Each step's record by step name (see :func:`engine.chain.steps.step_record`)."""
        return {record["step"]: record for record in self.summary["steps"]}


def run_pipeline(
    config: str | os.PathLike | Mapping, *, progress: bool | None = None, **overrides
) -> PipelineResult:
    """Run the steps of a pipeline config in order and write one cleaned corpus.

    Args:
        config: a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file, or a mapping
            with the same keys (see :mod:`engine.chain.config`).
        progress: progress bars on stderr; default: unless the config says
            ``quiet: true``.
        **overrides: top-level keys that replace the config's (``out``, ``scheduler``,
            ``workers``, ``backend``, ...), as the command line's flags do.

    Example:
        >>> result = engine.run_pipeline("pipeline.yaml")  # doctest: +SKIP
        >>> result.corpus, result.steps["substr"]["documents_out"]  # doctest: +SKIP
    """
    source = "pipeline config"
    if isinstance(config, (str, os.PathLike)):
        source = os.fspath(config)
        raw = load_config_file(config)
    elif isinstance(config, Mapping):
        raw = dict(config)
    else:
        raise TypeError(
            f"config must be a path to a YAML/TOML file or a mapping, got {type(config).__name__}"
        )
    raw.update({key: value for key, value in overrides.items() if value is not None})
    pipeline = parse_pipeline(raw, source)
    show = (not pipeline.quiet) if progress is None else progress
    inputs = input_paths(pipeline.inputs)
    if "://" in pipeline.out:
        raise ValueError(
            f"{source}: 'out' must be a local folder (the steps read each other's corpus "
            f"from it), got {pipeline.out!r}; copy OUT/corpus to remote storage afterwards"
        )
    out_dir = Path(os.path.abspath(pipeline.out))
    with claim_output(out_dir, "run", inputs):
        return _run_steps(pipeline, inputs, out_dir, show)


def _run_steps(pipeline: PipelineConfig, inputs: list[str], out_dir: Path, show: bool):
    """Stages 3-5 in the claimed ``out_dir``."""
    started = time.perf_counter()
    upstream = inputs_fingerprint(inputs)
    step_inputs = inputs
    records: list[dict] = []
    corpus_source: Path | None = None
    writing_steps = 0
    for i, spec in enumerate(pipeline.steps):
        record, upstream = run_step(spec, step_inputs, out_dir, upstream, show)
        records.append(record)
        if record["corpus"] is None:
            continue
        writing_steps += 1
        corpus_source = Path(record["corpus"])
        step_inputs = [record["corpus"]]
        following = pipeline.steps[i + 1 :]
        if following and not record["files"]:
            raise ValueError(
                f"step {spec.name} left no document ({record['documents_in']} read, "
                f"dropped: {record['dropped']}); nothing for step {following[0].name}"
            )
    corpus = link_corpus(out_dir, corpus_source, writing_steps)
    summary = _summary(pipeline, inputs, out_dir, records, corpus, time.perf_counter() - started)
    write_json_atomic(out_dir / "summary.json", summary)
    _log(summary)
    return PipelineResult(summary, out_dir, corpus)


def _summary(pipeline, inputs, out_dir, records, corpus, seconds) -> dict:
    writers = [r for r in records if r["corpus"] is not None]
    files = corpus_files(corpus) if corpus is not None else []
    corpus_entry = None
    if corpus is not None:
        corpus_entry = {
            "path": str(corpus),
            "files": [f.name for f in files],
            "documents": writers[-1]["documents_out"],
            "file_bytes": int(sum(f.stat().st_size for f in files)),
        }
    return {
        "command": "run",
        "inputs": inputs,
        "out": str(out_dir),
        "config": pipeline.to_dict(),
        "steps": records,
        "steps_reused": [r["step"] for r in records if r["reused"]],
        "counts": {
            "documents_in": records[0]["documents_in"],
            "documents_out": records[-1]["documents_out"],
            "dropped": {r["step"]: r["dropped"] for r in records},
        },
        "corpus": corpus_entry,
        "timings_s": {
            **{r["step"]: r["seconds"] for r in records},
            "total": round(seconds, 4),
        },
        "versions": versions(),
    }


def _log(summary: dict) -> None:
    for record in summary["steps"]:
        log.info(
            "step %s%s: %d documents in, %d out (dropped: %s)",
            record["step"],
            " (reused)" if record["reused"] else "",
            record["documents_in"],
            record["documents_out"],
            record["dropped"],
        )
    corpus = summary["corpus"]
    log.info("corpus: %s", "none (flags only annotate)" if corpus is None else corpus["path"])
