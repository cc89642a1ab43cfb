"""GPU check, kernel phase: union-find, suffix-array step kernels, suffix array and LCP."""

# B023: the timed closures below are called at once, inside the loop iteration that
# defines them, so binding the loop's variables late is what is wanted.
# ruff: noqa: B023

from __future__ import annotations

import importlib.util

from bench.gpu_common import TARGETS, Check, equal_or_diff, human, merge_checks
from bench.gpu_inputs import random_text


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
