"""How a pipeline reads its inputs: one options object for every command."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_BATCH_BYTES = 64 * 2**20


@dataclass(frozen=True)
class ReadOptions:
    """Columns and policies of reading (see :func:`engine.io.read_part`).

    Attributes:
        text_column: JSON key / Parquet column holding the text.
        id_column: column holding document ids; None: ``<path as given>:<row>``.
        strict: stop at the first malformed record instead of counting it.
        batch_bytes: text bytes per batch handed to a stage (memory per task).
    """

    text_column: str = "text"
    id_column: str | None = None
    strict: bool = False
    batch_bytes: int = DEFAULT_BATCH_BYTES

    def __post_init__(self) -> None:
        if not self.text_column:
            raise ValueError("text_column must name a column, got an empty name")
        if self.batch_bytes < 1:
            raise ValueError(f"batch_bytes must be positive, got {self.batch_bytes}")

    def read_part_kwargs(self) -> dict:
        """Keyword arguments of :func:`engine.io.read_part` for these options."""
        return {
            "text_column": self.text_column,
            "id_column": self.id_column,
            "strict": self.strict,
            "batch_bytes": self.batch_bytes,
        }

    def to_dict(self) -> dict:
        """The parameters a summary records (batch size aside: it changes no result)."""
        return {
            "text_column": self.text_column,
            "id_column": self.id_column,
            "strict": self.strict,
        }
