"""How a pipeline reads its inputs: one options object for every command."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_BATCH_BYTES = 64 * 2**20
DEFAULT_MAX_SKIPPED = 0.1  # a run that skips more than 10% of its records as damaged fails
#: how WARC HTML pages become text (:mod:`engine.io.html`): main content or all visible text
HTML_TEXT_MODES = ("main", "full")
DEFAULT_HTML_TEXT = "main"


def parse_share(value: str | float) -> float:
    """A share from ``"10%"``, ``"0.1"`` or 0.1, as a float in [0, 1]."""
    if isinstance(value, str):
        text = value.strip()
        try:
            share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            raise ValueError(f"expected a share like 10% or 0.1, got {value!r}") from None
    else:
        share = float(value)
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"a share must be between 0 and 1 (0%-100%), got {value!r}")
    return share


@dataclass(frozen=True)
class ReadOptions:
    """Columns and policies of reading (see :func:`engine.io.read_part`).

    Attributes:
        text_column: JSON key / Parquet column holding the text.
        id_column: column holding document ids; None: ``<path as given>:<row>``.
        strict: stop at the first malformed record instead of counting it.
        batch_bytes: text bytes per batch handed to a stage (memory per task).
        max_skipped: largest share (0-1) of damaged records (malformed, missing text,
            corrupt data: :data:`engine.io.report.STRICT_REASONS`) among all records
            a run may skip and still succeed (:func:`engine.io.report.check_skipped`);
            records of another kind (e.g. WARC images) do not count. It changes no
            result, so it is not part of :meth:`to_dict` (resume fingerprints).
        html_text: how WARC HTML responses become text: ``"main"`` (main content,
            boilerplate removed) or ``"full"`` (all visible text); see
            :mod:`engine.io.html`. Other formats ignore it.
    """

    text_column: str = "text"
    id_column: str | None = None
    strict: bool = False
    batch_bytes: int = DEFAULT_BATCH_BYTES
    max_skipped: float = DEFAULT_MAX_SKIPPED
    html_text: str = DEFAULT_HTML_TEXT

    def __post_init__(self) -> None:
        if not self.text_column:
            raise ValueError("text_column must name a column, got an empty name")
        if self.batch_bytes < 1:
            raise ValueError(f"batch_bytes must be positive, got {self.batch_bytes}")
        if not 0.0 <= float(self.max_skipped) <= 1.0:
            raise ValueError(
                f"max_skipped must be a share between 0 and 1 (e.g. 0.1 or '10%'), "
                f"got {self.max_skipped!r}"
            )
        if self.html_text not in HTML_TEXT_MODES:
            raise ValueError(
                f"html_text must be one of {list(HTML_TEXT_MODES)} (main content or all "
                f"visible text of HTML pages), got {self.html_text!r}"
            )

    def read_part_kwargs(self) -> dict:
        """Keyword arguments of :func:`engine.io.read_part` for these options."""
        return {
            "text_column": self.text_column,
            "id_column": self.id_column,
            "strict": self.strict,
            "batch_bytes": self.batch_bytes,
            "html_text": self.html_text,
        }

    def to_dict(self) -> dict:
        """The parameters a summary records (batch size aside: it changes no result)."""
        return {
            "text_column": self.text_column,
            "id_column": self.id_column,
            "strict": self.strict,
            "html_text": self.html_text,
        }
