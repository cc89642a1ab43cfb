"""Tables, DataFrames and datasets given where paths or texts are expected are refused
with a TypeError that says what to pass; they are never read as paths, and their column
names are never documents (before: ``engine.minhash(df)`` hashed the column names,
``engine.dedup(df)`` looked for a file named after a column)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

import engine
from engine.io import input_paths

FRAME = pd.DataFrame({"id": ["a", "b"], "text": ["the cat sat", "a dog ran"]})
TABLE = pa.table({"id": ["a", "b"], "text": ["the cat sat", "a dog ran"]})


@pytest.mark.parametrize("obj", [FRAME, TABLE, TABLE.to_batches()[0], {"text": ["x"]}])
def test_text_api_refuses_tables(obj):
    with pytest.raises(TypeError, match="pass its text column"):
        engine.minhash(obj, backend="cpu")
    with pytest.raises(TypeError, match="pass its text column"):
        engine.repeated_spans(obj, min_span=4)
    with pytest.raises(TypeError, match="pass its text column"):
        engine.ReferenceIndex.build(obj, ["r1", "r2"])


def test_text_api_takes_the_column():
    assert engine.minhash(FRAME["text"], backend="cpu").shape == (2, 128)
    assert engine.minhash(TABLE.column("text"), backend="cpu").shape == (2, 128)


@pytest.mark.parametrize("obj", [FRAME, TABLE, TABLE.to_reader()])
def test_pipelines_refuse_tables_before_touching_the_disk(obj, tmp_path):
    for run in (engine.dedup, engine.substr):
        with pytest.raises(TypeError, match="write it to Parquet"):
            run(obj, tmp_path / "out", scheduler="threads", backend="cpu")
    with pytest.raises(TypeError, match="write it to Parquet"):
        engine.flag(obj, tmp_path / "out", reference=tmp_path / "ref", backend="cpu")
    with pytest.raises(TypeError, match="write it to Parquet"):
        engine.build_reference(obj, tmp_path / "ref", backend="cpu")
    assert not (tmp_path / "out").exists() and not (tmp_path / "ref").exists()


def test_input_paths():
    assert input_paths("a.jsonl") == ["a.jsonl"]
    assert input_paths(["a", tmp := __import__("pathlib").Path("b/c")]) == ["a", str(tmp)]
    with pytest.raises(TypeError, match=r"inputs\[1\] is int"):
        input_paths(["a", 3])
    with pytest.raises(TypeError, match="got int"):
        input_paths(3)
