"""Tables, DataFrames and datasets are read by engine.dedup / substr / flag / minhash
(tests/io/test_in_memory.py); given where only paths or texts are expected they are
refused with a TypeError that says what to pass; they are never read as paths, and
their column names are never documents (before: ``engine.minhash(df)`` hashed the
column names, ``engine.dedup(df)`` looked for a file named after a column)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import engine
from engine.io import input_paths

FRAME = pd.DataFrame({"id": ["a", "b"], "text": ["the cat sat", "a dog ran"]})
TABLE = pa.table({"id": ["a", "b"], "text": ["the cat sat", "a dog ran"]})


@pytest.mark.parametrize("obj", [FRAME, TABLE, TABLE.to_batches()[0], {"text": ["x", "y"]}])
def test_text_api_refuses_tables_minhash_reads_their_text_column(obj):
    texts = ["x", "y"] if isinstance(obj, dict) else ["the cat sat", "a dog ran"]
    expected = engine.minhash(texts, backend="cpu", num_perm=16)
    np.testing.assert_array_equal(engine.minhash(obj, backend="cpu", num_perm=16), expected)
    assert expected.shape == (2, 16)
    with pytest.raises(TypeError, match="pass its text column"):
        engine.repeated_spans(obj, min_span=4)
    with pytest.raises(TypeError, match="pass its text column"):
        engine.ReferenceIndex.build(obj, ["r1", "r2"])


def test_text_api_takes_the_column():
    assert engine.minhash(FRAME["text"], backend="cpu").shape == (2, 128)
    assert engine.minhash(TABLE.column("text"), backend="cpu").shape == (2, 128)


@pytest.mark.parametrize("make", [FRAME.copy, lambda: TABLE, TABLE.to_reader])
def test_pipelines_read_tables_build_reference_refuses_them(make, tmp_path):
    run = {"scheduler": "threads", "backend": "cpu", "progress": False}
    result = engine.dedup(make(), tmp_path / "out", id_column="id", **run)
    assert result.clusters.column("doc_id").to_pylist() == ["a", "b"]
    assert result.keep.tolist() == [True, True]
    spans = engine.substr(make(), tmp_path / "spans", id_column="id", min_span=4, **run)
    assert spans.cut_texts.to_pylist() == ["the cat sat", "a dog ran"]
    with pytest.raises(TypeError, match="write it to Parquet"):
        engine.build_reference(make(), tmp_path / "ref", backend="cpu")
    assert not (tmp_path / "ref").exists()


def test_input_paths():
    assert input_paths("a.jsonl") == ["a.jsonl"]
    assert input_paths(["a", tmp := __import__("pathlib").Path("b/c")]) == ["a", str(tmp)]
    with pytest.raises(TypeError, match=r"inputs\[1\] is int"):
        input_paths(["a", 3])
    with pytest.raises(TypeError, match="got int"):
        input_paths(3)
    with pytest.raises(TypeError, match="got set"):
        input_paths({"a", "b"})
    with pytest.raises(TypeError, match="NumPy array"):
        input_paths(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="looks like a document"):
        input_paths(["a.jsonl", "x" * 5000])
