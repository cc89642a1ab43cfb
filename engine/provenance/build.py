"""``reference build`` / ``add`` / ``add-human``: reference files into a
:class:`ReferenceIndex` folder, with its ``summary.json``."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from engine.io import (
    InputPart,
    ReadReport,
    input_paths,
    iter_jsonl_lines,
    parse_size,
    plan_parts,
    read_part,
)
from engine.provenance.params import IndexParams
from engine.provenance.reference import ReferenceIndex
from engine.run.atomic import write_json_atomic
from engine.run.output import WORK, Claim, claim_existing, claim_output
from engine.run.scheduling import default_workers, partition_rule
from engine.run.summary import rounded, versions

log = logging.getLogger("ouroboros")

OPTIONAL_REFERENCE_COLUMNS = ("dataset", "date", "prompt", "conversation")
_METADATA_KEYS = ("models", "datasets", "dates", "prompts", "conversations")


def _as_list(inputs) -> list:
    return input_paths(inputs)


def _present_columns(part: InputPart) -> list[str] | None:
    """Column names of a JSONL (first object) or Parquet part; None when unknown."""
    try:
        if part.fmt == "parquet":
            return list(pq.read_schema(part.path).names)
        if part.fmt == "jsonl":
            for _, raw in iter_jsonl_lines(part):
                if raw.strip():
                    obj = json.loads(raw)
                    return list(obj) if isinstance(obj, dict) else None
    except (OSError, ValueError, pa.ArrowInvalid):
        return None
    return None


def _wanted_columns(part: InputPart, text_column, id_column, model_column) -> dict[str, str]:
    """Metadata key (``models``, ``datasets``, ...) -> column name to read in ``part``."""
    present = _present_columns(part) or []
    wanted: dict[str, str] = {}
    if model_column is not None:
        wanted["models"] = model_column
    elif "model" in present:
        wanted["models"] = "model"
    for name in OPTIONAL_REFERENCE_COLUMNS:
        if name in present and name not in (text_column, id_column):
            wanted[name + "s"] = name
    return wanted


def read_reference_files(
    inputs,
    *,
    text_column: str = "text",
    id_column: str | None = "id",
    model_column: str | None = None,
    partition_size: str | int = "auto",
    strict: bool = False,
) -> tuple[dict, ReadReport]:
    """Read reference files into columns for :meth:`ReferenceIndex.build` / ``add``.

    ``model_column`` (and ``dataset``/``date`` when present) are read as metadata; a
    ``model_column`` that is given but absent is an error naming the columns present.
    Without ``model_column``, a column named ``model`` is used when present.

    Returns:
        ``({"texts", "ids", "models", "datasets", "dates", "prompts", "conversations"},
        read report)``: lists of n strings (None where absent; optional columns
        ``prompt``: the text each output replied to; ``conversation``: its chat
        session).
    """
    parts, report = _planned(inputs, partition_size)
    return _read_reference_parts(
        parts,
        report,
        text_column=text_column,
        id_column=id_column,
        model_column=model_column,
        strict=strict,
    )


def _planned(inputs, partition_size: str | int) -> tuple[list[InputPart], ReadReport]:
    """The parts of ``inputs`` (``partition_size`` bytes each) and the plan's report;
    raises for a missing input, before anything is read or written."""
    report = ReadReport()
    size = partition_rule(partition_size, default_workers(), parse_size)
    parts = plan_parts(_as_list(inputs), size, report)
    return parts, report


def _read_reference_parts(
    parts: list[InputPart],
    report: ReadReport,
    *,
    text_column: str,
    id_column: str | None,
    model_column: str | None,
    strict: bool,
) -> tuple[dict, ReadReport]:
    """:func:`read_reference_files` of planned ``parts`` (skips counted in ``report``)."""
    columns: dict[str, list] = {k: [] for k in ("texts", "ids", *_METADATA_KEYS)}
    for part in parts:
        wanted = _wanted_columns(part, text_column, id_column, model_column)
        extra = [c for c in dict.fromkeys(wanted.values()) if c not in ("doc_id", "text", "row")]
        for table in read_part(
            part,
            text_column=text_column,
            id_column=id_column,
            columns=extra,
            strict=strict,
            report=report,
        ):
            columns["texts"].extend(table.column("text").to_pylist())
            columns["ids"].extend(table.column("doc_id").to_pylist())
            for key in _METADATA_KEYS:
                name = wanted.get(key)
                if name is not None and name in table.column_names:
                    columns[key].extend(table.column(name).to_pylist())
                else:
                    columns[key].extend([None] * table.num_rows)
    return columns, report


def read_human_files(
    inputs, *, text_column: str = "text", partition_size: str | int = "auto", strict=False
) -> tuple[list[str], ReadReport]:
    """Texts of known human-written files (any input format), with the read report."""
    parts, report = _planned(inputs, partition_size)
    return _read_human_parts(parts, report, text_column=text_column, strict=strict)


def _read_human_parts(
    parts: list[InputPart], report: ReadReport, *, text_column: str, strict: bool
) -> tuple[list[str], ReadReport]:
    """:func:`read_human_files` of planned ``parts`` (skips counted in ``report``)."""
    texts: list[str] = []
    for part in parts:
        for table in read_part(
            part, text_column=text_column, id_column=None, strict=strict, report=report
        ):
            texts.extend(table.column("text").to_pylist())
    return texts, report


def _folder_bytes(folder) -> int:
    """Bytes of the index files in ``folder`` (its claim under ``_work/`` aside)."""
    root = Path(folder)
    return sum(
        f.stat().st_size
        for f in root.rglob("*")
        if f.is_file() and f.relative_to(root).parts[0] != WORK
    )


def _claim_index(refdir, command: str) -> Claim:
    """Lock the index folder ``refdir`` for ``command`` (``reference add`` or
    ``add-human``); refuse a folder that ``reference build`` did not make."""
    return claim_existing(refdir, command, "reference build", "index.json", "reference index")


def add_human_text(
    refdir,
    inputs,
    *,
    text_column: str = "text",
    partition_size: str | int = "auto",
    strict: bool = False,
) -> dict:
    """``reference add-human``: add known human-written text to the index in ``refdir``.

    Returns (and writes to ``refdir/summary.json``) the counts and read report.
    """
    started = time.perf_counter()
    inputs = _as_list(inputs)
    with _claim_index(refdir, "reference add-human"):
        index = ReferenceIndex.load(refdir)
        texts, report = read_human_files(
            inputs, text_column=text_column, partition_size=partition_size, strict=strict
        )
        if not texts:
            raise ValueError(
                f"no text could be read from {list(map(str, inputs))} "
                f"(skipped: {report.skipped}); check the files and --text-column"
            )
        call = index.add_human(texts)
        index.save(refdir)
        summary = _human_summary(refdir, inputs, text_column, index, call, report, started)
        write_json_atomic(Path(refdir) / "summary.json", summary)
    return summary


def _human_summary(refdir, inputs, text_column, index, call, report, started) -> dict:
    """The ``summary.json`` of ``reference add-human``."""
    return {
        "command": "reference add-human",
        "inputs": [str(p) for p in inputs],
        "parameters": {"text_column": text_column, "index": index.params.to_dict()},
        "counts": {**call, "n_refs": index.n_refs, "index_bytes": _folder_bytes(refdir)},
        "read": report.to_dict(),
        "timings_s": rounded({"total": time.perf_counter() - started}),
        "versions": versions(),
    }


def build_reference(
    inputs,
    out,
    *,
    text_column: str = "text",
    id_column: str | None = "id",
    model_column: str | None = None,
    partition_size: str | int = "auto",
    strict: bool = False,
    backend: str = "auto",
    add: bool = False,
    human=None,
    **index_params,
) -> tuple[ReferenceIndex, dict]:
    """``reference build`` (``add=False``) or ``reference add`` (``add=True``) over files.

    ``human``: optional paths of known human-written text (JSONL/Parquet/text files,
    ``text_column``), added with :meth:`ReferenceIndex.add_human`. ``index_params``:
    :class:`IndexParams` fields (``build`` only).

    Writes the index to ``out`` and ``out/summary.json`` (the last operation's
    parameters, counts incl. duplicate ids and empty texts, read report, timings).
    """
    inputs = _as_list(inputs)
    started = time.perf_counter()
    if not add:
        _refuse_existing_index(out)
    # inputs are planned before the index folder is created or claimed: a missing
    # input leaves no folder behind
    parts, report = _planned(inputs, partition_size)
    human_plan = _planned(human, partition_size) if human else None
    if add:
        claim = _claim_index(out, "reference add")
    else:
        claim = claim_output(out, "reference build", inputs)
    with claim:
        columns, report = _read_reference_parts(
            parts,
            report,
            text_column=text_column,
            id_column=id_column,
            model_column=model_column,
            strict=strict,
        )
        timings = {"read": time.perf_counter() - started}
        return _build(
            inputs,
            out,
            columns,
            report,
            human_plan,
            timings,
            text_column=text_column,
            id_column=id_column,
            model_column=model_column,
            strict=strict,
            backend=backend,
            add=add,
            index_params=index_params,
        )


def _refuse_existing_index(out) -> None:
    """``reference build`` never overwrites an index: it is extended with ``add``."""
    if (Path(out) / "index.json").exists():
        raise ValueError(
            f"{out} already holds a reference index; use `ouroboros reference add "
            f"{out} INPUT...` to extend it, or choose another --out"
        )


def _build(
    inputs: list,
    out,
    columns: dict,
    report: ReadReport,
    human_plan: tuple[list[InputPart], ReadReport] | None,
    timings: dict[str, float],
    *,
    text_column: str,
    id_column: str | None,
    model_column: str | None,
    strict: bool,
    backend: str,
    add: bool,
    index_params: dict,
) -> tuple[ReferenceIndex, dict]:
    """The rest of :func:`build_reference` once ``out`` is claimed and the references
    read into ``columns``: index (and ``human_plan``'s text), save, summary."""
    started = time.perf_counter()
    index, call = _indexed(columns, out, add, backend, index_params)
    if human_plan is not None:
        human_texts, human_report = _read_human_parts(
            *human_plan, text_column=text_column, strict=strict
        )
        call = {**call, **index.add_human(human_texts)}
        call["human_skipped"] = human_report.to_dict().get("skipped", {})
    timings["index"] = time.perf_counter() - started
    if index.n_refs == 0:
        raise ValueError(
            f"no reference documents could be read from {list(map(str, inputs))} "
            f"(skipped: {report.skipped}); check the files and --text-column"
        )

    started = time.perf_counter()
    index.save(out)
    counts = {
        "documents_read": len(columns["texts"]),
        "with_conversation": sum(1 for c in columns["conversations"] if c),
        "with_prompt": sum(1 for c in columns["prompts"] if c),
        **call,
        "n_refs": index.n_refs,
        "index_bytes": _folder_bytes(out),
    }
    summary = {
        "command": "reference add" if add else "reference build",
        "inputs": [str(p) for p in inputs],
        "parameters": {
            "text_column": text_column,
            "id_column": id_column,
            "model_column": model_column,
            "index": index.params.to_dict(),
        },
        "counts": counts,
        "read": report.to_dict(),
        "timings_s": rounded({**timings, "write": time.perf_counter() - started}),
        "versions": versions(),
    }
    write_json_atomic(Path(out) / "summary.json", summary)
    _warn_about(columns, call, add)
    return index, summary


def _indexed(columns: dict, out, add: bool, backend: str, index_params: dict):
    """``(index, report)``: the index at ``out`` with the references added (``add``),
    or a new index of them."""
    texts, ids = columns["texts"], columns["ids"]
    metadata = {
        "models": columns["models"],
        "datasets": columns["datasets"],
        "dates": columns["dates"],
        "prompts": columns["prompts"] if any(columns["prompts"]) else None,
        "conversations": columns["conversations"],
    }
    if add:
        if index_params:
            raise ValueError(
                "index parameters are fixed when the index is built; `reference add` "
                f"takes none (got {sorted(index_params)})"
            )
        index = ReferenceIndex.load(out)
        return index, index.add(texts, ids, **metadata, backend=backend)
    _refuse_existing_index(out)
    params = IndexParams(**index_params)
    index = ReferenceIndex.build(texts, ids, **metadata, params=params, backend=backend)
    return index, index.last_report


def _warn_about(columns: dict, call: dict, add: bool) -> None:
    """Log what the references lack for full recall, and repeated ids."""
    if not add and not any(columns["conversations"]):
        log.warning(
            "the references have no 'conversation' column: outputs of one chat session "
            "then count as independent, and text they repeat to each other is treated "
            "as shared phrasing (not evidence); give multi-turn chat logs a conversation "
            "column (and a prompt column) for full recall, or build with "
            "--family-min-shared 8"
        )
    if call.get("duplicate_ids"):
        log.warning(
            "%d reference ids occur more than once; the first of each was kept",
            call["duplicate_ids"],
        )
