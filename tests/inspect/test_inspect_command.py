"""``ouroboros inspect`` on dedup, flag and substr outputs, and on bad folders."""

from __future__ import annotations

import json
import random
import shutil

import pytest
from click.testing import CliRunner

import engine
from engine.cli import main
from engine.inspect import NotAnOutput, inspect_output, render
from engine.inspect.marks import marked_ranges, truncate_segments, word_diff
from engine.provenance import build_reference, flag

RUN = {"scheduler": "threads", "workers": 2, "backend": "cpu", "progress": False}
WORDS = [f"t{i}" for i in range(240)]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def invoke(*args) -> str:
    result = CliRunner().invoke(main, ["inspect", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture()
def dedup_out(tmp_path, monkeypatch):
    """A dedup run on relative paths: A ~ B ~ C chained, plus a singleton."""
    monkeypatch.chdir(tmp_path)
    a, b, c = (" ".join(WORDS[s : s + 200]) for s in (0, 20, 40))
    rows = [{"text": t} for t in (a, "a lone short note about nothing", b, c)]
    write_jsonl(tmp_path / "docs.jsonl", rows)
    params = {"num_perm": 128, "ngram": 1, "threshold": 0.75, "seed": 3, "bands": 32, "rows": 4}
    engine.dedup(["docs.jsonl"], "out", **params, **RUN)
    return rows


def test_dedup_top_cluster_and_doc(dedup_out):
    text = invoke("out", "--top", "1", "--no-color", "--width", "120")
    assert "== cluster 0: 3 documents" in text
    assert "-- kept docs.jsonl:0 (row 0)" in text
    assert "below the threshold 0.75" in text  # C, joined through B
    assert "[-t0 t1" in text and "[+t200" in text  # words only in A, only in C
    assert "\x1b[" not in text
    assert invoke("out", "--cluster", "0", "--no-color") == invoke(
        "out", "--doc", "docs.jsonl:3", "--no-color"
    )
    assert "== cluster 1: 1 document\n" in invoke("out", "--doc", "docs.jsonl:1", "--no-color")
    coloured = invoke("out", "--top", "1", "--color", "--width", "50")
    assert "\x1b[31;9mt0\x1b[0m" in coloured and "[-" not in coloured


def test_dedup_json_reads_texts_back(dedup_out):
    view = json.loads(invoke("out", "--json", "--max-chars", "50"))
    (cluster,) = view["clusters"]
    assert [m["doc_id"] for m in cluster["members"]] == [
        "docs.jsonl:0",
        "docs.jsonl:3",  # lowest similarity first
        "docs.jsonl:2",
    ]
    kept, far, near = cluster["members"]
    assert kept["keep"] and kept["similarity"] == 1.0
    assert far["similarity"] < 0.75 <= near["similarity"]
    assert kept["segments"] == [{"op": "equal", "text": dedup_out[0]["text"][:50]}]
    assert kept["chars"] == len(dedup_out[0]["text"]) and "showing 50" in kept["note"]
    shown = "".join(s["text"] for s in near["segments"] if s["op"] != "delete")
    assert dedup_out[2]["text"].startswith(shown) and len(shown) == 50


def test_dedup_without_work_files_reads_inputs_in_order(dedup_out, tmp_path):
    before = inspect_output("out", cluster=0)
    shutil.rmtree(tmp_path / "out" / "_work" / "signatures")
    assert inspect_output("out", cluster=0) == before


def test_bad_folders_and_choices(dedup_out, tmp_path):
    with pytest.raises(NotAnOutput, match="does not exist"):
        inspect_output(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotAnOutput, match="not an ouroboros output folder"):
        inspect_output(tmp_path / "empty")
    with pytest.raises(NotAnOutput, match="not a folder"):
        inspect_output(tmp_path / "docs.jsonl")
    (tmp_path / "out" / "summary.json").rename(tmp_path / "summary.json")
    with pytest.raises(NotAnOutput, match="unfinished run"):
        inspect_output("out")
    (tmp_path / "summary.json").rename(tmp_path / "out" / "summary.json")
    with pytest.raises(ValueError, match="no cluster 99"):
        inspect_output("out", cluster=99)
    with pytest.raises(ValueError, match="no document 'nope'"):
        inspect_output("out", doc="nope")
    with pytest.raises(ValueError, match="give one of"):
        inspect_output("out", top=2, doc="docs.jsonl:0")
    result = CliRunner().invoke(main, ["inspect", "missing"])
    assert result.exit_code == 1 and "missing does not exist" in result.output
    (tmp_path / "docs.jsonl").unlink()
    with pytest.raises(ValueError, match="run inspect from the folder the run was started in"):
        inspect_output("out")


def prose(seed: int, n_words: int) -> str:
    rng = random.Random(seed)
    return " ".join(
        "".join(rng.choice("klmnopqrstu") for _ in range(3 + rng.randrange(6)))
        for _ in range(n_words)
    )


def test_flag_output_shows_evidence_beside_the_reference(tmp_path):
    refs = [prose(100 + i, 120) + "." for i in range(4)]
    write_jsonl(tmp_path / "refs.jsonl", [{"id": f"r{i}", "text": t} for i, t in enumerate(refs)])
    build_reference([tmp_path / "refs.jsonl"], tmp_path / "ref", backend="cpu")
    docs = [
        {"id": "human", "text": prose(1, 200)},
        {"id": "embedded", "text": prose(2, 150) + "\n" + refs[1] + "\n" + prose(3, 150)},
    ]
    write_jsonl(tmp_path / "docs.jsonl", docs)
    flag(
        [tmp_path / "docs.jsonl"],
        tmp_path / "out",
        reference=tmp_path / "ref",
        id_column="id",
        **RUN,
    )
    view = inspect_output(tmp_path / "out")
    assert [d["doc_id"] for d in view["documents"]] == ["embedded"]
    (doc,) = view["documents"]
    assert doc["label"] != "none" and doc["evidence"]
    marked = "".join(s["text"] for s in doc["segments"] if s["op"] == "mark")
    assert refs[1][:100] in marked
    evidence = doc["evidence"][0]
    assert evidence["ref_id"] == "r1"
    matched = refs[1].encode()[evidence["ref_start"] : evidence["ref_end"]].decode()
    assert len(matched) > 300 and evidence["ref_text"] == matched[:300]  # cut to 300
    assert evidence["text"] is not None and evidence["text"][:50] == evidence["ref_text"][:50]
    text = invoke(tmp_path / "out", "--doc", "embedded", "--no-color", "--width", "100")
    assert "== embedded:" in text and "[*" in text and "reference" in text
    assert (
        "human"
        in json.loads(invoke(tmp_path / "out", "--doc", "human", "--json"))["documents"][0][
            "doc_id"
        ]
    )
    with pytest.raises(ValueError, match="clusters are dedup's"):
        inspect_output(tmp_path / "out", cluster=0)


def test_substr_output_marks_removed_ranges(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shared = prose(9, 40)
    rows = [{"text": prose(i, 30) + " " + shared + " " + prose(i + 50, 20)} for i in range(3)]
    write_jsonl(tmp_path / "docs.jsonl", rows)
    engine.substr(["docs.jsonl"], "out", min_span=60, **RUN)
    view = inspect_output("out", top=2)
    assert len(view["documents"]) == 2
    doc = view["documents"][0]
    assert doc["doc_id"] in ("docs.jsonl:1", "docs.jsonl:2") and doc["spans"]
    span = doc["spans"][0]
    assert span["source_doc_id"] == "docs.jsonl:0"
    text = rows[int(doc["doc_id"].rpartition(":")[2])]["text"]
    assert span["text"] == text.encode()[span["start"] : span["end"]].decode()[:200]
    assert "".join(s["text"] for s in doc["segments"]) == text
    rendered = invoke("out", "--doc", doc["doc_id"], "--no-color")
    assert "[-" in rendered and "kept copy in docs.jsonl:0" in rendered
    kept = inspect_output("out", doc="docs.jsonl:0")["documents"][0]
    assert kept["spans"] == [] and kept["chars"] == len(rows[0]["text"])


def test_marks():
    assert word_diff("a b  c", "a x  c") == [
        {"op": "equal", "text": "a "},
        {"op": "delete", "text": "b  "},
        {"op": "insert", "text": "x  "},
        {"op": "equal", "text": "c"},
    ]
    segments = marked_ranges("héllo world", [(7, 12), (0, 1), (8, 9)])
    assert segments == [
        {"op": "mark", "text": "h"},
        {"op": "equal", "text": "éllo "},
        {"op": "mark", "text": "world"},
    ]
    cut, note = truncate_segments(segments, 3)
    assert "".join(s["text"] for s in cut) == "hél" and note == "showing 3 of 11 characters"
    view = {"kind": "substr", "documents": []}
    assert render(view) == "nothing to show\n"
