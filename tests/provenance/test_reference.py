"""Reference index: save/load round trip, add == build of the union, bad input."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from engine.io import InputError
from engine.provenance import IndexParams, ReferenceIndex, build_reference

WORDS = [
    (lambda rng: "".join(rng.choice("abcdefghij") for _ in range(4 + i % 5)))(random.Random(i))
    for i in range(2000)
]


def prose(seed: int, n_words: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n_words)) + "."


TEXTS = [prose(i, 100 + i % 50) for i in range(24)]
IDS = [f"out-{i}" for i in range(24)]


def _arrays(index: ReferenceIndex) -> dict:
    tables = index.lookups()
    norm = np.concatenate([np.asarray(s.norm) for s in tables.segments])
    return {
        "meta": index.meta().to_pylist(),
        "signatures": tables.signatures,
        "norm": norm,
        "anchor_keys": np.asarray(index.anchor_keys),
        "anchor_refs": np.asarray(index.anchor_refs),
    }


def _assert_same_index(a: ReferenceIndex, b: ReferenceIndex) -> None:
    x, y = _arrays(a), _arrays(b)
    assert x["meta"] == y["meta"]
    for name in ("signatures", "norm", "anchor_keys", "anchor_refs"):
        np.testing.assert_array_equal(x[name], y[name])


def test_round_trip(tmp_path):
    index = ReferenceIndex.build(TEXTS, IDS, models=["gpt"] * 24, backend="cpu")
    index.save(tmp_path / "ref")
    loaded = ReferenceIndex.load(tmp_path / "ref")
    _assert_same_index(index, loaded)
    assert isinstance(loaded.anchor_keys, np.memmap)
    assert loaded.meta().column("model").to_pylist() == ["gpt"] * 24
    docs = [TEXTS[3], "unrelated words here", TEXTS[5][:400]]
    assert index.match(docs, backend="cpu").equals(loaded.match(docs, backend="cpu"))
    # open formats only, never pickle
    files = {p.suffix for p in (tmp_path / "ref").rglob("*") if p.is_file()}
    assert files <= {".json", ".parquet", ".npy"}


def test_add_equals_union_build(tmp_path):
    union = ReferenceIndex.build(TEXTS, IDS, backend="cpu")
    part = ReferenceIndex.build(TEXTS[:10], IDS[:10], backend="cpu")
    part.save(tmp_path / "ref")
    loaded = ReferenceIndex.load(tmp_path / "ref")
    loaded.add(TEXTS[10:], IDS[10:], backend="cpu")
    loaded.save(tmp_path / "ref")
    reloaded = ReferenceIndex.load(tmp_path / "ref")
    _assert_same_index(union, reloaded)
    docs = [TEXTS[2], TEXTS[15], TEXTS[20][:300] + prose(99, 30)]
    assert union.match(docs, backend="cpu").equals(reloaded.match(docs, backend="cpu"))
    assert len(list((tmp_path / "ref" / "anchors").iterdir())) == 1  # old generation removed


def test_duplicate_ids_keep_first_and_count():
    texts = [TEXTS[0], TEXTS[1], TEXTS[2]]
    index = ReferenceIndex.build(texts, ["a", "b", "a"], backend="cpu")
    assert index.ids == ["a", "b"]
    assert index.last_report["duplicate_ids"] == 1
    assert index.last_report["duplicate_id_examples"] == ["a"]
    report = index.add([TEXTS[3], TEXTS[4]], ["b", "c"], backend="cpu")
    assert report["duplicate_ids"] == 1 and report["added"] == 1
    assert index.counts["duplicate_ids"] == 2


def test_duplicate_and_empty_texts():
    index = ReferenceIndex.build(
        [TEXTS[0], "  \n ", TEXTS[0].upper()], ["a", "b", "c"], backend="cpu"
    )
    assert index.last_report["empty_texts"] == 1
    assert index.last_report["duplicate_texts"] == 1
    assert index.meta().column("duplicate_text").to_pylist() == [False, True]
    row = index.match([TEXTS[0]], backend="cpu").to_pylist()[0]
    assert row["label"] == "verbatim_copy" and row["ref_ids"] == ["a"]


def test_params_validation():
    with pytest.raises(ValueError, match="bands"):
        IndexParams(num_perm=16, bands=8, rows=4)
    with pytest.raises(ValueError, match="anchor_bytes"):
        IndexParams(anchor_bytes=4)


def test_load_missing_folder_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="reference build"):
        ReferenceIndex.load(tmp_path)


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_build_from_files_reports_bad_input(tmp_path):
    good = _write_jsonl(
        tmp_path / "good.jsonl",
        [{"id": f"x{i}", "text": TEXTS[i], "model": "gpt-4", "date": "2024"} for i in range(5)]
        + [{"id": "x0", "text": TEXTS[9]}],
    )
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    index, summary = build_reference([good, empty], tmp_path / "ref")
    assert summary["counts"]["duplicate_ids"] == 1
    assert summary["counts"]["added"] == 5
    assert summary["read"]["skipped"] == {"empty_file": 1}
    assert index.meta().column("model").to_pylist() == ["gpt-4"] * 5
    assert index.meta().column("date").to_pylist() == ["2024"] * 5
    saved = json.loads((tmp_path / "ref" / "summary.json").read_text())
    assert saved["counts"]["duplicate_ids"] == 1
    with pytest.raises(ValueError, match="reference add"):
        build_reference([good], tmp_path / "ref")


def test_build_missing_text_column_names_columns(tmp_path):
    bad = _write_jsonl(tmp_path / "bad.jsonl", [{"id": "a", "body": "hello"}])
    with pytest.raises(InputError, match=r"columns present: \['id', 'body'\]"):
        build_reference([bad], tmp_path / "ref")


def test_build_only_empty_input_is_an_error(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(ValueError, match="no reference documents"):
        build_reference([empty], tmp_path / "ref")


def test_add_from_files_equals_union(tmp_path):
    rows = [{"id": IDS[i], "text": TEXTS[i]} for i in range(24)]
    first = _write_jsonl(tmp_path / "a.jsonl", rows[:12])
    second = _write_jsonl(tmp_path / "b.jsonl", rows[12:])
    build_reference([first], tmp_path / "inc")
    build_reference([second], tmp_path / "inc", add=True)
    build_reference([first, second], tmp_path / "full")
    _assert_same_index(
        ReferenceIndex.load(tmp_path / "inc"), ReferenceIndex.load(tmp_path / "full")
    )
