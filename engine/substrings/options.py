"""Options of the repeated-substring file pipeline (shared by its single- and
cross-shard paths)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class SubstrOptions:
    min_span: int = 100
    keep: str = "first"
    text_column: str = "text"
    id_column: str | None = None
    strict: bool = False
    shard_size: int = 256 * 10**6
    write_deduped: bool = False

    def fingerprint(self) -> str:
        payload = json.dumps(self.__dict__, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]
