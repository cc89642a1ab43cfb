"""The report of real dedup, substr and flag runs, checked in Python: sections, chart
data, the largest clusters' members and diffs, evidence, skipped records, page size."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from engine.cli.main import main
from engine.report import write_report

MAX_PAGE_BYTES = 8 * 10**6  # plotly.js (~4.8 MB) plus bounded data


def _json_block(page: str, element_id: str):
    match = re.search(
        rf'<script type="application/json" id="{element_id}">(.*?)</script>', page, re.S
    )
    assert match, f"no {element_id} block"
    return json.loads(match.group(1))


def _charts(page: str) -> dict[str, dict]:
    """Chart title -> plotly figure, in page order."""
    specs = _json_block(page, "chart-data")
    titles = re.findall(
        r'<h3>([^<]*)</h3>(?:<p class="note">[^<]*</p>)?<div class="chart" id="(chart-\d+)">', page
    )
    by_id = {spec["id"]: json.loads(spec["figure"]) for spec in specs}
    assert len(titles) == len(specs)
    return {title: by_id[chart_id] for title, chart_id in titles}


EFFECTIVE = "Effective threshold: share of pairs merged per band"
HALF_BAND = 0.025  # the effective-threshold chart's bands are 0.05 wide


def _shares_by_side(figure: dict, threshold: float) -> tuple[list, list]:
    """The chart's merged shares of the bands wholly below and wholly at/above the
    threshold (bands without pairs left out)."""
    share = figure["data"][1]
    bands = [(x, v) for x, v in zip(share["x"], share["y"]) if v is not None]
    below = [v for x, v in bands if x + HALF_BAND <= threshold + 1e-9]
    above = [v for x, v in bands if x - HALF_BAND >= threshold - 1e-9]
    return below, above


def _self_contained(page: str) -> None:
    """No element loads anything: no external script, style sheet, image or frame (the
    inline plotly.js library's own strings aside)."""
    head, _, rest = page.partition("<script>")
    _library, _, body = rest.partition("</script>")
    outside = head + body
    assert "<script src" not in outside and "<link" not in outside
    assert not re.search(r"""(src|href)=["']https?://""", outside)
    assert not re.search(r"<(img|iframe)\b", outside)


def test_dedup_report(dedup_out: Path):
    path = write_report(dedup_out)
    assert path == dedup_out / "report.html"
    page = path.read_text(encoding="utf-8")
    assert path.stat().st_size < MAX_PAGE_BYTES
    _self_contained(page)
    summary = json.loads((dedup_out / "summary.json").read_text())
    charts = _charts(page)
    assert {
        "Seconds per stage",
        "Clusters by size",
        "Duplicates per input file",
        "Edge similarities",
        "Effective threshold: share of pairs merged per band",
        "Skipped by reason",
    } <= set(charts)
    # every chart has data; the cluster sizes add up to the summary's counts
    for title, figure in charts.items():
        assert any(len(trace.get("y") or trace.get("x") or []) for trace in figure["data"]), title
    sizes = charts["Clusters by size"]["data"][0]
    assert sum(sizes["y"]) == summary["counts"]["clusters"]
    per_file = charts["Duplicates per input file"]["data"]
    removed = dict(zip(per_file[0]["y"], per_file[0]["x"]))
    assert sum(removed.values()) == summary["counts"]["duplicates"]
    assert any(name.endswith("docs.jsonl.gz") for name in removed)
    # the effective threshold: every pair is in the chart; at or above the threshold
    # every pair ended in one cluster; the similarity histogram holds verified edges
    edges = pq.read_table(dedup_out / "edges.parquet")
    assert sum(charts[EFFECTIVE]["data"][0]["y"]) == edges.num_rows > 0
    _, above = _shares_by_side(charts[EFFECTIVE], summary["parameters"]["threshold"])
    assert above and all(v == 1.0 for v in above)
    histogram = charts["Edge similarities"]["data"][0]
    n_verified = pc.sum(edges["verified"]).as_py()
    assert sum(histogram["y"]) == summary["counts"]["edges_written"] == n_verified
    # skipped records by reason, with located examples
    skipped = charts["Skipped by reason"]["data"][0]
    assert dict(zip(skipped["y"], skipped["x"])) == {
        k: float(v) for k, v in summary["read"]["skipped"].items()
    }
    assert "damaged.jsonl" in page and "malformed_json" in page


def test_effective_threshold_shows_rejected_pairs(spread_dedup_out: Path):
    page = write_report(spread_dedup_out).read_text(encoding="utf-8")
    charts = _charts(page)
    figure = charts[EFFECTIVE]
    threshold = json.loads((spread_dedup_out / "summary.json").read_text())["parameters"][
        "threshold"
    ]
    below, above = _shares_by_side(figure, threshold)
    assert any(v < 1.0 for v in below) and any(v > 0.0 for v in below)
    assert above and all(v == 1.0 for v in above)
    # the chart's bands agree with the pairs of edges.parquet and clusters.parquet
    edges = pq.read_table(spread_dedup_out / "edges.parquet")
    cluster_id = pq.read_table(spread_dedup_out / "clusters.parquet")["cluster_id"].to_numpy()
    a, b = edges["a"].to_numpy(), edges["b"].to_numpy()
    similarity = edges["similarity"].to_numpy().astype(np.float64)
    bins = np.linspace(0.0, 1.0, 21)
    pairs = np.histogram(similarity, bins)[0]
    merged = np.histogram(similarity[cluster_id[a] == cluster_id[b]], bins)[0]
    bars, share = figure["data"]
    assert bars["y"] == pairs.tolist()
    expected = [None if n == 0 else m / n for m, n in zip(merged, pairs)]
    assert share["y"] == pytest.approx(expected)
    verified = edges["verified"].to_numpy(zero_copy_only=False)
    assert (~verified).sum() > 10
    assert sum(charts["Edge similarities"]["data"][0]["y"]) == verified.sum()
    assert f"{(~verified).sum():,} rejected" in page


def test_dedup_report_largest_clusters_open_to_members_and_diffs(dedup_out: Path):
    page = write_report(dedup_out).read_text(encoding="utf-8")
    clusters = _json_block(page, "cluster-data")
    table = pq.read_table(dedup_out / "clusters.parquet")
    sizes = table.group_by("cluster_id").aggregate([("doc_id", "count")])
    expected = sorted(
        ((r["doc_id_count"], -r["cluster_id"]) for r in sizes.to_pylist() if r["doc_id_count"] > 1),
        reverse=True,
    )[:20]
    assert [(c["size"], -c["cluster_id"]) for c in clusters] == expected
    assert page.count('class="cluster-row"') == len(clusters)
    first = clusters[0]
    members = table.filter(pc.equal(table["cluster_id"], first["cluster_id"]))
    assert {m["doc_id"] for m in first["members"]} == set(members["doc_id"].to_pylist())
    kept = [m for m in first["members"] if m["keep"]]
    assert len(kept) == 1 and first["members"][0]["keep"]  # the kept document first
    diffs = [m["diff_html"] for m in first["members"] if not m["keep"]]
    assert all(diffs) and any("<del>" in d or "<ins>" in d for d in diffs)
    assert "missing" not in first["kept_html"]


def test_report_of_a_run_without_edges(dedup_out: Path, tmp_path: Path):
    out = tmp_path / "copy"
    out.mkdir()
    for name in ("summary.json", "clusters.parquet"):
        (out / name).write_bytes((dedup_out / name).read_bytes())
    page = write_report(out).read_text(encoding="utf-8")
    assert "--write-edges" in page
    assert "Edge similarities" not in _charts(page)
    assert _json_block(page, "cluster-data")  # texts come from the absolute input paths


def test_substr_report(substr_out: Path):
    page = write_report(substr_out).read_text(encoding="utf-8")
    _self_contained(page)
    charts = _charts(page)
    removed = charts["Bytes removed per document (documents with spans)"]["data"][0]
    summary = json.loads((substr_out / "summary.json").read_text())
    assert sum(removed["y"]) == summary["counts"]["documents_with_spans"]
    assert "Most repeated spans" in page
    # the most repeated span's text is shown, read back from its kept copy
    spans = pq.read_table(substr_out / "spans.parquet").to_pylist()
    assert page.count('<div class="doc">') >= min(15, len(spans))


def test_flag_report(flag_out: Path):
    page = write_report(flag_out).read_text(encoding="utf-8")
    _self_contained(page)
    summary = json.loads((flag_out / "summary.json").read_text())
    charts = _charts(page)
    labels = charts["Documents per label"]["data"][0]
    assert dict(zip(labels["x"], labels["y"])) == {
        k: float(v) for k, v in summary["counts"]["labels"].items() if v
    }
    assert {"cov_doc of flagged documents", "cov_ref of flagged documents"} <= set(charts)
    # three examples per flagged label, each text read back with its evidence marked
    flagged = [k for k, v in summary["counts"]["labels"].items() if v and k != "none"]
    assert page.count('<div class="doc evidence">') == 3 * len(flagged)
    assert page.count("<mark ") >= 3 * len(flagged)
    assert '<p class="missing">' not in page


def test_report_errors_name_the_fix(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="--out folder"):
        write_report(tmp_path / "absent")
    with pytest.raises(ValueError, match="summary.json"):
        write_report(tmp_path)
    (tmp_path / "summary.json").write_text(json.dumps({"command": "reference build"}))
    with pytest.raises(ValueError, match="dedup, substr, flag"):
        write_report(tmp_path)


def test_cli_report(substr_out: Path, tmp_path: Path):
    runner = CliRunner()
    result = runner.invoke(main, ["report", str(substr_out)])
    assert result.exit_code == 0, result.output
    line = json.loads(result.output)
    assert line["report"] == str(substr_out / "report.html") and line["bytes"] > 0
    result = runner.invoke(main, ["report", str(substr_out), "--open-path-only"])
    assert result.output.strip() == str(substr_out / "report.html")
    result = runner.invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 1 and "summary.json" in result.output
