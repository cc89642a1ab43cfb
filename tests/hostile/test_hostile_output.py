"""Hostile output folders: nothing a run makes is lost or overwritten.

Issue "Nothing lost, nothing overwritten": an input that yields no document (case 1),
every command claiming its ``--out`` (case 3), two runs into one folder, a full disk
and interrupted writes (case 9), no folder for a run that fails before doing work and
no silent success for a run that read nothing (case 10).
"""

from __future__ import annotations

import errno
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import engine
from engine.cli import main
from engine.provenance import add_human_text, build_reference, flag
from engine.run.output import OutputInUse, claim_output
from engine.substrings.pipeline import substr

ROOT = Path(__file__).resolve().parents[2]
FAST = {"scheduler": "threads", "workers": 2, "backend": "cpu", "progress": False}
CLI_FAST = ["--scheduler", "threads", "--workers", "2", "--backend", "cpu", "-q"]
WORDS = (
    "harbor lantern quiet meadow signal copper orchard velvet summit river basket thunder "
    "canvas pebble marble violet saddle lemon falcon garden timber candle mirror silver"
).split()
MODEL_OUTPUT = (
    "Certainly! Here is a detailed explanation of how photosynthesis converts light "
    "energy into chemical energy, stored as glucose in the chloroplasts of plant cells, "
    "and why the Calvin cycle depends on the ATP and NADPH made by the light reactions."
)


def _text(seed: int, n_words: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) + str(rng.randrange(100)) for _ in range(n_words)) + "."


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _corpus(tmp_path: Path) -> Path:
    """Four documents: a page holding a model output, its edited copy, two others."""
    page = _text(1, 200)
    docs = [
        {"id": "a", "text": page + " " + MODEL_OUTPUT},
        {"id": "b", "text": page + " " + MODEL_OUTPUT.replace("light", "sun")},
        {"id": "c", "text": _text(2, 150)},
        {"id": "d", "text": _text(3, 150)},
    ]
    return _jsonl(tmp_path / "docs.jsonl", docs)


def _bad_inputs(tmp_path: Path) -> tuple[Path, Path]:
    """An empty file and a JSONL file whose three lines are all malformed."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n{still not\n[1, 2\n")
    return empty, broken


@pytest.fixture
def refdir(tmp_path) -> Path:
    refs = _jsonl(
        tmp_path / "refs.jsonl",
        [{"id": "gpt-1", "text": MODEL_OUTPUT}, {"id": "gpt-2", "text": _text(9, 80)}],
    )
    build_reference([refs], tmp_path / "ref", backend="cpu")
    return tmp_path / "ref"


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# ---------------------------------------------------------------- case 1


def test_dedup_reference_keeps_every_good_document_beside_empty_and_broken_inputs(tmp_path, refdir):
    corpus = _corpus(tmp_path)
    empty, broken = _bad_inputs(tmp_path)
    out = tmp_path / "out"
    inputs = [str(empty), str(corpus), str(broken)]
    # 3 damaged records beside 4 good ones: far over the default --max-skipped 10%
    result = engine.dedup(
        inputs, out=out, id_column="id", reference=refdir, max_skipped=1.0, **FAST
    )
    ids = ["a", "b", "c", "d"]
    assert pq.read_table(out / "clusters.parquet").column("doc_id").to_pylist() == ids
    assert pq.read_table(out / "flags.parquet").column("doc_id").to_pylist() == ids
    skipped = result.summary["read"]["skipped"]
    # the empty file counts as empty_file (and so may the file holding no document)
    assert skipped["empty_file"] >= 1 and skipped["malformed_json"] == 3
    # a rerun resumes, the nested flag folder (out/provenance) included
    again = engine.dedup(inputs, out=out, id_column="id", reference=refdir, max_skipped=1.0, **FAST)
    assert again.summary["provenance"] == result.summary["provenance"]
    assert pq.read_table(out / "flags.parquet").column("doc_id").to_pylist() == ids


# ---------------------------------------------------------------- case 3


def test_flag_claims_its_out(tmp_path, refdir):
    corpus = _corpus(tmp_path)
    # an unrelated folder with a summary.json: refused, left as it was
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "summary.json").write_text('{"mine": true}\n')
    with pytest.raises(OutputInUse, match="not made by ouroboros"):
        flag([corpus], foreign, reference=refdir, **FAST)
    assert _tree(foreign) == {"summary.json": b'{"mine": true}\n'}
    # a dedup output folder: refused, left as it was
    deduped = tmp_path / "dedup"
    engine.dedup([str(corpus)], out=deduped, **FAST)
    before = _tree(deduped)
    with pytest.raises(OutputInUse, match="ouroboros dedup"):
        flag([corpus], deduped, reference=refdir, **FAST)
    assert _tree(deduped) == before
    # a flag folder made for other inputs: refused
    out = tmp_path / "flagged"
    first = flag([corpus], out, reference=refdir, **FAST)
    other = _jsonl(tmp_path / "other.jsonl", [{"text": _text(5, 100)}])
    with pytest.raises(OutputInUse, match="Choose another --out"):
        flag([other], out, reference=refdir, **FAST)
    # the same inputs resume
    again = flag([corpus], out, reference=refdir, **FAST)
    assert again.summary["counts"]["partitions_reused"] == first.summary["counts"]["partitions"]
    assert again.flags.equals(first.flags)


def test_reference_build_claims_its_out(tmp_path):
    refs = _jsonl(tmp_path / "refs.jsonl", [{"id": "r1", "text": MODEL_OUTPUT}])
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "summary.json").write_text('{"mine": true}\n')
    with pytest.raises(OutputInUse, match="not made by ouroboros"):
        build_reference([refs], foreign, backend="cpu")
    assert _tree(foreign) == {"summary.json": b'{"mine": true}\n'}
    deduped = tmp_path / "dedup"
    engine.dedup([str(_corpus(tmp_path))], out=deduped, **FAST)
    before = _tree(deduped)
    with pytest.raises(OutputInUse, match="ouroboros dedup"):
        build_reference([refs], deduped, backend="cpu")
    assert _tree(deduped) == before


def test_reference_add_needs_a_reference_index(tmp_path, refdir):
    more = _jsonl(tmp_path / "more.jsonl", [{"id": "r9", "text": _text(11, 60)}])
    deduped = tmp_path / "dedup"
    engine.dedup([str(_corpus(tmp_path))], out=deduped, **FAST)
    before = _tree(deduped)
    with pytest.raises(OutputInUse, match=r"ouroboros dedup.*not a reference index"):
        build_reference([more], deduped, add=True, backend="cpu")
    with pytest.raises(OutputInUse, match=r"ouroboros dedup.*not a reference index"):
        add_human_text(deduped, [more])
    assert _tree(deduped) == before
    # a plain folder: refused, and nothing is written into it
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(FileNotFoundError, match="reference build"):
        build_reference([more], plain, add=True, backend="cpu")
    assert list(plain.iterdir()) == []
    result = CliRunner().invoke(main, ["reference", "add", str(deduped), str(more), "-q"])
    assert result.exit_code == 1 and "not a reference index" in result.output
    # a reference index is extended
    _, summary = build_reference([more], refdir, add=True, backend="cpu")
    assert summary["counts"]["n_refs"] == 3


# ---------------------------------------------------------------- case 9

HOLDER = """
import sys
from pathlib import Path
from engine.run.output import claim_output
claim = claim_output(Path(sys.argv[1]), "dedup", sys.argv[2:])
print("ready", flush=True)
sys.stdin.read()
"""


def test_a_second_run_into_a_busy_folder_fails_at_once(tmp_path):
    corpus = str(_corpus(tmp_path))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(out), corpus],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(OutputInUse, match="another ouroboros run is using"):
            engine.dedup([corpus], out=out, **FAST)
        result = CliRunner().invoke(main, ["dedup", corpus, "--out", str(out), *CLI_FAST])
        assert result.exit_code == 1
        assert "another ouroboros run is using" in result.output and str(out) in result.output
        assert "Traceback" not in result.output
    finally:
        holder.kill()  # a dead holder's lock is released by the operating system
        holder.wait()
    result = engine.dedup([corpus], out=out, **FAST)
    assert result.clusters.num_rows == 4


def test_the_lock_is_released_when_a_run_fails(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="boom"), claim_output(out, "dedup", ["a.jsonl"]):
        with pytest.raises(OutputInUse, match="another ouroboros run is using"):
            claim_output(out, "dedup", ["a.jsonl"])
        raise RuntimeError("boom")
    with claim_output(out, "dedup", ["a.jsonl"]):
        pass


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", "part-00000.arrow")


def test_a_full_disk_names_the_stage_and_the_folder(tmp_path, monkeypatch):
    corpus = str(_corpus(tmp_path))
    out = tmp_path / "out"
    monkeypatch.setattr("engine.neardup.pipeline.signature_task", _no_space)
    with pytest.raises(OSError, match="signatures") as caught:
        engine.dedup([corpus], out=out, **FAST)
    message = str(caught.value)
    assert caught.value.errno == errno.ENOSPC
    assert str(out) in message and "free" in message and "resume" in message
    result = CliRunner().invoke(main, ["dedup", corpus, "--out", str(out), *CLI_FAST])
    assert result.exit_code == 1 and "signatures" in result.output
    assert "Traceback" not in result.output
    monkeypatch.undo()
    assert engine.dedup([corpus], out=out, **FAST).clusters.num_rows == 4


def test_a_full_disk_while_writing_the_results_names_the_folder(tmp_path, monkeypatch):
    corpus = str(_corpus(tmp_path))
    out = tmp_path / "out"
    monkeypatch.setattr("engine.neardup.pipeline.write_clusters", _no_space)
    with pytest.raises(OSError, match="run the same command again") as caught:
        engine.dedup([corpus], out=out, **FAST)
    assert caught.value.errno == errno.ENOSPC and str(out) in str(caught.value)


def test_a_full_disk_in_flag_names_the_stage(tmp_path, monkeypatch, refdir):
    corpus = _corpus(tmp_path)
    out = tmp_path / "out"
    monkeypatch.setattr("engine.provenance.pipeline.flag_task", _no_space)
    with pytest.raises(OSError, match=r"stage 'flag'") as caught:
        flag([corpus], out, reference=refdir, **FAST)
    assert str(out) in str(caught.value)


def test_interrupted_writes_are_removed_on_the_next_run(tmp_path, refdir):
    corpus = _corpus(tmp_path)
    for name, run in {
        "dedup": lambda out: engine.dedup([str(corpus)], out=out, **FAST),
        "substr": lambda out: substr([str(corpus)], out=out, min_span=50, **FAST),
        "flag": lambda out: flag([corpus], out, reference=refdir, **FAST),
    }.items():
        out = tmp_path / name
        run(out)
        leftovers = [
            out / ".tmp-0123456789ab-summary.json",
            out / "_work" / ".tmp-0123456789ab-part-00000.arrow",
        ]
        for path in leftovers:
            path.write_bytes(b"half")
        run(out)
        assert [p for p in leftovers if p.exists()] == [], name
        assert list(out.rglob(".tmp-*")) == [], name


# ---------------------------------------------------------------- case 10


@pytest.mark.parametrize("command", ["dedup", "substr", "flag", "reference build"])
def test_a_missing_input_creates_no_output_folder(tmp_path, refdir, command):
    missing = str(tmp_path / "missing.jsonl")
    out = tmp_path / "new" / "out"
    args = {
        "dedup": ["dedup", missing, *CLI_FAST],
        "substr": ["substr", missing, *CLI_FAST],
        "flag": ["flag", missing, "--reference", str(refdir), *CLI_FAST],
        "reference build": ["reference", "build", missing, "-q"],
    }[command]
    result = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert result.exit_code != 0 and "missing.jsonl" in result.output
    assert not (tmp_path / "new").exists()


def test_a_run_that_fails_to_start_removes_the_folder_it_created(tmp_path):
    corpus = str(_corpus(tmp_path))
    out = tmp_path / "new"
    with pytest.raises(ValueError, match="--scheduler must be one of"):
        engine.dedup([corpus], out=out, scheduler="no-such-scheduler", progress=False)
    assert not out.exists()
    # a folder that was there before stays, even empty
    out.mkdir()
    with pytest.raises(ValueError, match="--scheduler must be one of"):
        engine.dedup([corpus], out=out, scheduler="no-such-scheduler", progress=False)
    assert out.is_dir()


def test_a_run_that_reads_nothing_is_an_error(tmp_path, refdir):
    empty, broken = _bad_inputs(tmp_path)
    inputs = [str(empty), str(broken)]
    expected = (
        r"read 0 documents from 2 inputs \(skipped: empty_file \d, malformed_json 3\); "
        "nothing to do"
    )
    with pytest.raises(ValueError, match=expected):
        engine.dedup(inputs, out=tmp_path / "d", **FAST)
    with pytest.raises(ValueError, match=expected):
        engine.dedup(inputs, **FAST)
    with pytest.raises(ValueError, match=expected):
        substr(inputs, out=tmp_path / "s", **FAST)
    with pytest.raises(ValueError, match=expected):
        flag(inputs, tmp_path / "f", reference=refdir, **FAST)
    for name in ("d", "s", "f"):
        assert not (tmp_path / name / "summary.json").exists()
    for args in (["dedup"], ["substr"], ["flag", "--reference", str(refdir)]):
        out = str(tmp_path / f"cli-{args[0]}")
        result = CliRunner().invoke(main, [*args, *inputs, "--out", out, *CLI_FAST])
        assert result.exit_code == 1 and "read 0 documents" in result.output, result.output
    with pytest.raises(ValueError, match="no reference documents"):
        build_reference(inputs, tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_a_relative_out_is_resolved(tmp_path, monkeypatch):
    corpus = str(_corpus(tmp_path))
    monkeypatch.chdir(tmp_path)
    result = engine.dedup([corpus], out="rel", **FAST)
    assert result.out == tmp_path / "rel" and result.out.is_absolute()
    monkeypatch.chdir(ROOT)  # a rerun from elsewhere with the absolute folder resumes
    again = engine.dedup([corpus], out=tmp_path / "rel", **FAST)
    assert again.summary["counts"]["stages_reused"]["shuffle"] >= 1
