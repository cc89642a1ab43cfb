"""Small finished runs (dedup, substr, flag) for the report tests, made once per session.

The dedup run reads the sample corpus (real clusters) plus a small JSONL file with
damaged lines (so the report has skipped records), with ``write_edges=True`` so that
``edges.parquet`` feeds the similarity and effective-threshold charts. A second dedup
run reads families whose similarities spread around the threshold, so that many
candidate pairs are rejected and some are merged only through chains.
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
from pathlib import Path

import pytest

import engine

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample" / "docs.jsonl.gz"


def sample_records(n: int | None = None) -> list[dict]:
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return rows if n is None else rows[:n]


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    """The sample corpus and ``damaged.jsonl`` (2 good lines, 1 malformed, 1 without text)."""
    folder = tmp_path_factory.mktemp("corpus")
    shutil.copy(SAMPLE, folder / "docs.jsonl.gz")
    lines = [
        json.dumps({"id": "d0", "text": "a short good document about <b>tags</b> & more"}),
        '{"id": "d1", "text": "broken json',
        json.dumps({"id": "d2", "body": "no text key here"}),
        json.dumps({"id": "d3", "text": "another good document with ünïcode text"}),
    ]
    (folder / "damaged.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def dedup_out(corpus_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dedup_out")
    engine.dedup(
        [str(corpus_dir / "docs.jsonl.gz"), str(corpus_dir / "damaged.jsonl")],
        out,
        scheduler="threads",
        backend="cpu",
        write_edges=True,
        progress=False,
    )
    return out


SPREAD_PARAMS = {"num_perm": 64, "ngram": 2, "threshold": 0.7, "seed": 3, "bands": 16, "rows": 4}


def _edited(rng: random.Random, words: list[str], base: list[str], edits: int) -> list[str]:
    copy = list(base)
    for pos in rng.sample(range(len(copy)), edits):
        copy[pos] = rng.choice(words)
    return copy


@pytest.fixture(scope="session")
def spread_dedup_out(tmp_path_factory) -> Path:
    """Dedup (``SPREAD_PARAMS``, with edges) of 16 families of 60-word texts: A, B = A
    with 3 words changed, C = B with 3 more (A-C often below the threshold but joined
    through B), D = A with 8-12 changed (below)."""
    rng = random.Random(11)
    words = [f"w{i}" for i in range(400)]
    folder = tmp_path_factory.mktemp("spread")
    with (folder / "docs.jsonl").open("w", encoding="utf-8") as fh:
        for i in range(16):
            base = [rng.choice(words) for _ in range(60)]
            middle = _edited(rng, words, base, 3)
            far = _edited(rng, words, base, 8 + i % 5)
            for text in (base, middle, _edited(rng, words, middle, 3), far):
                fh.write(json.dumps({"text": " ".join(text)}) + "\n")
    out = folder / "out"
    engine.dedup(
        [str(folder / "docs.jsonl")],
        out,
        scheduler="threads",
        backend="cpu",
        write_edges=True,
        progress=False,
        **SPREAD_PARAMS,
    )
    return out


@pytest.fixture(scope="session")
def substr_out(corpus_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("substr_out")
    engine.substr(
        [str(corpus_dir / "docs.jsonl.gz")],
        out,
        min_span=50,
        scheduler="threads",
        backend="cpu",
        progress=False,
    )
    return out


@pytest.fixture(scope="session")
def flag_out(corpus_dir, tmp_path_factory) -> Path:
    """Flags of the sample against 20 references: halves of sample documents."""
    folder = tmp_path_factory.mktemp("flag")
    records = sample_records(60)[::3]
    refs = folder / "refs.jsonl"
    with refs.open("w", encoding="utf-8") as fh:
        for row in records:
            half = row["text"][: len(row["text"]) // 2]
            fh.write(json.dumps({"id": f"ref-{row['id']}", "text": half, "model": "m1"}) + "\n")
    engine.build_reference([str(refs)], folder / "ref", backend="cpu")
    out = folder / "out"
    engine.flag(
        [str(corpus_dir / "docs.jsonl.gz")],
        out,
        reference=folder / "ref",
        scheduler="threads",
        backend="cpu",
        progress=False,
    )
    return out
