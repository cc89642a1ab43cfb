"""GPU check, kernel phase: copy bandwidth, text kernels (tokenize to signatures), LSH."""

# B023: the timed closures below are called at once, inside the loop iteration that
# defines them, so binding the loop's variables late is what is wanted.
# ruff: noqa: B023

from __future__ import annotations

from bench.gpu_common import TARGETS, Check, equal_or_diff, human, log, merge_checks
from bench.gpu_inputs import doc_positions, random_offsets, random_text, sample_docs


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
