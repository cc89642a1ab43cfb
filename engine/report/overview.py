"""Sections every report has, from ``summary.json`` alone: the run at a glance (counts,
parameters), timings per stage with throughput, and skipped records by reason."""

from __future__ import annotations

import html

from engine.report.charts import bar_chart
from engine.report.page import Section, table_html

__all__ = ["overview_section", "skipped_section", "timings_section"]

EXAMPLES_PER_REASON = 5  # located examples shown per skip reason
MAX_INPUTS_SHOWN = 10


def _flat_counts(counts: dict) -> list[tuple[str, object]]:
    """``counts`` with nested dicts one level deep as ``outer.inner`` (scalars only)."""
    flat = []
    for key, value in counts.items():
        if isinstance(value, dict):
            flat.extend((f"{key}.{k}", v) for k, v in value.items() if _scalar(v))
        elif _scalar(value):
            flat.append((key, value))
    return flat


def _scalar(value) -> bool:
    return isinstance(value, (int, float, str, bool)) or value is None


def overview_section(summary: dict) -> Section:
    """Command, inputs, backend, counts and parameters of the run."""
    inputs = [str(i) for i in summary.get("inputs", [])]
    shown = ", ".join(inputs[:MAX_INPUTS_SHOWN])
    if len(inputs) > MAX_INPUTS_SHOWN:
        shown += f" and {len(inputs) - MAX_INPUTS_SHOWN:,} more"
    read = summary.get("read", {})
    facts = [
        ["command", summary.get("command", "?")],
        ["inputs", shown or "(in-memory data)"],
        ["files read", read.get("files", "?")],
        ["backend", summary.get("backend", "?")],
        ["scheduler", summary.get("scheduler", "?")],
        ["version", summary.get("versions", {}).get("ouroboros", "?")],
    ]
    counts = table_html(
        ["count", "value"], [list(row) for row in _flat_counts(summary.get("counts", {}))]
    )
    params = table_html(
        ["parameter", "value"],
        [[k, v] for k, v in summary.get("parameters", {}).items() if _scalar(v)],
    )
    body = [
        table_html(["", ""], facts, cls="facts"),
        '<div class="grid"><div><h3>Counts</h3>',
        counts,
        "</div><div><h3>Parameters</h3>",
        params,
        "</div></div>",
    ]
    return Section("Run", "run", body=body)


def timings_section(summary: dict) -> Section:
    """Seconds per stage, share of the run, and input throughput per stage (MB/s of the
    run's input bytes, documents per second)."""
    timings = {k: float(v) for k, v in summary.get("timings_s", {}).items()}
    counts = summary.get("counts", {})
    total_bytes = counts.get("bytes") or 0
    documents = counts.get("documents") or summary.get("read", {}).get("documents") or 0
    total_s = sum(timings.values())
    rows = []
    for stage, seconds in timings.items():
        share = seconds / total_s if total_s else 0.0
        mb_s = total_bytes / 1e6 / seconds if seconds > 0 and total_bytes else None
        docs_s = documents / seconds if seconds > 0 and documents else None
        rows.append(
            [
                stage,
                f"{seconds:,.3f}",
                f"{share:.1%}",
                "—" if mb_s is None else f"{mb_s:,.1f}",
                "—" if docs_s is None else f"{docs_s:,.0f}",
            ]
        )
    if total_s:
        overall = total_bytes / 1e6 / total_s if total_bytes else None
        rows.append(
            [
                "all stages",
                f"{total_s:,.3f}",
                "100%",
                "—" if overall is None else f"{overall:,.1f}",
                f"{documents / total_s:,.0f}" if documents else "—",
            ]
        )
    section = Section("Timings", "timings")
    if not timings:
        section.body.append('<p class="note">The summary records no timings.</p>')
        return section
    section.body.append(
        table_html(["stage", "seconds", "share", "input MB/s", "documents/s"], rows)
    )
    section.charts.append(
        bar_chart(
            "Seconds per stage",
            list(timings),
            list(timings.values()),
            horizontal=True,
            y_title="seconds",
            text=[f"{v:,.2f} s" for v in timings.values()],
        )
    )
    return section


def skipped_section(summary: dict) -> Section:
    """Skipped records (rows, files) by reason, with located examples of each reason."""
    read = summary.get("read", {})
    skipped = {str(k): int(v) for k, v in read.get("skipped", {}).items()}
    section = Section("Skipped records", "skipped")
    extra = []
    if read.get("invalid_utf8_documents"):
        extra.append(
            f"{read['invalid_utf8_documents']:,} documents had invalid UTF-8 "
            "(replaced by U+FFFD, kept)"
        )
    if read.get("fallback_ids"):
        extra.append(f"{read['fallback_ids']:,} documents had no id (given <path>:<row>)")
    if extra:
        section.body.append(f'<p class="note">{html.escape("; ".join(extra))}.</p>')
    if not skipped:
        section.body.append("<p>Nothing was skipped: every record was read.</p>")
        return section
    total = sum(skipped.values())
    section.body.append(f"<p>{total:,} records or files skipped, by reason:</p>")
    ordered = sorted(skipped.items(), key=lambda item: -item[1])
    section.charts.append(
        bar_chart(
            "Skipped by reason",
            [r for r, _ in ordered],
            [c for _, c in ordered],
            horizontal=True,
            y_title="records or files",
        )
    )
    rows = []
    problems = read.get("problems", [])
    for reason, count in ordered:
        examples = [p for p in problems if p.get("reason") == reason][:EXAMPLES_PER_REASON]
        for problem in examples:
            where = next(
                (f"{key} {problem[key]:,}" for key in ("line", "row", "offset") if key in problem),
                "",
            )
            rows.append([reason, count, problem.get("file", ""), where, problem.get("detail", "")])
        if not examples:
            rows.append([reason, count, "", "", "(no located example kept)"])
    section.after.append(table_html(["reason", "skipped", "file", "where", "detail"], rows))
    omitted = read.get("problems_omitted", 0)
    if omitted:
        section.after.append(f'<p class="note">{omitted:,} more examples were not kept.</p>')
    return section
