"""GPU check, kernel phase: skewed inputs against the CPU twins.

Two batches that random word text never produces:

- long tail: one 5 MB document among 5,000 documents of 2 KB (one thread or block
  works far longer than all others; offsets far apart);
- duplicate heavy: 16 MB of exact copies of 8 documents of 2 KB (identical signatures;
  suffixes sharing prefixes thousands of bytes long, the worst case of prefix doubling).

On each: ``tokenize_kernel`` and the fused ``signatures()`` against ``tokenize_cpu`` and
``signatures_cpu``, then ``suffix_array`` and ``lcp_array`` on the batch's bytes against
the CPU (pydivsufsort when installed, else the prefix-doubling twin; Kasai for LCP).
Every row carries ``"input"``: ``"long-tail"`` or ``"duplicate-heavy"``.
"""

from __future__ import annotations

import importlib.util

from bench.gpu_common import Check, equal_or_diff, human, merge_checks
from bench.gpu_inputs import duplicate_heavy_batch, long_tail_batch

NGRAM, NUM_PERM = 5, 128


def skewed_batches(c: Check) -> list[tuple[str, str, object, object, object]]:
    """(input name, size label, data: uint8 host array, offsets: int64 (n+1,), which or None)."""
    if c.sim:
        long_bytes, n_short, short_bytes = 1200, 16, 40
        dup_bytes, n_distinct, doc_bytes = 600, 4, 50
    else:
        long_bytes, n_short, short_bytes = 5 * 10**6, 5000, 2000
        dup_bytes, n_distinct, doc_bytes = 16 * 10**6, 8, 2000
    data, offsets = long_tail_batch(c.xp, long_bytes, n_short, short_bytes, seed=31)
    long_label = f"1 x {human(long_bytes)} + {n_short} x {human(short_bytes)}"
    dup, dup_offsets, which = duplicate_heavy_batch(c.xp, dup_bytes, n_distinct, doc_bytes, seed=37)
    dup_label = f"{len(which)} copies of {n_distinct} x {human(doc_bytes)}"
    return [
        ("long-tail", long_label, c.host(data), offsets, None),
        ("duplicate-heavy", dup_label, dup, dup_offsets, which),
    ]


def check_skewed_inputs(c: Check) -> None:
    """Text kernels and the suffix array on the long-tail and duplicate-heavy batches."""
    try:
        batches = skewed_batches(c)
    except Exception as exc:  # noqa: BLE001
        c.add_failure("skewed inputs", "generation", exc)
        return
    for name, label, data, offsets, which in batches:
        if not c.fits(20 + len(data) / 2e6):
            for kernel in ("tokenize_kernel", "signatures()", "suffix_array"):
                c.add_skip(f"{kernel} [{name}]", label, "time budget")
            continue
        for step in (_text_rows, _suffix_rows):
            try:
                step(c, name, label, data, offsets, which)
            except Exception as exc:  # noqa: BLE001
                c.add_failure(f"{step.__name__.strip('_')} [{name}]", label, exc)
            c.free_pool()


def _tag(row: dict, name: str) -> None:
    row["input"] = name


def _text_rows(c: Check, name: str, label: str, data, offsets, which) -> None:
    np, xp = c.np, c.xp
    from kernels.backend import launch_config
    from kernels.hashing import permutation_params
    from kernels.minhash import signatures, signatures_cpu
    from kernels.shingle import WORD_MODE, tokenize_cpu, tokenize_kernel
    from kernels.unicode_table import codepoint_table

    table = codepoint_table()
    a, b = permutation_params(NUM_PERM, 42)
    d_data, d_offsets, d_table = c.dev(data), c.dev(offsets), c.dev(table)
    n_bytes, n_docs = len(data), len(offsets) - 1
    tokens = xp.zeros(n_bytes, dtype=np.uint64)
    token_counts = xp.zeros(n_docs, dtype=np.int64)
    grid = launch_config(n_docs)

    def run_tokenize():
        tokenize_kernel[grid](d_data, d_offsets, d_table, WORD_MODE, tokens, token_counts)

    timing = c.time_ms(run_tokenize)
    want_tokens, want_counts = tokenize_cpu(data, offsets, table, WORD_MODE)
    result = merge_checks(
        equal_or_diff(c.host(token_counts), want_counts),
        equal_or_diff(c.host(tokens), want_tokens),
    )
    n_tok = int(want_counts.sum())
    row = c.add_kernel(
        f"tokenize_kernel (word mode) [{name}]",
        label,
        n_bytes,
        n_bytes + 8 * n_tok + 16 * n_docs,
        8 * n_bytes,
        timing,
        result,
    )
    _tag(row, name)
    holder = {}

    def run_signatures():
        holder.pop("sig", None)
        holder["sig"] = signatures(
            d_data, d_offsets, num_perm=NUM_PERM, ngram=NGRAM, backend="cuda"
        )

    timing = c.time_ms(run_signatures, 3)
    got = c.host(holder.pop("sig"))
    want = signatures_cpu(data, offsets, table, WORD_MODE, NGRAM, a, b)
    result = equal_or_diff(got, want)
    if which is not None and result == "equal":
        # planted truth: every copy of a document has that document's signature
        first = {int(w): i for i, w in reversed(list(enumerate(which)))}
        same = np.array_equal(got, got[[first[int(w)] for w in which]])
        result = "equal (copies share signatures)" if same else "DIFFERENT: copies differ"
    row = c.add_kernel(
        f"signatures() [{name}]",
        label,
        n_bytes,
        n_bytes + 4 * n_docs * NUM_PERM,
        12 * n_tok * NUM_PERM,
        timing,
        result,
    )
    _tag(row, name)
    if timing[0]:
        row["text_gb_per_s"] = n_bytes / (timing[0] / 1e3) / 1e9


def _suffix_rows(c: Check, name: str, label: str, data, offsets, which) -> None:
    from kernels.lcp import lcp_array
    from kernels.suffix_array import suffix_array, suffix_array_prefix_doubling_cpu

    n = len(data)
    d_data = c.dev(data)
    holder = {}

    def run_sa():
        holder.pop("sa", None)
        holder["sa"] = suffix_array(d_data, backend="cuda")

    timing = c.time_ms(run_sa, 1 if n > 10**6 else 3)
    d_sa = holder.pop("sa")
    sa = c.host(d_sa)
    if importlib.util.find_spec("pydivsufsort") is not None and not c.sim:
        want, how = suffix_array(data, backend="cpu"), "equal (pydivsufsort)"
    else:
        want, how = suffix_array_prefix_doubling_cpu(data), "equal (CPU twin)"
    result = equal_or_diff(sa, want)
    row = c.add_kernel(
        f"suffix_array (GPU prefix doubling) [{name}]",
        label,
        n,
        n + 8 * n,
        n * 30,
        timing,
        how if result == "equal" else result,
    )
    _tag(row, name)
    if timing[0]:
        row["text_gb_per_s"] = n / (timing[0] / 1e3) / 1e9

    def run_lcp():
        holder.pop("lcp", None)
        holder["lcp"] = lcp_array(d_data, d_sa, backend="cuda")

    timing = c.time_ms(run_lcp, 1 if n > 10**6 else 3)
    lcp = c.host(holder.pop("lcp"))
    result = equal_or_diff(lcp, lcp_array(data, sa, backend="cpu"))
    row = c.add_kernel(
        f"lcp_array (uncapped) [{name}]",
        label,
        n,
        33 * n,
        4 * n,
        timing,
        "equal (Kasai)" if result == "equal" else result,
    )
    _tag(row, name)
    row["longest_lcp"] = int(lcp.max()) if n else 0
