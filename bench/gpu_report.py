"""GPU check outputs: device and versions, the Markdown report."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time

from bench.gpu_common import TARGETS, Check, human


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


def preflight_markdown(preflight: dict) -> str:
    """The pre-flight as a Markdown section: one row per check, in the order run."""
    lines = [
        "## Pre-flight",
        "",
        ("Passed." if preflight["ok"] else f"**Failed:** {preflight['message']}"),
        "",
        "| check | status | detail | fix |",
        "|---|---|---|---|",
    ]
    for check in preflight["checks"]:
        lines.append(
            f"| {check['name']} | {check['status']} | {check['detail']} | {check['fix']} |"
        )
    return "\n".join(lines) + "\n"


def markdown(
    c: Check, info: dict, wheels: dict, preflight: dict | None = None, phase: str = "all"
) -> str:
    lines = [
        "# Ouroboros GPU check",
        "",
        f"Command: `python bench/gpu_check.py {' '.join(sys.argv[1:])}`  ",
        f"Phase: {phase}.  ",
        f"Mode: {info['mode']}; elapsed {time.perf_counter() - c.started:.0f} s of a "
        f"{c.args.budget_s:.0f} s budget; max bytes per kernel input {human(c.max_bytes)}.",
        "",
        "Device and versions: " + ", ".join(f"{k} {v}" for k, v in info.items()),
        "",
        preflight_markdown(preflight) if preflight else "",
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
