"""WARC HTML to text: the former ``html.parser`` extractor vs resiliparse (main, full).

Real pages of one site: the HTML of Debian's ``python3.11-doc`` package (about 500
Sphinx pages sharing a header, navigation bars, sidebar and footer), fetched and
unpacked as :mod:`bench.prepare_text` does (``apt-get download`` into
``bench/.cache/``; ``/usr/share/doc/python3.11/html`` is used when installed), written
as one WARC of ``response`` records (``bench/.cache/python_docs.warc.gz``, URLs
``https://docs.python.org/3.11/<page>``).

Speed: ms per page of each extractor on the decoded pages, the three alternating in
rotated order within each of ``--rounds`` rounds (median round); and of reading the
whole WARC to documents (``engine.io.read_part``: framing, HTTP, charset, extraction)
in each mode.

False duplicates: ``engine.dedup`` (thresholds 0.8 and 0.5: ``--thresholds``; word
5-grams, 128 permutations) on the WARC in each mode, and on the same pages as text
from the former extractor (a JSONL file). Ground truth: each page's main text, the
text of Sphinx's ``<div role="main">`` (the article, without navigation, sidebar or
footer). A pair in one cluster is a *false duplicate* when the true word 5-gram
Jaccard of the two pages' main texts (:func:`bench.corpus.true_jaccard`) is below
``--false-below`` (0.5); a cluster joining different pages holds at least one such
pair. Recall: pairs whose main texts have true Jaccard >= the threshold that share a
cluster. Below the dedup rows: page pairs whose extracted texts reach a Jaccard while
their main texts do not, the similarity that shared boilerplate adds.

Extraction quality against the same truth, per page then averaged: the share of the
truth's 5-gram shingles found in the extracted text (recall) and of the extracted
text's shingles found in the truth (precision; what is left is boilerplate).

Usage::

    python -m bench.bench_html                     # all pages, 5 rounds
    python -m bench.bench_html --rounds 3 --out bench/out/html.md
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import statistics
import sys
import tempfile
import time
from html.parser import HTMLParser
from importlib.metadata import version
from itertools import combinations
from pathlib import Path

import pyarrow.parquet as pq
from resiliparse.parse.html import HTMLTree
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

import engine
from bench.corpus import fast_word_shingles, hashed_shingles, similar_pairs, true_jaccard
from bench.prepare_text import CACHE_DIR, download_packages, extract_package
from engine.io import ReadReport, html_to_text, plan_parts, read_part

PACKAGE = "python3.11-doc"
INSTALLED = Path("/usr/share/doc/python3.11/html")
WARC_NAME = "python_docs.warc.gz"
BASE_URL = "https://docs.python.org/3.11/"
MODES = ("old", "main", "full")
SKIPPED_PAGES = ("genindex", "search.html", "py-modindex.html")
PAIR_THRESHOLDS = (0.8, 0.5, 0.3)
_STARTED = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _STARTED:6.1f} s] {message}", file=sys.stderr)


# --------------------------------------------------------------------------- the former extractor

_OLD_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template"})
_OLD_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div",
        "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
        "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
        "summary", "table", "td", "th", "title", "tr", "ul",
    }
)  # fmt: skip


class _OldHTMLText(HTMLParser):
    """The extractor ``engine.io.html`` used before resiliparse, kept here as the
    baseline: visible text, block tags as line breaks, nothing removed as boilerplate."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _OLD_SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag in _OLD_BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in _OLD_BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _OLD_SKIPPED_TAGS:
            self._skip_depth = max(self._skip_depth - 1, 0)
        elif tag in _OLD_BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.pieces.append(data)


def old_html_to_text(html: str) -> str:
    """Text of a page by the former extractor (one line per block, spaces collapsed)."""
    parser = _OldHTMLText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.pieces).split("\n"))
    return "\n".join(line for line in lines if line)


EXTRACTORS = {
    "old": old_html_to_text,
    "main": lambda html: html_to_text(html, "main"),
    "full": lambda html: html_to_text(html, "full"),
}


# --------------------------------------------------------------------------- pages and WARC


def html_root() -> Path:
    """The python3.11-doc HTML folder: installed, cached, or downloaded into the cache."""
    if INSTALLED.is_dir():
        return INSTALLED
    extract_root = CACHE_DIR / "extract"
    cached = extract_root / PACKAGE / "usr/share/doc/python3.11/html"
    if not cached.is_dir():
        debs = download_packages((PACKAGE,), CACHE_DIR / "debs")
        extract_package(debs[PACKAGE], extract_root, PACKAGE)
    if not cached.is_dir():
        raise RuntimeError(f"{PACKAGE} holds no HTML folder at {cached}")
    return cached


def load_pages(root: Path) -> list[tuple[str, bytes]]:
    """``(url, page bytes)`` of every content page (indexes and search aside), sorted."""
    pages = []
    for path in sorted(root.rglob("*.html")):
        rel = path.relative_to(root)
        if rel.parts[0].startswith("_") or rel.name.startswith(SKIPPED_PAGES):
            continue
        pages.append((BASE_URL + rel.as_posix(), path.read_bytes()))
    return pages


def write_warc(pages: list[tuple[str, bytes]], path: Path) -> Path:
    """One gzipped ``response`` record per page (``text/html; charset=utf-8``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for url, body in pages:
            headers = [("Content-Type", "text/html; charset=utf-8")]
            http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(
                    url, "response", payload=io.BytesIO(body), http_headers=http
                )
            )
    tmp.replace(path)
    return path


def true_main_text(html: str) -> str | None:
    """The text of the page's ``<div role="main">`` (former extractor); None without one."""
    node = HTMLTree.parse(html).body.query_selector('div[role="main"]')
    return None if node is None else old_html_to_text(node.html)


# --------------------------------------------------------------------------- measures


def time_extractors(htmls: list[str], rounds: int) -> dict[str, float]:
    """Median ms per page of each extractor, alternating in rotated order per round."""
    for extract in EXTRACTORS.values():  # warm-up
        extract(htmls[0])
    seconds: dict[str, list[float]] = {mode: [] for mode in MODES}
    for r in range(rounds):
        order = MODES[r % len(MODES) :] + MODES[: r % len(MODES)]
        for mode in order:
            extract = EXTRACTORS[mode]
            started = time.perf_counter()
            for html in htmls:
                extract(html)
            seconds[mode].append(time.perf_counter() - started)
    return {mode: 1000 * statistics.median(s) / len(htmls) for mode, s in seconds.items()}


def time_warc_reading(warc: Path, n_pages: int, rounds: int) -> dict[str, float]:
    """Median ms per page of reading the WARC to documents in each resiliparse mode."""
    seconds: dict[str, list[float]] = {"main": [], "full": []}
    for r in range(rounds):
        for mode in ("main", "full") if r % 2 == 0 else ("full", "main"):
            report = ReadReport()
            started = time.perf_counter()
            for part in plan_parts([str(warc)], partition_size=2**40, report=report):
                for _ in read_part(part, html_text=mode, report=report):
                    pass
            seconds[mode].append(time.perf_counter() - started)
    return {mode: 1000 * statistics.median(s) / n_pages for mode, s in seconds.items()}


def run_dedup(
    mode: str, warc: Path, old_texts: dict[str, str], work: Path, threshold: float
) -> list[list[str]]:
    """Clusters (lists of URLs, size >= 2) of ``engine.dedup`` in ``mode``."""
    common = dict(backend="cpu", scheduler="threads", progress=False, threshold=threshold)
    out = work / f"dedup-{mode}-{threshold}"
    if mode == "old":
        jsonl = work / "old.jsonl.gz"
        with gzip.open(jsonl, "wt", encoding="utf-8") as f:
            for url, text in old_texts.items():
                f.write(json.dumps({"id": url, "text": text}) + "\n")
        engine.dedup([str(jsonl)], out=str(out), id_column="id", **common)
    else:
        engine.dedup([str(warc)], out=str(out), id_column="url", html_text=mode, **common)
    table = pq.read_table(out / "clusters.parquet", columns=["doc_id", "cluster_id"])
    groups: dict[int, list[str]] = {}
    for doc_id, cluster in zip(*(table[c].to_pylist() for c in table.column_names), strict=True):
        groups.setdefault(cluster, []).append(doc_id)
    return [sorted(g) for g in groups.values() if len(g) > 1]


def dedup_scores(
    warc: Path, old_texts: dict[str, str], truth: dict[str, str], thresholds, false_below: float
) -> dict[tuple[float, str], dict]:
    """:func:`score_clusters` of a dedup run per (threshold, mode); true pairs: page pairs
    whose main texts have true Jaccard >= the threshold."""
    urls = sorted(truth)
    shingles = [hashed_shingles(truth[u]) for u in urls]
    scores = {}
    with tempfile.TemporaryDirectory() as tmp:
        for threshold in thresholds:
            true_pairs = {(urls[i], urls[j]) for i, j, _ in similar_pairs(shingles, threshold)}
            for mode in MODES:
                clusters = run_dedup(mode, warc, old_texts, Path(tmp), threshold)
                clusters = [[u for u in c if u in truth] for c in clusters]
                scores[threshold, mode] = score_clusters(
                    [c for c in clusters if len(c) > 1], truth, true_pairs, false_below
                )
                log(f"dedup {threshold} {mode}")
    return scores


def score_clusters(
    clusters: list[list[str]], truth: dict[str, str], true_pairs: set, false_below: float
) -> dict:
    """False-duplicate pairs and clusters, and recall of the true near-duplicate pairs."""
    false_pairs = 0
    false_clusters = 0
    docs_in_false = 0
    found_true = 0
    for cluster in clusters:
        wrong = 0
        for a, b in combinations(cluster, 2):
            found_true += (a, b) in true_pairs
            wrong += true_jaccard(truth[a], truth[b]) < false_below
        false_pairs += wrong
        if wrong:
            false_clusters += 1
            docs_in_false += len(cluster)
    return {
        "clusters (size >= 2)": len(clusters),
        "docs in clusters": sum(len(c) for c in clusters),
        "clusters joining different pages": false_clusters,
        "docs in those clusters": docs_in_false,
        "false duplicate pairs": false_pairs,
        "true pairs found": f"{found_true} / {len(true_pairs)}",
    }


def boilerplate_pairs(
    texts: dict[str, str], truth: dict[str, str], thresholds: tuple[float, ...], false_below: float
) -> dict[float, int]:
    """Page pairs whose extracted texts have true Jaccard >= each threshold while their
    main texts are below ``false_below``: similarity made by shared boilerplate."""
    urls = sorted(truth)
    shingles = [hashed_shingles(texts[u]) for u in urls]
    counts = {}
    for threshold in thresholds:
        pairs = similar_pairs(shingles, threshold)
        counts[threshold] = sum(
            true_jaccard(truth[urls[i]], truth[urls[j]]) < false_below for i, j, _ in pairs
        )
    return counts


def extraction_quality(texts: dict[str, str], truth: dict[str, str]) -> dict[str, float]:
    """Mean shingle recall / precision of extracted texts against the main texts."""
    recall, precision, empty = [], [], 0
    for url, true_text in truth.items():
        want = set(fast_word_shingles(true_text))
        got = set(fast_word_shingles(texts[url]))
        empty += not texts[url]
        if want:
            recall.append(len(want & got) / len(want))
        if got:
            precision.append(len(want & got) / len(got))
    return {
        "main-text recall": statistics.mean(recall),
        "precision (1 - boilerplate share)": statistics.mean(precision),
        "empty texts": empty,
    }


# --------------------------------------------------------------------------- report


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_html", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds (median)")
    parser.add_argument("--false-below", type=float, default=0.5)
    parser.add_argument("--thresholds", default="0.8,0.5", help="dedup thresholds, comma-separated")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    args = parser.parse_args(argv)

    root = html_root()
    pages = load_pages(root)
    warc = write_warc(pages, CACHE_DIR / WARC_NAME)
    htmls = {url: body.decode("utf-8") for url, body in pages}
    truth = {url: true_main_text(html) for url, html in htmls.items()}
    no_main = [url for url, text in truth.items() if text is None]
    truth = {url: text for url, text in truth.items() if text is not None}
    log(f"{len(pages)} pages from {root}, WARC {warc.stat().st_size / 1e6:.1f} MB")

    speed = time_extractors(list(htmls.values()), args.rounds)
    reading = time_warc_reading(warc, len(pages), max(2, args.rounds // 2))
    log("timed")
    texts = {mode: {url: EXTRACTORS[mode](html) for url, html in htmls.items()} for mode in MODES}

    thresholds = [float(t) for t in args.thresholds.split(",")]
    scores = dedup_scores(warc, texts["old"], truth, thresholds, args.false_below)
    quality = {mode: extraction_quality(texts[mode], truth) for mode in MODES}
    inflated = {
        mode: boilerplate_pairs(texts[mode], truth, PAIR_THRESHOLDS, args.false_below)
        for mode in MODES
    }
    log("scored")

    names = {"old": "former html.parser", "main": "resiliparse main", "full": "resiliparse full"}
    lines = [
        f"### WARC HTML extraction: {len(pages)} pages of the Python 3.11 docs "
        f"({PACKAGE}), resiliparse {version('resiliparse')}",
        "",
        f"Command: `python -m bench.bench_html --rounds {args.rounds} --thresholds "
        f"{args.thresholds}`. Truth: each page's "
        f'`<div role="main">` text ({len(no_main)} pages without one left out of the scores); '
        f"false duplicate: true main-text Jaccard < {args.false_below}.",
        "",
    ]
    header = ["", *(names[m] for m in MODES)]
    rows = [["extract, ms/page", *(speed[m] for m in MODES)]]
    rows.append(["read WARC to documents, ms/page", "-", reading["main"], reading["full"]])
    for threshold in thresholds:
        for key in scores[threshold, "old"]:
            rows.append([f"dedup {threshold}: {key}", *(scores[threshold, m][key] for m in MODES)])
    for t in PAIR_THRESHOLDS:
        key = f"page pairs, text Jaccard >= {t}, main-text Jaccard < {args.false_below}"
        rows.append([key, *(inflated[m][t] for m in MODES)])
    for key in quality["old"]:
        rows.append([key, *(quality[m][key] for m in MODES)])
    lines += _table(header, rows)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
