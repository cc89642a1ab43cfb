"""Connected components of an undirected graph given as an edge list.

Nodes are ``0..n_nodes-1``; edges are int64 arrays ``src``, ``dst`` (E,). The result
``labels`` int64 (n_nodes,) gives every node the smallest node index of its component,
so any correct algorithm returns the same array (the CUDA kernels and the CPU twin are
bit-identical by construction).

- CPU: sequential union-find (union by smaller root, path halving), O(E alpha(n)).
- CUDA: hooking with ``atomic.min`` (the larger root is hooked under the smaller one)
  plus pointer jumping, repeated until no edge joins two different roots. Roots only
  ever decrease, so the loop terminates and each root is its component's minimum.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import cuda

from kernels import traffic
from kernels.backend import array_module, cuda_simulated, launch_config, to_device


@numba.njit(cache=True, nogil=True)
def _find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@numba.njit(cache=True, nogil=True)
def union_edges_cpu(parent, src, dst):
    """Union the edges ``(src[e], dst[e])`` into a union-find forest, in place.

    ``parent``: int64 (n_nodes,), a forest in which every parent is <= its child
    (``np.arange(n)`` to start). The smaller root always becomes the parent, so the
    forest keeps that property and each root is its tree's minimum. Edge lists can be
    streamed in any number of calls.
    """
    for e in range(src.shape[0]):
        ru = _find(parent, src[e])
        rv = _find(parent, dst[e])
        if ru != rv:
            if ru < rv:
                parent[rv] = ru
            else:
                parent[ru] = rv


@numba.njit(cache=True, nogil=True)
def finish_labels_cpu(parent):
    """Point every node of a forest at its root, in place; returns ``parent``."""
    for x in range(parent.shape[0]):
        parent[x] = _find(parent, x)
    return parent


@numba.njit(cache=True, nogil=True)
def connected_components_cpu(n_nodes, src, dst):
    """CPU twin: labels int64 (n_nodes,), each the minimum node of its component."""
    parent = np.arange(n_nodes, dtype=np.int64)
    union_edges_cpu(parent, src, dst)
    return finish_labels_cpu(parent)


@cuda.jit
def hook_kernel(src, dst, parent, changed):
    """One thread per edge: hook the larger of the two current roots under the smaller."""
    e = cuda.grid(1)
    if e >= src.shape[0]:
        return
    ru = src[e]
    while parent[ru] != ru:
        ru = parent[ru]
    rv = dst[e]
    while parent[rv] != rv:
        rv = parent[rv]
    if ru != rv:
        lo = min(ru, rv)
        hi = max(ru, rv)
        cuda.atomic.min(parent, hi, lo)
        changed[0] = 1


@cuda.jit
def jump_kernel(parent, changed):
    """One thread per node: pointer jumping, parent[x] = parent[parent[x]]."""
    x = cuda.grid(1)
    if x >= parent.shape[0]:
        return
    p = parent[x]
    pp = parent[p]
    if pp != p:
        parent[x] = pp
        changed[0] = 1


def connected_components(n_nodes: int, src, dst, *, backend: str = "cpu"):
    """Component labels (int64 (n_nodes,), smallest node index per component).

    Raises ValueError for mismatched edge arrays or node indices out of range.
    """
    if src.shape != dst.shape or src.ndim != 1:
        raise ValueError("src and dst must be 1-d arrays of the same length")
    xp = array_module(backend)
    # reading a device array's min/max waits for the device (counted); a host one does not
    on_device = backend == "cuda" and (cuda_simulated() or not isinstance(src, np.ndarray))
    read = traffic.host_ops("cuda" if on_device else "cpu").read_scalar
    if src.shape[0] and (
        int(read(src.min())) < 0
        or int(read(dst.min())) < 0
        or int(read(src.max())) >= n_nodes
        or int(read(dst.max())) >= n_nodes
    ):
        raise ValueError(f"edge endpoints must be in [0, {n_nodes})")
    if backend == "cpu":
        return connected_components_cpu(
            n_nodes,
            np.ascontiguousarray(src, dtype=np.int64),
            np.ascontiguousarray(dst, dtype=np.int64),
        )
    parent = xp.arange(n_nodes, dtype=np.int64)
    if src.shape[0] == 0 or n_nodes == 0:
        return parent
    d_src = to_device(src.astype(np.int64), backend)
    d_dst = to_device(dst.astype(np.int64), backend)
    changed = xp.zeros(1, dtype=np.int32)
    edge_grid = launch_config(src.shape[0], 256)
    node_grid = launch_config(n_nodes, 256)
    while True:
        with traffic.stage("union_find.round"):
            changed[0] = 0
            traffic.launch(hook_kernel, edge_grid, d_src, d_dst, parent, changed)
            hooked = int(traffic.read_scalar(changed[0]))
        while True:
            with traffic.stage("union_find.round"):
                changed[0] = 0
                traffic.launch(jump_kernel, node_grid, parent, changed)
                if int(traffic.read_scalar(changed[0])) == 0:
                    break
        if hooked == 0:
            return parent
