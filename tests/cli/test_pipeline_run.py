"""``ouroboros run PIPELINE.yaml`` (engine.chain) and ``--config FILE`` on the commands."""

from __future__ import annotations

import gzip
import json
import random

import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

import engine
import engine.substrings.pipeline as substr_pipeline
from engine.chain.config import step_keys
from engine.chain.corpus import corpus_name
from engine.cli.main import main
from engine.provenance import build_reference

WORDS = [
    "".join(random.Random(i).choice("abcdefghijklmnopqrstuvwxyz") for _ in range(3 + i % 7))
    for i in range(3000)
]


def prose(seed: int, n_words: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n_words)) + "."


REFS = [prose(1000 + i, 140) for i in range(6)]
BOILER = "Footer: " + prose(99, 60)


def _near_copy(text: str) -> str:
    words = text.split(" ")
    words[len(words) // 2] = "changed"
    return " ".join(words)


DOCS = [
    ("d0", prose(1, 220) + " " + BOILER),
    ("d1", _near_copy(prose(1, 220) + " " + BOILER)),  # near-duplicate of d0: dedup drops it
    ("d2", prose(2, 220) + " " + BOILER),  # substr cuts the footer
    ("d3", BOILER),  # nothing left once substr cuts the footer: dropped, counted
    ("d4", REFS[0]),  # a copy of a model output: verbatim_copy
    ("d5", prose(5, 220)),
    ("d6", prose(6, 150) + "\n" + REFS[1] + "\n" + prose(7, 150)),  # contains_output
]
SHARED = {"id_column": "id", "backend": "cpu", "scheduler": "threads", "workers": 2}


def _read_jsonl_gz(path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _corpus_rows(result) -> list[dict]:
    files = sorted(result.corpus.iterdir())
    assert files and all(f.name.endswith(".jsonl.gz") for f in files)
    return [row for f in files for row in _read_jsonl_gz(f)]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    refs = root / "refs.jsonl"
    refs.write_text(
        "".join(json.dumps({"id": f"r{i}", "text": t}) + "\n" for i, t in enumerate(REFS))
    )
    build_reference([str(refs)], root / "ref", backend="cpu")
    corpus = root / "docs.jsonl.gz"
    with gzip.open(corpus, "wt", encoding="utf-8") as fh:
        for i, (doc_id, text) in enumerate(DOCS):
            row = {"id": doc_id, "text": text, "source": f"site-{i % 3}", "n": i, "meta": {"k": i}}
            fh.write(json.dumps(row) + "\n")
    return {"root": root, "corpus": str(corpus), "ref": str(root / "ref")}


def _config(data, out, steps: dict, **extra) -> dict:
    return {"inputs": [data["corpus"]], "out": str(out), **SHARED, **steps, **extra}


def _write_yaml(path, config: dict):
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def full_run(data):
    """dedup -> substr -> flag (annotating) from a YAML file, dashes in the keys."""
    steps = {
        "dedup": {"threshold": 0.8},
        "substr": {"min-span": 100},
        "flag": {"reference": data["ref"]},
    }
    path = _write_yaml(data["root"] / "pipeline.yaml", _config(data, data["root"] / "out", steps))
    return engine.run_pipeline(path, progress=False)


def test_full_pipeline_corpus(full_run):
    rows = _corpus_rows(full_run)
    assert [r["id"] for r in rows] == ["d0", "d2", "d4", "d5", "d6"]
    by_id = {r["id"]: r for r in rows}
    original = dict(DOCS)
    assert by_id["d0"]["text"] == original["d0"]  # the first copy of the footer stays
    assert BOILER not in by_id["d2"]["text"] and by_id["d2"]["text"] in original["d2"]
    for i, (doc_id, _) in enumerate(DOCS):  # every column kept, values untouched
        if doc_id in by_id:
            assert by_id[doc_id]["source"] == f"site-{i % 3}"
            assert by_id[doc_id]["n"] == i and by_id[doc_id]["meta"] == {"k": i}
    steps = full_run.steps
    assert [r["step"] for r in full_run.summary["steps"]] == ["dedup", "substr", "flag"]
    assert steps["dedup"]["documents_in"] == 7 and steps["dedup"]["documents_out"] == 6
    assert steps["dedup"]["dropped"] == {"duplicates": 1}
    assert steps["substr"]["documents_in"] == 6
    assert steps["substr"]["dropped"] == {"emptied": 1}
    assert steps["substr"]["documents_out"] == 5
    assert steps["flag"]["documents_in"] == 5 and steps["flag"]["documents_out"] == 5
    assert steps["flag"]["flagged"] == 2 and steps["flag"]["dropped"] == {"flagged": 0}
    assert all(r["file_bytes_in"] > 0 and r["seconds"] > 0 for r in full_run.summary["steps"])
    summary = json.loads((full_run.out / "summary.json").read_text())
    assert summary["corpus"]["path"] == str(full_run.out / "corpus")
    assert summary["corpus"]["documents"] == 5
    assert summary["counts"]["documents_in"] == 7 and summary["counts"]["documents_out"] == 5
    assert summary["steps_reused"] == []
    flags = pq.read_table(full_run.out / "flag" / "flags.parquet")
    labels = dict(zip(flags.column("doc_id").to_pylist(), flags.column("label").to_pylist()))
    assert labels == {
        "d0": "none",
        "d2": "none",
        "d4": "verbatim_copy",
        "d5": "none",
        "d6": "contains_output",
    }


def test_pipeline_equals_commands_by_hand(data, full_run, tmp_path):
    options = {**SHARED, "progress": False}
    engine.dedup([data["corpus"]], tmp_path / "dedup", write_deduped=True, **options)
    engine.substr(
        [str(tmp_path / "dedup" / "deduped")], tmp_path / "substr", write_deduped=True, **options
    )
    flagged = engine.flag(
        [str(tmp_path / "substr" / "deduped")], tmp_path / "flag", reference=data["ref"], **options
    )
    by_hand = sorted((tmp_path / "substr" / "deduped").iterdir())
    corpus = sorted(full_run.corpus.iterdir())
    assert len(by_hand) == len(corpus)
    for mine, theirs in zip(corpus, by_hand):
        assert gzip.decompress(mine.read_bytes()) == gzip.decompress(theirs.read_bytes())
    piped = pq.read_table(full_run.out / "flag" / "flags.parquet")
    assert piped.select(["doc_id", "label"]).equals(flagged.flags.select(["doc_id", "label"]))


def test_rerun_reuses_every_step(data, full_run):
    again = engine.run_pipeline(data["root"] / "pipeline.yaml", progress=False)
    assert again.summary["steps_reused"] == ["dedup", "substr", "flag"]
    assert all(r["reused"] and r["seconds"] == 0.0 for r in again.summary["steps"])
    assert _corpus_rows(again) == _corpus_rows(full_run)
    assert again.steps["substr"]["dropped"] == {"emptied": 1}


def test_interrupted_run_resumes_from_substr(data, full_run, tmp_path, monkeypatch):
    steps = {"dedup": {}, "substr": {"min_span": 100}, "flag": {"reference": data["ref"]}}
    config = _config(data, tmp_path / "out", steps)

    def boom(*args, **kwargs):
        raise RuntimeError("injected failure in substr")

    with monkeypatch.context() as patch:
        patch.setattr(substr_pipeline, "write_stage", boom)
        with pytest.raises(RuntimeError, match="injected failure"):
            engine.run_pipeline(config, progress=False)
    assert not (tmp_path / "out" / "summary.json").exists()
    assert not (tmp_path / "out" / "flag").exists()
    resumed = engine.run_pipeline(config, progress=False)
    reused = {r["step"]: r["reused"] for r in resumed.summary["steps"]}
    assert reused == {"dedup": True, "substr": False, "flag": False}
    assert _corpus_rows(resumed) == _corpus_rows(full_run)


def test_substr_only(data, tmp_path):
    result = engine.run_pipeline(_config(data, tmp_path / "out", {"substr": None}), progress=False)
    ids = [r["id"] for r in _corpus_rows(result)]
    # d1 keeps what is not a copy of d0 (one word around the change); d3 is emptied
    assert ids == ["d0", "d1", "d2", "d4", "d5", "d6"]
    assert result.steps["substr"]["dropped"] == {"emptied": 1}
    assert [p.name for p in result.corpus.iterdir()] == ["00000-docs.jsonl.gz"]


def test_dedup_and_flag_drop_flagged(data, tmp_path):
    steps = {"dedup": {}, "flag": {"reference": data["ref"], "drop-flagged": True}}
    result = engine.run_pipeline(_config(data, tmp_path / "out", steps), progress=False)
    rows = _corpus_rows(result)
    assert [r["id"] for r in rows] == ["d0", "d2", "d3", "d5"]
    assert rows[0] == {"id": "d0", "text": DOCS[0][1], "source": "site-0", "n": 0, "meta": {"k": 0}}
    assert result.steps["flag"]["dropped"] == {"flagged": 2}
    assert result.steps["flag"]["documents_out"] == 4
    # only one label dropped: the verbatim copy goes, the document containing one stays
    steps["flag"]["drop-flagged"] = ["verbatim_copy"]
    again = engine.run_pipeline(_config(data, tmp_path / "out", steps), progress=False)
    assert again.summary["steps_reused"] == ["dedup"]
    assert [r["id"] for r in _corpus_rows(again)] == ["d0", "d2", "d3", "d5", "d6"]


def test_flag_alone_annotates_without_corpus(data, tmp_path):
    steps = {"flag": {"reference": data["ref"]}}
    result = engine.run_pipeline(_config(data, tmp_path / "out", steps), progress=False)
    assert result.corpus is None and result.summary["corpus"] is None
    assert result.steps["flag"]["flagged"] == 2
    assert (tmp_path / "out" / "flag" / "flags.parquet").is_file()


def test_toml_config(data, tmp_path):
    path = tmp_path / "pipeline.toml"
    path.write_text(
        f'inputs = ["{data["corpus"]}"]\n'
        f'out = "{tmp_path / "out"}"\n'
        'id-column = "id"\nbackend = "cpu"\nscheduler = "threads"\nworkers = 2\n'
        "[dedup]\nthreshold = 0.8\nnum-perm = 64\n"
    )
    result = engine.run_pipeline(path, progress=False)
    assert [r["id"] for r in _corpus_rows(result)] == ["d0", "d2", "d3", "d4", "d5", "d6"]
    dedup_summary = json.loads((tmp_path / "out" / "dedup" / "summary.json").read_text())
    assert dedup_summary["parameters"]["num_perm"] == 64


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dedupe": {}}, "unknown key 'dedupe'"),
        ({"dedup": {"treshold": 0.5}}, "step 'dedup': unknown key 'treshold'"),
        ({"dedup": {"out": "x"}}, "'out' is set by the pipeline"),
        ({"dedup": {"threshold": 2.0}}, "step 'dedup'"),
        ({"dedup": {"min-span": 10}}, "unknown key 'min_span'"),
        ({"dedup": {"seed": 1, "Seed": 2}}, "unknown key 'Seed'"),
        ({"substr": {"min-span": 10, "min_span": 20}}, "'min-span' and 'min_span'"),
        ({"flag": {}}, "'reference' is required"),
        ({"flag": {"reference": "r", "drop_flagged": ["bad"]}}, "not a flag label"),
        ({"substr": [1]}, "must be a mapping"),
        ({"inputs": []}, "'inputs' must be a path"),
        ({"out": "s3://bucket/cleaned"}, "'out' must be a local folder"),
    ],
)
def test_config_errors(data, tmp_path, change, message):
    config = _config(data, tmp_path / "out", {"dedup": {}})
    config.update(change)
    with pytest.raises(ValueError, match=message):
        engine.run_pipeline(config, progress=False)
    assert not (tmp_path / "out").exists()


def test_steps_out_of_order_and_none(data, tmp_path):
    config = {"inputs": [data["corpus"]], "out": str(tmp_path / "o"), "substr": {}, "dedup": {}}
    with pytest.raises(ValueError, match="dedup -> substr -> flag.*write them as dedup, substr"):
        engine.run_pipeline(config)
    with pytest.raises(ValueError, match="no step"):
        engine.run_pipeline({"inputs": [data["corpus"]], "out": str(tmp_path / "o")})
    with pytest.raises(TypeError, match="YAML/TOML file or a mapping"):
        engine.run_pipeline(42)


def test_config_file_errors(tmp_path):
    bad_suffix = tmp_path / "pipeline.json"
    bad_suffix.write_text("{}")
    with pytest.raises(ValueError, match=r"\.yaml, \.yml or \.toml"):
        engine.run_pipeline(bad_suffix)
    with pytest.raises(FileNotFoundError, match="not found"):
        engine.run_pipeline(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.toml"
    broken.write_text("inputs = [\n")
    with pytest.raises(ValueError, match="cannot parse .*broken.toml as TOML"):
        engine.run_pipeline(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- dedup\n")
    with pytest.raises(ValueError, match="must hold a mapping"):
        engine.run_pipeline(listed)


def test_cli_run(data, tmp_path):
    steps = {"dedup": {}, "substr": {}}
    path = _write_yaml(tmp_path / "p.yaml", _config(data, tmp_path / "ignored", steps))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["corpus"] == str(out / "corpus") and line["documents"] == 5
    assert line["steps"]["dedup"] == {
        "documents_in": 7,
        "documents_out": 6,
        "dropped": {"duplicates": 1},
        "reused": False,
    }
    assert not (tmp_path / "ignored").exists()
    bad = _write_yaml(tmp_path / "bad.yaml", _config(data, out, {"dedup": {"tresh": 1}}))
    result = CliRunner().invoke(main, ["run", str(bad)])
    assert result.exit_code == 1 and "unknown key 'tresh'" in result.output
    result = CliRunner().invoke(main, ["run"])
    assert result.exit_code == 2 and "give the pipeline file once" in result.output


def test_cli_dedup_config_file(data, tmp_path):
    config = {
        "inputs": [data["corpus"]],
        "out": str(tmp_path / "out"),
        "id-column": "id",
        "backend": "cpu",
        "scheduler": "threads",
        "threshold": 0.95,
        "num_perm": 64,
        "write-deduped": True,
        "quiet": True,
    }
    path = _write_yaml(tmp_path / "dedup.yaml", config)
    result = CliRunner().invoke(main, ["dedup", "--config", str(path), "--threshold", "0.7"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["parameters"]["threshold"] == 0.7  # the flag wins over the file
    assert summary["parameters"]["num_perm"] == 64  # the file wins over the default
    assert summary["parameters"]["id_column"] == "id"
    assert (tmp_path / "out" / "deduped" / "00000-docs.jsonl.gz").is_file()
    bad = _write_yaml(tmp_path / "bad.yaml", {**config, "treshold": 0.5, "min-span": 3})
    result = CliRunner().invoke(main, ["dedup", "--config", str(bad)])
    assert result.exit_code == 2
    assert "unknown keys min_span, treshold" in result.output


def test_cli_substr_config_toml(data, tmp_path):
    path = tmp_path / "substr.toml"
    path.write_text(
        f'inputs = ["{data["corpus"]}"]\nout = "{tmp_path / "out"}"\n'
        'id-column = "id"\nbackend = "cpu"\nscheduler = "threads"\nmin-span = 150\nquiet = true\n'
    )
    result = CliRunner().invoke(main, ["substr", "--config", str(path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["parameters"]["min_span"] == 150


def test_step_keys_cover_every_command_flag():
    from engine.cli.dedup import dedup
    from engine.cli.provenance import flag
    from engine.cli.substr import substr

    # CLI-only: --report writes OUT/report.html once the command's run has finished
    not_steps = {"inputs", "out", "quiet", "write_deduped", "report"}
    for name, command in (("dedup", dedup), ("substr", substr), ("flag", flag)):
        flags = {p.name for p in command.params if p.expose_value} - not_steps
        assert flags <= step_keys(name), (name, flags - step_keys(name))


def test_corpus_names():
    assert corpus_name("00002-00000-data.jsonl.gz", 2) == "00002-data.jsonl.gz"
    assert corpus_name("00001-00003-00000-data.jsonl.gz", 3) == "00001-data.jsonl.gz"
    assert corpus_name("00000-00017-shard.parquet", 1) == "00000-00017-shard.parquet"
    assert corpus_name("part.parquet", 2) == "part.parquet"


def test_emptied_counted_from_the_corpus_when_the_summary_does_not_say(tmp_path):
    from engine.chain.config import StepSpec
    from engine.chain.steps import step_record

    deduped = tmp_path / "substr" / "deduped"
    deduped.mkdir(parents=True)
    with gzip.open(deduped / "00000-docs.jsonl.gz", "wt") as fh:
        fh.write('{"text": "a"}\n{"text": "b"}\n')
    summary = {"counts": {"documents": 3, "bytes": 10, "bytes_marked": 4}}
    record = step_record(StepSpec("substr", {}), tmp_path / "substr", summary, None)
    assert record["dropped"] == {"emptied": 1} and record["documents_out"] == 2
    assert record["files"] == ["00000-docs.jsonl.gz"] and record["text_bytes_removed"] == 4
    summary["counts"]["emptied_documents"] = 1
    assert step_record(StepSpec("substr", {}), tmp_path / "substr", summary, None) == record
