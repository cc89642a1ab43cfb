"""In-memory inputs of engine.dedup / substr / flag / minhash: every accepted kind gives
the results of the same rows read from a JSONL file, aligned with the input's rows;
the helpers give the object back filtered or cut; anything else is a TypeError."""

from __future__ import annotations

import json
import random

import datasets
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import engine
import engine.io.in_memory as in_memory
from engine.io import InputError, select_rows
from engine.io.in_memory import spill
from engine.run.output import OutputInUse
from engine.substrings.spans import remove_spans

WORDS = [
    "".join(random.Random(i).choice("abcdefghijklmnop") for _ in range(3 + i % 5))
    for i in range(3000)
]


def prose(seed: int, n_words: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def near_copy(text: str, seed: int) -> str:
    words = text.split()
    words[random.Random(seed).randrange(len(words))] = "changed"
    return " ".join(words)


BASES = [prose(i, 60) for i in range(4)]
# rows 2, 5 and 7 are near-duplicates of rows 0, 1 and 0
TEXTS = [
    BASES[0],
    BASES[1],
    near_copy(BASES[0], 1),
    BASES[2],
    BASES[3],
    near_copy(BASES[1], 2),
    prose(9, 40),
    near_copy(BASES[0], 3),
]
IDS = [f"doc-{i}" for i in range(len(TEXTS))]
RUN = {"scheduler": "threads", "backend": "cpu", "progress": False}
DEDUP = {**RUN, "ngram": 3, "num_perm": 64, "threshold": 0.6}


def write_jsonl(path, texts, ids=None):
    with open(path, "w") as fh:
        for i, text in enumerate(texts):
            record = {"text": text} if ids is None else {"text": text, "id": ids[i]}
            fh.write(json.dumps(record) + "\n")
    return path


@pytest.fixture(scope="module")
def disk_dedup(tmp_path_factory):
    path = write_jsonl(tmp_path_factory.mktemp("disk") / "docs.jsonl", TEXTS)
    return engine.dedup(str(path), **DEDUP)


def _reader():
    table = pa.table({"text": TEXTS, "other": list(range(len(TEXTS)))})
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=3))


KINDS = {
    "table": lambda: pa.table({"text": TEXTS, "n": list(range(len(TEXTS)))}),
    "record_batch": lambda: pa.RecordBatch.from_pydict({"text": TEXTS}),
    "reader": _reader,
    "dataframe": lambda: pd.DataFrame({"text": TEXTS, "n": range(len(TEXTS))}),
    "series": lambda: pd.Series(TEXTS, index=range(100, 100 + len(TEXTS))),
    "dataset": lambda: datasets.Dataset.from_dict({"text": TEXTS}),
    "iterable_dataset": lambda: datasets.Dataset.from_dict({"text": TEXTS}).to_iterable_dataset(),
    "mapping": lambda: {"text": TEXTS, "n": np.arange(len(TEXTS))},
    "generator": lambda: (text for text in TEXTS),
    "arrow_array": lambda: pa.chunked_array([TEXTS[:3], TEXTS[3:]], pa.large_string()),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_dedup_of_each_kind_equals_the_same_rows_from_disk(kind, disk_dedup):
    result = engine.dedup(KINDS[kind](), **DEDUP)
    assert result.keep.dtype == np.bool_ and result.cluster_id.dtype == np.int64
    np.testing.assert_array_equal(result.keep, disk_dedup.keep)
    np.testing.assert_array_equal(result.cluster_id, disk_dedup.cluster_id)
    assert result.keep.tolist() == [True, True, False, True, True, False, True, False]
    # doc ids are row numbers, never the spilled file's path
    assert result.clusters.column("doc_id").to_pylist() == [str(i) for i in range(len(TEXTS))]
    np.testing.assert_array_equal(result.rows, np.arange(len(TEXTS)))
    assert result.summary["inputs"][0].startswith("<") and "8 rows" in result.summary["inputs"][0]


def test_filter_returns_the_same_kind_without_the_duplicates():
    result = engine.dedup(pd.DataFrame({"text": TEXTS}), **DEDUP)
    kept = [t for t, k in zip(TEXTS, result.keep, strict=True) if k]
    frame = pd.DataFrame({"text": TEXTS, "n": range(len(TEXTS))})
    assert result.filter(frame)["text"].tolist() == kept
    assert result.filter(frame)["n"].tolist() == [0, 1, 3, 4, 6]
    table = result.filter(pa.table({"text": TEXTS}))
    assert isinstance(table, pa.Table) and table.column("text").to_pylist() == kept
    dataset = result.filter(datasets.Dataset.from_dict({"text": TEXTS}))
    assert isinstance(dataset, datasets.Dataset) and dataset["text"] == kept
    streamed = result.filter(datasets.Dataset.from_dict({"text": TEXTS}).to_iterable_dataset())
    assert [row["text"] for row in streamed] == kept
    assert result.filter(list(TEXTS)) == kept
    assert result.filter({"text": TEXTS})["text"] == kept
    with pytest.raises(ValueError, match="8 rows"):
        result.filter(TEXTS[:5])
    with pytest.raises(TypeError, match="consumed"):
        result.filter(text for text in TEXTS)


def test_id_column_is_honoured_and_null_ids_take_the_row_number(tmp_path):
    ids = list(IDS)
    ids[3] = None
    frame = pd.DataFrame({"body": TEXTS, "key": ids})
    result = engine.dedup(frame, text_column="body", id_column="key", **DEDUP)
    expected = [*IDS[:3], "3", *IDS[4:]]
    assert result.clusters.column("doc_id").to_pylist() == expected
    assert result.summary["read"]["fallback_ids"] == 1
    assert result.summary["parameters"]["text_column"] == "body"
    assert result.summary["parameters"]["id_column"] == "key"
    dataset = datasets.Dataset.from_dict({"text": TEXTS, "id": IDS})
    from_dataset = engine.dedup(dataset, id_column="id", **DEDUP)
    assert from_dataset.clusters.column("doc_id").to_pylist() == IDS


def test_null_and_non_string_texts_are_counted_and_kept(tmp_path):
    texts = [*TEXTS[:3], None, float("nan"), 7, *TEXTS[3:]]
    result = engine.dedup(pd.DataFrame({"text": texts}), max_skipped=1.0, **DEDUP)
    disk = engine.dedup(write_jsonl(tmp_path / "d.jsonl", [*TEXTS[:3], None, None, 7, *TEXTS[3:]]),
                        max_skipped=1.0, **DEDUP)  # fmt: skip
    skipped = {"missing_text": 2, "non_string_text": 1}
    assert result.summary["read"]["skipped"] == disk.summary["read"]["skipped"] == skipped
    problems = result.summary["read"]["problems"]
    assert [(p["row"], p["reason"]) for p in problems] == [
        (3, "missing_text"),
        (4, "missing_text"),
        (5, "non_string_text"),
    ]
    assert all(p["file"] == "<a pandas DataFrame, 11 rows>" for p in problems)
    assert len(result.keep) == len(texts) and result.keep[3:6].all()
    assert result.cluster_id[3:6].tolist() == [-1, -1, -1]
    read = np.r_[0:3, 6:11]
    np.testing.assert_array_equal(result.keep[read], disk.keep)
    np.testing.assert_array_equal(result.rows, read)
    assert len(result.filter(texts)) == 8  # 3 duplicates dropped, unread rows kept


def test_strict_names_the_row():
    with pytest.raises(InputError, match="row 1: 'text' is int"):
        engine.dedup(pd.DataFrame({"text": ["a b c", 3]}), strict=True, **DEDUP)
    with pytest.raises(InputError, match="row 2: 'text' is null"):
        engine.dedup(pa.table({"text": ["a b c", "d e f", None]}), strict=True, **DEDUP)


def test_out_folder_resumes_and_refuses_other_data(tmp_path):
    frame = pd.DataFrame({"text": TEXTS})
    first = engine.dedup(frame, tmp_path / "out", **DEDUP)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["inputs"] == ["<a pandas DataFrame, 8 rows>"]
    assert summary["in_memory"] == {"kind": "a pandas DataFrame", "rows": 8}
    assert not list((tmp_path / "out" / "_work").glob("*input*.parquet"))  # spill removed
    again = engine.dedup(frame.copy(), tmp_path / "out", **DEDUP)
    assert again.summary["counts"]["partitions_reused"] == again.summary["counts"]["partitions"]
    np.testing.assert_array_equal(again.keep, first.keep)
    with pytest.raises(OutputInUse):
        engine.dedup(pd.DataFrame({"text": TEXTS[:5]}), tmp_path / "out", **DEDUP)


def test_temporary_files_are_removed_also_on_error(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with pytest.raises(ValueError, match="threshold"):
        engine.dedup(pd.DataFrame({"text": TEXTS}), threshold=2.0, **RUN)
    with pytest.raises(ValueError, match="threshold"):
        engine.dedup(pd.DataFrame({"text": TEXTS}), tmp_path / "new", threshold=2.0, **RUN)
    assert list(tmp_path.iterdir()) == []
    engine.dedup(pd.DataFrame({"text": TEXTS}), **DEDUP)
    assert list(tmp_path.iterdir()) == []


def test_streams_are_spilled_batch_by_batch(tmp_path, monkeypatch):
    monkeypatch.setattr(in_memory, "SOURCE_BATCH_ROWS", 4)
    monkeypatch.setattr(in_memory, "ROW_GROUP_ROWS", 4)
    pulled, pulled_at_write = [0], []

    def texts():
        for i in range(40):
            pulled[0] += 1
            yield f"document number {i}"

    write = in_memory._write_row_group

    def recording_write(writer, pending):
        if pending:
            pulled_at_write.append(pulled[0])
        write(writer, pending)

    monkeypatch.setattr(in_memory, "_write_row_group", recording_write)
    stream = datasets.IterableDataset.from_generator(lambda: ({"text": t} for t in texts()))
    spilled = spill(stream, tmp_path)
    assert spilled.n_rows == 40 and spilled.has_text.all()
    assert pulled_at_write == [4 * (k + 1) for k in range(10)]  # never more than a batch ahead
    assert spilled.texts().to_pylist() == [f"document number {i}" for i in range(40)]
    assert spilled.ids().to_pylist() == [str(i) for i in range(40)]


SHARED = " ".join(WORDS[2000:2012])  # 12 words repeated across documents


def substr_texts() -> list[str]:
    return [
        prose(20, 30) + " " + SHARED + " " + prose(21, 10),
        prose(22, 25),
        SHARED + " " + prose(23, 20),
        SHARED,
        None,
        prose(24, 5) + " " + SHARED,
    ]


def _substr_kinds():
    texts = substr_texts()
    return {
        "dataframe": pd.DataFrame({"text": texts, "id": [f"s{i}" for i in range(6)]}),
        "dataset": datasets.Dataset.from_dict({"text": texts, "id": [f"s{i}" for i in range(6)]}),
    }


@pytest.mark.parametrize("kind", ["dataframe", "dataset"])
def test_substr_cut_texts_follow_the_rows(kind, tmp_path):
    texts = substr_texts()
    obj = _substr_kinds()[kind]
    disk = engine.substr(write_jsonl(tmp_path / "d.jsonl", texts, [f"s{i}" for i in range(6)]),
                         min_span=40, id_column="id", max_skipped=1.0, **RUN)  # fmt: skip
    result = engine.substr(obj, min_span=40, id_column="id", max_skipped=1.0, **RUN)
    assert result.spans.equals(disk.spans)
    assert result.span_rows.tolist() == [int(d[1:]) for d in disk.spans["doc_id"].to_pylist()]
    expected = []
    for i, text in enumerate(texts):
        mine = disk.spans.filter(pa.compute.equal(disk.spans["doc_id"], f"s{i}"))
        if text is not None:
            text = remove_spans(text, mine["start"], mine["end"]).decode()
        expected.append(text)
    assert result.cut_texts.to_pylist() == expected
    assert expected[3] == ""  # row 3 is nothing but a later copy: the cut empties it
    cut = result.cut(obj)
    assert type(cut) is type(obj)
    rows = [0, 1, 2, 4, 5]
    cut_texts = [None if pd.isna(t) else t for t in cut["text"]]  # pandas keeps None as NaN
    assert cut_texts == [expected[i] for i in rows]
    cut_ids = cut["id"].tolist() if kind == "dataframe" else cut["id"]
    assert cut_ids == [f"s{i}" for i in rows]


def test_substr_without_ids_uses_row_numbers_and_writes_the_ids_it_shows(tmp_path):
    texts = [t for t in substr_texts() if t is not None]
    result = engine.substr(iter(texts), tmp_path / "out", min_span=40, **RUN)
    assert set(result.spans["doc_id"].to_pylist()) <= {str(i) for i in range(len(texts))}
    assert result.cut(list(texts)) == [t for t in result.cut_texts.to_pylist() if t]
    named = engine.substr(pd.DataFrame({"text": texts, "id": list("abcde")}), tmp_path / "o2",
                          min_span=40, id_column="id", **RUN)  # fmt: skip
    on_disk = pa.parquet.read_table(tmp_path / "o2" / "spans.parquet")
    assert on_disk.equals(named.spans)
    assert set(on_disk["doc_id"].to_pylist()) <= set("abcde")


def test_write_deduped_is_refused_for_in_memory_inputs(tmp_path):
    for run in (engine.dedup, engine.substr):
        with pytest.raises(ValueError, match=r"result\.filter|result\.cut"):
            run(pd.DataFrame({"text": TEXTS}), tmp_path / "out", write_deduped=True, **RUN)
    assert not (tmp_path / "out").exists()


FLAG_REFS = [prose(100 + i, 120) for i in range(6)]


@pytest.fixture(scope="module")
def refdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("refs")
    records = [{"id": f"r{i}", "text": t} for i, t in enumerate(FLAG_REFS)]
    path = root / "refs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    engine.build_reference([str(path)], root / "ref", backend="cpu")
    return root / "ref"


FLAG_TEXTS = [FLAG_REFS[0], prose(1, 150), None, prose(2, 80) + " " + FLAG_REFS[1], prose(3, 90)]


@pytest.mark.parametrize("kind", ["dataframe", "dataset"])
def test_flag_labels_follow_the_rows(kind, refdir, tmp_path):
    frame = pd.DataFrame({"text": FLAG_TEXTS, "id": list("abcde")})
    obj = frame if kind == "dataframe" else datasets.Dataset.from_pandas(frame)
    options = {"reference": refdir, "backend": "cpu", "progress": False, "max_skipped": 1.0}
    disk = engine.flag(write_jsonl(tmp_path / "d.jsonl", FLAG_TEXTS, list("abcde")),
                       id_column="id", **options)  # fmt: skip
    result = engine.flag(obj, id_column="id", **options)
    assert result.flags.equals(disk.flags)
    labels = disk.flags["label"].to_pylist()
    assert result.labels.tolist() == [*labels[:2], None, *labels[2:]]
    assert result.flagged.tolist() == [True, False, False, True, False]
    clean = result.filter(obj)
    assert type(clean) is type(obj)
    assert list(clean["id"]) == ["b", "c", "e"]


def test_minhash_of_a_table_equals_minhash_of_its_texts():
    options = {"num_perm": 32, "ngram": 2, "backend": "cpu"}
    expected = engine.minhash(TEXTS, **options)
    frame = pd.DataFrame({"body": TEXTS})
    np.testing.assert_array_equal(engine.minhash(frame, text_column="body", **options), expected)
    dataset = datasets.Dataset.from_dict({"text": TEXTS})
    np.testing.assert_array_equal(engine.minhash(dataset, **options), expected)
    np.testing.assert_array_equal(engine.minhash(_reader(), **options), expected)
    np.testing.assert_array_equal(engine.minhash(iter(TEXTS), **options), expected)
    with pytest.raises(ValueError, match="row 1 .*null"):
        engine.minhash(pd.DataFrame({"text": ["a b", None]}), **options)


@pytest.mark.parametrize(
    "obj, message",
    [
        (3, "got int"),
        ({"a b c", "d e f"}, "got set"),
        (np.array([["a", "b"], ["c", "d"]]), "NumPy array"),
        (b"bytes", "got bytes"),
    ],
)
def test_other_objects_are_refused_naming_what_is_accepted(obj, message, tmp_path):
    for run in (engine.dedup, engine.substr):
        with pytest.raises(TypeError, match=message) as err:
            run(obj, tmp_path / "out", **RUN)
        assert "pandas DataFrame" in str(err.value) and "iterator of str" in str(err.value)
    with pytest.raises(TypeError, match=message):
        engine.flag(obj, tmp_path / "out", reference=tmp_path / "ref", backend="cpu")
    assert not (tmp_path / "out").exists()


def test_a_dataset_dict_asks_for_a_split(tmp_path):
    splits = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": TEXTS})})
    with pytest.raises(TypeError, match=r"dataset\['train'\]"):
        engine.dedup(splits, **RUN)


def test_documents_in_a_list_are_paths_and_a_document_is_refused_as_one():
    with pytest.raises(TypeError, match=r"iter\(texts\)"):
        engine.dedup(["first line\nsecond line", "x"], **RUN)


def test_bad_columns_say_what_to_pass():
    with pytest.raises(InputError, match="no column 'text'.*'body'"):
        engine.dedup(pd.DataFrame({"body": TEXTS}), **RUN)
    with pytest.raises(InputError, match="type int64, not string"):
        engine.dedup(pa.table({"text": list(range(8))}), **RUN)
    with pytest.raises(ValueError, match="id_column='id' needs a table"):
        engine.dedup(pd.Series(TEXTS), id_column="id", **RUN)
    with pytest.raises(ValueError, match="holds no rows"):
        engine.dedup(pd.DataFrame({"text": []}), **RUN)


def test_select_rows_checks_the_mask_length():
    with pytest.raises(ValueError, match="3 rows"):
        select_rows(pa.table({"text": ["a", "b", "c"]}), np.ones(4, dtype=bool))
