"""A pipeline's configuration: what ``ouroboros run PIPELINE.yaml`` reads, validated.

Keys (dashes or underscores alike)::

    inputs: [crawl/part-0.jsonl.gz, ...]   # paths, folders or URLs, as for every command
    out: cleaned/                          # the pipeline's output folder
    text_column: text                      # shared read and scheduling options (optional)
    id_column: null
    backend: auto
    scheduler: local
    workers: null
    partition_size: 256MB
    strict: false
    quiet: false
    dedup: {threshold: 0.8, keep: first}   # one mapping per step, in this order;
    substr: {min_span: 200}                # an empty mapping (or nothing) runs the
    flag: {reference: refs/, drop_flagged: true}   # step with its defaults

A step's mapping takes the options of its command (``ouroboros dedup``, ``substr``,
``flag``) under their flag names, and the shared options above to change them for that
step only. ``inputs``, ``out`` and ``write_deduped`` are the pipeline's to set. The flag
step also takes ``drop_flagged``: ``true`` drops every flagged document from the corpus,
a list of labels drops those; without it the flags only annotate (``flag/flags.parquet``).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from engine.chain.files import normalize_keys

STEP_ORDER = ("dedup", "substr", "flag")
SHARED_KEYS = (
    "text_column",
    "id_column",
    "backend",
    "scheduler",
    "workers",
    "partition_size",
    "strict",
    "html_text",
)
TOP_LEVEL_KEYS = ("inputs", "out", *SHARED_KEYS, "quiet", *STEP_ORDER)
#: keys the pipeline sets itself for every step
PIPELINE_SET = ("inputs", "out", "write_deduped", "progress", "runner", "quiet")


@dataclass(frozen=True)
class StepSpec:
    """One step of a pipeline.

    Attributes:
        name: ``"dedup"``, ``"substr"`` or ``"flag"``.
        options: keyword arguments of the step's API function (shared options merged
            in, the step's own winning), without inputs, out and write_deduped.
        drop_labels: flag step only: the labels whose documents leave the corpus
            (empty: the flags only annotate).
    """

    name: str
    options: dict
    drop_labels: tuple[str, ...] = ()

    @property
    def writes_corpus(self) -> bool:
        """Whether this step writes a corpus (``deduped/``) for the next step."""
        return self.name != "flag" or bool(self.drop_labels)


@dataclass(frozen=True)
class PipelineConfig:
    """A validated pipeline: its inputs (as given), output folder and steps in order."""

    inputs: list[str]
    out: str
    steps: tuple[StepSpec, ...]
    quiet: bool = False

    def to_dict(self) -> dict:
        """The configuration as ``summary.json`` records it."""
        steps = {}
        for step in self.steps:
            steps[step.name] = dict(step.options)
            if step.name == "flag":
                steps[step.name]["drop_labels"] = list(step.drop_labels)
        return {"inputs": self.inputs, "out": self.out, "steps": steps}


def parse_pipeline(raw: Mapping, source: str = "pipeline config") -> PipelineConfig:
    """Validate a pipeline mapping (from a file or a dict) into a :class:`PipelineConfig`.

    ``source`` names the file in messages.

    Raises:
        ValueError: an unknown key (named, with the keys allowed there), no step,
            steps out of order, a missing ``inputs``/``out``/flag ``reference``, or
            a value of the wrong kind.
    """
    if not isinstance(raw, Mapping):
        raise TypeError(f"a pipeline config is a mapping, got {type(raw).__name__}")
    values = normalize_keys(raw, source)
    unknown = [key for key in values if key not in TOP_LEVEL_KEYS]
    if unknown:
        raise ValueError(
            f"{source}: unknown key {unknown[0]!r}; the top level takes "
            f"{', '.join(TOP_LEVEL_KEYS)} (steps: {', '.join(STEP_ORDER)})"
        )
    names = [key for key in values if key in STEP_ORDER]
    if not names:
        raise ValueError(f"{source}: no step; add one or more of {', '.join(STEP_ORDER)}")
    ordered = sorted(names, key=STEP_ORDER.index)
    if names != ordered:
        raise ValueError(
            f"{source}: steps run in the order {' -> '.join(STEP_ORDER)}; the config lists "
            f"{', '.join(names)}: write them as {', '.join(ordered)}"
        )
    inputs = _inputs(values.get("inputs"), source)
    out = values.get("out")
    if not isinstance(out, (str, os.PathLike)) or not str(out):
        raise ValueError(f"{source}: 'out' must name the pipeline's output folder, got {out!r}")
    shared = {key: values[key] for key in SHARED_KEYS if key in values}
    steps = tuple(_step(name, values[name], shared, source) for name in names)
    quiet = values.get("quiet", False)
    if not isinstance(quiet, bool):
        raise ValueError(f"{source}: 'quiet' must be true or false, got {quiet!r}")
    return PipelineConfig(inputs=inputs, out=os.fspath(out), steps=steps, quiet=quiet)


def _inputs(value, source: str) -> list[str]:
    if isinstance(value, (str, os.PathLike)):
        value = [value]
    if (
        not isinstance(value, (list, tuple))
        or not value
        or not all(isinstance(v, (str, os.PathLike)) and str(v) for v in value)
    ):
        raise ValueError(
            f"{source}: 'inputs' must be a path or a list of paths (files, folders or "
            f"URLs), got {value!r}"
        )
    return [os.fspath(v) for v in value]


def _step(name: str, value, shared: dict, source: str) -> StepSpec:
    where = f"{source}: step '{name}'"
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ValueError(
            f"{where} must be a mapping of its options (or empty), got {type(value).__name__}"
        )
    own = normalize_keys(value, where)
    allowed = step_keys(name)
    for key in own:
        if key in PIPELINE_SET:
            raise ValueError(f"{where}: {key!r} is set by the pipeline; remove it")
        if key not in allowed:
            raise ValueError(
                f"{where}: unknown key {key!r}; this step takes {', '.join(sorted(allowed))}"
            )
    options = {**shared, **own}
    drop_labels: tuple[str, ...] = ()
    if name == "flag":
        drop_labels = _drop_labels(options.pop("drop_flagged", False), where)
        if "no_minhash" in options:
            if "minhash" in options:
                raise ValueError(f"{where}: give 'minhash' or 'no_minhash', not both")
            options["minhash"] = not options.pop("no_minhash")
        if not options.get("reference"):
            raise ValueError(
                f"{where}: 'reference' is required (an index from `ouroboros reference build`)"
            )
    _check_params(name, options, where)
    return StepSpec(name=name, options=options, drop_labels=drop_labels)


def _drop_labels(value, where: str) -> tuple[str, ...]:
    """``drop_flagged``: false/none -> (), true -> every flagged label, a label or a
    list of labels -> those."""
    from engine.provenance import LABELS

    flagged = tuple(label for label in LABELS if label != "none")
    if value is None or value is False:
        return ()
    if value is True:
        return flagged
    labels = [value] if isinstance(value, str) else value
    if not isinstance(labels, (list, tuple)) or not labels:
        raise ValueError(
            f"{where}: 'drop_flagged' must be true, false or a list of labels out of "
            f"{', '.join(flagged)}; got {value!r}"
        )
    for label in labels:
        if label not in flagged:
            raise ValueError(
                f"{where}: 'drop_flagged' holds {label!r}, not a flag label; use some of "
                f"{', '.join(flagged)}"
            )
    return tuple(label for label in flagged if label in labels)  # strongest first


def step_keys(name: str) -> frozenset[str]:
    """Every option a step's mapping may hold: the keyword arguments of its API
    function and the fields of its parameter dataclass (the names of its CLI flags),
    less what the pipeline sets; the flag step adds ``no_minhash`` (the CLI's
    spelling) and ``drop_flagged``."""
    func, params_class, extra = _step_api(name)
    signature = inspect.signature(func).parameters.values()
    keys = {p.name for p in signature if p.kind is inspect.Parameter.KEYWORD_ONLY}
    if params_class is not None:
        keys |= {f.name for f in fields(params_class) if not f.name.startswith("_")}
    return frozenset((keys | set(extra)) - set(PIPELINE_SET))


def step_function(name: str):
    """The API function that runs step ``name`` over files."""
    return _step_api(name)[0]


def _step_api(name: str):
    if name == "dedup":
        from engine.neardup.params import DedupParams
        from engine.neardup.pipeline import dedup

        return dedup, DedupParams, ()
    if name == "substr":
        from engine.substrings.pipeline import substr

        return substr, None, ()
    if name == "flag":
        from engine.provenance import ProvenanceParams, flag

        return flag, ProvenanceParams, ("no_minhash", "drop_flagged")
    raise ValueError(f"unknown step {name!r}; steps are {', '.join(STEP_ORDER)}")


def _check_params(name: str, options: dict, where: str) -> None:
    """Build the step's parameter dataclass now, so that a bad value stops the pipeline
    before any step runs (the API checks the rest when the step starts)."""
    _, params_class, _ = _step_api(name)
    if params_class is None:
        return
    names = {f.name for f in fields(params_class) if not f.name.startswith("_")}
    try:
        params_class(**{k: v for k, v in options.items() if k in names})
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: {err}") from err
