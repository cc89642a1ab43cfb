"""``python -m bench COMMAND ...``: dispatch to the benchmark scripts.

Commands::

    python -m bench prepare-text [...]   # bench.prepare_text: Debian docs -> human_docs.jsonl
    python -m bench corpus [...]         # bench.corpus: planted-duplicate corpora, the sample
    python -m bench minhash [...]        # bench.bench_minhash: Ouroboros vs datasketch
    python -m bench all [--quick] [--out FILE.md] [--results bench/RESULTS.md]
                                         # bench.run_all: the whole suite vs CPU baselines
    python -m bench scale [--size 1GB,5GB] # bench.bench_scale: dedup time and memory by size
    python -m bench suffix-array [...]   # bench.bench_suffix_array: vs pydivsufsort, spans
    python -m bench provenance [--quick] # bench.bench_provenance: flagging on ShareGPT outputs
    python -m bench ptx [--out DIR]      # bench.ptx: the compile lane, every kernel to PTX/SASS
    python -m bench read [--size 64MB]   # bench.bench_read: the read stage per format and core
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "prepare-text": "bench.prepare_text",
    "corpus": "bench.corpus",
    "minhash": "bench.bench_minhash",
    "all": "bench.run_all",
    "scale": "bench.bench_scale",
    "suffix-array": "bench.bench_suffix_array",
    "provenance": "bench.bench_provenance",
    "ptx": "bench.ptx",
    "read": "bench.bench_read",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        if argv and argv[0] not in ("-h", "--help"):
            print(
                f"\nunknown command {argv[0]!r}; choose from {', '.join(COMMANDS)}", file=sys.stderr
            )
            return 2
        return 0 if argv else 2
    module = importlib.import_module(COMMANDS[argv[0]])
    return module.main(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
