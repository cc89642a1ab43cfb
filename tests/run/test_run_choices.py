"""What a run decides and says for the user: scheduler="auto", partition_size="auto",
--max-skipped, --clean-work, the next steps at the end, progress lines, and
remove_spans over many documents."""

from __future__ import annotations

import json
import logging
import random

import pyarrow as pa
import pytest
from click.testing import CliRunner

import engine
from engine.cli import main
from engine.io import plan_parts
from engine.io.report import TooManySkipped
from engine.io.run_plan import plan_run
from engine.run import kernel_cache, scheduling
from engine.run.progress import Progress
from engine.run.scheduling import (
    MAX_AUTO_PARTITION,
    MIN_AUTO_PARTITION,
    PROCESSES_MIN_BYTES,
    PartitionRule,
    allow_worker_processes,
    choose_scheduler,
)

WORDS = "the quick brown fox jumps over a lazy dog while seven pale cats watch".split()


@pytest.fixture(autouse=True)
def _api_caller():
    """Every test starts as a Python caller (the CLI allows processes for the process)."""
    allow_worker_processes(False)
    yield
    allow_worker_processes(False)


def _write_jsonl(path, n_docs: int, bad_lines: int = 0, copies: int = 2):
    rng = random.Random(7)
    lines = []
    for i in range(n_docs):
        words = [rng.choice(WORDS) + str(rng.randrange(1000)) for _ in range(40)]
        lines.append(json.dumps({"text": " ".join(words), "n": i}))
    lines += [lines[0]] * copies  # exact copies: one cluster
    lines += ["{not json"] * bad_lines
    path.write_text("\n".join(lines) + "\n")
    return path


def test_auto_scheduler_uses_threads_from_python_and_processes_only_for_large_cli_inputs():
    assert choose_scheduler("threads", 10**12, 8).value == "threads"
    assert choose_scheduler("local", 10, 8).reason == "given"
    api = choose_scheduler("auto", 10 * PROCESSES_MIN_BYTES, 8)
    assert api.value == "threads" and "scheduler='local'" in api.reason
    allow_worker_processes()
    assert choose_scheduler("auto", PROCESSES_MIN_BYTES - 1, 8).value == "threads"
    assert choose_scheduler("auto", PROCESSES_MIN_BYTES, 8).value == "local"
    assert choose_scheduler("auto", PROCESSES_MIN_BYTES, 1).value == "threads"
    warc = choose_scheduler("auto", 300 * 2**20, 2, gil_bound_bytes=300 * 2**20)
    assert warc.value == "local" and "WARC/WET" in warc.reason
    assert choose_scheduler("auto", 300 * 2**20, 2, gil_bound_bytes=2**20).value == "threads"
    allow_worker_processes(False)
    assert choose_scheduler("auto", 300 * 2**20, 2, gil_bound_bytes=300 * 2**20).value == (
        "threads"
    )


def test_auto_partition_size_gives_every_worker_parts_within_bounds():
    rule = PartitionRule(workers=2)
    assert rule(250 * 2**20) == 250 * 2**20 // 4  # 250 MB on 2 cores: 4 parts, not 1
    assert rule(1000) == MIN_AUTO_PARTITION
    assert rule(10**13) == MAX_AUTO_PARTITION
    assert "2 workers" in rule.choice.reason


def test_plan_parts_takes_a_size_rule_of_the_total_bytes(tmp_path):
    path = _write_jsonl(tmp_path / "docs.jsonl", 400)
    seen = []

    def quarter(total: int) -> int:
        seen.append(total)
        return total // 4

    parts = plan_parts([str(path)], quarter)
    assert seen == [path.stat().st_size]
    assert 4 <= len(parts) <= 5  # split at line starts, about every quarter


def test_plan_run_records_its_choices(tmp_path):
    path = _write_jsonl(tmp_path / "docs.jsonl", 50)
    plan = plan_run([str(path)], "auto", "auto", workers=2)
    assert plan.scheduler == "threads" and plan.workers == 2
    assert plan.partition_size == MIN_AUTO_PARTITION
    assert set(plan.choices) == {"scheduler", "partition_size", "workers", "parts"}
    assert plan_run([str(path)], "1MB", "threads", 1).choices["partition_size"]["reason"] == "given"
    with pytest.raises(ValueError, match="workers"):
        plan_run([str(path)], "auto", "auto", workers=0)


def test_api_dedup_defaults_to_threads_and_says_why(tmp_path):
    path = _write_jsonl(tmp_path / "docs.jsonl", 30)
    result = engine.dedup([str(path)], out=str(tmp_path / "out"), progress=False)
    assert result.summary["scheduler"] == "threads"
    assert "called from Python" in result.summary["choices"]["scheduler"]["reason"]
    assert result.summary["counts"]["duplicates"] == 2


def test_max_skipped_fails_a_run_of_mostly_damaged_records(tmp_path):
    path = _write_jsonl(tmp_path / "docs.jsonl", 6, bad_lines=4, copies=0)
    with pytest.raises(TooManySkipped, match="malformed_json 4.*--max-skipped 10%"):
        engine.dedup([str(path)], out=str(tmp_path / "a"), progress=False)
    ok = engine.dedup([str(path)], out=str(tmp_path / "b"), progress=False, max_skipped="50%")
    assert ok.summary["read"]["skipped"]["malformed_json"] == 4
    with pytest.raises(TooManySkipped):
        engine.substr([str(path)], out=str(tmp_path / "c"), progress=False, min_span=20)
    with pytest.raises(ValueError, match="share"):
        engine.dedup([str(path)], progress=False, max_skipped="lots")
    result = CliRunner().invoke(main, ["dedup", str(path), "--out", str(tmp_path / "d"), "-q"])
    assert result.exit_code == 1 and "damaged" in result.output


def test_clean_work_removes_the_work_folder_but_its_claim_and_a_rerun_still_agrees(tmp_path):
    path = _write_jsonl(tmp_path / "docs.jsonl", 40)
    out = tmp_path / "out"
    kept = engine.dedup([str(path)], out=str(out), progress=False)
    assert kept.summary["work"]["bytes"] > 0 and not kept.summary["work"]["removed"]
    cleaned = engine.dedup([str(path)], out=str(out), progress=False, clean_work=True)
    assert cleaned.summary["work"]["removed"]
    assert sorted(p.name for p in (out / "_work").iterdir()) == ["lock", "run.json"]
    again = engine.dedup([str(path)], out=str(out), progress=False)
    assert again.clusters.equals(kept.clusters)
    assert again.summary["counts"]["partitions_reused"] == 0  # recomputed from the inputs


def test_cli_last_line_names_the_kept_corpus_or_the_flag_that_writes_it(tmp_path):
    path = _write_jsonl(tmp_path / "docs.jsonl", 30)
    out = tmp_path / "out"
    runner = CliRunner()
    first = runner.invoke(main, ["dedup", str(path), "--out", str(out), "-q"])
    assert first.exit_code == 0, first.output
    line = json.loads(first.stdout.strip().splitlines()[-1])
    assert any("--write-deduped" in step for step in line["next"])
    assert any("--clean-work" in step for step in line["next"])
    assert line["next"][-1].startswith(f"see the results: ouroboros report {out}")
    second = runner.invoke(
        main,
        ["dedup", str(path), "--out", str(out), "-q", "--write-deduped", "--clean-work"]
        + ["--report"],
    )
    assert second.exit_code == 0, second.output
    line = json.loads(second.stdout.strip().splitlines()[-1])
    assert line["next"][0] == f"kept corpus: {out / 'deduped'} (1 files)"
    assert line["report"] == str(out / "report.html") and (out / "report.html").is_file()
    assert line["next"][-1].startswith(f"report: {out / 'report.html'}")
    assert not any("--clean-work" in step for step in line["next"])


def test_progress_lines_give_rates_and_say_what_a_resumed_run_reused(tmp_path, caplog):
    path = _write_jsonl(tmp_path / "docs.jsonl", 40)
    out = str(tmp_path / "out")
    with caplog.at_level(logging.INFO, logger="ouroboros"):
        engine.dedup([str(path)], out=out)
    first = caplog.text
    assert "signatures: 1 task done in" in first and "docs/s" in first and "MB/s" in first
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ouroboros"):
        engine.dedup([str(path)], out=out)
    assert "signatures: reused from the previous run" in caplog.text
    assert "edges: reused from the previous run" in caplog.text


def test_progress_eta_and_compile_notice(monkeypatch, caplog):
    bar = Progress(4, "stage", interval_s=0.0)
    with caplog.at_level(logging.INFO, logger="ouroboros"):
        bar.update(result={"documents": 10, "bytes": 10**6})
        bar.update(result={"documents": 10, "bytes": 10**6, "reused": True})
        bar.close()
    assert "ETA" in caplog.text and "1 reused" in caplog.text and "20 documents" in caplog.text
    monkeypatch.setattr(kernel_cache, "_noticed", set())
    monkeypatch.setattr(kernel_cache, "uncached_kernels", lambda modules: ["minhash.x"])
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ouroboros"):
        assert kernel_cache.notice_compilation("signatures") == ["minhash.x"]
        assert kernel_cache.notice_compilation("signatures") == []  # once per process
        assert kernel_cache.notice_compilation("write") == []
    assert caplog.text.count("once per machine") == 1


def test_the_kernel_cache_check_sees_compiled_kernels():
    # the suite has compiled the signature kernels by now in this process
    engine.minhash(["a b c d e f g h"], backend="cpu")
    assert kernel_cache.uncached_kernels(("minhash", "shingle")) == []


def test_remove_spans_cuts_many_documents_at_once():
    docs = ["hello brave new world", "say hello brave new world", "nothing shared here"]
    spans = engine.repeated_spans(docs, min_span=10)
    assert engine.remove_spans(docs, spans) == [docs[0], "say ", docs[2]]
    as_bytes = [d.encode() for d in docs]
    assert engine.remove_spans(as_bytes, spans)[1] == b"say "
    named = engine.repeated_spans(docs, min_span=10, doc_ids=["a", "b", "c"])
    assert engine.remove_spans(docs, named, doc_ids=["a", "b", "c"])[1] == "say "
    by_index = {"doc_index": [1], "start": [0], "end": [4]}
    assert engine.remove_spans(pa.array(docs), by_index)[1] == "hello brave new world"
    with pytest.raises(ValueError, match="not among the texts"):
        engine.remove_spans(docs, named)
    with pytest.raises(TypeError, match="repeated_spans returns"):
        engine.remove_spans(docs, [1, 2])
    assert scheduling.default_workers() >= 1
