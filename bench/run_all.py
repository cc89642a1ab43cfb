"""The benchmark suite: Ouroboros against CPU baselines, one process tree, one data set.

    python -m bench all [--quick] [--out FILE.md] [--results bench/RESULTS.md] [--repeat N]

Sections (each contender runs on the same prepared data; contenders of a section run
round-robin, ``--repeat`` rounds, after a warm-up, so that load from other processes
hits them alike; the table gives the median and min-max, and ratios to Ouroboros):

1. **signatures** (num_perm 128, word 5-grams, seed 42): ``engine.minhash(backend=cpu)``
   vs datasketch ``MinHash.bulk`` fed by the regex shingler that gives exactly
   Ouroboros's shingle sets (:func:`bench.corpus.fast_word_shingles`, checked).
2. **near-duplicate dedup**, JSONL to clusters, threshold 0.8: ``engine.dedup`` (cpu,
   threads scheduler, in process) vs datasketch ``MinHashLSH`` + union-find (with and
   without verifying candidates by the signature estimate) vs text-dedup's MinHash
   (PyPI ``text-dedup`` 0.4.0 ``text_dedup/minhash.py``, ported: see
   :class:`TextDedupMinHash` for why it is not imported), each scored with pair
   precision/recall/F1 against the planted truth (:func:`bench.corpus.score_pairs`).
3. **suffix array** of the packed corpus text: ``suffix_array(backend="cpu")`` vs
   ``pydivsufsort.divsufsort`` vs PySAIS (when it is installed).
4. **repeated substrings**: ``engine.substr`` on the corpus JSONL.
5. **provenance flagging**: ``engine.build_reference`` + ``engine.flag`` with the
   family originals as references.

Data: the planted-duplicate corpus ``bench/.cache/bench_corpus_<N>_seed0.jsonl`` (built
from ``python -m bench prepare-text`` output by :func:`bench.bench_minhash.bench_corpus`);
``--quick`` uses 1,500 documents and falls back to the bundled ``sample/`` corpus when
the cache is missing and cannot be built, so it runs without network. Suffix-array text:
the same corpus's text, packed with ``0xFF`` separators.

``--results FILE`` replaces this machine's subsection under the heading
``## Benchmark suite (python -m bench all)`` of FILE (e.g. bench/RESULTS.md) and keeps
everything else in it.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import struct
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from itertools import tee
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from bench.bench_minhash import (
    NGRAM,
    NUM_PERM,
    SEED,
    THRESHOLD,
    UnionFind,
    datasketch_dedup,
    datasketch_signatures,
    machine_info,
    markdown_table,
    regex_shingles,
)
from bench.corpus import fast_word_shingles, giant_cluster_check, read_jsonl, score_pairs

PROG = "python -m bench all"
SECTION = "## Benchmark suite (python -m bench all)"
REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample"


def log(message: str) -> None:
    print(f"[bench all] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------
# data


def load_corpus(n_docs: int, quick: bool) -> tuple[Path, dict, str]:
    """``(jsonl, truth, description)`` of the planted-duplicate corpus."""
    from bench.prepare_text import CACHE_DIR, HUMAN_DOCS

    cached = CACHE_DIR / f"bench_corpus_{n_docs}_seed0.jsonl"
    can_build = (CACHE_DIR / HUMAN_DOCS).exists()
    if cached.exists() or can_build or not quick:
        from bench.bench_minhash import bench_corpus

        path, truth = bench_corpus(n_docs, 0)
        return path, truth, f"`bench/.cache/{path.name}` (real Debian documentation text)"
    log("bench/.cache has no corpus and no human_docs.jsonl: using the bundled sample/")
    truth = json.loads((SAMPLE / "truth.json").read_text())
    return SAMPLE / "docs.jsonl.gz", truth, "`sample/docs.jsonl.gz` (bundled sample)"


def optional_module(name: str):
    try:
        return importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 (any import failure means "not runnable")
        return exc


def version_of(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:  # noqa: BLE001
        return "missing"


def warm_file(jsonl: Path, tmp: str, n: int = 100) -> Path:
    """A small plain JSONL with the first ``n`` records of ``jsonl`` (for JIT warm-ups)."""
    from bench.corpus import write_jsonl

    path = Path(tmp) / "warm.jsonl"
    if not path.exists():
        write_jsonl(read_jsonl(jsonl)[:n], path)
    return path


# ---------------------------------------------------------------------------------
# timing


def interleaved(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, dict]:
    """Run every fn round-robin ``repeat`` times: {name: {median, times, result}}."""
    out = {name: {"times": [], "result": None} for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            out[name]["result"] = None
            t0 = time.perf_counter()
            out[name]["result"] = fn()
            out[name]["times"].append(time.perf_counter() - t0)
            log(f"  {name}: {out[name]['times'][-1]:.2f} s")
    for r in out.values():
        r["median"] = statistics.median(r["times"])
    return out


def cell(r: dict) -> str:
    times = r["times"]
    if len(times) > 1:
        return f"{r['median']:.3f} ({min(times):.3f}-{max(times):.3f})"
    return f"{r['median']:.3f}"


def ratio(r: dict, base: dict) -> str:
    return f"{r['median'] / base['median']:.2f}x"


# ---------------------------------------------------------------------------------
# text-dedup's MinHash, ported


class TextDedupMinHash:
    """text-dedup 0.4.0 ``text_dedup/minhash.py`` (Chenghao Mou, Apache-2.0), ported.

    Why a port and not ``import text_dedup``: the wheel requires ``datasets``,
    ``pyspark``, ``unisim`` (TensorFlow/ONNX embeddings), ``sphinxcontrib-bibtex``,
    ``pybloom-live`` and ``urllib3<=2.0`` at install time, and ``text_dedup.minhash``
    imports ``datasets`` (Hugging Face) at module load; its pipeline is a
    ``datasets.map``/``filter`` over a dataset loaded with ``load_dataset``. Those are
    gigabytes of dependencies that this project does not install. The algorithm itself
    is ~60 lines of NumPy and is reproduced here line for line with its defaults
    (``--hash_func sha1 --hash_bits 64 --min_length 5``, ``RandomState(42)``
    permutations, ``optimal_param`` with weights 0.5/0.5 by ``scipy.integrate.quad``,
    band hash tables keyed by the byte-swapped band bytes, every bucket unioned to its
    minimum, no verification). Only the ``datasets`` layer is replaced by a plain loop
    (its ``num_proc=1`` equivalent), so the timing leaves out Arrow caching overheads
    that the real tool has. Documents shorter than ``min_length`` tokens are dropped by
    text-dedup's filter; here they count as singleton clusters.
    """

    NON_ALPHA = re.compile(r"\W", re.UNICODE)

    def __init__(self, *, num_perm: int, ngram: int, threshold: float, min_length: int = 5):
        self.num_perm = num_perm
        self.ngram = ngram
        self.min_length = min_length
        self.dtype = np.uint64
        self.max_hash = np.uint32((1 << 32) - 1)
        self.modulo_prime = np.uint64((1 << 61) - 1)
        self.b, self.r = self.optimal_param(threshold, num_perm)
        self.hashranges = [(i * self.r, (i + 1) * self.r) for i in range(self.b)]
        rng = np.random.RandomState(42)
        self.permutations = (
            rng.randint(1, self.modulo_prime, size=(num_perm,), dtype=self.dtype),
            rng.randint(0, self.modulo_prime, size=(num_perm,), dtype=self.dtype),
        )

    @staticmethod
    def optimal_param(threshold: float, num_perm: int, fp_weight=0.5, fn_weight=0.5):
        try:
            from scipy.integrate import quad as integrate
        except ImportError:  # datasketch's copy of the same criterion
            from datasketch.lsh import _optimal_param

            return _optimal_param(threshold, num_perm, fp_weight, fn_weight)

        def fp_area(b, r):
            return integrate(lambda s: 1 - (1 - s ** float(r)) ** float(b), 0.0, threshold)[0]

        def fn_area(b, r):
            return integrate(lambda s: 1 - (1 - (1 - s ** float(r)) ** float(b)), threshold, 1.0)[0]

        best, opt = float("inf"), (0, 0)
        for b in range(1, num_perm + 1):
            for r in range(1, int(num_perm / b) + 1):
                error = fp_area(b, r) * fp_weight + fn_area(b, r) * fn_weight
                if error < best:
                    best, opt = error, (b, r)
        return opt

    @staticmethod
    def ngrams(sequence: list[str], n: int, min_length: int = 5):
        if len(sequence) < min_length:
            return []
        if len(sequence) < n:
            return [tuple(sequence)]
        iterables = tee(iter(sequence), n)
        for i, sub_iterable in enumerate(iterables):
            for _ in range(i):
                next(sub_iterable, None)
        return zip(*iterables)

    @staticmethod
    def sha1_hash32(data: bytes) -> int:
        import hashlib

        return struct.unpack("<I", hashlib.sha1(data, usedforsecurity=False).digest()[:4])[0]

    def embed(self, content: str) -> list[bytes]:
        a, b = self.permutations
        tokens = {
            bytes(" ".join(t).lower(), "utf-8")
            for t in self.ngrams(self.NON_ALPHA.split(content.lower()), self.ngram, self.min_length)
        }
        hashvalues = np.array(
            [self.sha1_hash32(token) for token in tokens], dtype=self.dtype
        ).reshape(len(tokens), 1)
        with np.errstate(over="ignore"):  # uint64 wrap-around, as in text-dedup
            hashvalues = (hashvalues * a + b) % self.modulo_prime & self.max_hash
        masks = np.full(shape=self.num_perm, dtype=self.dtype, fill_value=self.max_hash)
        hashvalues = np.vstack([hashvalues, masks]).min(axis=0)
        return [bytes(hashvalues[start:end].byteswap().data) for start, end in self.hashranges]

    def dedup(self, jsonl: Path) -> tuple[dict[str, int], dict]:
        records = read_jsonl(jsonl)
        ids = [r["id"] for r in records]
        keep = [
            i
            for i, r in enumerate(records)
            if len(self.NON_ALPHA.split(r["text"].lower())) >= self.min_length
        ]
        tables: list[dict[bytes, set]] = [defaultdict(set) for _ in range(self.b)]
        for i in keep:
            for band, h in enumerate(self.embed(records[i]["text"])):
                tables[band][h].add(i)
        uf = UnionFind(len(records))
        edges = 0
        for table in tables:
            for cluster in table.values():
                if len(cluster) <= 1:
                    continue
                idx = min(cluster)
                for x in cluster:
                    edges += 1
                    uf.union(x, idx)
        labels = uf.labels()
        info = {"bands": self.b, "rows": self.r, "filtered_short": len(records) - len(keep)}
        info["edges"] = edges
        return dict(zip(ids, labels, strict=True)), info


# ---------------------------------------------------------------------------------
# sections


def section_signatures(texts, truth, ids, repeat, text_bytes) -> tuple[str, dict]:
    import engine

    index = {d: i for i, d in enumerate(ids)}
    check = texts[:300]
    from kernels.text_reference import word_shingles

    identical = sum(
        set(word_shingles(t, NGRAM)) == set(fast_word_shingles(t, NGRAM)) for t in check
    )
    log("signatures: warm-up")
    engine.minhash(texts[:64], num_perm=NUM_PERM, ngram=NGRAM, seed=SEED, backend="cpu")
    fns = {
        "ouroboros": lambda: engine.minhash(
            texts, num_perm=NUM_PERM, ngram=NGRAM, seed=SEED, backend="cpu"
        ),
        "datasketch": lambda: datasketch_signatures(regex_shingles(texts), NUM_PERM, SEED),
    }
    res = interleaved(fns, repeat)
    sig = np.asarray(res["ouroboros"]["result"])
    mh = res["datasketch"]["result"]
    pairs = truth["pair_jaccard"]
    mae_o = float(np.mean([abs(np.mean(sig[index[a]] == sig[index[b]]) - j) for a, b, j in pairs]))
    mae_d = float(np.mean([abs(mh[index[a]].jaccard(mh[index[b]]) - j) for a, b, j in pairs]))
    base = res["ouroboros"]
    rows = [
        [
            "Ouroboros `engine.minhash` (cpu, shingling built in)",
            cell(base),
            f"{text_bytes / base['median'] / 1e6:.1f}",
            "1.00x",
            f"{mae_o:.4f}",
        ],
        [
            "datasketch `MinHash.bulk` + regex shingler (same shingle sets)",
            cell(res["datasketch"]),
            f"{text_bytes / res['datasketch']['median'] / 1e6:.1f}",
            ratio(res["datasketch"], base),
            f"{mae_d:.4f}",
        ],
    ]
    text = "\n".join(
        [
            f"#### Signatures (num_perm={NUM_PERM}, word {NGRAM}-grams, seed {SEED})",
            "",
            markdown_table(
                ["tool", "s, median (min-max)", "MB/s of text", "time vs Ouroboros", "Jaccard MAE"],
                rows,
            ),
            "",
            f"Regex shingler: identical shingle sets to `kernels.text_reference` on "
            f"{identical}/{len(check)} documents checked. Jaccard MAE: mean |estimate - true "
            f"Jaccard| over {len(pairs)} labelled pairs.",
        ]
    )
    return text, {k: {"median": v["median"], "times": v["times"]} for k, v in res.items()}


def section_dedup(jsonl, truth, repeat, file_bytes, n_docs, tmp) -> tuple[str, dict]:
    import engine

    counter = iter(range(10**6))

    def ouro():
        out = Path(tmp) / f"dedup_{next(counter)}"
        result = engine.dedup(
            [str(jsonl)],
            out=str(out),
            backend="cpu",
            scheduler="threads",
            id_column="id",
            progress=False,
            num_perm=NUM_PERM,
            ngram=NGRAM,
            threshold=THRESHOLD,
        )
        # DedupResult reads clusters.parquet lazily: load it before the folder goes
        loaded = SimpleNamespace(clusters=result.clusters, summary=result.summary)
        shutil.rmtree(out, ignore_errors=True)
        return loaded

    log("dedup: warm-up")
    warm = warm_file(jsonl, tmp)
    engine.dedup(
        [str(warm)],
        out=str(Path(tmp) / "warm"),
        backend="cpu",
        scheduler="threads",
        id_column="id",
        progress=False,
    )
    fns: dict[str, Callable[[], Any]] = {"ouroboros": ouro}
    fns["datasketch"] = lambda: datasketch_dedup(jsonl, threshold=THRESHOLD, verify=False)
    fns["datasketch_verified"] = lambda: datasketch_dedup(jsonl, threshold=THRESHOLD, verify=True)
    notes = []
    td_mod = optional_module("text_dedup.minhash")
    if not isinstance(td_mod, Exception):
        notes.append("text-dedup is installed but the port below is what is timed (see docs)")
    td = TextDedupMinHash(num_perm=NUM_PERM, ngram=NGRAM, threshold=THRESHOLD)
    fns["text_dedup"] = lambda: td.dedup(jsonl)
    res = interleaved(fns, repeat)
    base = res["ouroboros"]
    ouro_result = base["result"]
    params = ouro_result.summary.get("parameters", {})
    labels = {
        "ouroboros": f"Ouroboros `engine.dedup` (cpu, threads; bands={params.get('bands', '?')} "
        f"rows={params.get('rows', '?')}; every edge verified)",
        "datasketch": "datasketch `MinHashLSH` + union-find (unverified candidates)",
        "datasketch_verified": "datasketch `MinHashLSH` + union-find + signature verification",
        "text_dedup": "text-dedup 0.4.0 MinHash (ported, sha1, min_length 5; unverified)",
    }
    rows, raw = [], {}
    for key, r in res.items():
        clusters = r["result"].clusters if key == "ouroboros" else r["result"][0]
        info = {} if key == "ouroboros" else r["result"][1]
        label = labels[key]
        if "bands" in info:
            label += f" (bands={info['bands']} rows={info['rows']})"
        score = score_pairs(clusters, truth)
        giant = giant_cluster_check(clusters, truth)
        rows.append(
            [
                label,
                cell(r),
                f"{file_bytes / r['median'] / 1e6:.2f}",
                f"{n_docs / r['median']:,.0f}",
                ratio(r, base),
                f"{score['precision']:.4f}",
                f"{score['recall']:.4f}",
                f"{score['f1']:.4f}",
                giant["largest_cluster"],
                giant["unrelated_merges"],
            ]
        )
        raw[key] = {"median": r["median"], "times": r["times"], **score, **giant, **info}
    stats = truth["stats"]
    text = "\n".join(
        [
            f"#### Near-duplicate dedup (JSONL to clusters; threshold {THRESHOLD}, num_perm "
            f"{NUM_PERM}, word {NGRAM}-grams)",
            "",
            markdown_table(
                [
                    "tool",
                    "s, median (min-max)",
                    "MB/s (JSONL)",
                    "docs/s",
                    "time vs Ouroboros",
                    "precision",
                    "recall",
                    "F1",
                    "largest cluster",
                    "unrelated merges",
                ],
                rows,
            ),
            "",
            f"Truth: {stats['positive_pairs']} positive pairs (true Jaccard >= 0.9), "
            f"{stats['ambiguous_pairs']} ambiguous pairs excluded; unrelated merges: predicted "
            "clusters holding more than one planted family.",
            *notes,
        ]
    )
    return text, raw


def section_suffix_array(jsonl, repeat, max_bytes) -> tuple[str, dict]:
    from engine.substrings.spans import pack_with_separators
    from kernels.suffix_array import suffix_array

    docs, total = [], 0
    for r in read_jsonl(jsonl):
        data = r["text"].encode()
        if total + len(data) > max_bytes:
            break
        docs.append(data)
        total += len(data)
    data, _ = pack_with_separators(docs)
    mb = data.size / 1e6
    fns: dict[str, Callable[[], Any]] = {
        "ouroboros": lambda: suffix_array(data, backend="cpu"),
    }
    notes = []
    div = optional_module("pydivsufsort")
    if isinstance(div, Exception):
        notes.append(f"pydivsufsort not runnable: {div!r}")
    else:
        fns["pydivsufsort"] = lambda: div.divsufsort(data)
    sais = optional_module("PySAIS")
    if isinstance(sais, Exception):
        notes.append(
            f"PySAIS not runnable here: `import PySAIS` fails with {type(sais).__name__}: "
            f"{sais} (install with `pip install pysais tables`; its module imports PyTables)."
        )
    else:
        raw_bytes = data.tobytes()
        fns["pysais"] = lambda: sais.sais(raw_bytes, reduce_size=False)
    suffix_array(data[:1000].copy(), backend="cpu")  # warm-up
    res = interleaved(fns, repeat)
    want = res["ouroboros"]["result"]
    base = res["ouroboros"]
    labels = {
        "ouroboros": 'Ouroboros `suffix_array(backend="cpu")` (int64)',
        "pydivsufsort": "pydivsufsort `divsufsort` (int32 for < 2 GB)",
        "pysais": "PySAIS `sais` (int32)",
    }
    rows, raw = [], {}
    for key, r in res.items():
        same = np.array_equal(np.asarray(r["result"], dtype=np.int64), want)
        rows.append(
            [
                labels[key],
                cell(r),
                f"{mb / r['median']:.1f}",
                ratio(r, base),
                "yes" if same else "NO",
            ]
        )
        raw[key] = {"median": r["median"], "times": r["times"], "same": same}
    text = "\n".join(
        [
            f"#### Suffix array ({mb:.1f} MB: the corpus text, 0xFF after each document)",
            "",
            markdown_table(
                ["tool", "s, median (min-max)", "MB/s", "time vs Ouroboros", "same array"],
                rows,
            ),
            "",
            *notes,
        ]
    )
    return text, raw


def section_substr_flag(jsonl, truth, repeat, file_bytes, tmp) -> tuple[str, dict]:
    from engine.substrings.pipeline import substr

    counter = iter(range(10**6))

    def run_substr():
        return substr(
            [str(jsonl)],
            backend="cpu",
            scheduler="threads",
            id_column="id",
            progress=False,
            min_span=100,
        )

    substr(
        [str(warm_file(jsonl, tmp))],
        backend="cpu",
        scheduler="threads",
        id_column="id",
        progress=False,
        min_span=100,
    )  # warm-up (JIT)
    res = interleaved({"substr": run_substr}, repeat)
    s = res["substr"]["result"]
    counts = s.summary["counts"]
    rows = [
        [
            "Ouroboros `engine.substr` (cpu, threads, min_span 100)",
            cell(res["substr"]),
            f"{file_bytes / res['substr']['median'] / 1e6:.2f}",
            f"{counts['spans']:,} spans, {counts['bytes_marked'] / 1e6:.2f} MB marked",
        ]
    ]
    raw = {
        "substr": {
            "median": res["substr"]["median"],
            "times": res["substr"]["times"],
            **{k: counts[k] for k in ("spans", "bytes_marked", "documents")},
        }
    }
    notes = []
    provenance = optional_module("engine.provenance")
    if isinstance(provenance, Exception):
        notes.append(f"Flagging skipped: `engine.provenance` is not importable ({provenance!r}).")
    else:
        try:
            ref_jsonl = Path(tmp) / "references.jsonl"
            originals = {d for d, role in truth["roles"].items() if role == "original"}
            with open(ref_jsonl, "w") as f:
                for r in read_jsonl(jsonl):
                    if r["id"] in originals:
                        f.write(json.dumps({"id": r["id"], "text": r["text"]}) + "\n")
            ref_bytes = ref_jsonl.stat().st_size
            refdir = Path(tmp) / "refindex"

            def build():
                shutil.rmtree(refdir, ignore_errors=True)
                return provenance.build_reference([str(ref_jsonl)], str(refdir), backend="cpu")

            def run_flag():
                out = Path(tmp) / f"flag_{next(counter)}"
                result = provenance.flag(
                    [str(jsonl)],
                    str(out),
                    reference=str(refdir),
                    backend="cpu",
                    scheduler="threads",
                    id_column="id",
                    progress=False,
                )
                loaded = SimpleNamespace(flags=result.flags)
                shutil.rmtree(out, ignore_errors=True)
                return loaded

            build()
            provenance.flag(
                [str(warm_file(jsonl, tmp))],
                str(Path(tmp) / "flag_warm"),
                reference=str(refdir),
                backend="cpu",
                scheduler="threads",
                id_column="id",
                progress=False,
            )  # warm-up (JIT)
            fres = interleaved({"build": build, "flag": run_flag}, repeat)
            flags = fres["flag"]["result"].flags
            labels_count = {}
            for label in flags.column("label").to_pylist():
                labels_count[label] = labels_count.get(label, 0) + 1
            rows.append(
                [
                    f"Ouroboros `reference build` ({len(originals)} originals as references)",
                    cell(fres["build"]),
                    f"{ref_bytes / fres['build']['median'] / 1e6:.2f}",
                    f"{ref_bytes / 1e6:.1f} MB of references",
                ]
            )
            rows.append(
                [
                    "Ouroboros `flag` (cpu, threads) over the corpus",
                    cell(fres["flag"]),
                    f"{file_bytes / fres['flag']['median'] / 1e6:.2f}",
                    ", ".join(f"{k} {v}" for k, v in sorted(labels_count.items())),
                ]
            )
            raw["reference_build"] = {
                "median": fres["build"]["median"],
                "times": fres["build"]["times"],
            }
            raw["flag"] = {
                "median": fres["flag"]["median"],
                "times": fres["flag"]["times"],
                "labels": labels_count,
            }
        except Exception as exc:  # noqa: BLE001 (report and go on)
            notes.append(f"Flagging FAILED: {type(exc).__name__}: {exc}"[:400])
            log(notes[-1])
    text = "\n".join(
        [
            "#### Repeated substrings and provenance flagging (JSONL in, tables out)",
            "",
            markdown_table(["step", "s, median (min-max)", "MB/s (input)", "result"], rows),
            "",
            *notes,
        ]
    )
    return text, raw


# ---------------------------------------------------------------------------------
# RESULTS.md


def machine_key(info: dict) -> str:
    return f"{info['cpu']}, {info['cores'].split(' ')[0]} cores"


def update_results(path: Path, subsection: str, key: str) -> None:
    """Replace the ``### key`` subsection under SECTION in ``path``; keep the rest."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    head = f"### {key}"
    if SECTION not in text:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n{subsection.rstrip()}\n"
    else:
        start = text.index(SECTION)
        after = text.find("\n## ", start + len(SECTION))
        end = len(text) if after < 0 else after + 1
        body = text[start + len(SECTION) : end]
        # split the section into its ### subsections, keyed by their heading line
        parts = re.split(r"(?m)^(?=### )", body)
        intro, subs = parts[0], parts[1:]
        subs = [s for s in subs if s.splitlines()[0].strip() != head]
        subs.append(subsection.rstrip() + "\n\n")
        body = intro.rstrip("\n") + "\n\n" + "".join(s.rstrip("\n") + "\n\n" for s in subs)
        text = (
            text[:start]
            + SECTION
            + body.rstrip("\n")
            + "\n"
            + ("\n" + text[end:] if end < len(text) else "")
        )
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------
# main


BENCH_DEPENDENCIES = {
    "datasketch": "datasketch (signatures and dedup baselines)",
    "pydivsufsort": "pydivsufsort (suffix-array baseline)",
    "PySAIS": "pysais (suffix-array baseline; its module imports PyTables)",
    "scipy": "scipy (text-dedup's optimal_param; datasketch's copy is used without it)",
}


def missing_dependencies() -> list[str]:
    """Bench-only packages that are not importable, with what they are for."""
    return [
        what for mod, what in BENCH_DEPENDENCIES.items() if importlib.util.find_spec(mod) is None
    ]


def run(args: argparse.Namespace) -> tuple[str, dict]:
    missing = missing_dependencies()
    if missing:
        log("MISSING bench dependencies (pip install -e '.[bench]'): " + "; ".join(missing))
    load_start = os.getloadavg()[0]
    started = time.perf_counter()
    jsonl, truth, source = load_corpus(args.docs, args.quick)
    records = read_jsonl(jsonl)
    texts = [r["text"] for r in records]
    ids = [r["id"] for r in records]
    text_bytes = sum(len(t.encode()) for t in texts)
    file_bytes = jsonl.stat().st_size
    log(f"corpus {jsonl.name}: {len(texts)} docs, {text_bytes / 1e6:.1f} MB of text")
    tmp = tempfile.mkdtemp(prefix="bench-all-")
    sections, raw = [], {}
    try:
        for name, fn in (
            ("signatures", lambda: section_signatures(texts, truth, ids, args.repeat, text_bytes)),
            (
                "dedup",
                lambda: section_dedup(jsonl, truth, args.repeat, file_bytes, len(texts), tmp),
            ),
            ("suffix_array", lambda: section_suffix_array(jsonl, args.repeat, args.sa_bytes)),
            (
                "substr_flag",
                lambda: section_substr_flag(jsonl, truth, args.repeat, file_bytes, tmp),
            ),
        ):
            log(f"section {name}")
            try:
                text, data = fn()
            except Exception as exc:  # noqa: BLE001 (one broken section must not hide others)
                import traceback

                traceback.print_exc()
                text, data = (
                    f"#### {name}\n\nFAILED: {type(exc).__name__}: {exc}",
                    {"error": str(exc)},
                )
            sections.append(text)
            raw[name] = data
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    info = machine_info(load_start)
    info["load average (1 min, start/end)"] = f"{load_start:.2f}/{os.getloadavg()[0]:.2f}"
    for dist in ("datasketch", "pydivsufsort", "text-dedup", "pysais", "scipy"):
        info[dist] = version_of(dist)
    command = f"{PROG} " + " ".join(args.argv)
    key = f"{machine_key(info)} ({'quick' if args.quick else 'full'})"
    header = [
        f"### {key}",
        "",
        f"Command: `{command.strip()}`; total {time.perf_counter() - started:.0f} s. "
        f"Corpus: {source}: {len(texts):,} documents, {text_bytes / 1e6:.1f} MB of text, "
        f"{file_bytes / 1e6:.1f} MB file. Timings: median (min-max) of {args.repeat} "
        "round-robin run(s) after a warm-up; ratios are medians side by side.",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()),
        "",
    ]
    if missing:
        header += [
            "**Missing bench dependencies** (rows left out; `pip install -e '.[bench]'`): "
            + "; ".join(missing),
            "",
        ]
    report = "\n".join(header + [s + "\n" for s in sections])
    return report, {"machine": info, "command": command, "sections": raw, "key": key}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small data, 1 run (CI smoke)")
    parser.add_argument("--out", type=Path, help="write the Markdown report here")
    parser.add_argument("--json", type=Path, help="write the raw figures here")
    parser.add_argument(
        "--results", type=Path, help="update this machine's subsection of this file"
    )
    parser.add_argument("--docs", type=int, default=None, help="corpus size (10000; quick 1500)")
    parser.add_argument("--repeat", type=int, default=None, help="rounds (3; quick 1)")
    parser.add_argument(
        "--sa-mb", type=float, default=None, help="suffix-array text MB (40; quick 4)"
    )
    args = parser.parse_args(argv)
    args.argv = argv
    if args.docs is None:
        args.docs = 1500 if args.quick else 10_000
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    args.sa_bytes = int((args.sa_mb or (4 if args.quick else 40)) * 1e6)
    print(f"[bench all] python {platform.python_version()}", file=sys.stderr)
    report, raw = run(args)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1, default=str) + "\n")
    if args.results:
        update_results(args.results, report, raw["key"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
