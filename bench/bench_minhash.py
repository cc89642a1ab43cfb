"""MinHash signatures and near-duplicate dedup: Ouroboros vs datasketch, one corpus, one run.

The corpus is real human text (Python and Linux kernel documentation, see
:mod:`bench.prepare_text`) with planted near-duplicate families, plain negatives
and hard negatives (:func:`bench.corpus.make_corpus`), cached under
``bench/.cache/``. Default: about 10,000 documents, ~42 MB of text.

Signatures (``num_perm=128``, word 5-grams, seed 42), timed from text to a
signature matrix, median of ``--repeat`` runs after an explicit warm-up (JIT):

- Ouroboros ``engine.minhash(texts, backend=...)``;
- datasketch ``MinHash.bulk`` fed by ``kernels.text_reference.word_shingles`` (the
  reference shingler: pure Python, slow, but exactly Ouroboros's shingle sets);
- datasketch ``MinHash.bulk`` fed by a regex shingler
  (:func:`bench.corpus.fast_word_shingles`) that yields the same shingle sets
  (checked on the corpus, reported as "sets identical").

Shingling time is included for datasketch. The estimated Jaccard of every labelled
pair is compared with its true Jaccard (mean absolute error), as a sanity check of
both signature sets.

Dedup (threshold 0.8, num_perm 128, 5-grams), JSONL file to clusters:

- Ouroboros ``engine.dedup([jsonl], out=tmpdir, backend=...)`` in process;
- Ouroboros CLI ``ouroboros dedup JSONL --out DIR`` in a subprocess, once, for wall
  time including interpreter start and JIT, and its peak RSS (``os.wait4``);
- datasketch: read the JSONL, regex shingler, ``MinHash.bulk``, ``MinHashLSH``
  insert + query, union-find over query results; and the same with each LSH
  candidate pair verified by the signature estimate (>= threshold), which is what
  Ouroboros does. Peak RSS from the same pipeline run in a subprocess.

Quality: pair precision / recall / F1 against the planted truth (ambiguous pairs
excluded), largest cluster, and clusters merging unrelated documents.

Usage::

    python -m bench.bench_minhash                 # ~10k docs, 3 repeats
    python -m bench.bench_minhash --quick         # ~1,500 docs, 1 repeat
    python -m bench.bench_minhash --docs 6000 --repeat 5 --out bench/out/minhash.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.corpus import (
    bench_corpus_params,
    fast_word_shingles,
    giant_cluster_check,
    make_corpus,
    read_jsonl,
    score_pairs,
    write_jsonl,
)
from bench.prepare_text import CACHE_DIR, load_human_docs, prepare

PROG = "python -m bench.bench_minhash"
NUM_PERM = 128
NGRAM = 5
SEED = 42
THRESHOLD = 0.8


# ---------------------------------------------------------------------------------
# corpus


def bench_corpus(n_docs: int, seed: int = 0, cache_dir: Path = CACHE_DIR) -> tuple[Path, dict]:
    """``(jsonl path, truth)`` of the benchmark corpus of about ``n_docs`` docs (cached)."""
    path = cache_dir / f"bench_corpus_{n_docs}_seed{seed}.jsonl"
    truth_path = path.with_suffix(".truth.json")
    if path.exists() and truth_path.exists():
        return path, json.loads(truth_path.read_text())
    prepare(cache_dir)
    docs = load_human_docs(cache_dir / "human_docs.jsonl")
    t0 = time.perf_counter()
    records, truth = make_corpus(docs, **bench_corpus_params(n_docs, seed))
    write_jsonl(records, path)
    tmp = truth_path.with_name(truth_path.name + ".tmp")
    tmp.write_text(json.dumps(truth, ensure_ascii=False) + "\n")
    os.replace(tmp, truth_path)
    print(f"[bench] built {path.name} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return path, truth


# ---------------------------------------------------------------------------------
# timing helpers


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, list[float], Any]:
    """``(median seconds, all seconds, last result)`` of ``repeat`` calls of ``fn``."""
    times = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, result


# A small launcher between this (large) process and the measured command: on Linux a
# child's ru_maxrss starts from the memory of the process it was forked from (the
# old mm's high-water mark is kept across exec), so forking the command straight
# from the benchmark would report the benchmark's own RSS as a floor.
_LAUNCHER = """
import json, os, subprocess, sys, time
result_path, cmd = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
proc = subprocess.Popen(cmd)
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - t0
with open(result_path, "w") as f:
    json.dump({"wall": wall, "maxrss_kib": usage.ru_maxrss,
               "returncode": os.waitstatus_to_exitcode(status)}, f)
"""


def run_child(cmd: Sequence[str]) -> tuple[float, int, str]:
    """Run ``cmd``; ``(wall seconds, peak RSS bytes, stdout)``.

    The command is started by a small launcher process that reads ``os.wait4``'s
    ``ru_maxrss``: the peak RSS of the command's process, or of the largest of its
    descendants that it waited for (the largest single process, not their sum).
    """
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.TemporaryDirectory() as tmp,
    ):
        result_path = Path(tmp) / "result.json"
        launcher = [sys.executable, "-c", _LAUNCHER, str(result_path), *cmd]
        proc = subprocess.run(launcher, stdout=out, stderr=err, text=True)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
        result = json.loads(result_path.read_text()) if result_path.exists() else None
    if proc.returncode != 0 or result is None or result["returncode"] != 0:
        code = result["returncode"] if result else proc.returncode
        raise RuntimeError(f"{' '.join(cmd)} failed ({code}):\n{stderr[-3000:]}")
    return result["wall"], result["maxrss_kib"] * 1024, stdout


# ---------------------------------------------------------------------------------
# datasketch side


def datasketch_signatures(shingle_lists: Sequence[Sequence[bytes]], num_perm: int, seed: int):
    """datasketch ``MinHash.bulk`` (its fastest path) over byte shingles."""
    from datasketch import MinHash

    return MinHash.bulk(shingle_lists, num_perm=num_perm, seed=seed)


def reference_shingles(texts: Sequence[str]) -> list[list[bytes]]:
    """Byte shingles from ``kernels.text_reference.word_shingles`` (pure Python)."""
    from kernels.text_reference import word_shingles

    return [[s.encode() for s in word_shingles(t, NGRAM)] for t in texts]


def regex_shingles(texts: Sequence[str]) -> list[list[bytes]]:
    """Byte shingles from the regex shingler (same sets as the reference)."""
    return [[s.encode() for s in fast_word_shingles(t, NGRAM)] for t in texts]


class UnionFind:
    """Union-find over ``n`` items with path halving and union by size."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.size = [1] * n

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]

    def labels(self) -> list[int]:
        return [self.find(i) for i in range(len(self.parent))]


def datasketch_dedup(
    jsonl: Path, *, threshold: float = THRESHOLD, num_perm: int = NUM_PERM, verify: bool = False
) -> tuple[dict[str, int], dict[str, Any]]:
    """datasketch pipeline: JSONL -> shingles -> MinHash.bulk -> MinHashLSH -> union-find.

    Returns ``({doc_id: cluster label}, info)``. With ``verify``, an LSH candidate
    pair is joined only when the signatures' estimated Jaccard is >= ``threshold``.
    """
    from datasketch import MinHashLSH

    records = read_jsonl(jsonl)
    ids = [r["id"] for r in records]
    minhashes = datasketch_signatures(regex_shingles([r["text"] for r in records]), num_perm, SEED)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    with lsh.insertion_session() as session:
        for i, m in enumerate(minhashes):
            session.insert(i, m)
    uf = UnionFind(len(ids))
    candidates = edges = 0
    for i, m in enumerate(minhashes):
        for j in lsh.query(m):
            if j <= i:
                continue
            candidates += 1
            if verify and m.jaccard(minhashes[j]) < threshold:
                continue
            edges += 1
            uf.union(i, j)
    labels = uf.labels()
    info = {"bands": lsh.b, "rows": lsh.r, "candidate_pairs": candidates, "edges": edges}
    return dict(zip(ids, labels, strict=True)), info


# ---------------------------------------------------------------------------------
# report


def machine_info(load_at_start: float | None = None) -> dict[str, str]:
    """CPU model, cores, memory, versions and date, for the report header."""
    import numba
    import pyarrow

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{mem_kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        mem = "?"
    versions = {"numpy": np.__version__, "numba": numba.__version__, "pyarrow": pyarrow.__version__}
    for name in ("datasketch", "engine"):
        try:
            module = __import__(name)
            versions[name if name != "engine" else "ouroboros"] = getattr(
                module, "__version__", "?"
            )
        except ImportError:
            versions[name] = "missing"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "?"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "cores": f"{cores} usable ({os.cpu_count()} online)",
        "memory": mem,
        "python": platform.python_version(),
        **versions,
        "git": commit,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load average (1 min, start/end)": (
            f"{load_at_start:.2f}/{os.getloadavg()[0]:.2f}" if load_at_start is not None else "?"
        ),
        "NUMBA_NUM_THREADS": os.environ.get(
            "NUMBA_NUM_THREADS", str(numba.config.NUMBA_NUM_THREADS)
        ),
    }


def seconds_cell(median: float, times: Sequence[float] | None) -> str:
    """``"1.23"``, or ``"1.23 (1.10-1.40)"`` (median, then min-max) for several runs."""
    if times and len(times) > 1:
        return f"{median:.2f} ({min(times):.2f}-{max(times):.2f})"
    return f"{median:.2f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines)


def _mb(n_bytes: float) -> str:
    return f"{n_bytes / 1e6:.1f}"


def _rate(n: float, seconds: float) -> str:
    return f"{n / seconds:,.0f}" if seconds > 0 else "-"


def jaccard_mae(estimate: Callable[[int, int], float], truth: dict, index: dict[str, int]) -> float:
    """Mean |estimated - true Jaccard| over the labelled pairs of ``truth``."""
    errors = [abs(estimate(index[a], index[b]) - j) for a, b, j in truth["pair_jaccard"]]
    return float(np.mean(errors)) if errors else float("nan")


def datasketch_mae(minhashes: Sequence[Any], truth: dict, index: dict[str, int]) -> float:
    """:func:`jaccard_mae` for a list of datasketch ``MinHash`` objects."""
    return jaccard_mae(lambda i, j: minhashes[i].jaccard(minhashes[j]), truth, index)


# ---------------------------------------------------------------------------------
# main


def run(args: argparse.Namespace) -> str:
    load_at_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    jsonl, truth = bench_corpus(args.docs, args.seed)
    records = read_jsonl(jsonl)
    texts = [r["text"] for r in records]
    ids = [r["id"] for r in records]
    index = {doc_id: i for i, doc_id in enumerate(ids)}
    n_docs = len(texts)
    text_bytes = sum(len(t.encode()) for t in texts)
    file_bytes = jsonl.stat().st_size
    stats = truth["stats"]
    repeat = args.repeat
    log = lambda msg: print(f"[bench] {msg}", file=sys.stderr)  # noqa: E731
    log(f"corpus {jsonl.name}: {n_docs} docs, {_mb(text_bytes)} MB text")

    # ---- signatures
    sig_rows = []
    try:
        import engine

        engine.minhash  # noqa: B018  (fails early when the API is missing)
        have_engine = True
    except (ImportError, AttributeError) as exc:
        have_engine = False
        log(f"engine.minhash unavailable ({exc}); Ouroboros rows skipped")

    results: dict[str, dict[str, Any]] = {}
    if have_engine:

        def ouro() -> np.ndarray:
            sig = engine.minhash(
                texts,
                num_perm=NUM_PERM,
                ngram=NGRAM,
                shingle="word",
                seed=SEED,
                backend=args.backend,
            )
            return np.asarray(sig.get() if hasattr(sig, "get") else sig)

        log("Ouroboros engine.minhash: warm-up")
        engine.minhash(texts[:64], num_perm=NUM_PERM, ngram=NGRAM, seed=SEED, backend=args.backend)
        med, times, sig = timed(ouro, repeat)
        mae = jaccard_mae(lambda i, j: float(np.mean(sig[i] == sig[j])), truth, index)
        results["ouro"] = {"median": med, "times": times, "mae": mae}
        log(f"  {med:.2f} s")

    if not args.skip_reference_shingler:
        log("datasketch + reference shingler")

        def ds_ref():
            return datasketch_signatures(reference_shingles(texts), NUM_PERM, SEED)

        med, times, ref_minhashes = timed(ds_ref, repeat)
        mae = datasketch_mae(ref_minhashes, truth, index)
        del ref_minhashes
        results["ds_ref"] = {"median": med, "times": times, "mae": mae}
        log(f"  {med:.2f} s")

    log("datasketch + regex shingler")

    def ds_regex():
        return datasketch_signatures(regex_shingles(texts), NUM_PERM, SEED)

    med, times, regex_minhashes = timed(ds_regex, repeat)
    mae = datasketch_mae(regex_minhashes, truth, index)
    results["ds_regex"] = {"median": med, "times": times, "mae": mae}
    log(f"  {med:.2f} s")
    del regex_minhashes

    # shingle-set agreement of the regex shingler with the reference
    from kernels.text_reference import word_shingles

    check = texts if not args.quick else texts[:500]
    identical = sum(
        set(word_shingles(t, NGRAM)) == set(fast_word_shingles(t, NGRAM)) for t in check
    )

    def sig_row(key: str, label: str) -> list[str]:
        r = results[key]
        med = r["median"]
        vs_ref = results.get("ds_ref", {}).get("median")
        vs_regex = results["ds_regex"]["median"]
        return [
            label,
            seconds_cell(med, r["times"]),
            _rate(n_docs, med),
            f"{text_bytes / med / 1e6:.2f}",
            f"{vs_ref / med:.1f}x" if vs_ref else "-",
            f"{vs_regex / med:.1f}x",
            f"{r['mae']:.4f}",
        ]

    labels = {
        "ouro": f"Ouroboros `engine.minhash` ({args.backend}; shingling built in)",
        "ds_ref": "datasketch `MinHash.bulk` + reference shingler (`word_shingles`)",
        "ds_regex": "datasketch `MinHash.bulk` + regex shingler (same sets)",
    }
    for key in ("ouro", "ds_ref", "ds_regex"):
        if key in results:
            sig_rows.append(sig_row(key, labels[key]))

    # ---- dedup
    dd_rows = []
    work = Path(tempfile.mkdtemp(prefix="bench-minhash-", dir=args.tmp))
    try:
        if have_engine:
            try:
                dd_rows += ouroboros_dedup_rows(
                    engine, args, jsonl, records, truth, work, file_bytes, n_docs, log
                )
            except Exception as exc:  # report, and still run the datasketch side
                log(f"Ouroboros dedup failed: {exc!r}")
                dd_rows.append(
                    [f"Ouroboros dedup FAILED: {type(exc).__name__}: {exc}"[:160]] + [""] * 12
                )

        for verify in (False, True):
            name = "datasketch `MinHashLSH` + union-find" + (
                " + signature verification" if verify else " (unverified candidates)"
            )
            log(name)
            med, times, (clusters, info) = timed(
                lambda v=verify: datasketch_dedup(
                    jsonl, threshold=args.threshold, num_perm=NUM_PERM, verify=v
                ),
                repeat,
            )
            log(f"  {med:.2f} s")
            child = [
                sys.executable,
                "-m",
                "bench.bench_minhash",
                "--child-datasketch",
                str(jsonl),
                "--threshold",
                str(args.threshold),
            ] + (["--verify"] if verify else [])
            _, rss, _ = run_child(child)
            dd_rows.append(
                _dedup_row(
                    f"{name} (bands={info['bands']} rows={info['rows']})",
                    med,
                    file_bytes,
                    n_docs,
                    clusters,
                    truth,
                    rss=rss,
                    times=times,
                )
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # ---- report
    info = machine_info(load_at_start)
    lines = [
        "## MinHash signatures and dedup: Ouroboros vs datasketch (CPU)",
        "",
        f"Corpus: `{jsonl.name}` ({n_docs:,} docs, {_mb(text_bytes)} MB of text, "
        f"{_mb(file_bytes)} MB JSONL): real Python 3.11 and Linux 6.1 documentation "
        f"with {stats['families_with_copies']} planted families ({stats['copies']} "
        f"near-duplicate copies), {stats['positive_pairs']} positive pairs (true word-5-gram "
        f"Jaccard >= 0.9), {stats['ambiguous_pairs']} ambiguous pairs (excluded), "
        f"{stats['hard_negative_docs']} hard negatives (shared boilerplate, max Jaccard "
        f"{stats['hard_negative_max_jaccard']:.2f}).",
        f"Repeats: median of {repeat} after an explicit warm-up. Regex shingler: "
        f"identical shingle sets to the reference on {identical}/{len(check)} docs.",
        "",
        f"### Signatures (num_perm={NUM_PERM}, word {NGRAM}-grams, seed {SEED})",
        "",
        markdown_table(
            ["tool", "s", "docs/s", "MB/s", "vs ds+ref", "vs ds+regex", "Jaccard MAE"], sig_rows
        ),
        "",
        "Jaccard MAE: mean |estimated - true Jaccard| over the "
        f"{len(truth['pair_jaccard'])} labelled pairs (family and hard-negative pairs).",
        "",
        f"### Dedup (threshold {args.threshold}, num_perm {NUM_PERM}, word {NGRAM}-grams; "
        "JSONL file to clusters)",
        "",
        markdown_table(
            [
                "tool",
                "s",
                "MB/s (JSONL)",
                "docs/s",
                "precision",
                "recall",
                "F1",
                "TP",
                "FP",
                "FN",
                "largest cluster",
                "unrelated merges",
                "peak RSS",
            ],
            dd_rows,
        ),
        "",
        dedup_speedup_line(dd_rows),
        "Peak RSS: largest process (`os.wait4`), from a separate subprocess run of the same "
        "pipeline. Unrelated merges: predicted clusters holding documents of more than one "
        "planted family.",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()),
        "",
    ]
    return "\n".join(lines)


def ouroboros_dedup_rows(engine, args, jsonl, records, truth, work, file_bytes, n_docs, log):
    """Rows for Ouroboros ``engine.dedup`` (in process) and the CLI (subprocess, RSS)."""
    import pyarrow.parquet as pq

    warm = work / "warm.jsonl"
    write_jsonl(records[:300], warm)
    log("Ouroboros engine.dedup: warm-up")
    engine.dedup(
        [str(warm)],
        out=str(work / "warm_out"),
        backend=args.backend,
        id_column="id",
        progress=False,
    )
    counter = iter(range(1_000_000))

    def ouro_dedup():
        out = work / f"dedup_{next(counter)}"
        result = engine.dedup(
            [str(jsonl)],
            out=str(out),
            backend=args.backend,
            id_column="id",
            progress=False,
            num_perm=NUM_PERM,
            ngram=NGRAM,
            threshold=args.threshold,
        )
        shutil.rmtree(out, ignore_errors=True)
        return result

    med, times, result = timed(ouro_dedup, args.repeat)
    log(f"  {med:.2f} s")
    cli_out = work / "cli_out"
    cli = shutil.which("ouroboros")
    cmd = [cli] if cli else [sys.executable, "-m", "engine.cli"]
    cmd += [
        "dedup",
        str(jsonl),
        "--out",
        str(cli_out),
        "--backend",
        args.backend,
        "--id-column",
        "id",
        "--threshold",
        str(args.threshold),
        "-q",
    ]
    log("Ouroboros CLI (subprocess)")
    cli_wall, cli_rss, _ = run_child(cmd)
    cli_clusters = pq.read_table(cli_out / "clusters.parquet")
    same = cli_clusters.select(["doc_id", "cluster_id"]).equals(
        result.clusters.select(["doc_id", "cluster_id"])
    )
    params = result.summary.get("parameters", {})
    return [
        _dedup_row(
            f"Ouroboros `engine.dedup` ({args.backend}, bands={params.get('bands', '?')} "
            f"rows={params.get('rows', '?')}, verified)",
            med,
            file_bytes,
            n_docs,
            result.clusters,
            truth,
            rss=None,
            times=times,
        ),
        _dedup_row(
            "Ouroboros CLI `ouroboros dedup` (1 run, incl. start-up and JIT)",
            cli_wall,
            file_bytes,
            n_docs,
            cli_clusters,
            truth,
            rss=cli_rss,
            note=None if same else "clusters DIFFER from engine.dedup",
        ),
    ]


def dedup_speedup_line(rows: Sequence[Sequence[Any]]) -> str:
    """A sentence comparing Ouroboros ``engine.dedup`` time with each datasketch row."""
    seconds = {}
    for row in rows:
        try:
            seconds[str(row[0])] = float(str(row[1]).split()[0])
        except (ValueError, IndexError):
            continue
    ouro = next((v for k, v in seconds.items() if k.startswith("Ouroboros `engine.dedup`")), None)
    if ouro is None:
        return ""
    parts = [
        f"{v / ouro:.1f}x faster than {k.split(' (bands')[0]}"
        for k, v in seconds.items()
        if k.startswith("datasketch")
    ]
    return "Ouroboros `engine.dedup` is " + "; ".join(parts) + ".\n" if parts else ""


def _dedup_row(
    label, seconds, file_bytes, n_docs, clusters, truth, *, rss, note=None, times=None
) -> list[str]:
    if note:
        label = f"{label} [{note}]"
    row = [
        label,
        seconds_cell(seconds, times),
        f"{file_bytes / seconds / 1e6:.2f}",
        _rate(n_docs, seconds),
    ]
    if clusters is not None:
        score = score_pairs(clusters, truth)
        giant = giant_cluster_check(clusters, truth)
        row += [
            f"{score['precision']:.4f}",
            f"{score['recall']:.4f}",
            f"{score['f1']:.4f}",
            score["tp"],
            score["fp"],
            score["fn"],
            giant["largest_cluster"],
            giant["unrelated_merges"],
        ]
    else:
        row += ["(same clusters)"] + [""] * 7
    row.append(f"{rss / 2**20:,.0f} MiB" if rss else "-")
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=None, help="corpus size (default 10000)")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs (default 3)")
    parser.add_argument("--quick", action="store_true", help="~1,500 docs, 1 repeat")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed")
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    parser.add_argument("--backend", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument(
        "--skip-reference-shingler",
        action="store_true",
        help="skip datasketch + the slow pure-Python reference shingler",
    )
    parser.add_argument("--out", type=Path, help="also write the Markdown report here")
    parser.add_argument("--tmp", default=None, help="folder for temporary dedup outputs")
    parser.add_argument("--child-datasketch", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--verify", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child_datasketch:
        _, info = datasketch_dedup(
            args.child_datasketch, threshold=args.threshold, verify=args.verify
        )
        print(json.dumps(info))
        return 0
    if args.docs is None:
        args.docs = 1500 if args.quick else 10_000
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    report = run(args)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
