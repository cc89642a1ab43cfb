"""Parameters of the near-duplicate stage, validated once, and LSH band/row choice."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from kernels.lsh_params import optimal_bands_rows

__all__ = ["KEEP_POLICIES", "SHINGLES", "DedupParams", "optimal_bands_rows"]

KEEP_POLICIES = ("first", "longest", "earliest")
SHINGLES = ("word", "char")


@dataclass(frozen=True)
class DedupParams:
    """Near-duplicate parameters. ``bands``/``rows`` default to the optimal pair.

    Attributes:
        shingle: "word" (word n-grams) or "char" (character n-grams).
        ngram: shingle width in words or characters.
        num_perm: MinHash signature length K.
        threshold: Jaccard threshold; also the verification threshold for edges.
        bands, rows: LSH banding; both or neither.
        seed: MinHash permutation seed.
        keep: which member of a cluster is kept: "first" (lowest input position),
            "longest" (most UTF-8 bytes, ties to the lowest position) or "earliest"
            (earliest date in the date column, see :mod:`engine.io.dates`; ties and
            undated documents to the lowest position).
        max_anchors: verified anchors kept per LSH bucket (see kernels.lsh).
    """

    shingle: str = "word"
    ngram: int = 5
    num_perm: int = 128
    threshold: float = 0.8
    bands: int | None = None
    rows: int | None = None
    seed: int = 42
    keep: str = "first"
    max_anchors: int = 32
    _derived: tuple[int, int] = field(default=(0, 0), repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.shingle not in SHINGLES:
            raise ValueError(f"shingle must be one of {SHINGLES}, got {self.shingle!r}")
        if not isinstance(self.ngram, int) or self.ngram < 1:
            raise ValueError(f"ngram must be a positive integer, got {self.ngram!r}")
        if not isinstance(self.num_perm, int) or not 1 <= self.num_perm <= 1024:
            raise ValueError(f"num_perm must be an integer in [1, 1024], got {self.num_perm!r}")
        if not 0.0 < float(self.threshold) <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold!r}")
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both --bands and --rows, or neither (they are then derived)")
        if self.bands is not None:
            if self.bands < 1 or self.rows < 1 or self.bands * self.rows > self.num_perm:
                raise ValueError(
                    f"bands * rows must be at most num_perm={self.num_perm} "
                    f"(got bands={self.bands}, rows={self.rows}); lower them or raise num_perm"
                )
            derived = (self.bands, self.rows)
        else:
            derived = optimal_bands_rows(float(self.threshold), self.num_perm)
        if self.keep not in KEEP_POLICIES:
            raise ValueError(f"keep must be one of {KEEP_POLICIES}, got {self.keep!r}")
        if not 1 <= self.max_anchors <= 64:
            raise ValueError(f"max_anchors must be in [1, 64], got {self.max_anchors}")
        object.__setattr__(self, "_derived", derived)

    @property
    def band_rows(self) -> tuple[int, int]:
        """The (bands, rows) in use: given, or derived from threshold and num_perm."""
        return self._derived

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.compare}
        out["bands"], out["rows"] = self.band_rows
        return out

    def signature_fingerprint(self) -> str:
        """Hash of the parameters that determine signatures (not bands, rows, threshold)."""
        keys = ("shingle", "ngram", "num_perm", "seed")
        payload = {k: getattr(self, k) for k in keys}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
