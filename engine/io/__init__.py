"""Input and output of documents: plan partitions, read each format into Arrow
batches (``doc_id``, ``text``, ``row``), pack text for the kernels, count what cannot
be read, and write the kept documents back in the input's own format.

The names below are the package's public face; the other packages import them from
here, never from the modules inside.
"""

from engine.io.inputs import (
    READ_ERRORS,
    InputError,
    InputPart,
    ReadReport,
    parse_size,
    plan_parts,
    read_part,
)
from engine.io.options import ReadOptions

__all__ = [
    "READ_ERRORS",
    "InputError",
    "InputPart",
    "ReadOptions",
    "ReadReport",
    "parse_size",
    "plan_parts",
    "read_part",
]
