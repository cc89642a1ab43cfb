"""GPU check, pipeline phase: dedup, substr and provenance flags on a generated corpus."""

from __future__ import annotations

import importlib.util
import json
import time
import traceback
from pathlib import Path

from bench.gpu_common import TARGETS, Check, human, log
from bench.gpu_inputs import random_offsets, random_text


def write_corpus(c: Check, folder: Path, total_bytes: int, file_bytes: int, first_bytes: int):
    """JSONL files of random-word documents with planted near-duplicate copies.

    The first file holds ``first_bytes`` of text (the slice run on both backends), the
    others ``file_bytes`` each.

    Returns (files, planted [(copy_id, source_id)], text bytes).
    """
    np = c.np
    folder.mkdir(parents=True, exist_ok=True)
    files, planted = [], []
    rng = np.random.default_rng(21)
    written = 0
    doc = 0
    k = 0
    while written < total_bytes:
        n = min(first_bytes if k == 0 else file_bytes, total_bytes - written)
        data = c.host(random_text(c.xp, n, seed=500 + k)).tobytes()
        offsets = random_offsets(
            n, seed=600 + k, lo=40 if c.sim else 500, hi=120 if c.sim else 12000
        )
        lines = []
        recent = []
        for d in range(len(offsets) - 1):
            text = data[offsets[d] : offsets[d + 1]]
            doc_id = f"g{doc:09d}"
            if recent and rng.random() < 0.1:
                src_id, src_text = recent[int(rng.integers(len(recent)))]
                buf = bytearray(src_text)
                for p in rng.integers(0, len(buf), size=max(1, len(buf) // 3000)):
                    if 97 <= buf[p] <= 122:
                        buf[p] = 97 + (buf[p] - 97 + 1) % 26
                text = bytes(buf)
                planted.append((doc_id, src_id))
            else:
                recent.append((doc_id, text))
                if len(recent) > 200:
                    recent.pop(int(rng.integers(len(recent))))
            # the vocabulary has no quote, backslash or control character but newline
            body = text.replace(b"\n", b"\\n")
            lines.append(b'{"id":"' + doc_id.encode() + b'","text":"' + body + b'"}\n')
            written += len(text)
            doc += 1
        path = folder / f"part-{k:03d}.jsonl"
        path.write_bytes(b"".join(lines))
        files.append(path)
        k += 1
    return files, planted, written


def pipeline_row(c: Check, name: str, **fields) -> dict:
    row = {"pipeline": name, **fields}
    c.pipelines.append(row)
    if c.on_row is not None:
        c.on_row()
    log(f"{name}: " + ", ".join(f"{k}={v}" for k, v in fields.items() if k != "summary"))
    return row


def check_pipelines(c: Check, work: Path) -> None:
    import engine
    from engine.substrings.pipeline import substr

    scheduler = "threads"
    if not c.sim and importlib.util.find_spec("dask_cuda") is not None:
        scheduler = "local-cuda"
    missing = [
        m for m in ("dask", "warcio", "zstandard", "tqdm") if importlib.util.find_spec(m) is None
    ]
    if missing:
        c.notes.append(f"pipelines skipped: engine dependencies missing: {missing}")
        pipeline_row(c, "dedup / substr", check=f"skipped: missing {missing}")
        return
    if c.sim:
        total, file_bytes, first_bytes = 1000, 500, 500
    else:
        budget_bytes = int(max(0.0, c.left() - 150) * 25e6)  # conservative: 25 MB/s of budget
        total = min(max(c.max_bytes, 10**9), 4 * 10**9, max(budget_bytes, 512 * 10**6))
        file_bytes, first_bytes = 256 * 10**6, 32 * 10**6
    slice_files = 1
    min_span = 20 if c.sim else 100
    t0 = time.perf_counter()
    files, planted, text_bytes = write_corpus(c, work / "corpus", total, file_bytes, first_bytes)
    log(
        f"corpus: {len(files)} files, {human(text_bytes)} of text, {len(planted)} planted copies, "
        f"{time.perf_counter() - t0:.1f} s"
    )
    workers = 1 if c.sim else 8  # the simulator runs one kernel at a time
    common = dict(id_column="id", progress=False, scheduler=scheduler, workers=workers)

    # cpu vs cuda on the first file(s)
    slice_paths = [str(p) for p in files[:slice_files]]
    slice_bytes = sum(p.stat().st_size for p in files[:slice_files])
    try:
        r_cpu = engine.dedup(slice_paths, backend="cpu", **{**common, "scheduler": "threads"})
        r_gpu = engine.dedup(slice_paths, backend="cuda", **common)
        same = r_cpu.clusters.equals(r_gpu.clusters)
        pipeline_row(
            c,
            "dedup slice: clusters cuda vs cpu",
            size=human(slice_bytes),
            check="equal" if same else "DIFFERENT clusters",
            duplicates=r_gpu.summary["counts"]["duplicates"],
        )
    except Exception as exc:  # noqa: BLE001
        traceback.print_exc()
        pipeline_row(c, "dedup slice: clusters cuda vs cpu", check=f"ERROR {exc!r}"[:300])
    try:
        s_cpu = substr(
            slice_paths, backend="cpu", min_span=min_span, **{**common, "scheduler": "threads"}
        )
        s_gpu = substr(slice_paths, backend="cuda", min_span=min_span, **common)
        same = s_cpu.spans.equals(s_gpu.spans)
        pipeline_row(
            c,
            "substr slice: spans cuda vs cpu",
            size=human(slice_bytes),
            check="equal" if same else "DIFFERENT spans",
            spans=s_gpu.spans.num_rows,
        )
    except Exception as exc:  # noqa: BLE001
        traceback.print_exc()
        pipeline_row(c, "substr slice: spans cuda vs cpu", check=f"ERROR {exc!r}"[:300])

    # provenance: the same flags from suffix-array seeds on the GPU as from the cpu
    # hash join (references: every other document of the first quarter of file 1)
    try:
        from engine.provenance.reference import ReferenceIndex

        texts, ids = [], []
        with open(files[0], encoding="utf-8") as fh:
            for line in fh:
                record = json.loads(line)
                texts.append(record["text"])
                ids.append(str(record["id"]))
        quarter = max(2, len(texts) // 4)
        index = ReferenceIndex.build(texts[:quarter:2], ids[:quarter:2], backend="cpu")
        sample = texts[: 12 if c.sim else 4000]
        sample_bytes = sum(len(t.encode()) for t in sample)
        f_cpu = index.match(sample, backend="cpu")
        index.match(sample[:2], backend="cuda")  # warm-up (JIT)
        t0 = time.perf_counter()
        f_gpu = index.match(sample, backend="cuda")
        wall = time.perf_counter() - t0
        labels = f_gpu.column("label").to_pylist()
        pipeline_row(
            c,
            "provenance slice: flags cuda vs cpu (ReferenceIndex.match)",
            size=human(sample_bytes),
            references=index.n_refs,
            flagged=sum(1 for x in labels if x != "none"),
            wall_s=round(wall, 2),
            check="equal" if f_cpu.equals(f_gpu) else "DIFFERENT flags",
        )
    except Exception as exc:  # noqa: BLE001
        traceback.print_exc()
        pipeline_row(c, "provenance slice: flags cuda vs cpu", check=f"ERROR {exc!r}"[:300])

    # whole corpus on the GPU
    paths = [str(p) for p in files]
    if c.fits(30):
        try:
            t0 = time.perf_counter()
            result = engine.dedup(paths, backend="cuda", **common)
            wall = time.perf_counter() - t0
            counts = result.summary["counts"]
            cid = dict(
                zip(
                    result.clusters.column("doc_id").to_pylist(),
                    result.clusters.column("cluster_id").to_pylist(),
                    strict=True,
                )
            )
            found = sum(1 for a, b in planted if cid.get(a) == cid.get(b))
            pipeline_row(
                c,
                f"engine.dedup(backend='cuda', scheduler='{scheduler}')",
                size=human(text_bytes),
                documents=counts["documents"],
                wall_s=round(wall, 2),
                gb_per_s=round(counts["bytes"] / wall / 1e9, 3),
                planted_copies_found=f"{found}/{len(planted)}",
                stages_s=result.summary["timings_s"],
                target=TARGETS["dedup"],
                check="ran",
            )
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            pipeline_row(c, "engine.dedup(backend='cuda')", check=f"ERROR {exc!r}"[:300])
    else:
        pipeline_row(c, "engine.dedup(backend='cuda')", check="skipped: time budget")
    left = c.left()
    if c.fits(30):
        try:
            # substr is slower per byte (Python-side packing): take what the budget allows
            n_files = len(files) if c.sim else max(1, min(len(files), int(left / 40)))
            sub_paths = paths[:n_files]
            sub_bytes = sum(Path(p).stat().st_size for p in sub_paths)
            t0 = time.perf_counter()
            s = substr(
                sub_paths,
                backend="cuda",
                min_span=min_span,
                **{**common, "workers": 1 if c.sim else 4},
            )
            wall = time.perf_counter() - t0
            counts = s.summary["counts"]
            pipeline_row(
                c,
                f"engine.substr(backend='cuda', min_span={min_span}, scheduler='{scheduler}')",
                size=human(sub_bytes),
                documents=counts["documents"],
                spans=counts["spans"],
                wall_s=round(wall, 2),
                gb_per_s=round(counts["bytes"] / wall / 1e9, 3),
                stages_s=s.summary["timings_s"],
                check="ran",
            )
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            pipeline_row(c, "engine.substr(backend='cuda')", check=f"ERROR {exc!r}"[:300])
    else:
        pipeline_row(c, "engine.substr(backend='cuda')", check="skipped: time budget")
