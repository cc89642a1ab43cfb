"""The ``flag`` pipeline over files and the provenance CLI commands."""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from engine.cli.provenance import flag as flag_command
from engine.cli.provenance import reference as reference_group
from engine.provenance import FLAGS_SCHEMA, LABELS, build_reference, flag

WORDS = [
    (lambda rng: "".join(rng.choice("klmnopqrstu") for _ in range(3 + i % 6)))(random.Random(i))
    for i in range(2000)
]


def prose(seed: int, n_words: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n_words)) + "."


REFS = [prose(100 + i, 120 + i % 40) for i in range(20)]


def _write_jsonl(path, rows, extra_lines=()):
    with open(path, "w") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
        for line in extra_lines:
            fh.write(line + "\n")
    return path


@pytest.fixture(scope="module")
def refdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("prov")
    src = _write_jsonl(
        root / "refs.jsonl", [{"id": f"r{i}", "text": t, "model": "m1"} for i, t in enumerate(REFS)]
    )
    build_reference([src], root / "ref", backend="cpu")
    return root / "ref"


def _docs():
    return [
        {"id": "copy", "text": REFS[0]},
        {"id": "human", "text": prose(1, 200)},
        {"id": "embedded", "text": prose(2, 300) + "\n" + REFS[1] + "\n" + prose(3, 300)},
        {"id": "fragment", "text": REFS[2][100:500]},
        {"id": "empty", "text": ""},
    ]


def test_flags_contract(tmp_path, refdir):
    docs = _write_jsonl(tmp_path / "docs.jsonl", _docs(), extra_lines=["{not json"])
    result = flag(
        [docs],
        tmp_path / "out",
        reference=refdir,
        id_column="id",
        backend="cpu",
        progress=False,
        max_skipped=0.5,  # 1 malformed line among 6 records
    )
    table = pq.read_table(tmp_path / "out" / "flags.parquet")
    assert table.schema.equals(FLAGS_SCHEMA)
    assert table.column("doc_id").to_pylist() == ["copy", "human", "embedded", "fragment", "empty"]
    labels = dict(zip(table.column("doc_id").to_pylist(), table.column("label").to_pylist()))
    assert labels == {
        "copy": "verbatim_copy",
        "human": "none",
        "embedded": "contains_output",
        "fragment": "partial_derivative",
        "empty": "none",
    }
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["counts"]["documents"] == 5
    assert summary["counts"]["labels"] == {
        "verbatim_copy": 1,
        "contains_output": 1,
        "partial_derivative": 1,
        "none": 2,
    }
    assert set(summary["counts"]["labels"]) == set(LABELS)
    assert summary["read"]["skipped"] == {"malformed_json": 1}  # counted, not in flags
    assert summary["reference"]["n_refs"] == 20
    assert "versions" in summary and "timings_s" in summary
    assert result.flags.equals(table)


def test_partition_invariance_and_resume(tmp_path, refdir):
    docs = _write_jsonl(tmp_path / "docs.jsonl", _docs() * 30)
    one = flag([docs], tmp_path / "a", reference=refdir, backend="cpu", progress=False)
    many = flag(
        [docs],
        tmp_path / "b",
        reference=refdir,
        backend="cpu",
        progress=False,
        partition_size="4KB",
        batch_size="3KB",
    )
    assert many.summary["counts"]["partitions"] > 1
    assert one.flags.equals(many.flags)
    again = flag(
        [docs],
        tmp_path / "b",
        reference=refdir,
        backend="cpu",
        progress=False,
        partition_size="4KB",
        batch_size="3KB",
    )
    assert again.summary["counts"]["partitions_reused"] == many.summary["counts"]["partitions"]
    assert again.flags.equals(many.flags)
    changed = flag(
        [docs],
        tmp_path / "b",
        reference=refdir,
        backend="cpu",
        progress=False,
        partition_size="4KB",
        batch_size="3KB",
        min_span=80,
    )
    assert changed.summary["counts"]["partitions_reused"] == 0


def test_flag_in_memory(tmp_path, refdir):
    docs = _write_jsonl(tmp_path / "docs.jsonl", _docs())
    result = flag(docs, None, reference=refdir, backend="cpu", progress=False)
    assert result.out is None and result.flags.num_rows == 5


def test_bad_reference_folder(tmp_path):
    docs = _write_jsonl(tmp_path / "docs.jsonl", _docs())
    with pytest.raises(FileNotFoundError, match="reference build"):
        flag([docs], tmp_path / "out", reference=tmp_path / "nothing", progress=False)


def test_cli_reference_build_add_and_flag(tmp_path):
    runner = CliRunner()
    first = _write_jsonl(
        tmp_path / "a.jsonl", [{"id": f"r{i}", "text": REFS[i]} for i in range(10)]
    )
    second = _write_jsonl(
        tmp_path / "b.jsonl", [{"id": f"r{i}", "text": REFS[i]} for i in range(8, 20)]
    )
    ref = tmp_path / "ref"
    result = runner.invoke(
        reference_group, ["build", str(first), "--out", str(ref), "-q", "--backend", "cpu"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["references"] == 10
    result = runner.invoke(
        reference_group, ["add", str(ref), str(second), "-q", "--backend", "cpu"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["references"] == 20 and out["duplicate_ids"] == 2
    docs = _write_jsonl(tmp_path / "docs.jsonl", _docs())
    result = runner.invoke(
        flag_command,
        [
            str(docs),
            "--reference",
            str(ref),
            "--out",
            str(tmp_path / "out"),
            "--id-column",
            "id",
            "-q",
            "--backend",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["flagged"] == 3
    flags = pq.read_table(tmp_path / "out" / "flags.parquet")
    assert flags.num_rows == 5
    assert isinstance(flags.column("evidence").type, pa.ListType)


def test_cli_errors_are_clean(tmp_path):
    runner = CliRunner()
    bad = _write_jsonl(tmp_path / "bad.jsonl", [{"id": "a", "body": "x"}])
    result = runner.invoke(reference_group, ["build", str(bad), "--out", str(tmp_path / "r")])
    assert result.exit_code != 0
    assert "columns present" in result.output
    result = runner.invoke(
        flag_command, [str(bad), "--reference", str(tmp_path / "none"), "--out", str(tmp_path)]
    )
    assert result.exit_code != 0 and "reference build" in result.output
