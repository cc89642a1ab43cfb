"""A damaged reference index is refused with one error that names the file.

Every test builds a small real index (two segments, a repeated text, known human
text), damages one thing in a copy of its folder and checks that
``ReferenceIndex.load`` raises ``DamagedIndex`` naming the damaged file and the fix,
instead of a traceback, different labels or a read outside the index folder.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.provenance import DamagedIndex, ReferenceIndex

WORDS = [
    (lambda rng: "".join(rng.choice("abcdefghij") for _ in range(4 + i % 5)))(random.Random(i))
    for i in range(2000)
]


def prose(seed: int, n_words: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n_words)) + "."


TEXTS = [prose(i, 100 + i % 50) for i in range(24)]
DOCS = [
    TEXTS[3],
    TEXTS[5][:400],
    "unrelated words here, nothing to see",
    prose(99, 80) + " " + TEXTS[14] + " " + prose(98, 80),
    TEXTS[20],
]
FIX = "ouroboros reference build"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``(in-memory index, its saved folder)``: segment 0 (12 references, with
    conversations), segment 1 (8 references and a repeated text), one human part."""
    index = ReferenceIndex.build(
        TEXTS[:12],
        [f"a-{i}" for i in range(12)],
        models=["gpt"] * 12,
        conversations=[f"c{i // 3}" for i in range(12)],
        backend="cpu",
    )
    index.add(TEXTS[12:20] + [TEXTS[0]], [f"b-{i}" for i in range(8)] + ["dup-0"], backend="cpu")
    index.add_human([TEXTS[20]])
    root = index.save(tmp_path_factory.mktemp("pristine") / "ref")
    return index, root


@pytest.fixture
def ref(built, tmp_path) -> Path:
    """A fresh copy of the saved index to damage."""
    return Path(shutil.copytree(built[1], tmp_path / "ref"))


# --------------------------------------------------------------------------- helpers


def info(root: Path) -> dict:
    return json.loads((root / "index.json").read_text())


def edit_info(root: Path, change) -> None:
    data = info(root)
    change(data)
    (root / "index.json").write_text(json.dumps(data))


def gen(root: Path) -> str:
    return "anchors/" + info(root)["anchors"]


def load(root: Path, rel: str) -> np.ndarray:
    return np.load(root / rel)


def save(root: Path, rel: str, array: np.ndarray) -> None:
    with open(root / rel, "wb") as fh:
        np.save(fh, array, allow_pickle=True)


def change_array(rel_of, change):
    """A damage that rewrites one array: ``change(array) -> array``."""

    def damage(root: Path) -> None:
        rel = rel_of(root) if callable(rel_of) else rel_of
        save(root, rel, change(load(root, rel).copy()))

    return damage


def write_npz(path: Path) -> None:
    norm = np.load(path)
    with open(path, "wb") as fh:
        np.savez(fh, norm=norm)


def change_meta(rel: str, change):
    def damage(root: Path) -> None:
        pq.write_table(change(pq.read_table(root / rel)), root / rel)

    return damage


def set_at(position: int, value):
    def change(a: np.ndarray) -> np.ndarray:
        a[position] = value
        return a

    return change


def swap(i: int, j: int):
    def change(a: np.ndarray) -> np.ndarray:
        a[[i, j]] = a[[j, i]]
        return a

    return change


def anchors(name: str):
    return lambda root: f"{gen(root)}/{name}.npy"


def assert_refused(root: Path, rel: str, *words: str) -> DamagedIndex:
    with pytest.raises(DamagedIndex) as caught:
        ReferenceIndex.load(root)
    message = str(caught.value)
    assert str(root / rel) in message, message
    assert FIX in message, message
    for word in words:
        assert word in message, message
    assert "\n" not in message
    assert isinstance(caught.value, ValueError)
    return caught.value


SEG0 = "segments/seg-00000"
SEG1 = "segments/seg-00001"
HUM = "human/hum-00000/keys.npy"

# (id, damage(root), the file (or folder) the error names, relative to the index, words)
CASES = [
    # ------------------------------------------------------------ index.json
    ("info_not_json", lambda r: (r / "index.json").write_text("{oops"), "index.json", "JSON"),
    ("info_empty", lambda r: (r / "index.json").write_text(""), "index.json", "JSON"),
    ("info_not_object", lambda r: (r / "index.json").write_text("[1, 2]"), "index.json", ""),
    (
        "info_is_a_folder",
        lambda r: ((r / "index.json").unlink(), (r / "index.json").mkdir()),
        "index.json",
        "",
    ),
    (
        "info_format",
        lambda r: edit_info(r, lambda d: d.update(format="other")),
        "index.json",
        "format",
    ),
    ("info_version", lambda r: edit_info(r, lambda d: d.update(version=99)), "index.json", "99"),
    (
        "info_normalization_version",
        lambda r: edit_info(r, lambda d: d.update(normalization_version=1)),
        "index.json",
        "normalization",
    ),
    (
        "info_no_segments",
        lambda r: edit_info(r, lambda d: d.pop("segments")),
        "index.json",
        "segments",
    ),
    (
        "info_no_anchors",
        lambda r: edit_info(r, lambda d: d.pop("anchors")),
        "index.json",
        "anchors",
    ),
    ("info_no_params", lambda r: edit_info(r, lambda d: d.pop("params")), "index.json", "params"),
    (
        "info_segments_not_list",
        lambda r: edit_info(r, lambda d: d.update(segments={"name": "seg-00000"})),
        "index.json",
        "segments",
    ),
    (
        "info_segment_entry_not_object",
        lambda r: edit_info(r, lambda d: d["segments"].__setitem__(0, "seg-00000")),
        "index.json",
        "segments",
    ),
    (
        "info_segment_no_name",
        lambda r: edit_info(r, lambda d: d["segments"][0].pop("name")),
        "index.json",
        "name",
    ),
    (
        "info_segment_n_refs_string",
        lambda r: edit_info(r, lambda d: d["segments"][0].update(n_refs="12")),
        "index.json",
        "n_refs",
    ),
    (
        "info_n_refs_bool",
        lambda r: edit_info(r, lambda d: d.update(n_refs=True)),
        "index.json",
        "n_refs",
    ),
    (
        "info_n_refs_negative",
        lambda r: edit_info(r, lambda d: d.update(n_refs=-1)),
        "index.json",
        "n_refs",
    ),
    (
        "info_params_not_object",
        lambda r: edit_info(r, lambda d: d.update(params=[32, 32])),
        "index.json",
        "params",
    ),
    (
        "info_params_unknown_key",
        lambda r: edit_info(r, lambda d: d["params"].update(bogus=1)),
        "index.json",
        "bogus",
    ),
    (
        "info_params_missing_key",
        lambda r: edit_info(r, lambda d: d["params"].pop("anchor_bytes")),
        "index.json",
        "anchor_bytes",
    ),
    (
        "info_params_wrong_type",
        lambda r: edit_info(r, lambda d: d["params"].update(num_perm="64")),
        "index.json",
        "num_perm",
    ),
    (
        "info_params_invalid",
        lambda r: edit_info(r, lambda d: d["params"].update(anchor_bytes=4)),
        "index.json",
        "anchor_bytes",
    ),
    (
        "info_counts_not_object",
        lambda r: edit_info(r, lambda d: d.update(counts=[1])),
        "index.json",
        "counts",
    ),
    (
        "info_counts_value_string",
        lambda r: edit_info(r, lambda d: d["counts"].update(duplicate_texts="1")),
        "index.json",
        "duplicate_texts",
    ),
    (
        "info_human_not_list",
        lambda r: edit_info(r, lambda d: d.update(human="hum-00000")),
        "index.json",
        "human",
    ),
    (
        "info_n_refs_mismatch",
        lambda r: edit_info(r, lambda d: d.update(n_refs=d["n_refs"] + 1)),
        "index.json",
        "n_refs",
    ),
    (
        "info_segment_n_refs_mismatch",
        lambda r: edit_info(r, lambda d: d["segments"][0].update(n_refs=13)),
        f"{SEG0}/meta.parquet",
        "13",
    ),
    (
        "info_n_norm_bytes_mismatch",
        lambda r: edit_info(r, lambda d: d["segments"][1].update(n_norm_bytes=5)),
        f"{SEG1}/norm.npy",
        "n_norm_bytes",
    ),
    (
        "info_n_bytes_mismatch",
        lambda r: edit_info(r, lambda d: d["segments"][1].update(n_bytes=5)),
        f"{SEG1}/meta.parquet",
        "n_bytes",
    ),
    (
        "info_n_anchor_pairs_mismatch",
        lambda r: edit_info(r, lambda d: d.update(n_anchor_pairs=d["n_anchor_pairs"] - 1)),
        "anchors",
        "n_anchor_pairs",
    ),
    (
        "info_duplicate_texts_count",
        lambda r: edit_info(r, lambda d: d["counts"].update(duplicate_texts=0)),
        "index.json",
        "duplicate_texts",
    ),
    # ------------------------------------------------------------ part names
    (
        "segment_name_traversal",
        lambda r: edit_info(r, lambda d: d["segments"][0].update(name="../../../../etc")),
        "index.json",
        "../../../../etc",
    ),
    (
        "segment_name_absolute",
        lambda r: edit_info(r, lambda d: d["segments"][0].update(name="/etc")),
        "index.json",
        "/etc",
    ),
    (
        "segment_name_pattern",
        lambda r: edit_info(r, lambda d: d["segments"][0].update(name="seg-0")),
        "index.json",
        "seg-0",
    ),
    (
        "segment_names_out_of_order",
        lambda r: edit_info(r, lambda d: d["segments"].reverse()),
        "index.json",
        "seg-00001",
    ),
    (
        "anchors_name_traversal",
        lambda r: edit_info(r, lambda d: d.update(anchors="../segments/seg-00000")),
        "index.json",
        "anchors",
    ),
    (
        "anchors_name_pattern",
        lambda r: edit_info(r, lambda d: d.update(anchors="gen-2x")),
        "index.json",
        "gen-2x",
    ),
    (
        "human_name_traversal",
        lambda r: edit_info(r, lambda d: d.update(human=["../../../tmp"])),
        "index.json",
        "../../../tmp",
    ),
    (
        "human_name_not_string",
        lambda r: edit_info(r, lambda d: d.update(human=[0])),
        "index.json",
        "human",
    ),
    # ------------------------------------------------------------ files missing / unreadable
    *[
        (f"missing_{rel.replace('/', '_')}", lambda r, rel=rel: (r / rel).unlink(), rel, "missing")
        for rel in (
            f"{SEG0}/meta.parquet",
            f"{SEG0}/norm.npy",
            f"{SEG0}/norm_offsets.npy",
            f"{SEG1}/signatures.npy",
            f"{SEG1}/band_keys.npy",
            HUM,
        )
    ],
    ("missing_segment_folder", lambda r: shutil.rmtree(r / SEG1), f"{SEG1}/meta.parquet", ""),
    ("missing_anchor_keys", lambda r: (r / anchors("keys")(r)).unlink(), "anchors", "keys.npy"),
    ("missing_anchor_refs", lambda r: (r / anchors("refs")(r)).unlink(), "anchors", "refs.npy"),
    (
        "missing_families_only",
        lambda r: (r / anchors("families")(r)).unlink(),
        "anchors",
        "families.npy",
    ),
    (
        "missing_family_df_only",
        lambda r: (r / anchors("family_df")(r)).unlink(),
        "anchors",
        "family_df.npy",
    ),
    (
        "npy_garbage",
        lambda r: (r / SEG0 / "norm_offsets.npy").write_bytes(b"not an array at all"),
        f"{SEG0}/norm_offsets.npy",
        "",
    ),
    (
        "npy_empty_file",
        lambda r: (r / SEG0 / "signatures.npy").write_bytes(b""),
        f"{SEG0}/signatures.npy",
        "",
    ),
    (
        "npy_truncated",
        lambda r: (r / SEG0 / "signatures.npy").write_bytes(
            (r / SEG0 / "signatures.npy").read_bytes()[:300]
        ),
        f"{SEG0}/signatures.npy",
        "",
    ),
    (
        "npy_pickled",
        lambda r: save(r, anchors("refs")(r), np.array([{"a": 1}, None], dtype=object)),
        "anchors",
        "refs.npy",
    ),
    (
        "npy_is_npz",
        lambda r: write_npz(r / SEG0 / "norm.npy"),
        f"{SEG0}/norm.npy",
        "",
    ),
    (
        "npy_is_a_folder",
        lambda r: ((r / SEG1 / "norm.npy").unlink(), (r / SEG1 / "norm.npy").mkdir()),
        f"{SEG1}/norm.npy",
        "",
    ),
    (
        "parquet_garbage",
        lambda r: (r / SEG0 / "meta.parquet").write_bytes(b"PAR1 nonsense PAR1"),
        f"{SEG0}/meta.parquet",
        "",
    ),
    # ------------------------------------------------------------ dtypes and shapes
    (
        "norm_dtype",
        change_array(f"{SEG0}/norm.npy", lambda a: a.astype(np.int16)),
        f"{SEG0}/norm.npy",
        "uint8",
    ),
    (
        "norm_ndim",
        change_array(f"{SEG0}/norm.npy", lambda a: a[: len(a) // 2 * 2].reshape(-1, 2)),
        f"{SEG0}/norm.npy",
        "",
    ),
    (
        "norm_offsets_dtype",
        change_array(f"{SEG0}/norm_offsets.npy", lambda a: a.astype(np.int32)),
        f"{SEG0}/norm_offsets.npy",
        "int64",
    ),
    (
        "norm_offsets_big_endian",
        change_array(f"{SEG0}/norm_offsets.npy", lambda a: a.astype(">i8")),
        f"{SEG0}/norm_offsets.npy",
        "int64",
    ),
    (
        "signatures_dtype",
        change_array(f"{SEG1}/signatures.npy", lambda a: a.astype(np.int64)),
        f"{SEG1}/signatures.npy",
        "uint32",
    ),
    (
        "signatures_rows",
        change_array(f"{SEG1}/signatures.npy", lambda a: a[:-1]),
        f"{SEG1}/signatures.npy",
        "",
    ),
    (
        "signatures_columns",
        change_array(f"{SEG1}/signatures.npy", lambda a: a[:, :-1]),
        f"{SEG1}/signatures.npy",
        "num_perm",
    ),
    (
        "num_perm_changed",
        lambda r: edit_info(r, lambda d: d["params"].update(num_perm=128)),
        f"{SEG0}/signatures.npy",
        "num_perm",
    ),
    (
        "band_keys_flat",
        change_array(f"{SEG0}/band_keys.npy", lambda a: a.reshape(-1)),
        f"{SEG0}/band_keys.npy",
        "",
    ),
    (
        "band_keys_columns",
        change_array(f"{SEG0}/band_keys.npy", lambda a: a[:, :-1]),
        f"{SEG0}/band_keys.npy",
        "bands",
    ),
    (
        "band_keys_dtype",
        change_array(f"{SEG0}/band_keys.npy", lambda a: a.astype(np.int64)),
        f"{SEG0}/band_keys.npy",
        "uint64",
    ),
    # ------------------------------------------------------------ norm offsets
    (
        "offsets_one_short",
        change_array(f"{SEG0}/norm_offsets.npy", lambda a: a[:-1]),
        f"{SEG0}/norm_offsets.npy",
        "",
    ),
    (
        "offsets_start",
        change_array(f"{SEG0}/norm_offsets.npy", set_at(0, 3)),
        f"{SEG0}/norm_offsets.npy",
        "0",
    ),
    (
        "offsets_decreasing",
        change_array(f"{SEG0}/norm_offsets.npy", swap(3, 4)),
        f"{SEG0}/norm_offsets.npy",
        "",
    ),
    (
        "offsets_end_short",
        change_array(f"{SEG1}/norm_offsets.npy", lambda a: set_at(-1, a[-1] - 1)(a)),
        f"{SEG1}/norm_offsets.npy",
        "",
    ),
    (
        "offsets_past_norm",
        change_array(f"{SEG1}/norm_offsets.npy", lambda a: set_at(-1, a[-1] + 1000)(a)),
        f"{SEG1}/norm_offsets.npy",
        "",
    ),
    (
        "offsets_negative",
        change_array(f"{SEG1}/norm_offsets.npy", set_at(2, -5)),
        f"{SEG1}/norm_offsets.npy",
        "",
    ),
    (
        "norm_shorter",
        change_array(f"{SEG1}/norm.npy", lambda a: a[:-10]),
        f"{SEG1}/norm.npy",
        "",
    ),
    # ------------------------------------------------------------ anchors
    (
        "anchor_keys_dtype",
        change_array(anchors("keys"), lambda a: a.astype(np.int64)),
        "anchors",
        "uint64",
    ),
    (
        "anchor_keys_unsorted",
        change_array(anchors("keys"), swap(0, -1)),
        "anchors",
        "keys.npy",
    ),
    (
        "anchor_refs_dtype",
        change_array(anchors("refs"), lambda a: a.astype(np.int32)),
        "anchors",
        "int64",
    ),
    (
        "anchor_refs_too_large",
        change_array(anchors("refs"), set_at(5, 21)),
        "anchors",
        "refs.npy",
    ),
    (
        "anchor_refs_negative",
        change_array(anchors("refs"), set_at(5, -1)),
        "anchors",
        "refs.npy",
    ),
    (
        "anchor_refs_shorter",
        change_array(anchors("refs"), lambda a: a[:-1]),
        "anchors",
        "refs.npy",
    ),
    (
        "anchor_pairs_repeated",
        lambda r: (
            change_array(anchors("keys"), lambda a: set_at(1, a[0])(a))(r),
            change_array(anchors("refs"), lambda a: set_at(1, a[0])(a))(r),
        ),
        "anchors",
        "",
    ),
    (
        "families_length",
        change_array(anchors("families"), lambda a: a[:-1]),
        "anchors",
        "families.npy",
    ),
    (
        "families_out_of_range",
        change_array(anchors("families"), set_at(3, 100)),
        "anchors",
        "families.npy",
    ),
    (
        "families_not_smallest",
        change_array(anchors("families"), set_at(0, 5)),
        "anchors",
        "families.npy",
    ),
    (
        "families_dtype",
        change_array(anchors("families"), lambda a: a.astype(np.float64)),
        "anchors",
        "families.npy",
    ),
    (
        "family_df_length",
        change_array(anchors("family_df"), lambda a: a[:-1]),
        "anchors",
        "family_df.npy",
    ),
    (
        "family_df_zero",
        change_array(anchors("family_df"), set_at(0, 0)),
        "anchors",
        "family_df.npy",
    ),
    (
        "family_df_too_large",
        change_array(anchors("family_df"), set_at(0, 10_000)),
        "anchors",
        "family_df.npy",
    ),
    # ------------------------------------------------------------ human keys
    ("human_unsorted", change_array(HUM, swap(0, -1)), HUM, ""),
    ("human_dtype", change_array(HUM, lambda a: a.astype(np.int64)), HUM, "uint64"),
    ("human_ndim", change_array(HUM, lambda a: a[: len(a) // 2 * 2].reshape(2, -1)), HUM, ""),
    # ------------------------------------------------------------ meta.parquet
    (
        "meta_row_dropped",
        change_meta(f"{SEG0}/meta.parquet", lambda t: t.slice(0, t.num_rows - 1)),
        f"{SEG0}/meta.parquet",
        "",
    ),
    (
        "meta_column_dropped",
        change_meta(f"{SEG0}/meta.parquet", lambda t: t.drop_columns(["duplicate_text"])),
        f"{SEG0}/meta.parquet",
        "duplicate_text",
    ),
    (
        "meta_column_type",
        change_meta(
            f"{SEG0}/meta.parquet",
            lambda t: t.set_column(
                t.column_names.index("n_bytes"), "n_bytes", pc.cast(t["n_bytes"], pa.string())
            ),
        ),
        f"{SEG0}/meta.parquet",
        "n_bytes",
    ),
    (
        "meta_n_bytes_wrong",
        change_meta(
            f"{SEG1}/meta.parquet",
            lambda t: t.set_column(
                t.column_names.index("n_bytes"), "n_bytes", pc.add(t["n_bytes"], 1)
            ),
        ),
        f"{SEG1}/meta.parquet",
        "n_bytes",
    ),
    (
        "meta_null_id",
        change_meta(
            f"{SEG1}/meta.parquet",
            lambda t: t.set_column(0, "ref_id", pa.nulls(t.num_rows, pa.string())),
        ),
        f"{SEG1}/meta.parquet",
        "ref_id",
    ),
    (
        "meta_repeated_id",
        change_meta(
            f"{SEG1}/meta.parquet",
            lambda t: t.set_column(0, "ref_id", pa.array(["a-0"] * t.num_rows)),
        ),
        f"{SEG1}/meta.parquet",
        "ref_id",
    ),
]


@pytest.mark.parametrize(
    ("damage", "rel", "word"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_damaged_index_is_refused_naming_the_file(ref, damage, rel, word):
    damage(ref)
    if rel == "anchors":
        rel = gen(ref) if (ref / "index.json").is_file() else rel
    assert_refused(ref, rel, word)


# --------------------------------------------------------------------------- reading outside


def test_segment_outside_the_folder_is_not_read(ref, tmp_path):
    """A name in index.json must not lead outside the index: before, a segment named
    ``../../outside/seg-00000`` was read from there."""
    outside = tmp_path / "outside" / "seg-00000"
    shutil.copytree(ref / SEG0, outside)
    shutil.rmtree(ref / SEG0)
    edit_info(ref, lambda d: d["segments"][0].update(name="../../outside/seg-00000"))
    assert_refused(ref, "index.json", "outside/seg-00000")


def test_symlinked_segment_outside_the_folder_is_refused(ref, tmp_path):
    outside = tmp_path / "elsewhere"
    shutil.move(ref / SEG1, outside)
    os.symlink(outside, ref / SEG1)
    assert_refused(ref, SEG1, "outside")


def test_symlinked_array_outside_the_folder_is_refused(ref, tmp_path):
    target = tmp_path / "norm.npy"
    shutil.move(ref / SEG0 / "norm.npy", target)
    os.symlink(target, ref / SEG0 / "norm.npy")
    assert_refused(ref, f"{SEG0}/norm.npy", "outside")


# --------------------------------------------------------------------------- valid indexes


def test_valid_index_flags_as_before(built):
    index, root = built
    loaded = ReferenceIndex.load(root)
    a = index.match(DOCS, backend="cpu")
    b = loaded.match(DOCS, backend="cpu")
    assert a.equals(b)
    labels = a.column("label").to_pylist()
    assert labels[0] == "verbatim_copy" and labels[2] == "none"
    assert loaded.n_refs == index.n_refs == 21 and loaded.n_distinct == 20


def test_valid_index_add_after_load(built, tmp_path):
    index, root = built
    copy = Path(shutil.copytree(root, tmp_path / "ref"))
    loaded = ReferenceIndex.load(copy)
    loaded.add([TEXTS[21], TEXTS[22]], ["c-0", "c-1"], backend="cpu")
    loaded.add_human([TEXTS[23]])
    loaded.save(copy)
    again = ReferenceIndex.load(copy)
    assert info(copy)["human"] == ["hum-00000", "hum-00001"]
    assert [s["name"] for s in info(copy)["segments"]] == ["seg-00000", "seg-00001", "seg-00002"]
    assert loaded.match(DOCS, backend="cpu").equals(again.match(DOCS, backend="cpu"))


def test_valid_older_layouts_still_load(built, tmp_path):
    """Saved without family data and without the ``conversation`` column (older
    versions of format 1): still an index."""
    index, root = built
    copy = Path(shutil.copytree(root, tmp_path / "ref"))
    (copy / anchors("families")(copy)).unlink()
    (copy / anchors("family_df")(copy)).unlink()
    for seg in (SEG0, SEG1):
        table = pq.read_table(copy / seg / "meta.parquet")
        pq.write_table(table.drop_columns(["conversation"]), copy / seg / "meta.parquet")
    edit_info(
        copy, lambda d: [d["params"].pop(k) for k in ("family_containment", "family_min_shared")]
    )
    loaded = ReferenceIndex.load(copy)
    assert loaded.n_refs == index.n_refs
    assert loaded.match(DOCS, backend="cpu").num_rows == len(DOCS)


def test_empty_index_still_loads(tmp_path):
    ReferenceIndex().save(tmp_path / "ref")
    assert ReferenceIndex.load(tmp_path / "ref").n_refs == 0


def test_missing_index_json_is_not_an_index(tmp_path):
    with pytest.raises(FileNotFoundError, match="reference build"):
        ReferenceIndex.load(tmp_path)


# --------------------------------------------------------------------------- the CLI


def _flag(tmp_path: Path, refdir: Path, out: str):
    docs = tmp_path / "docs.jsonl"
    docs.write_text(
        "".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(DOCS))
    )
    args = ["flag", str(docs), "--reference", str(refdir), "--out", str(tmp_path / out)]
    args += ["--backend", "cpu", "--scheduler", "threads", "--workers", "1", "--quiet"]
    return CliRunner().invoke(main, args)


def test_cli_flag_damaged_offsets_exits_1_with_one_line(ref, tmp_path):
    """Before: out-of-range offsets in a segment flagged with exit 0 and other labels."""
    good = _flag(tmp_path, ref, "good")
    assert good.exit_code == 0, good.output
    change_array(f"{SEG0}/norm_offsets.npy", lambda a: set_at(4, a[-1] + 500)(a))(ref)
    # index.json is rewritten as is, so that a cached index of this folder is not reused
    edit_info(ref, lambda d: None)
    os.utime(ref / "index.json", (1, 1))
    result = _flag(tmp_path, ref, "bad")
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error:")
    assert str(ref / SEG0 / "norm_offsets.npy") in lines[0]
    assert FIX in lines[0]
    assert "Traceback" not in result.output


def test_cli_flag_traversal_exits_1(ref, tmp_path):
    edit_info(ref, lambda d: d["segments"][0].update(name="../../../../etc"))
    result = _flag(tmp_path, ref, "out")
    assert result.exit_code == 1, result.output
    assert str(ref / "index.json") in result.output and FIX in result.output
