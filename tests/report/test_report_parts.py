"""The report's building blocks on tiny inputs: bounded table reading (exact answers
across many row groups, sampling beyond the budget), texts read back from the inputs,
diffs and highlighted ranges (escaped)."""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engine.report.diffs import highlight_ranges, word_diff
from engine.report.tables import (
    largest_clusters,
    lookup_by_position,
    rows_where_in,
    sample_row_groups,
)
from engine.report.texts import read_texts


def _clusters_file(path, n=1000, row_group_size=64):
    rng = np.random.default_rng(3)
    cluster_id = np.sort(rng.integers(0, 300, n))  # members spread over row groups
    sizes = np.bincount(cluster_id)[cluster_id]
    table = pa.table(
        {
            "doc_id": [f"d{i}" for i in range(n)],
            "cluster_id": cluster_id.astype(np.int64),
            "cluster_size": sizes.astype(np.int64),
            "keep": np.r_[True, cluster_id[1:] != cluster_id[:-1]],
        }
    )
    pq.write_table(table, path, row_group_size=row_group_size)
    return table


def test_largest_clusters_and_members_are_exact_across_row_groups(tmp_path):
    path = tmp_path / "clusters.parquet"
    table = _clusters_file(path)
    ids, sizes = np.unique(table["cluster_id"].to_numpy(), return_counts=True)
    expected = sorted(((int(s), -int(c)) for c, s in zip(ids, sizes) if s > 1), reverse=True)[:7]
    assert [(s, -c) for c, s in largest_clusters(path, 7)] == expected
    wanted = [-c for _, c in expected[:3]]
    rows = rows_where_in(path, "cluster_id", wanted, ["doc_id", "cluster_id"])
    mask = np.isin(table["cluster_id"].to_numpy(), wanted)
    assert sorted(rows["doc_id"].to_pylist()) == sorted(np.array(table["doc_id"])[mask].tolist())


def test_sampling_beyond_the_budget_and_lookup_by_position(tmp_path):
    path = tmp_path / "clusters.parquet"
    table = _clusters_file(path)
    whole = sample_row_groups(path)
    assert not whole.sampled and whole.note() == "" and whole.read(["keep"]).num_rows == 1000
    sample = sample_row_groups(path, budget_rows=200)
    assert sample.sampled and 64 <= sample.rows_read <= 256 and "Estimated" in sample.note()
    assert sample.read(["doc_id"]).num_rows == sample.rows_read
    positions = np.array([999, 0, 500, 64, 63, 500])
    got = lookup_by_position(path, "cluster_id", positions)
    assert got.tolist() == table["cluster_id"].to_numpy()[positions].tolist()


def test_read_texts_by_position_parquet_row_groups_and_relative_paths(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    texts = [f"text number {i}" for i in range(50)]
    pq.write_table(pa.table({"text": texts}), folder / "docs.parquet", row_group_size=8)
    (folder / "docs.jsonl").write_text("\n".join(json.dumps({"text": t}) for t in texts[:5]) + "\n")
    wanted = ["docs.parquet:3", "docs.parquet:41", "docs.jsonl:4", "absent.jsonl:1", "oops"]
    found = read_texts(wanted, ["docs.parquet", "docs.jsonl"], input_root=folder)
    assert found.found == {
        "docs.parquet:3": texts[3],
        "docs.parquet:41": texts[41],
        "docs.jsonl:4": texts[4],
    }
    assert "not found" in found.missing["absent.jsonl:1"]
    assert "<path>:<row>" in found.missing["oops"]
    cwd = os.getcwd()  # without input_root, relative paths are read from the current folder
    try:
        os.chdir(folder)
        assert read_texts(["docs.jsonl:0"], ["docs.jsonl"]).found == {"docs.jsonl:0": texts[0]}
    finally:
        os.chdir(cwd)


def test_read_texts_by_id_column_within_a_scan_budget(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(json.dumps({"id": f"k{i}", "text": f"t{i}"}) for i in range(9)))
    found = read_texts(["k7", "k2", "zz"], [str(path)], id_column="id")
    assert found.found == {"k7": "t7", "k2": "t2"}
    assert "scan budget" in found.missing["zz"]


def test_word_diff_escapes_and_folds():
    kept = " ".join(f"w{i}" for i in range(100)) + " <script>alert(1)</script>"
    member = kept.replace("w50", "changed &") + " extra"
    fragment, ratio = word_diff(kept, member)
    assert "<del>w50</del>" in fragment and "<ins>changed &amp;</ins>" in fragment
    assert "&lt;script&gt;" in fragment and "<script>" not in fragment
    assert "words unchanged" in fragment and 0.9 < ratio < 1.0


def test_highlight_ranges_uses_utf8_byte_offsets():
    text = "héllo wörld <b>"
    start = len("héllo ".encode())
    end = start + len("wörld".encode())
    out = highlight_ranges(text, [(start, end, "ref-1 bytes 0–6")])
    assert out == 'héllo <mark title="ref-1 bytes 0–6">wörld</mark> &lt;b&gt;'
    assert "more bytes" in highlight_ranges("x" * 50, [], max_bytes=10)
