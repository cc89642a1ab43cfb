"""Whole pipelines on the CUDA backend (simulator or device) equal the cpu backend."""

from __future__ import annotations

import json
import warnings

import engine
from engine.substrings.pipeline import substr

warnings.simplefilter("ignore", RuntimeWarning)

BASE = "the committee approved the annual budget after a long debate about schools and roads"


def _corpus(tmp_path):
    texts = [
        BASE,
        BASE.replace("long", "lengthy"),
        "a completely unrelated note on gardening, tomatoes and spring rain",
        "",
        BASE + " again",
        "日本語の文章 と English が 混在 する 文書",
    ]
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts))
    return path


def test_dedup_cuda_equals_cpu(tmp_path):
    path = _corpus(tmp_path)
    params = dict(num_perm=16, ngram=2, threshold=0.5, progress=False, scheduler="threads")
    cpu = engine.dedup([str(path)], backend="cpu", **params)
    gpu = engine.dedup([str(path)], backend="cuda", **params)
    assert gpu.clusters.equals(cpu.clusters)
    assert cpu.clusters.column("cluster_id").to_pylist()[:2] == [0, 0]


def test_substr_cuda_equals_cpu(tmp_path):
    path = _corpus(tmp_path)
    params = dict(min_span=20, progress=False, scheduler="threads")
    cpu = substr([str(path)], backend="cpu", **params)
    gpu = substr([str(path)], backend="cuda", **params)
    assert gpu.spans.equals(cpu.spans)
    assert cpu.spans.num_rows > 0


def test_flag_cuda_equals_cpu():
    """Provenance matching: suffix array + LCP seeds on the CUDA backend give the same
    flags as the cpu hash join (shared phrasing, families and labels included)."""
    from engine.provenance.reference import ReferenceIndex

    story = (
        "The lighthouse keeper counted the ships every evening and wrote their names "
        "in a blue notebook that nobody else was allowed to read, until the winter storm."
    )
    code = "def add(a, b):\n    return a + b\n\nprint(add(2, 3))  # prints five\n"
    refs = [
        story + " She kept the notebook for forty years.",
        "Here is the answer you asked for. " + code,
        "A note about gardening: tomatoes like warm soil and steady water in spring. " + story,
    ]
    index = ReferenceIndex.build(refs, ["r0", "r1", "r2"], backend="cpu")
    docs = [
        refs[0],
        "Intro paragraph of a web page. " + refs[1] + " Footer text of the page.",
        story,
        "nothing related at all, just a short page about trains",
        "",
    ]
    params = dict(min_span=32, seed_bytes=8)
    cpu = index.match(docs, backend="cpu", **params)
    gpu = index.match(docs, backend="cuda", **params)
    assert gpu.equals(cpu)
    assert cpu.column("label").to_pylist()[0] == "verbatim_copy"
