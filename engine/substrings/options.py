"""Options of the repeated-substring file pipeline (shared by its single- and
cross-shard paths)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.io import ReadOptions
from engine.run.reuse import fingerprint


@dataclass(frozen=True)
class SubstrOptions:
    """What a ``substr`` run computes.

    Attributes:
        min_span: shortest repeated substring to report, in bytes (>= 1).
        keep: "first" (later copies are marked) or "none" (every copy is marked).
        shard_size: text bytes (UTF-8) one suffix array may hold; on the cross-shard
            path, the byte budget of one exact call.
        write_deduped: also write the texts with their spans cut out.
        read: columns and policies of reading the inputs.
    """

    min_span: int = 100
    keep: str = "first"
    shard_size: int = 256 * 10**6
    write_deduped: bool = False
    read: ReadOptions = field(default_factory=ReadOptions)

    def fingerprint(self) -> str:
        """16 hex digits over every option that changes a shard's files."""
        return fingerprint(self.parameters())

    def parameters(self) -> dict:
        """The options as ``summary.json`` records them (flat, read options included)."""
        return {
            "min_span": self.min_span,
            "keep": self.keep,
            **self.read.to_dict(),
            "shard_size": self.shard_size,
            "write_deduped": self.write_deduped,
        }
