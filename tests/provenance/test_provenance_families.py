"""Reference families, shared phrasing, known human text, conversations and prompts."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from click.testing import CliRunner

from engine.cli.provenance import flag as flag_command
from engine.cli.provenance import reference as reference_group
from engine.provenance import IndexParams, ProvenanceParams, ReferenceIndex
from engine.provenance.families import family_document_frequency, reference_families

WORDS = [
    (lambda rng: "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(4 + i % 6)))(
        random.Random(7000 + i)
    )
    for i in range(4000)
]


def prose(seed: int, n_words: int) -> str:
    """Deterministic sentences of made-up words (no accidental shared phrases)."""
    rng = random.Random(seed)
    out = []
    for i in range(n_words):
        word = rng.choice(WORDS)
        out.append(word.capitalize() if i % 10 == 0 else word)
        if i % 10 == 9:
            out[-1] += "."
    return " ".join(out)


PASSAGE = prose(1, 60)  # ~400 bytes that two references hold
LICENCE = prose(2, 60)  # human text that one reference quotes


def match_one(index, text, **kwargs):
    return index.match([text], backend="cpu", **kwargs).to_pylist()[0]


# --------------------------------------------------------------------------- arrays


def _postings(ref_keys: dict[int, list[int]]):
    pairs = sorted({(k, r) for r, keys in ref_keys.items() for k in keys})
    keys = np.array([k for k, _ in pairs], dtype=np.uint64)
    refs = np.array([r for _, r in pairs], dtype=np.int64)
    return keys, refs


def test_reference_families_containment_and_groups():
    ref_keys = {
        0: list(range(0, 10)),  # ref 1 holds 8 of its 10 keys: one family
        1: list(range(2, 30)),
        2: [0, 1, 100, 101, 102, 103, 104, 105, 106, 107],  # 2 of 10 shared: not related
        3: list(range(200, 210)),
        4: list(range(300, 310)),  # nothing shared with 3, but the same conversation
    }
    keys, refs = _postings(ref_keys)
    families = reference_families(keys, refs, 5, 0.5)
    assert families.tolist() == [0, 0, 2, 3, 4]
    groups = np.array([-1, -1, -1, 7, 7], dtype=np.int64)
    families = reference_families(keys, refs, 5, 0.5, groups=groups)
    assert families.tolist() == [0, 0, 2, 3, 3]
    # keys held by more than max_df references relate nobody
    many = {r: [1, 2, 3] for r in range(6)}
    keys, refs = _postings(many)
    assert reference_families(keys, refs, 6, 0.5, max_df=5).tolist() == list(range(6))
    assert reference_families(keys, refs, 6, 0.5, max_df=6).tolist() == [0] * 6
    # a long passage in common (40 of 200 keys each) relates two large references
    # only when min_shared allows it
    big = {0: list(range(1000, 1200)), 1: list(range(1160, 1360))}
    keys, refs = _postings(big)
    assert reference_families(keys, refs, 2, 0.5).tolist() == [0, 1]
    assert reference_families(keys, refs, 2, 0.5, min_shared=32).tolist() == [0, 0]
    assert reference_families(keys, refs, 2, 0.5, min_shared=41).tolist() == [0, 1]
    empty = reference_families(np.zeros(0, np.uint64), np.zeros(0, np.int64), 3, 0.5)
    assert empty.tolist() == [0, 1, 2]


def test_family_document_frequency_counts_families_not_references():
    keys, refs = _postings({0: [5, 6], 1: [5, 6], 2: [5], 3: [9]})
    families = np.array([0, 0, 2, 3])  # refs 0 and 1: one family
    df = family_document_frequency(keys, refs, families)
    by_key = {int(k): int(d) for k, d in zip(keys, df)}
    assert by_key == {5: 2, 6: 1, 9: 1}
    assert df.dtype == np.uint32 and len(df) == len(keys)


def test_family_containment_is_validated():
    with pytest.raises(ValueError, match="family_containment"):
        IndexParams(family_containment=0.0)
    with pytest.raises(ValueError, match="family_containment"):
        IndexParams(family_containment=1.5)
    with pytest.raises(ValueError, match="family_min_shared"):
        IndexParams(family_min_shared=0)


# --------------------------------------------------------------------------- matching


@pytest.fixture(scope="module")
def shared_refs() -> list[str]:
    """r0 and r1: independent outputs that both hold PASSAGE; r2 quotes LICENCE."""
    return [
        prose(10, 200) + " " + PASSAGE + " " + prose(11, 200),
        prose(12, 250) + " " + PASSAGE + " " + prose(13, 150),
        prose(14, 150) + " " + LICENCE + " " + prose(15, 150),
        *(prose(20 + i, 200) for i in range(10)),
    ]


@pytest.fixture(scope="module")
def shared_index(shared_refs) -> ReferenceIndex:
    ids = [f"r{i}" for i in range(len(shared_refs))]
    return ReferenceIndex.build(shared_refs, ids, backend="cpu")


def test_independent_references_are_separate_families(shared_index):
    families, _ = shared_index.family_data()
    assert families[0] != families[1]
    assert len(set(families.tolist())) == shared_index.n_refs


def test_phrasing_two_families_share_is_not_evidence(shared_index, shared_refs):
    doc = prose(90, 30) + " " + PASSAGE + " " + prose(91, 30)
    assert match_one(shared_index, doc)["label"] == "none"
    # with the rule off, the same passage is a partial derivative of r0 and r1
    row = match_one(shared_index, doc, shared_min_families=1000)
    assert row["label"] == "partial_derivative"
    assert set(row["ref_ids"]) == {"r0", "r1"}
    # copies of r0 keep their label: most of r0 is its own text
    row = match_one(shared_index, shared_refs[0])
    assert row["label"] == "verbatim_copy" and row["ref_ids"][0] == "r0"
    # and the shared passage still counts toward coverage once there is evidence
    assert row["cov_ref"] > 0.95


def test_outputs_of_one_conversation_are_one_family(shared_refs):
    ids = [f"r{i}" for i in range(len(shared_refs))]
    conversations = ["c1", "c1"] + [None] * (len(shared_refs) - 2)
    index = ReferenceIndex.build(shared_refs, ids, conversations=conversations, backend="cpu")
    families, _ = index.family_data()
    assert families[0] == families[1]
    doc = prose(90, 30) + " " + PASSAGE + " " + prose(91, 30)
    row = match_one(index, doc)
    assert row["label"] == "partial_derivative"
    assert set(row["ref_ids"]) == {"r0", "r1"}
    assert index.meta().column("conversation").to_pylist()[:3] == ["c1", "c1", None]


def test_known_human_text_is_not_evidence(shared_refs, tmp_path):
    ids = [f"r{i}" for i in range(len(shared_refs))]
    index = ReferenceIndex.build(shared_refs, ids, backend="cpu")
    page = prose(95, 30) + "\n\n" + LICENCE + "\n\n" + prose(96, 30)
    assert match_one(index, page)["label"] == "partial_derivative"
    report = index.add_human([prose(97, 50) + " " + LICENCE + " " + prose(98, 50)])
    assert report["human_texts"] == 1 and report["human_keys"] > 0
    assert match_one(index, page)["label"] == "none"
    # a copy of the reference that quotes the licence is still a copy
    row = match_one(index, shared_refs[2])
    assert row["label"] == "verbatim_copy" and row["ref_ids"][0] == "r2"
    # stored and reloaded: same results, human keys kept as keys only
    index.save(tmp_path / "ref")
    loaded = ReferenceIndex.load(tmp_path / "ref")
    assert loaded.counts["human_texts"] == 1
    assert match_one(loaded, page)["label"] == "none"
    assert (tmp_path / "ref" / "human").is_dir()
    assert not any(
        LICENCE[:40] in p.read_bytes().decode("latin-1")
        for p in (tmp_path / "ref" / "human").rglob("*.npy")
    )


def test_prompts_are_known_human_text(shared_refs):
    ids = [f"r{i}" for i in range(len(shared_refs))]
    prompts = [None, None, "Please rewrite this for me: " + LICENCE] + [None] * (
        len(shared_refs) - 3
    )
    index = ReferenceIndex.build(shared_refs, ids, prompts=prompts, backend="cpu")
    assert index.counts["human_texts"] == 1
    page = prose(95, 30) + "\n\n" + LICENCE + "\n\n" + prose(96, 30)
    assert match_one(index, page)["label"] == "none"
    with pytest.raises(ValueError, match="prompts"):
        ReferenceIndex.build(shared_refs, ids, prompts=["x"], backend="cpu")


def test_add_after_human_equals_rebuild(shared_refs, tmp_path):
    ids = [f"r{i}" for i in range(len(shared_refs))]
    human = [prose(97, 50) + " " + LICENCE]
    docs = [
        prose(90, 30) + " " + PASSAGE + " " + prose(91, 30),
        prose(95, 30) + " " + LICENCE + " " + prose(96, 30),
        shared_refs[1],
        shared_refs[7][200:900],
    ]
    whole = ReferenceIndex.build(shared_refs, ids, backend="cpu")
    whole.add_human(human)
    staged = ReferenceIndex.build(shared_refs[:5], ids[:5], backend="cpu")
    staged.add_human(human)
    staged.save(tmp_path / "ref")
    staged = ReferenceIndex.load(tmp_path / "ref")
    staged.add(shared_refs[5:], ids[5:], backend="cpu")
    staged.save(tmp_path / "ref")
    staged = ReferenceIndex.load(tmp_path / "ref")
    a = whole.match(docs, backend="cpu").to_pylist()
    b = staged.match(docs, backend="cpu").to_pylist()
    assert a == b
    assert [r["label"] for r in a] == ["none", "none", "verbatim_copy", "partial_derivative"]
    # one anchor generation on disk, holding the family data
    gens = sorted(p.name for p in (tmp_path / "ref" / "anchors").iterdir())
    assert len(gens) == 1
    assert (tmp_path / "ref" / "anchors" / gens[0] / "family_df.npy").exists()


def test_index_saved_without_family_data_recomputes_it(shared_index, tmp_path):
    shared_index.save(tmp_path / "ref")
    info = json.loads((tmp_path / "ref" / "index.json").read_text())
    folder = tmp_path / "ref" / "anchors" / info["anchors"]
    (folder / "family_df.npy").unlink()
    (folder / "families.npy").unlink()
    loaded = ReferenceIndex.load(tmp_path / "ref")
    a_fam, a_df = shared_index.family_data()
    b_fam, b_df = loaded.family_data()
    assert np.array_equal(a_fam, b_fam) and np.array_equal(a_df, b_df)


def test_shared_min_families_is_validated():
    with pytest.raises(ValueError, match="shared_min_families"):
        ProvenanceParams(shared_min_families=0)


# --------------------------------------------------------------------------- CLI


def _write_jsonl(path, rows):
    with open(path, "w") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    return path


def test_cli_human_text_prompt_and_conversation_columns(tmp_path, shared_refs):
    runner = CliRunner()
    rows = [{"id": f"r{i}", "text": t} for i, t in enumerate(shared_refs)]
    rows[0]["conversation"] = rows[1]["conversation"] = "c1"
    refs = _write_jsonl(tmp_path / "refs.jsonl", rows)
    human = _write_jsonl(tmp_path / "human.jsonl", [{"text": prose(97, 50) + " " + LICENCE}])
    ref = tmp_path / "ref"
    result = runner.invoke(
        reference_group,
        ["build", str(refs), "--out", str(ref), "--human", str(human), "-q", "--backend", "cpu"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((ref / "summary.json").read_text())
    assert summary["counts"]["human_texts"] == 1
    docs = _write_jsonl(
        tmp_path / "docs.jsonl",
        [
            {"id": "passage", "text": prose(90, 30) + " " + PASSAGE + " " + prose(91, 30)},
            {"id": "licence", "text": prose(95, 30) + " " + LICENCE + " " + prose(96, 30)},
        ],
    )
    args = [str(docs), "--reference", str(ref), "--id-column", "id", "-q", "--backend", "cpu"]
    result = runner.invoke(flag_command, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    rows = {r["doc_id"]: r for r in _read_flags(tmp_path / "out")}
    # r0 and r1 are one conversation, so the passage is a trace of it; the licence is
    # known human text
    assert rows["passage"]["label"] == "partial_derivative"
    assert rows["licence"]["label"] == "none"
    # add-human: a second batch of human text, then an empty file is a clean error
    more = _write_jsonl(tmp_path / "more.jsonl", [{"text": prose(99, 80)}])
    result = runner.invoke(reference_group, ["add-human", str(ref), str(more), "-q"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["human_texts"] == 1
    assert json.loads((ref / "index.json").read_text())["counts"]["human_texts"] == 2
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = runner.invoke(reference_group, ["add-human", str(ref), str(empty), "-q"])
    assert result.exit_code != 0 and "no text could be read" in result.output
    # --shared-min-families is passed through
    result = runner.invoke(
        flag_command, [*args, "--out", str(tmp_path / "out2"), "--shared-min-families", "1000"]
    )
    assert result.exit_code == 0, result.output


def _read_flags(folder):
    import pyarrow.parquet as pq

    return pq.read_table(folder / "flags.parquet").to_pylist()
