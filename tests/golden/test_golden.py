"""Golden outputs: every command on the bundled sample and a small generated corpus.

Each output table is reduced to a SHA-256 of its schema and its values in row order
(``table_digest``); the digests live in ``expected.json`` beside this file. A change
that moves code without changing behaviour leaves every digest as it is. A change
that is meant to alter results regenerates the file on purpose::

    OUROBOROS_UPDATE_GOLDEN=1 python -m pytest tests/golden

and the diff of ``expected.json`` shows which outputs moved.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from engine.cli import main

HERE = Path(__file__).parent
EXPECTED = HERE / "expected.json"
SAMPLE = HERE.parents[1] / "sample" / "docs.jsonl.gz"
RUN = ["--scheduler", "threads", "--workers", "2", "--backend", "cpu", "-q"]

WORDS = (
    "harbor lantern quiet meadow signal copper orchard velvet summit river basket thunder "
    "canvas pebble marble violet saddle lemon falcon garden timber candle mirror silver "
    "glacier ember willow cobalt prairie beacon"
).split()


def table_digest(table: pa.Table) -> str:
    """SHA-256 of a table's schema (names, types) and its values, row order included."""
    h = hashlib.sha256()
    h.update(str([(f.name, str(f.type)) for f in table.schema]).encode())
    for name in table.column_names:
        values = table.column(name).to_pylist()
        h.update(json.dumps(values, sort_keys=True, default=str).encode())
    return h.hexdigest()


def array_digest(array: np.ndarray) -> str:
    h = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def folder_digests(folder: Path) -> dict[str, str]:
    """Digests of every Parquet, .npy and data file under ``folder`` (work files and
    summaries aside), keyed by relative path."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if not path.is_file() or "_work/" in f"/{rel}" or "/." in f"/{rel}":
            continue
        if path.suffix == ".parquet":
            out[rel] = table_digest(pq.read_table(path))
        elif path.suffix == ".npy":
            out[rel] = array_digest(np.load(path))
        elif path.name.endswith((".jsonl", ".jsonl.gz")):
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gzip.decompress(data)
            out[rel] = hashlib.sha256(data).hexdigest()
    return out


def _stable(value):
    """``value`` without timings and memory figures, which differ from run to run."""
    if isinstance(value, dict):
        return {
            k: _stable(v)
            for k, v in value.items()
            if "timings" not in k and "rss" not in k and k != "problems"
        }
    return value


def _summary_counts(folder: Path) -> dict:
    summary = json.loads((folder / "summary.json").read_text())
    return _stable({"counts": summary.get("counts", {}), "read": summary.get("read", {})})


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) + str(rng.randrange(50)) for _ in range(n))


def _corpus(folder: Path) -> dict[str, Path]:
    """A small corpus with near-duplicates, shared passages, dates and model outputs,
    plus two reference files and known human text."""
    rng = random.Random(7)
    outputs = [
        "Certainly! Here is a step by step explanation of " + _words(rng, 60) + "."
        for _ in range(6)
    ]
    boiler = "Cookie notice: " + _words(rng, 40) + "."
    licence = "Permission is hereby granted, free of charge, " + _words(rng, 30) + "."
    docs = []
    for i in range(60):
        body = _words(rng, rng.randrange(30, 160))
        if i % 7 == 0:
            body = body + "\n\n" + outputs[i % len(outputs)]
        if i % 5 == 0:
            body = boiler + "\n" + body
        if i % 11 == 0:
            body = body + "\n" + licence
        docs.append(body)
    for i in range(0, 60, 6):  # near-duplicate copies with light edits
        words = docs[i].split(" ")
        for _ in range(max(1, len(words) // 40)):
            words[rng.randrange(len(words))] = rng.choice(WORDS)
        docs.append(" ".join(words))
    docs.append(outputs[0])  # a verbatim copy
    docs.append("")  # empty text
    records = []
    for i, text in enumerate(docs):
        record = {"id": f"g{i:04d}", "text": text}
        if i % 4 != 3:
            record["date"] = f"20{10 + i % 13:02d}-0{1 + i % 9}-1{i % 10}T00:00:00Z"
        records.append(record)
    lines = [json.dumps(r) for r in records]
    lines.insert(17, "{not json")  # a malformed line, counted and skipped
    corpus = folder / "gen.jsonl"
    corpus.write_text("\n".join(lines) + "\n")
    refs = folder / "refs.jsonl"
    refs.write_text(
        "".join(
            json.dumps({"id": f"r{i}", "text": t, "model": "m1" if i % 2 else "m2"}) + "\n"
            for i, t in enumerate(outputs[:4])
        )
    )
    more = folder / "refs_more.jsonl"
    more.write_text(
        "".join(
            json.dumps({"id": f"r{i}", "text": t, "model": "m3"}) + "\n"
            for i, t in enumerate(outputs)
            if i >= 3
        )
    )
    human = folder / "human.jsonl"
    human.write_text(json.dumps({"text": licence + " " + _words(rng, 20)}) + "\n")
    return {"corpus": corpus, "refs": refs, "refs_more": more, "human": human}


def _invoke(args: list[str]) -> None:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _run_all(tmp: Path) -> dict:
    """Every command, run inside ``tmp`` on relative paths (doc ids hold the path)."""
    files = {k: v.relative_to(tmp) for k, v in _corpus(tmp).items()}
    (tmp / SAMPLE.name).write_bytes(SAMPLE.read_bytes())
    inputs = [SAMPLE.name, str(files["corpus"])]
    ref = Path("ref")
    digests: dict[str, dict] = {}

    _invoke(
        [
            "reference",
            "build",
            str(files["refs"]),
            "--out",
            str(ref),
            "--backend",
            "cpu",
            "--human",
            str(files["human"]),
            "-q",
        ]
    )
    digests["reference_build"] = folder_digests(ref)
    _invoke(["reference", "add", str(ref), str(files["refs_more"]), "--backend", "cpu", "-q"])
    digests["reference_add"] = folder_digests(ref)

    runs = {
        "dedup": ["dedup", *inputs, "--id-column", "id", "--partition-size", "300KB"],
        "dedup_char": [
            "dedup",
            *inputs,
            "--shingle",
            "char",
            "--ngram",
            "8",
            "--threshold",
            "0.7",
            "--partition-size",
            "300KB",
        ],
        "dedup_reference": ["dedup", *inputs, "--id-column", "id", "--reference", str(ref)],
        "dedup_earliest": ["dedup", str(files["corpus"]), "--keep", "earliest", "--write-deduped"],
        "dedup_longest": [
            "dedup",
            *inputs,
            "--keep",
            "longest",
            "--write-deduped",
            "--partition-size",
            "300KB",
        ],
        "substr": ["substr", *inputs, "--min-span", "60", "--write-deduped"],
        "substr_shards": [
            "substr",
            *inputs,
            "--min-span",
            "60",
            "--shard-size",
            "200KB",
            "--partition-size",
            "300KB",
        ],
        "substr_none": [
            "substr",
            str(files["corpus"]),
            "--id-column",
            "id",
            "--keep",
            "none",
            "--min-span",
            "40",
        ],
        "flag": ["flag", *inputs, "--reference", str(ref), "--id-column", "id"],
        "flag_no_minhash": [
            "flag",
            str(files["corpus"]),
            "--reference",
            str(ref),
            "--no-minhash",
            "--min-span",
            "60",
        ],
    }
    for name, args in runs.items():
        out = Path(name)
        _invoke([*args, "--out", str(out), *RUN])
        digests[name] = {**folder_digests(out), "summary": _summary_counts(out)}
    return digests


@pytest.mark.slow
def test_golden_outputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    got = _run_all(tmp_path)
    if os.environ.get("OUROBOROS_UPDATE_GOLDEN") == "1":
        EXPECTED.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    expected = json.loads(EXPECTED.read_text())
    assert sorted(got) == sorted(expected)
    for name in expected:
        assert got[name] == expected[name], f"{name}: outputs changed"
