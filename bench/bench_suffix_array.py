"""Suffix arrays and repeated spans: pydivsufsort vs this project's paths, side by side.

Builds ``--mb`` MB of real text, as documents:

- from ``bench/.cache/`` when it holds text: the ``text`` field of every ``*.jsonl``
  line (``human_docs.jsonl`` from ``python -m bench.prepare_text``, Debian
  documentation, first; then other JSONL files in sorted path order), then ``*.txt`` /
  ``*.rst`` / ``*.md`` files;
- else from Python's own ``.py`` / ``.txt`` files under ``sys.prefix`` and
  ``sys.base_prefix`` (real text on any machine).

The documents are packed as ``engine.substrings.spans.pack_with_separators`` does (``0xFF``
after each one) and timed, median of ``--repeats`` runs after a warm-up that compiles
the njit functions:

- ``pydivsufsort.divsufsort`` directly;
- the same with ``force64=True`` (int64 positions, what this project returns);
- ``kernels.suffix_array.suffix_array(backend="cpu")`` (the same call as force64: ratio
  to that row ~1.0);
- the njit prefix-doubling twin ``suffix_array_prefix_doubling_cpu`` (on the first
  ``--twin-mb`` MB only when given: it is much slower on repetitive text);
- Kasai LCP (``kernels.lcp.lcp_array(backend="cpu")``);
- ``engine.substrings.spans.repeated_spans`` end to end (``--threads`` numba threads);
- on a machine with a real CUDA device, the GPU suffix array and spans as well.

Prints a Markdown table. Usage::

    python -m bench.bench_suffix_array --mb 100
    python -m bench.bench_suffix_array --mb 20 --twin-mb 5 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np

CACHE = Path(__file__).resolve().parent / ".cache"
TEXT_SUFFIXES = (".txt", ".rst", ".md")


def _cache_documents():
    if not CACHE.is_dir():
        return
    # human_docs.jsonl (bench.prepare_text: people's prose) first, then any other JSONL
    jsonl = sorted(CACHE.rglob("*.jsonl"), key=lambda p: (not p.name.startswith("human"), p))
    for path in jsonl:
        with path.open("rb") as handle:
            for line in handle:
                try:
                    text = json.loads(line).get("text")
                except (ValueError, AttributeError):
                    continue
                if isinstance(text, str) and text:
                    yield text.encode("utf-8")
    for path in sorted(p for p in CACHE.rglob("*") if p.suffix in TEXT_SUFFIXES):
        if path.is_file():
            yield path.read_bytes()


def _stdlib_documents():
    roots = sorted({Path(sys.prefix) / "lib", Path(sys.base_prefix) / "lib"})
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".txt") and path.is_file():
                try:
                    yield path.read_bytes()
                except OSError:
                    continue


def load_documents(n_bytes: int) -> tuple[list[bytes], str]:
    """Real-text documents totalling about ``n_bytes`` bytes, and where they came from."""
    for source, documents in (("bench/.cache", _cache_documents), ("stdlib", _stdlib_documents)):
        docs, total = [], 0
        for doc in documents():
            if total >= n_bytes:
                break
            doc = doc[: n_bytes - total]
            docs.append(doc)
            total += len(doc)
        if total >= n_bytes or (docs and source == "stdlib"):
            return docs, source
    raise SystemExit("no text found under bench/.cache nor under sys.prefix/lib")


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def interleaved_median_times(fns, repeats: int) -> list[tuple[float, object]]:
    """Run fns round-robin ``repeats`` times; (median seconds, last result) per fn."""
    times = [[] for _ in fns]
    results = [None] * len(fns)
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            results[k] = None
            start = time.perf_counter()
            results[k] = fn()
            times[k].append(time.perf_counter() - start)
    return [(statistics.median(t), r) for t, r in zip(times, results, strict=True)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=100.0, help="text size in MB (1e6 bytes)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--min-span", type=int, default=100, help="bytes, for repeated_spans")
    parser.add_argument("--threads", type=int, default=2, help="numba threads")
    parser.add_argument("--twin-mb", type=float, default=None, help="MB for the njit twin")
    parser.add_argument("--skip-twin", action="store_true")
    args = parser.parse_args(argv)

    from pydivsufsort import divsufsort

    from engine.substrings.spans import pack_with_separators, repeated_spans
    from kernels.backend import cuda_simulated, cuda_usable, to_host
    from kernels.lcp import lcp_array
    from kernels.suffix_array import suffix_array, suffix_array_prefix_doubling_cpu

    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    docs, source = load_documents(int(args.mb * 1e6))
    data, _ = pack_with_separators(docs)
    mb = data.size / 1e6
    twin_data = data if args.twin_mb is None else data[: int(args.twin_mb * 1e6)]
    gpu = cuda_usable() and not cuda_simulated()

    # Warm-up: compile every njit path once.
    warm = [b"warm up text " * 20, b"warm up text " * 10]
    warm_data, _ = pack_with_separators(warm)
    suffix_array_prefix_doubling_cpu(warm_data)
    lcp_array(warm_data, suffix_array(warm_data, backend="cpu"), backend="cpu")
    repeated_spans(warm, min_span=10, backend="cpu")
    if gpu:
        repeated_spans(warm, min_span=10, backend="cuda")

    rows = []

    def row(name, size_mb, seconds, baseline=None):
        ratio = "" if baseline is None else f"{seconds / baseline:.2f}"
        rows.append(
            f"| {name} | {size_mb:.1f} | {seconds:.3f} | {size_mb / seconds:.1f} | {ratio} |"
        )

    # The three CPU suffix-array calls run interleaved, so that load from other
    # processes hits them alike.
    (t_div, sa_div), (t_div64, _), (t_cpu, sa_cpu) = interleaved_median_times(
        [
            lambda: divsufsort(data),
            lambda: divsufsort(data, force64=True),
            lambda: suffix_array(data, backend="cpu"),
        ],
        args.repeats,
    )
    row("pydivsufsort.divsufsort", mb, t_div, t_div)
    row("pydivsufsort.divsufsort(force64=True) (int64 output)", mb, t_div64, t_div)
    if not np.array_equal(sa_cpu, sa_div):
        raise SystemExit("suffix_array(backend='cpu') differs from pydivsufsort")
    row('suffix_array(backend="cpu")', mb, t_cpu, t_div)
    if not args.skip_twin:
        t_twin, sa_twin = median_time(lambda: suffix_array_prefix_doubling_cpu(twin_data), 1)
        if not np.array_equal(sa_twin, suffix_array(twin_data, backend="cpu")):
            raise SystemExit("the njit prefix-doubling twin differs from pydivsufsort")
        twin_mb = twin_data.size / 1e6
        t_div_twin = t_div if twin_data.size == data.size else None
        name = f"prefix doubling, njit twin ({args.threads} threads, 1 run)"
        row(name, twin_mb, t_twin, t_div_twin)
    t_lcp, _ = median_time(lambda: lcp_array(data, sa_cpu, backend="cpu"), args.repeats)
    row('lcp_array(backend="cpu") (Kasai)', mb, t_lcp)
    t_spans, table = median_time(
        lambda: repeated_spans(docs, min_span=args.min_span, backend="cpu"), args.repeats
    )
    row(f'repeated_spans(backend="cpu", min_span={args.min_span}), end to end', mb, t_spans)
    if gpu:
        import cupy

        device_data = cupy.asarray(data)

        def gpu_sa():
            result = suffix_array(device_data, backend="cuda")
            cupy.cuda.Device().synchronize()
            return result

        t_gpu, sa_gpu = median_time(gpu_sa, args.repeats)
        if not np.array_equal(to_host(sa_gpu), sa_div):
            raise SystemExit("suffix_array(backend='cuda') differs from pydivsufsort")
        row('suffix_array(backend="cuda")', mb, t_gpu, t_div)
        t_gspans, gtable = median_time(
            lambda: repeated_spans(docs, min_span=args.min_span, backend="cuda"), args.repeats
        )
        if not gtable.equals(table):
            raise SystemExit("repeated_spans differs between cuda and cpu")
        row(f'repeated_spans(backend="cuda", min_span={args.min_span})', mb, t_gspans)

    removed = int(np.sum(np.asarray(table.column("end")) - np.asarray(table.column("start"))))
    print(
        f"text: {len(docs)} documents from {source}, {mb:.1f} MB packed; "
        f"numba threads: {numba.get_num_threads()}; spans: {table.num_rows} ranges, "
        f"{removed / 1e6:.2f} MB marked; median of {args.repeats}\n"
    )
    print("| step | MB | median s | MB/s | time vs pydivsufsort |")
    print("|---|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
