#!/usr/bin/env python3
"""One-shot GPU check: every CUDA kernel against its CPU twin, timed, plus whole runs.

    python bench/gpu_check.py OUTDIR [--sim] [--max-bytes 2GB] [--budget-s 420]

What it does, in one process, with no network:

1. If ``.gpu_wheels/`` exists in the repository root, installs from it (``pip install
   --no-index --find-links .gpu_wheels``) whichever of dask, distributed, warcio,
   zstandard, pydivsufsort and tqdm the interpreter lacks (fill the folder here with
   ``bash bench/gpu_check_wheels.sh``).
2. Measures the device's copy bandwidth (device-to-device memcpy, bytes read + written).
3. Runs every CUDA kernel (tokenize, shingle, shingle_count, minhash, the fused
   ``signatures``, band_keys, bucket_edges, union-find hook/jump through
   ``connected_components``, each suffix-array step kernel and the whole GPU suffix
   array, the three LCP kernels and ``lcp_array``) on random inputs at several sizes up
   to ``--max-bytes``, compares each output with its CPU twin bit for bit (on the
   largest sizes: a sample of documents/positions, or a planted truth, when the CPU
   twin would be too slow; the row says which), and times it with CUDA events (one
   warm-up excluded, median of several runs).
4. Generates a corpus of a few GB (random words, planted near-duplicate copies, JSONL
   files), runs ``engine.dedup(..., backend="cuda")`` and
   ``engine.substr(..., backend="cuda")`` on it (``scheduler="local-cuda"``
   when dask-cuda is importable, else ``"threads"``), and compares clusters and spans
   with the cpu backend on the first file; also provenance flags
   (``ReferenceIndex.match``: suffix-array seeds on the GPU against the cpu hash join)
   for a slice of the first file against references taken from it.
5. Writes ``OUTDIR/gpu_check.md`` (Markdown tables: kernels, pipelines, targets) and
   ``OUTDIR/gpu_check.json`` (raw figures). Flat files only. Both are rewritten after
   every phase (``"complete": false`` until the end), so a run stopped at its time
   limit still returns what it measured. Exit status 1 when any check differs.

Sizes are bounded by ``--max-bytes`` (bytes of the main input of one kernel call) and by
the time budget: a step that would not fit in what is left is recorded as skipped.

``--sim`` sets ``NUMBA_ENABLE_CUDASIM=1`` before numba is imported (re-executing
itself if numba was already imported) and runs the same code at tiny sizes on NumPy;
CUDA-event times and bandwidth are then recorded as "not measured".

How to run it with the device tool (one call, about 8 minutes; see also the report):

    1. here, once:   bash bench/gpu_check_wheels.sh        # fills .gpu_wheels/ (~30 MB)
    2. device run:   command  = "set -o pipefail; PYTHONUNBUFFERED=1 python3
                                 bench/gpu_check.py $OUT --max-bytes 2GB --budget-s 420
                                 2>&1 | tee $OUT/gpu_check.log"
                     carry    = [".gpu_wheels"]
                     timeout_s = 540
    3. read $OUT/gpu_check.md (tables), gpu_check.json (raw), gpu_check.log.

Targets printed next to the measured numbers (GPU, one device): signatures >= 5 GB/s
of text (word 5-grams, 128 permutations); suffix array >= 1 GB/s on 1 GB; connected
components on 100M edges < 1 s; whole dedup >= 1 GB/s.
"""

# B023: the timed closures below are called at once, inside the loop iteration that
# defines them, so binding the loop's variables late is what is wanted.
# ruff: noqa: B023

from __future__ import annotations

import os
import sys

if "--sim" in sys.argv[1:] and os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    if "numba" in sys.modules:  # too late to switch in this process: start again
        os.execv(sys.executable, [sys.executable, *sys.argv])

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

WHEEL_DIR = REPO / ".gpu_wheels"
# import name -> distribution name, for what the engine needs and the device image lacks
NEEDED = {
    "dask": "dask",
    "distributed": "distributed",
    "warcio": "warcio",
    "zstandard": "zstandard",
    "pydivsufsort": "pydivsufsort",
    "tqdm": "tqdm",
}
TARGETS = {
    "signatures": "GPU target >= 5 GB/s of text (word 5-grams, 128 permutations)",
    "suffix_array": "GPU target >= 1 GB/s on 1 GB",
    "connected_components": "GPU target < 1 s on 100M edges",
    "dedup": "GPU target >= 1 GB/s per GPU",
}


def log(message: str) -> None:
    print(f"[gpu_check {time.strftime('%H:%M:%S')}] {message}", flush=True)


def install_wheels() -> dict:
    """Install the missing engine dependencies from ``.gpu_wheels/`` (no network)."""
    missing = [dist for mod, dist in NEEDED.items() if importlib.util.find_spec(mod) is None]
    info = {"wheel_dir": str(WHEEL_DIR), "exists": WHEEL_DIR.is_dir(), "missing": missing}
    if not missing:
        info["action"] = "nothing to install"
        return info
    if not WHEEL_DIR.is_dir():
        info["action"] = "no .gpu_wheels/ folder: missing packages stay missing"
        log(f"missing {missing} and no {WHEEL_DIR}; run bench/gpu_check_wheels.sh here first")
        return info
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-cache-dir"]
    cmd = pip + ["--find-links", str(WHEEL_DIR), *missing]
    log("installing from .gpu_wheels: " + " ".join(missing))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        # read-only environment or resolver trouble: unpack every wheel into a side folder
        site = Path(tempfile.gettempdir()) / "ouroboros_gpu_site"
        wheels = sorted(str(p) for p in WHEEL_DIR.glob("*.whl"))
        cmd2 = pip + ["--no-deps", "--target", str(site), *wheels]
        proc2 = subprocess.run(cmd2, capture_output=True, text=True)
        info["fallback_target"] = str(site)
        info["pip_error"] = proc.stderr[-2000:]
        if proc2.returncode == 0:
            sys.path.insert(0, str(site))
            os.environ["PYTHONPATH"] = os.pathsep.join(
                [str(site), os.environ.get("PYTHONPATH", "")]
            ).rstrip(os.pathsep)
        else:
            info["pip_error_fallback"] = proc2.stderr[-2000:]
    importlib.invalidate_caches()
    info["still_missing"] = [
        dist for mod, dist in NEEDED.items() if importlib.util.find_spec(mod) is None
    ]
    info["action"] = "installed" if not info["still_missing"] else "partly installed"
    return info


def parse_bytes(text: str) -> int:
    text = text.strip().upper().replace("IB", "B")
    units = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "B": 1}
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(float(text))


# --------------------------------------------------------------------------- state


class Check:
    """Holds the backend, the clock, and every row measured so far."""

    def __init__(self, args):
        import numpy as np

        from kernels.backend import array_module, cuda_simulated, resolve_backend

        self.np = np
        self.sim = cuda_simulated()
        resolve_backend("cuda")  # raises with a clear message when no device is usable
        self.xp = array_module("cuda")
        self.args = args
        self.started = time.perf_counter()
        self.deadline = self.started + args.budget_s
        self.max_bytes = args.max_bytes
        self.kernels: list[dict] = []
        self.pipelines: list[dict] = []
        self.notes: list[str] = []
        self.bandwidth_gbs: float | None = None
        self.repeats = 1 if self.sim else 5
        self.on_row = None  # called after each pipeline row (writes partial outputs)

    # ---- clock
    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def fits(self, estimate_s: float) -> bool:
        return self.sim or estimate_s < self.left()

    # ---- device helpers
    def free_pool(self) -> None:
        """Give CuPy's cached device memory back between sizes."""
        if not self.sim:
            import cupy

            cupy.get_default_memory_pool().free_all_blocks()

    def sync(self) -> None:
        if not self.sim:
            import cupy

            cupy.cuda.Device().synchronize()

    def host(self, array):
        from kernels.backend import to_host

        return to_host(array)

    def dev(self, array):
        from kernels.backend import to_device

        return to_device(array, "cuda")

    def time_ms(self, fn, repeats: int | None = None):
        """Median and all CUDA-event times (ms) of ``fn()`` after one warm-up call.

        Under the simulator: runs ``fn`` once, returns ``(None, [])``.
        """
        if self.sim:
            fn()
            return None, []
        import cupy

        fn()
        self.sync()
        times = []
        for _ in range(repeats or self.repeats):
            start, end = cupy.cuda.Event(), cupy.cuda.Event()
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(cupy.cuda.get_elapsed_time(start, end))
        return statistics.median(times), times

    # ---- rows
    def add_kernel(
        self,
        name: str,
        size: str,
        items: int,
        bytes_moved: float,
        ops: float,
        timing,
        check: str,
        target: str = "",
    ) -> dict:
        median_ms, times = timing
        row = {
            "kernel": name,
            "size": size,
            "items": int(items),
            "bytes_moved": float(bytes_moved),
            "ops": float(ops),
            "ops_per_byte": float(ops) / bytes_moved if bytes_moved else None,
            "median_ms": median_ms,
            "times_ms": times,
            "check": check,
            "target": target,
        }
        if median_ms:
            seconds = median_ms / 1e3
            row["gb_per_s"] = bytes_moved / seconds / 1e9
            row["gops_per_s"] = ops / seconds / 1e9
            if self.bandwidth_gbs:
                row["roofline_fraction"] = row["gb_per_s"] / self.bandwidth_gbs
        self.kernels.append(row)
        log(
            f"{name} [{size}]: {check}; "
            + (f"{median_ms:.3f} ms" if median_ms else "time not measured (simulator)")
        )
        return row

    def add_skip(self, name: str, size: str, reason: str) -> None:
        self.kernels.append({"kernel": name, "size": size, "check": f"skipped: {reason}"})
        log(f"{name} [{size}]: skipped ({reason})")

    def add_failure(self, name: str, size: str, exc: BaseException) -> None:
        text = f"ERROR {type(exc).__name__}: {exc}"[:300]
        self.kernels.append({"kernel": name, "size": size, "check": text})
        log(f"{name} [{size}]: {text}")
        traceback.print_exc()


def human(n_bytes: float) -> str:
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n_bytes >= factor:
            return f"{n_bytes / factor:.3g} {unit}"
    return f"{int(n_bytes)} B"


def equal_or_diff(got, want) -> str:
    import numpy as np

    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        return f"DIFFERENT: shapes {got.shape} vs {want.shape}"
    if np.array_equal(got, want):
        return "equal"
    bad = np.flatnonzero((got != want).reshape(-1))
    return f"DIFFERENT: {bad.size} of {got.size} elements, first at flat index {int(bad[0])}"


def merge_checks(*results: str) -> str:
    for r in results:
        if not r.startswith("equal"):
            return r
    return results[0] if results else "equal"


# --------------------------------------------------------------------------- inputs


def make_vocab(seed: int = 7):
    """Random words (ASCII letters, some UTF-8 letters, no JSON specials), each + separator."""
    import numpy as np

    rng = np.random.RandomState(seed)
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    extra = ["é", "ß", "ø", "ж", "λ", "日", "本", "ü", "ç", "Å"]
    seps = [" "] * 12 + [", ", ". ", "\n", "; ", " - "]
    words = []
    for _ in range(30000):
        length = int(rng.randint(1, 11))
        chars = [
            extra[rng.randint(len(extra))] if rng.rand() < 0.03 else letters[rng.randint(26)]
            for _ in range(length)
        ]
        if rng.rand() < 0.1:
            chars[0] = chars[0].upper()
        words.append("".join(chars) + seps[rng.randint(len(seps))])
    encoded = [w.encode() for w in words]
    lens = np.array([len(w) for w in encoded], dtype=np.int64)
    starts = np.zeros(len(encoded), dtype=np.int64)
    starts[1:] = np.cumsum(lens)[:-1]
    return np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), starts, lens


_VOCAB = None


def random_text(xp, n_bytes: int, seed: int):
    """``n_bytes`` of random word text as a uint8 array of ``xp`` (generated in chunks)."""
    import numpy as np

    global _VOCAB
    if _VOCAB is None:
        _VOCAB = make_vocab()
    vocab, vstart, vlen = (xp.asarray(a) for a in _VOCAB)
    n_words_total = vlen.shape[0]
    out = xp.empty(n_bytes, dtype=np.uint8)
    rs = xp.random.RandomState(seed)
    chunk = 128 * 10**6
    pos = 0
    while pos < n_bytes:
        want = min(chunk, n_bytes - pos)
        n_words = int(want / 5.0) + 64
        u = rs.random_sample(n_words)
        idx = xp.minimum((u * u * n_words_total).astype(np.int64), n_words_total - 1)
        lens = vlen[idx]
        ends = xp.cumsum(lens)
        while int(ends[-1]) < want:  # rare: draw more words
            n_words *= 2
            u = rs.random_sample(n_words)
            idx = xp.minimum((u * u * n_words_total).astype(np.int64), n_words_total - 1)
            lens = vlen[idx]
            ends = xp.cumsum(lens)
        p = xp.arange(want, dtype=np.int64)
        w = xp.searchsorted(ends, p, side="right")
        starts_out = ends - lens
        out[pos : pos + want] = vocab[vstart[idx[w]] + (p - starts_out[w])]
        del p, w, u, idx, lens, ends, starts_out
        pos += want
    return out


def random_offsets(n_bytes: int, seed: int, lo: int = 300, hi: int = 20000):
    """int64 document offsets (n_docs + 1,) covering ``n_bytes``, lengths in [lo, hi)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    mean = (lo + hi) / 2
    n = max(2, int(n_bytes / mean * 1.2) + 2)
    lens = rng.integers(lo, hi, size=n)
    ends = np.cumsum(lens)
    k = int(np.searchsorted(ends, n_bytes))
    ends = np.concatenate([ends[:k], [n_bytes]]).astype(np.int64)
    offsets = np.zeros(len(ends) + 1, dtype=np.int64)
    offsets[1:] = ends
    return offsets


def sample_docs(offsets, n_sample: int, seed: int):
    """Sorted indices of up to ``n_sample`` documents."""
    import numpy as np

    n_docs = len(offsets) - 1
    if n_sample >= n_docs:
        return np.arange(n_docs)
    return np.sort(np.random.default_rng(seed).choice(n_docs, size=n_sample, replace=False))


def doc_positions(offsets, docs):
    """Concatenated byte positions of the given documents, and their sub-offsets."""
    import numpy as np

    lens = offsets[docs + 1] - offsets[docs]
    sub = np.zeros(len(docs) + 1, dtype=np.int64)
    sub[1:] = np.cumsum(lens)
    pos = np.repeat(offsets[docs] - sub[:-1], lens) + np.arange(sub[-1], dtype=np.int64)
    return pos, sub


# --------------------------------------------------------------------------- kernels


def text_sizes(c: Check) -> list[int]:
    if c.sim:
        return [600]
    sizes = [16 * 10**6, 256 * 10**6, c.max_bytes]
    return sorted({s for s in sizes if s <= c.max_bytes})


FULL_LIMIT = 300 * 10**6  # bytes of text up to which the CPU twin runs on everything
SAMPLE_DOCS = 3000


def check_text_kernels(c: Check) -> None:
    """tokenize, shingle, shingle_count, minhash kernels and the fused signatures()."""
    np = c.np
    xp = c.xp
    from kernels.backend import launch_config
    from kernels.hashing import permutation_params
    from kernels.minhash import minhash_cpu, minhash_kernel, signatures, signatures_cpu
    from kernels.shingle import (
        WORD_MODE,
        shingle_count_kernel,
        shingle_hashes_cpu,
        shingle_kernel,
        tokenize_cpu,
        tokenize_kernel,
    )
    from kernels.unicode_table import codepoint_table

    ngram, num_perm = 5, 128
    table = codepoint_table()
    d_table = c.dev(table)
    a, b = permutation_params(num_perm, 42)
    d_a, d_b = c.dev(a), c.dev(b)
    for n_bytes in text_sizes(c):
        size = human(n_bytes)
        est = 6 + n_bytes / 2e8 * (1 if n_bytes <= FULL_LIMIT else 0.1)
        if not c.fits(est):
            for name in ("tokenize_kernel", "shingle_kernel", "minhash_kernel", "signatures"):
                c.add_skip(name, size, "time budget")
            continue

        def one():  # a function per size: its arrays are freed on return
            d_data = random_text(xp, n_bytes, seed=n_bytes % 1000 + 1)
            offsets = random_offsets(n_bytes, seed=3, lo=50 if c.sim else 300)
            if c.sim:
                offsets = np.array([0, 0, 7, 150, 151, 400, n_bytes], dtype=np.int64)
            d_offsets = c.dev(offsets)
            n_docs = len(offsets) - 1
            full = n_bytes <= FULL_LIMIT or c.sim
            data_host = c.host(d_data)
            if full:
                docs = np.arange(n_docs)
                sub_data, sub_offsets = data_host, offsets
                positions = None
            else:
                docs = sample_docs(offsets, SAMPLE_DOCS, seed=5)
                positions, sub_offsets = doc_positions(offsets, docs)
                sub_data = data_host[positions]
            how = "equal" if full else f"equal (sample of {len(docs)} of {n_docs} docs)"

            def rows_of(device_array):
                if positions is None:
                    return c.host(device_array)
                return c.host(device_array[c.dev(positions)])

            # tokenize
            tokens = xp.zeros(n_bytes, dtype=np.uint64)
            token_counts = xp.zeros(n_docs, dtype=np.int64)
            grid = launch_config(n_docs)

            def run_tokenize():
                tokenize_kernel[grid](d_data, d_offsets, d_table, WORD_MODE, tokens, token_counts)

            timing = c.time_ms(run_tokenize)
            want_tokens, want_counts = tokenize_cpu(sub_data, sub_offsets, table, WORD_MODE)
            got_counts = c.host(token_counts)[docs]
            result = merge_checks(
                equal_or_diff(got_counts, want_counts), equal_or_diff(rows_of(tokens), want_tokens)
            )
            n_tok = int(c.host(token_counts).sum())
            c.add_kernel(
                "tokenize_kernel (word mode)",
                size,
                n_bytes,
                n_bytes + 8 * n_tok + 16 * n_docs,
                8 * n_bytes,
                timing,
                result.replace("equal", how, 1) if result == "equal" else result,
            )

            # shingle_count
            shingle_counts = xp.zeros(n_docs, dtype=np.int64)

            def run_count():
                shingle_count_kernel[grid](token_counts, ngram, shingle_counts)

            timing = c.time_ms(run_count)
            tc = c.host(token_counts)
            want = np.where(tc <= 0, 0, np.where(tc < ngram, 1, tc - ngram + 1))
            c.add_kernel(
                "shingle_count_kernel",
                size,
                n_docs,
                16 * n_docs,
                3 * n_docs,
                timing,
                equal_or_diff(c.host(shingle_counts), want),
            )

            # shingle (input: the GPU tokens, already checked)
            shingles = xp.zeros(n_bytes, dtype=np.uint64)
            blocks, threads = launch_config(n_bytes, 256)
            sgrid = (min(blocks, 65535 * 16), threads)

            def run_shingle():
                shingle_kernel[sgrid](tokens, d_offsets, token_counts, ngram, shingles)

            timing = c.time_ms(run_shingle)
            if full:
                sub_tokens, sub_tc = c.host(tokens), tc
            else:
                sub_tokens, sub_tc = rows_of(tokens), tc[docs]
            want_sh, want_sc = shingle_hashes_cpu(sub_tokens, sub_offsets, sub_tc, ngram)
            n_sh = int(c.host(shingle_counts).sum())
            result = merge_checks(
                equal_or_diff(rows_of(shingles), want_sh),
                equal_or_diff(c.host(shingle_counts)[docs], want_sc),
            )
            c.add_kernel(
                "shingle_kernel (5-grams)",
                size,
                n_bytes,
                8 * n_tok + 8 * n_sh + 8 * n_bytes,
                10 * ngram * n_sh,
                timing,
                result.replace("equal", how, 1) if result == "equal" else result,
            )

            # minhash (input: the GPU shingles, already checked)
            out = xp.empty((n_docs, num_perm), dtype=np.uint32)
            perm_threads = min(8, num_perm) if c.sim else min(128, num_perm)
            doc_blocks = max(1, min(n_docs, 65535 * 4))

            def run_minhash():
                minhash_kernel[doc_blocks, perm_threads](
                    shingles, d_offsets, shingle_counts, d_a, d_b, out
                )

            timing = c.time_ms(run_minhash)
            sub_sh = c.host(shingles) if full else rows_of(shingles)
            sub_sc = c.host(shingle_counts)[docs]
            want_sig = minhash_cpu(sub_sh, sub_offsets, sub_sc, a, b)
            got_sig = c.host(out)[docs]
            result = equal_or_diff(got_sig, want_sig)
            c.add_kernel(
                f"minhash_kernel ({num_perm} perms)",
                size,
                n_sh,
                8 * n_sh + 4 * n_docs * num_perm,
                12 * n_sh * num_perm,
                timing,
                how if result == "equal" else result,
            )

            # fused signatures(): text to signatures, what engine.minhash runs
            holder = {}

            def run_signatures():
                holder.pop("sig", None)
                holder["sig"] = signatures(
                    d_data, d_offsets, num_perm=num_perm, ngram=ngram, backend="cuda"
                )

            timing = c.time_ms(run_signatures, 3)
            want_sig2 = signatures_cpu(sub_data, sub_offsets, table, WORD_MODE, ngram, a, b)
            result = equal_or_diff(c.host(holder["sig"])[docs], want_sig2)
            row = c.add_kernel(
                "signatures() = tokenize+shingle+count+minhash",
                size,
                n_bytes,
                n_bytes + 4 * n_docs * num_perm,
                12 * n_sh * num_perm,
                timing,
                how if result == "equal" else result,
                target=TARGETS["signatures"],
            )
            if timing[0]:
                row["text_gb_per_s"] = n_bytes / (timing[0] / 1e3) / 1e9

        try:
            one()
        except Exception as exc:  # noqa: BLE001
            c.add_failure("text kernels", size, exc)
        c.free_pool()


def check_lsh_kernels(c: Check) -> None:
    """band_keys_kernel and bucket_edges_kernel."""
    np = c.np
    xp = c.xp
    from kernels.backend import launch_config
    from kernels.lsh import band_keys_cpu, band_keys_kernel, bucket_edges_cpu, bucket_edges_kernel

    num_perm, bands, rows = 128, 9, 13
    sizes = [40] if c.sim else [100_000, 1_000_000, 4_000_000]
    sizes = [n for n in sizes if n * num_perm * 4 <= c.max_bytes or c.sim]
    for n_docs in sizes:
        size = f"{n_docs:,} docs"
        if not c.fits(5 + n_docs * 2e-6):
            c.add_skip("band_keys_kernel", size, "time budget")
            c.add_skip("bucket_edges_kernel", size, "time budget")
            continue

        def one():  # a function per size: its arrays are freed on return
            rng = np.random.default_rng(n_docs)
            # near-duplicate groups: members share most signature values with the group base
            group = rng.integers(0, max(1, n_docs // 4), size=n_docs)
            base = rng.integers(0, 2**32, size=(max(1, n_docs // 4), num_perm), dtype=np.uint32)
            sig = base[group]
            noise = rng.random((n_docs, num_perm)) < 0.08
            sig[noise] = rng.integers(0, 2**32, size=int(noise.sum()), dtype=np.uint32)
            sig = np.ascontiguousarray(sig)
            d_sig = c.dev(sig)
            out = xp.empty((n_docs, bands), dtype=np.uint64)
            grid = launch_config(n_docs * bands)

            def run_bands():
                band_keys_kernel[grid](d_sig, bands, rows, out)

            timing = c.time_ms(run_bands)
            c.add_kernel(
                f"band_keys_kernel ({bands}x{rows})",
                size,
                n_docs,
                4 * n_docs * bands * rows + 8 * n_docs * bands,
                10 * n_docs * bands * rows,
                timing,
                equal_or_diff(c.host(out), band_keys_cpu(sig, bands, rows)),
            )

            # buckets: documents sorted by group, cut into buckets of equal group
            order = np.argsort(group, kind="stable").astype(np.int64)
            g_sorted = group[order]
            heads = np.flatnonzero(np.r_[True, g_sorted[1:] != g_sorted[:-1]])
            bucket_starts = np.r_[heads, n_docs].astype(np.int64)
            min_matches = int(np.ceil(0.8 * num_perm))
            max_anchors = 32
            m = n_docs
            src = xp.full(m, -1, dtype=np.int64)
            unverified = xp.zeros(m, dtype=np.bool_)
            d_order, d_starts = c.dev(order), c.dev(bucket_starts)
            egrid = launch_config(len(bucket_starts) - 1, 64)

            def run_edges():
                src.fill(-1)
                unverified.fill(False)
                bucket_edges_kernel[egrid](
                    d_order, d_starts, d_sig, min_matches, max_anchors, src, unverified
                )

            timing = c.time_ms(run_edges)
            want_src, want_unv = bucket_edges_cpu(
                order, bucket_starts, sig, min_matches, max_anchors
            )
            linked = int((want_src >= 0).sum())
            c.add_kernel(
                "bucket_edges_kernel (anchor walk)",
                size,
                m,
                8 * m + 8 * len(bucket_starts) + 4 * num_perm * m * 2 + 9 * m,
                2 * num_perm * m,
                timing,
                merge_checks(
                    equal_or_diff(c.host(src), want_src),
                    equal_or_diff(c.host(unverified), want_unv),
                )
                + f" ({linked} edges)",
            )

        try:
            one()
        except Exception as exc:  # noqa: BLE001
            c.add_failure("lsh kernels", size, exc)
        c.free_pool()


def planted_graph(xp, n_edges: int, seed: int):
    """Random graph with planted components; returns (n_nodes, src, dst, expected labels)."""
    import numpy as np

    n_nodes = max(4, n_edges // 2)
    rs = xp.random.RandomState(seed)
    perm = rs.permutation(n_nodes).astype(np.int64)
    # components: consecutive runs of perm with random sizes 1..16
    sizes = np.random.default_rng(seed).integers(1, 17, size=n_nodes // 4 + 4)
    bounds = np.cumsum(sizes)
    bounds = bounds[bounds < n_nodes]
    comp_start_h = np.r_[0, bounds].astype(np.int64)
    comp_len_h = np.diff(np.r_[comp_start_h, n_nodes]).astype(np.int64)
    comp_start = xp.asarray(comp_start_h)
    comp_len = xp.asarray(comp_len_h)
    comp_of_pos = xp.searchsorted(comp_start, xp.arange(n_nodes, dtype=np.int64), side="right") - 1
    # a chain inside each component keeps it connected
    chain = xp.flatnonzero(comp_of_pos[1:] == comp_of_pos[:-1]).astype(np.int64)
    src_c, dst_c = perm[chain], perm[chain + 1]
    n_rand = max(0, n_edges - int(chain.shape[0]))
    p = rs.randint(0, n_nodes, size=n_rand).astype(np.int64)
    comp = comp_of_pos[p]
    u = rs.random_sample(n_rand)
    q = comp_start[comp] + xp.minimum((u * comp_len[comp]).astype(np.int64), comp_len[comp] - 1)
    src = xp.concatenate([src_c, perm[p]])
    dst = xp.concatenate([dst_c, perm[q]])
    shuffle = rs.permutation(src.shape[0])
    src, dst = src[shuffle], dst[shuffle]
    # expected label: the smallest node of each component
    comp_min = xp.full(len(comp_start_h), n_nodes, dtype=np.int64)
    if xp is np:
        np.minimum.at(comp_min, comp_of_pos, perm)
    else:
        # ufunc.at is not in every CuPy: min per component via a sort
        key = comp_of_pos * n_nodes + perm
        first = xp.sort(key)
        change = first[1:] // n_nodes != first[:-1] // n_nodes
        heads = xp.flatnonzero(xp.concatenate([xp.ones(1, dtype=bool), change]))
        comp_min = first[heads] % n_nodes
    expected = xp.empty(n_nodes, dtype=np.int64)
    expected[perm] = comp_min[comp_of_pos]
    return n_nodes, src, dst, expected


def check_union_find(c: Check) -> None:
    from kernels.union_find import connected_components, connected_components_cpu

    sizes = [60] if c.sim else [1_000_000, 10_000_000, 100_000_000]
    sizes = [e for e in sizes if e * 16 <= c.max_bytes or c.sim]
    for n_edges in sizes:
        size = f"{n_edges:,} edges"
        if not c.fits(8 + n_edges * 1e-7):
            c.add_skip("connected_components (hook_kernel + jump_kernel)", size, "time budget")
            continue

        def one():  # a function per size: its arrays are freed on return
            n_nodes, src, dst, expected = planted_graph(c.xp, n_edges, seed=11)
            holder = {}

            def run_cc():
                holder["labels"] = connected_components(n_nodes, src, dst, backend="cuda")

            timing = c.time_ms(run_cc, 3)
            got = c.host(holder["labels"])
            result = equal_or_diff(got, c.host(expected))
            if result == "equal" and n_edges <= 10_000_000:
                twin = connected_components_cpu(n_nodes, c.host(src), c.host(dst))
                result = equal_or_diff(got, twin)
                how = "equal (CPU twin and planted truth)"
            else:
                how = "equal (planted truth; CPU twin skipped: too slow at this size)"
            c.add_kernel(
                "connected_components (hook_kernel + jump_kernel)",
                size,
                n_edges,
                16 * n_edges + 16 * n_nodes,
                4 * n_edges,
                timing,
                how if result == "equal" else result,
                target=TARGETS["connected_components"] if n_edges >= 10**8 else "",
            )

        try:
            one()
        except Exception as exc:  # noqa: BLE001
            c.add_failure("connected_components", size, exc)
        c.free_pool()


def check_suffix_array_steps(c: Check) -> None:
    """Each prefix-doubling step kernel, through the production step tables, vs its twin."""
    np = c.np
    from kernels import suffix_array as sa_mod

    steps = sa_mod._cuda_steps()
    cpu = sa_mod._CPU_STEPS
    sizes = [500] if c.sim else [16 * 10**6, 128 * 10**6]
    sizes = [n for n in sizes if n * 8 <= c.max_bytes or c.sim]
    for n in sizes:
        size = f"{n:,} suffixes"
        if not c.fits(10 + n * 1e-7):
            c.add_skip("suffix-array step kernels", size, "time budget")
            continue

        def one():  # a function per size: its arrays are freed on return
            rng = np.random.default_rng(n + 1)
            data = rng.integers(0, 4, size=n, dtype=np.uint8)  # small alphabet: long groups
            data16 = rng.integers(0, 700, size=n, dtype=np.uint16)
            d_data, d_data16 = c.dev(data), c.dev(data16)
            holder = {}

            def step_row(name, fn_gpu, fn_cpu, bytes_moved, ops):
                timing = c.time_ms(lambda: holder.__setitem__("out", fn_gpu()))
                got = holder["out"]
                want = fn_cpu()
                if isinstance(want, tuple):
                    result = merge_checks(
                        *(equal_or_diff(c.host(g), w) for g, w in zip(got, want, strict=True))
                    )
                else:
                    result = equal_or_diff(c.host(got), want)
                c.add_kernel(name, size, n, bytes_moved, ops, timing, result)

            step_row(
                "_initial_keys_kernel (uint8)",
                lambda: steps.initial_keys(d_data, 7, 9),
                lambda: cpu.initial_keys(data, 7, 9),
                n + 8 * n,
                7 * 3 * n,
            )
            step_row(
                "_initial_keys_kernel (uint16)",
                lambda: steps.initial_keys(d_data16, 3, 17),
                lambda: cpu.initial_keys(data16, 3, 17),
                2 * n + 8 * n,
                3 * 3 * n,
            )
            keys = np.cumsum(rng.random(n) < 0.2).astype(np.uint64) * np.uint64(977)
            d_keys = c.dev(keys)
            step_row(
                "_heads_from_keys_kernel",
                lambda: steps.heads_from_keys(d_keys),
                lambda: cpu.heads_from_keys(keys),
                16 * n + n,
                n,
            )
            heads = (rng.random(n) < 0.3).astype(np.uint8)
            heads[0] = 1
            d_heads = c.dev(heads)
            step_row(
                "_ranks_from_heads_kernel (+ flatnonzero, cumsum)",
                lambda: steps.ranks_from_heads(d_heads),
                lambda: cpu.ranks_from_heads(heads),
                n + 8 * n + 8 * n + 8 * n,
                3 * n,
            )
            step_row(
                "_unsorted_mask_kernel",
                lambda: steps.unsorted_mask(d_heads),
                lambda: cpu.unsorted_mask(heads),
                3 * n,
                3 * n,
            )
            sa = rng.permutation(n).astype(np.int64)
            ranks = cpu.ranks_from_heads(heads)
            positions = np.flatnonzero(rng.random(n) < 0.5).astype(np.int64)
            m = len(positions)
            d_sa, d_ranks, d_pos = c.dev(sa), c.dev(ranks), c.dev(positions)
            isa0 = rng.integers(0, n, size=n).astype(np.int64)
            d_isa = c.dev(isa0)

            def gpu_scatter():
                steps.scatter_ranks(d_pos, d_sa, d_ranks, d_isa)
                return d_isa

            def cpu_scatter():
                isa = isa0.copy()
                cpu.scatter_ranks(positions, sa, ranks, isa)
                return isa

            step_row("_scatter_ranks_kernel", gpu_scatter, cpu_scatter, 8 * 4 * m, m)
            isa = cpu_scatter()
            d_isa = c.dev(isa)
            h = np.int64(7)
            step_row(
                "_pair_keys_kernel",
                lambda: steps.pair_keys(d_pos, d_sa, d_ranks, d_isa, h),
                lambda: cpu.pair_keys(positions, sa, ranks, isa, h),
                8 * 6 * m,
                6 * m,
            )
            group_ranks, seconds = cpu.pair_keys(positions, sa, ranks, isa, h)
            d_gr, d_sec = c.dev(group_ranks), c.dev(seconds)
            step_row(
                "_narrow_keys_kernel",
                lambda: steps.narrow_keys(d_gr, d_sec),
                lambda: cpu.narrow_keys(group_ranks, seconds),
                24 * m,
                2 * m,
            )
            order = rng.permutation(m).astype(np.int64)
            sa_unsorted = sa[positions]
            d_order, d_sau = c.dev(order), c.dev(sa_unsorted)
            d_sa2 = c.dev(sa)

            def gpu_apply():
                sorted_seconds = steps.apply_order(d_pos, d_order, d_sau, d_sec, d_sa2)
                return sorted_seconds, d_sa2

            def cpu_apply():
                sa2 = sa.copy()
                sorted_seconds = cpu.apply_order(positions, order, sa_unsorted, seconds, sa2)
                return sorted_seconds, sa2

            step_row("_apply_order_kernel", gpu_apply, cpu_apply, 8 * 6 * m, m)
            sorted_seconds = cpu_apply()[0]
            d_ss = c.dev(sorted_seconds)
            d_heads2 = c.dev(heads)

            def gpu_refine():
                steps.refine_heads(d_pos, d_ranks, d_ss, d_heads2)
                return d_heads2

            def cpu_refine():
                h2 = heads.copy()
                cpu.refine_heads(positions, ranks, sorted_seconds, h2)
                return h2

            step_row("_refine_heads_kernel", gpu_refine, cpu_refine, 8 * 4 * m + m, 4 * m)

        try:
            one()
        except Exception as exc:  # noqa: BLE001
            c.add_failure("suffix-array step kernels", size, exc)
        c.free_pool()


def sampled_sa_lcp_check(data, sa, lcp, n_pairs: int, seed: int) -> str:
    """Check a sample of adjacent SA pairs: order and LCP value, on the host."""
    import numpy as np

    n = len(sa)
    rng = np.random.default_rng(seed)
    idx = rng.integers(1, n, size=min(n_pairs, n - 1))
    mv = memoryview(data)
    for i in idx:
        p, q = int(sa[i - 1]), int(sa[i])
        k = 0
        # compare in growing blocks: cheap for typical (short) common prefixes
        block = 64
        while True:
            a = mv[p + k : p + k + block].tobytes()
            b = mv[q + k : q + k + block].tobytes()
            if a == b and len(a) == block:
                k += block
                continue
            j = 0
            while j < len(a) and j < len(b) and a[j] == b[j]:
                j += 1
            k += j
            longer_a = p + k < n
            longer_b = q + k < n
            in_order = (not longer_a) or (longer_b and data[p + k] < data[q + k])
            break
        if not in_order:
            return f"DIFFERENT: suffixes at SA[{i - 1}], SA[{i}] are out of order"
        if lcp is not None and int(lcp[i]) != k:
            return f"DIFFERENT: lcp[{i}] = {int(lcp[i])}, true {k}"
    return f"equal (sample of {len(idx)} adjacent pairs checked for order and LCP)"


def check_suffix_array_lcp(c: Check) -> None:
    """Whole GPU suffix array and the three LCP kernels, on random word text."""
    np = c.np
    xp = c.xp
    from kernels import lcp as lcp_mod
    from kernels.backend import launch_config
    from kernels.lcp import lcp_array
    from kernels.suffix_array import suffix_array, suffix_array_prefix_doubling_cpu

    have_divsufsort = importlib.util.find_spec("pydivsufsort") is not None
    sizes = [700] if c.sim else [16 * 10**6, 256 * 10**6, 10**9, c.max_bytes]
    sizes = sorted({n for n in sizes if n <= c.max_bytes})
    sizes = [n for n in sizes if c.sim or n <= 10**9 or n == c.max_bytes][:3]
    for n in sizes:
        size = human(n)
        if not c.fits(15 + n / 5e7):
            c.add_skip("suffix_array (GPU prefix doubling)", size, "time budget")
            continue

        def one():  # a function per size: its arrays are freed on return
            d_data = random_text(xp, n, seed=100 + n % 997)
            data = c.host(d_data)
            holder = {}

            def run_sa():
                holder.pop("sa", None)  # at most one suffix array alive
                holder["sa"] = suffix_array(d_data, backend="cuda")

            timing = c.time_ms(run_sa, 3 if n <= 256 * 10**6 else 1)
            d_sa = holder.pop("sa")
            sa = c.host(d_sa)
            full = c.sim or n <= 16 * 10**6
            if full:
                if have_divsufsort and not c.sim:
                    want = suffix_array(data, backend="cpu")
                    how = "equal (pydivsufsort)"
                else:
                    want = suffix_array_prefix_doubling_cpu(data)
                    how = "equal (CPU twin)"
                result = equal_or_diff(sa, want)
                result = how if result == "equal" else result
            else:
                perm_ok = bool((xp.sort(d_sa) == xp.arange(n, dtype=np.int64)).all())
                result = (
                    sampled_sa_lcp_check(data, sa, None, 20000, seed=1)
                    if perm_ok
                    else "DIFFERENT: not a permutation"
                )
                result = result.replace("equal (", "equal (permutation checked; ", 1)
            row = c.add_kernel(
                "suffix_array (GPU prefix doubling, all step kernels)",
                size,
                n,
                n + 8 * n,
                n * 30,
                timing,
                result,
                target=TARGETS["suffix_array"] if n >= 10**9 else "",
            )
            if timing[0]:
                row["text_gb_per_s"] = n / (timing[0] / 1e3) / 1e9

            # LCP kernels (cap 100 bytes, as the substr pipeline uses), then uncapped lcp_array
            cap = np.int64(100)
            chunk = np.int64(lcp_mod.DEFAULT_CHUNK)
            phi = xp.empty(n, dtype=np.int64)
            grid = launch_config(n)

            def run_phi():
                lcp_mod._phi_kernel[grid](d_sa, phi)

            timing = c.time_ms(run_phi)
            want_phi = lcp_mod._phi_cpu(sa) if full or n <= 256 * 10**6 else None
            how_lcp = "equal" if want_phi is not None else None
            if want_phi is not None:
                c.add_kernel(
                    "_phi_kernel", size, n, 24 * n, n, timing, equal_or_diff(c.host(phi), want_phi)
                )
            else:
                sample = np.random.default_rng(2).integers(1, n, size=100000)
                ok = np.array_equal(c.host(phi[c.dev(sa[sample])]), sa[sample - 1])
                c.add_kernel(
                    "_phi_kernel",
                    size,
                    n,
                    24 * n,
                    n,
                    timing,
                    "equal (sample of 100000 positions)" if ok else "DIFFERENT (sampled)",
                )
            plcp = xp.empty(n, dtype=np.int64)
            n_chunks = (n + int(chunk) - 1) // int(chunk)
            cgrid = launch_config(n_chunks)

            def run_plcp():
                lcp_mod._plcp_chunks_kernel[cgrid](d_data, phi, chunk, cap, plcp)

            timing = c.time_ms(run_plcp)
            got_plcp = c.host(plcp)
            if how_lcp:
                want_plcp = lcp_mod._plcp_chunks_cpu(data, c.host(phi), chunk, cap)
                result = equal_or_diff(got_plcp, want_plcp)
            else:
                result = "equal (checked through lcp below)"
            c.add_kernel(
                "_plcp_chunks_kernel (cap 100)", size, n, 2 * n + 16 * n, 3 * n, timing, result
            )
            lcp_out = xp.empty(n, dtype=np.int64)

            def run_gather():
                lcp_mod._gather_lcp_kernel[grid](d_sa, plcp, lcp_out)

            timing = c.time_ms(run_gather)
            if how_lcp:
                result = equal_or_diff(c.host(lcp_out), lcp_mod._gather_lcp_cpu(sa, got_plcp))
            else:
                result = "equal (checked through lcp below)"
            c.add_kernel("_gather_lcp_kernel", size, n, 24 * n, n, timing, result)

            def run_lcp():
                holder.pop("lcp", None)
                holder["lcp"] = lcp_array(d_data, d_sa, backend="cuda")

            timing = c.time_ms(run_lcp, 3)
            lcp = c.host(holder.pop("lcp"))
            if c.sim or n <= 64 * 10**6:
                result = equal_or_diff(lcp, lcp_array(data, sa, backend="cpu"))
                result = "equal (Kasai)" if result == "equal" else result
            else:
                result = sampled_sa_lcp_check(data, sa, lcp, 20000, seed=3)
            c.add_kernel(
                "lcp_array (phi + plcp + gather, uncapped)", size, n, 33 * n, 4 * n, timing, result
            )

        try:
            one()
        except Exception as exc:  # noqa: BLE001
            c.add_failure("suffix_array / lcp", size, exc)
        c.free_pool()


# --------------------------------------------------------------------------- bandwidth


def measure_bandwidth(c: Check) -> None:
    if c.sim:
        c.notes.append("copy bandwidth: not measured (simulator)")
        return
    import cupy

    n = min(4 * 10**9, max(c.max_bytes, 10**9))
    src = cupy.empty(n, dtype=cupy.uint8)
    src.fill(7)
    dst = cupy.empty_like(src)

    def copy():
        cupy.cuda.runtime.memcpy(
            dst.data.ptr, src.data.ptr, n, cupy.cuda.runtime.memcpyDeviceToDevice
        )

    median_ms, times = c.time_ms(copy, 10)
    c.bandwidth_gbs = 2 * n / (median_ms / 1e3) / 1e9
    c.kernels.append(
        {
            "kernel": "device-to-device memcpy (bandwidth ceiling)",
            "size": human(n),
            "items": n,
            "bytes_moved": 2.0 * n,
            "ops": 0.0,
            "median_ms": median_ms,
            "times_ms": times,
            "gb_per_s": c.bandwidth_gbs,
            "roofline_fraction": 1.0,
            "check": "equal" if bool((dst[:: max(1, n // 4096)] == 7).all()) else "DIFFERENT",
        }
    )
    log(f"copy bandwidth {c.bandwidth_gbs:.0f} GB/s (read + write)")


# --------------------------------------------------------------------------- pipelines


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


# --------------------------------------------------------------------------- report


def device_info(c: Check) -> dict:
    info = {
        "mode": "CUDA simulator (NumPy)" if c.sim else "real device",
        "python": platform.python_version(),
        "host": platform.node(),
        "cpu_count": os.cpu_count(),
    }
    for mod in ("numpy", "numba", "numba_cuda", "cupy", "pyarrow", "dask", "pydivsufsort"):
        try:
            info[mod] = getattr(__import__(mod), "__version__", "?")
        except Exception:  # noqa: BLE001
            info[mod] = "missing"
    if not c.sim:
        try:
            import cupy

            props = cupy.cuda.runtime.getDeviceProperties(0)
            info["device"] = (
                props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
            )
            info["sm_count"] = props["multiProcessorCount"]
            info["memory_gib"] = round(props["totalGlobalMem"] / 2**30, 1)
            info["cuda_runtime"] = cupy.cuda.runtime.runtimeGetVersion()
            info["driver"] = cupy.cuda.runtime.driverGetVersion()
        except Exception as exc:  # noqa: BLE001
            info["device"] = f"? ({exc})"
        try:
            info["nvidia_smi"] = subprocess.run(
                [
                    "nvidia-smi",
                    "--query-gpu=name,driver_version,clocks.sm,clocks.mem,memory.total",
                    "--format=csv,noheader",
                ],
                capture_output=True,
                text=True,
                timeout=20,
            ).stdout.strip()
        except Exception:  # noqa: BLE001
            pass
    return info


def fmt(value, spec: str, missing: str = "not measured") -> str:
    return missing if value is None else format(value, spec)


def markdown(c: Check, info: dict, wheels: dict) -> str:
    lines = [
        "# Ouroboros GPU check",
        "",
        f"Command: `python bench/gpu_check.py {' '.join(sys.argv[1:])}`  ",
        f"Mode: {info['mode']}; elapsed {time.perf_counter() - c.started:.0f} s of a "
        f"{c.args.budget_s:.0f} s budget; max bytes per kernel input {human(c.max_bytes)}.",
        "",
        "Device and versions: " + ", ".join(f"{k} {v}" for k, v in info.items()),
        "",
        "Copy bandwidth (device-to-device memcpy, bytes read + written): "
        + (f"{c.bandwidth_gbs:.0f} GB/s" if c.bandwidth_gbs else "not measured"),
        "",
        "## Kernels vs CPU twins",
        "",
        "Times: CUDA events, one warm-up excluded, median of several runs. Bytes: the least "
        "each call must move (inputs read once, outputs written once). Ops: estimated "
        "integer operations. Roofline fraction: achieved bytes/s over the measured copy "
        "bandwidth (the memory roof; arithmetic-heavy kernels such as minhash sit far "
        "below it by design).",
        "",
        "| kernel | size | check vs CPU twin | median ms | GB/s moved | ops/byte | Gops/s | "
        "roofline fraction | target |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in c.kernels:
        rate = r.get("text_gb_per_s")
        target = r.get("target", "")
        if target and rate is not None:
            target += f" -> measured {rate:.2f} GB/s of text"
        elif target and r["kernel"].startswith("connected") and r.get("median_ms"):
            target += f" -> measured {r['median_ms'] / 1e3:.3f} s"
        lines.append(
            "| "
            + " | ".join(
                [
                    r["kernel"],
                    r.get("size", ""),
                    r["check"],
                    fmt(r.get("median_ms"), ".3f"),
                    fmt(r.get("gb_per_s"), ".1f", "-"),
                    fmt(r.get("ops_per_byte"), ".2f", "-"),
                    fmt(r.get("gops_per_s"), ".1f", "-"),
                    fmt(r.get("roofline_fraction"), ".3f", "-"),
                    target,
                ]
            )
            + " |"
        )
    lines += [
        "",
        "## Whole pipelines",
        "",
        "| pipeline | size | check | wall s | GB/s of text | details | target |",
        "|---|---|---|---:|---:|---|---|",
    ]
    for p in c.pipelines:
        details = {
            k: v
            for k, v in p.items()
            if k not in ("pipeline", "size", "check", "wall_s", "gb_per_s", "target")
        }
        target = p.get("target", "")
        if target and p.get("gb_per_s") is not None:
            target += f" -> measured {p['gb_per_s']:.3f} GB/s"
        lines.append(
            f"| {p['pipeline']} | {p.get('size', '')} | {p.get('check', '')} | "
            f"{p.get('wall_s', '')} | {p.get('gb_per_s', '')} | "
            f"{json.dumps(details) if details else ''} | {target} |"
        )
    lines += ["", "## Notes", ""]
    lines += [f"- {n}" for n in c.notes] or ["- none"]
    lines += [
        f"- wheels: {wheels.get('action')} (missing at start: {wheels.get('missing')})",
        "- targets: " + "; ".join(TARGETS.values()),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--sim", action="store_true", help="CUDA simulator, tiny sizes")
    parser.add_argument("--max-bytes", default="2GB", help="largest kernel input (default 2GB)")
    parser.add_argument("--budget-s", type=float, default=420.0, help="time budget, seconds")
    parser.add_argument(
        "--skip-pipelines", action="store_true", help="kernels only (no dedup / substr runs)"
    )
    args = parser.parse_args(argv)
    args.max_bytes = parse_bytes(args.max_bytes)
    args.outdir.mkdir(parents=True, exist_ok=True)

    wheels = install_wheels() if not args.sim else {"action": "not needed (simulator)"}
    try:
        c = Check(args)
    except RuntimeError as exc:
        print(f"gpu_check: {exc}\nOn a machine without a GPU, run with --sim.", file=sys.stderr)
        return 2
    info = device_info(c)
    log(f"mode: {info['mode']}; budget {args.budget_s:.0f} s")
    if c.sim:
        c.notes.append("simulator: CUDA-event times and bandwidth not measured; tiny sizes")

    def write(final: bool) -> str:
        """Write both output files (after every phase: a killed run still leaves them)."""
        report = markdown(c, info, wheels)
        if not final:
            report += "\n**Partial: the run was still going when these files were written.**\n"
        (args.outdir / "gpu_check.md").write_text(report)
        raw = {
            "argv": sys.argv[1:],
            "complete": final,
            "device": info,
            "wheels": wheels,
            "bandwidth_gb_per_s": c.bandwidth_gbs,
            "kernels": c.kernels,
            "pipelines": c.pipelines,
            "notes": c.notes,
            "targets": TARGETS,
            "elapsed_s": time.perf_counter() - c.started,
        }
        text = json.dumps(raw, indent=1, default=str) + "\n"
        (args.outdir / "gpu_check.json").write_text(text)
        return report

    for phase in (
        measure_bandwidth,
        check_text_kernels,
        check_lsh_kernels,
        check_union_find,
        check_suffix_array_steps,
        check_suffix_array_lcp,
    ):
        phase(c)
        write(final=False)
    c.on_row = lambda: write(final=False)
    if not args.skip_pipelines:
        work = Path(tempfile.mkdtemp(prefix="ouroboros-gpu-check-"))
        try:
            check_pipelines(c, work)
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            pipeline_row(c, "pipelines", check=f"ERROR {exc!r}"[:300])
        finally:
            shutil.rmtree(work, ignore_errors=True)
    report = write(final=True)
    print(report)
    bad = [r for r in c.kernels if not str(r.get("check", "")).startswith(("equal", "skipped"))]
    bad += [p for p in c.pipelines if str(p.get("check", "")).startswith(("DIFF", "ERROR"))]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
