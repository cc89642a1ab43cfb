"""The read stage alone, per format and per core: can reading feed the kernels?

    python -m bench.bench_read [--size 64MB] [--rounds 3] [--parts 8]

From ``bench/.cache/human_docs.jsonl`` (``python -m bench prepare-text``) it writes one
corpus of about ``--size`` of text in four formats under ``bench/.cache/read/``: plain
JSONL, JSONL.gz, Parquet (one row group per 4 MB) and WET.gz (one ``conversion`` record
per document, one gzip member per record, as Common Crawl ships them). Each format is
written as ``--parts`` files so that reading can be spread over threads. For each
format it times :func:`engine.io.read_part` over every part (all batches consumed, as
a signature task consumes them) with 1 and with 2 reading threads in this process,
alternating the two, and prints MB/s of text (median of ``--rounds``) and the 2-thread
speed-up. No kernel runs: this is the rate at which one process can hand text to the
signature kernels.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from engine.io import ReadReport, parse_size, plan_parts, read_part

CACHE = Path(__file__).resolve().parent / ".cache"
FORMATS = ("jsonl", "jsonl.gz", "parquet", "wet.gz")


def _documents(target: int) -> list[str]:
    from bench.prepare_text import load_human_docs

    docs, total = [], 0
    pool = [d["text"] for d in load_human_docs()]
    i = 0
    while total < target:
        text = pool[i % len(pool)]
        if i >= len(pool):  # later passes differ a little, like a crawl's pages
            text = f"{i}: {text}"
        docs.append(text)
        total += len(text.encode("utf-8"))
        i += 1
    return docs


def _wet_record(index: int, text: str) -> bytes:
    body = text.encode("utf-8")
    head = (
        "WARC/1.0\r\nWARC-Type: conversion\r\n"
        f"WARC-Target-URI: https://example.org/{index}\r\n"
        "WARC-Date: 2024-01-01T00:00:00Z\r\n"
        f"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-{index:012d}>\r\n"
        "Content-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return gzip.compress(head + body + b"\r\n\r\n", compresslevel=6)


def write_corpora(size: int, parts: int) -> dict[str, list[Path]]:
    """The corpus in each format, ``parts`` files each (written once, then reused)."""
    folder = CACHE / "read" / f"{size}-{parts}"
    done = folder / "done.json"
    files = {fmt: [folder / f"part-{p:02d}.{fmt}" for p in range(parts)] for fmt in FORMATS}
    if done.exists():
        return files
    folder.mkdir(parents=True, exist_ok=True)
    docs = _documents(size)
    for p in range(parts):
        chunk = docs[p::parts]
        lines = "".join(
            json.dumps({"text": t, "id": f"{p}-{i}"}) + "\n" for i, t in enumerate(chunk)
        )
        files["jsonl"][p].write_text(lines)
        files["jsonl.gz"][p].write_bytes(gzip.compress(lines.encode(), compresslevel=6))
        table = pa.table({"id": [f"{p}-{i}" for i in range(len(chunk))], "text": chunk})
        rows = max(1, int(len(chunk) * 4 * 2**20 / max(1, sum(len(t) for t in chunk))))
        pq.write_table(table, files["parquet"][p], row_group_size=rows)
        with open(files["wet.gz"][p], "wb") as out:
            for i, text in enumerate(chunk):
                out.write(_wet_record(p * 10**6 + i, text))
    done.write_text(json.dumps({"documents": len(docs)}))
    return files


def _read_all(paths: list[Path], threads: int) -> int:
    """Text bytes read from every part of ``paths`` with ``threads`` threads."""
    parts = plan_parts([str(p) for p in paths], 2**30)

    def one(part) -> int:
        total = 0
        for batch in read_part(part, report=ReadReport()):
            total += batch.column("text").combine_chunks().nbytes
        return total

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(one, parts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="64MB")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parts", type=int, default=8)
    args = parser.parse_args(argv)
    files = write_corpora(parse_size(args.size), args.parts)
    print("| format | text MB | 1 thread MB/s | 2 threads MB/s | speed-up |")
    print("|---|---|---|---|---|")
    for fmt in FORMATS:
        _read_all(files[fmt][:1], 1)  # warm the readers and the page cache
        speeds: dict[int, list[float]] = {1: [], 2: []}
        nbytes = 0
        for _ in range(args.rounds):
            for threads in (1, 2):
                started = time.perf_counter()
                nbytes = _read_all(files[fmt], threads)
                speeds[threads].append(nbytes / 1e6 / (time.perf_counter() - started))
        one, two = (statistics.median(speeds[t]) for t in (1, 2))
        print(f"| {fmt} | {nbytes / 1e6:.1f} | {one:.0f} | {two:.0f} | {two / one:.2f} |")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
