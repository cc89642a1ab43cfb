"""The ``python`` examples of README.md's "## From Python" section run as written.

``OUROBOROS_README`` names another Markdown file holding that section (default: the
checkout's README.md). The blocks run in order in one namespace, in a temporary working
directory, so a block may use what an earlier one made.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEADING = "## From Python"


def section(text: str, heading: str) -> str:
    """The lines under ``heading`` up to the next heading of the same level."""
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == heading)
    except StopIteration:
        return ""
    end = next(
        (i for i in range(start + 1, len(lines)) if re.match(r"#{1,2} ", lines[i])),
        len(lines),
    )
    return "\n".join(lines[start + 1 : end])


def python_blocks(text: str) -> list[str]:
    """The bodies of the ```python fenced blocks of ``text``, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def test_section_extraction():
    text = "# T\n## From Python\nx\n```python\na = 1\n```\n### Sub\n```python\nb = a\n```\n## Next\n```python\nc\n```\n"  # noqa: E501
    assert python_blocks(section(text, HEADING)) == ["a = 1\n", "b = a\n"]
    assert section("## Other\n", HEADING) == ""


def test_from_python_examples_run(tmp_path, monkeypatch, capsys):
    readme = Path(os.environ.get("OUROBOROS_README", ROOT / "README.md"))
    blocks = python_blocks(section(readme.read_text(), HEADING))
    assert blocks, f"{readme} has no ```python block under {HEADING!r}"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"{readme.name}:{HEADING}:block{i}", "exec"), namespace)
        except Exception as err:  # the failing block, whole, in the report
            pytest.fail(f"block {i} failed: {type(err).__name__}: {err}\n{block}")
