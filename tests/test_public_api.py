"""The public API is reachable from ``import engine`` alone, in a fresh interpreter
(no submodule imported first), and each name is the object its module defines."""

from __future__ import annotations

import json
import subprocess
import sys

import engine

EXPECTED = {
    "dedup",
    "minhash",
    "substr",
    "repeated_spans",
    "remove_spans",
    "suffix_array",
    "lcp_array",
    "flag",
    "build_reference",
    "add_human_text",
    "ReferenceIndex",
    "DedupResult",
    "SubstrResult",
    "FlagResult",
    "DedupParams",
    "ProvenanceParams",
    "optimal_bands_rows",
}


def test_every_export_resolves_in_a_fresh_interpreter():
    code = (
        "import json, engine\n"
        "print(json.dumps({n: callable(getattr(engine, n)) for n in engine.__all__"
        " if n != '__version__'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    resolved = json.loads(out)
    assert EXPECTED <= set(resolved)
    assert all(resolved.values()), resolved


def test_exports_are_the_pipeline_functions():
    from engine.neardup.pipeline import dedup
    from engine.provenance import build_reference, flag
    from engine.substrings.pipeline import substr

    assert engine.dedup is dedup
    assert engine.flag is flag
    assert engine.substr is substr
    assert engine.build_reference is build_reference


def test_unknown_name_is_an_attribute_error():
    try:
        engine.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("engine.no_such_thing resolved")
