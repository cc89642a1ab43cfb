"""WARC HTML to text: main content vs full text, charset evidence and detection, damage."""

from __future__ import annotations

import io
import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

import engine
from engine.cli import main as cli_main
from engine.cli.options import html_text_option
from engine.io import InputError, ReadOptions, ReadReport, html_to_text, plan_parts, read_part
from engine.io.charset import decode_payload
from engine.io.options import DEFAULT_HTML_TEXT, HTML_TEXT_MODES
from engine.neardup.params import DedupParams
from engine.neardup.signatures import signature_fingerprint

VOCABULARY = (
    "archive border candle delta ember fabric garden harbor island jungle kettle lantern "
    "meadow needle orchard pepper quartz river saddle timber umbrella valley willow yarrow "
    "zephyr anchor bridge copper dune engine falcon glacier hollow ivory jasper kernel"
).split()


def words(n: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(VOCABULARY) for _ in range(n))


NAV = "".join(f'<li><a href="/p{i}">{words(3, 100 + i)}</a></li>' for i in range(60))
RELATED = "".join(f'<li><a href="/r{i}">{words(4, 300 + i)}</a></li>' for i in range(30))
FOOTER = words(200, 7)


def site_page(title: str, body: str) -> str:
    """A page of one site: a long shared header, navigation, sidebar and footer around a
    short article of its own."""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title} | Site</title>"
        "</head><body><header><div class='logo'>Example Site</div>"
        f"<nav class='navigation'><ul>{NAV}</ul></nav></header>"
        f"<div class='wrapper'><main><article><h1>{title}</h1><p>{body}</p></article></main>"
        f"<aside><h2>Related</h2><ul>{RELATED}</ul></aside></div>"
        f"<footer><p>{FOOTER}</p></footer></body></html>"
    )


def write_warc(path, responses: list[tuple[str, list[tuple[str, str]], bytes]]) -> str:
    """``responses``: (url, HTTP headers, body bytes), one response record each."""
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=str(path).endswith(".gz"))
        for url, headers, body in responses:
            http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
            record = writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), http_headers=http
            )
            writer.write_record(record)
    return str(path)


def read_warc_file(path: str, **kwargs) -> tuple[pa.Table | None, ReadReport]:
    report = ReadReport()
    tables = []
    for part in plan_parts([path], partition_size=2**30, report=report):
        tables.extend(read_part(part, report=report, **kwargs))
    return (pa.concat_tables(tables) if tables else None), report


HTML = [("Content-Type", "text/html")]


# --------------------------------------------------------------------------- modes


def test_main_content_drops_boilerplate_full_keeps_it():
    page = site_page("Baking bread", "Knead the dough for ten minutes, then let it rest.")
    main = html_to_text(page)
    assert main == "Baking bread\nKnead the dough for ten minutes, then let it rest."
    full = html_to_text(page, "full")
    for boilerplate in ("Example Site", words(3, 100), words(4, 300), FOOTER):
        assert boilerplate in full and boilerplate not in main
    assert main.split("\n")[0] in full and "Site</title>" not in full  # no head, no markup
    assert DEFAULT_HTML_TEXT == "main" and HTML_TEXT_MODES == ("main", "full")


def test_normalized_lines_and_dropped_elements():
    page = (
        "<body><div><div><p>a &amp;\u00a0b  \t c</p><pre>x  y\n\n  z</pre>"
        "<script>var s = '<p>no</p>';</script><style>p {}</style><noscript>js</noscript>"
        "<img alt='picture'><template><p>t</p></template><!-- comment -->"
        "<p></p><p>   </p><p>last</p></div></div></body>"
    )
    for mode in HTML_TEXT_MODES:
        assert html_to_text(page, mode) == "a & b c\nx y\nz\nlast"
    assert html_to_text("") == "" and html_to_text("<p> </p>", "full") == ""
    with pytest.raises(ValueError, match="html_text must be one of"):
        html_to_text("<p>x</p>", "article")


@pytest.mark.parametrize(
    "html",
    [
        "<p>unclosed <b>bold <i>italic",
        "</div></p></body><td>cell<tr><p>row",
        "<<<>>>< p>&#xZZZ; &unknown; &#99999999;",
        "<!-- never closed comment <p>hidden",
        "<script>never closed",
        "<div>" * 5000 + "deep" + "</div>" * 10,
        "<p a='1' a='2' b=\"x>y\">attrs</p><svg><foreignObject><p>in svg</p>",
        "\x00<p>nul\x00byte</p>\x0b\x0c",
        "<html><html><body><body><frameset><p>twice</p>",
    ],
)
def test_malformed_html_does_not_crash(html):
    for mode in HTML_TEXT_MODES:
        text = html_to_text(html, mode)
        assert isinstance(text, str) and "\n\n" not in text and text == text.strip()


def test_random_markup_does_not_crash():
    rng = random.Random(1)
    pieces = ["<", ">", "/", "p", "div", "nav", " ", "&", "#", ";", "x", '"', "=", "!--", "é"]
    for _ in range(300):
        html = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 300)))
        for mode in HTML_TEXT_MODES:
            assert isinstance(html_to_text(html, mode), str)


def test_mode_is_checked_everywhere(tmp_path):
    with pytest.raises(ValueError, match="html_text must be one of"):
        ReadOptions(html_text="article")
    assert ReadOptions().to_dict()["html_text"] == "main"
    assert ReadOptions(html_text="full").read_part_kwargs()["html_text"] == "full"
    path = write_warc(tmp_path / "a.warc", [("http://e.com/", HTML, b"<p>x</p>")])
    with pytest.raises(InputError, match="html_text must be one of"):
        read_warc_file(path, html_text="Main")
    assert list(html_text_option(lambda: None).__click_params__[0].type.choices) == list(
        HTML_TEXT_MODES
    )


# --------------------------------------------------------------------------- charsets


def test_undeclared_charsets_are_detected_and_counted(tmp_path):
    german = "Grüße aus Köln: die Straße am Fluss, schöne Äpfel und süße Birnen für alle."
    japanese = "日本語のテキストです。これは文字コードの検出のためのテストの文章です。"
    pages = [
        ("http://e.com/de", HTML, f"<p>{german}</p>".encode("cp1252")),
        ("http://e.com/jp", HTML, f"<p>{japanese}</p>".encode("shift_jis")),
        ("http://e.com/plain", [("Content-Type", "text/plain")], german.encode("cp1252")),
        ("http://e.com/utf8", HTML, f"<p>{german}</p>".encode()),  # valid UTF-8: no detection
        ("http://e.com/ascii", HTML, b"<p>plain words</p>"),
    ]
    table, report = read_warc_file(write_warc(tmp_path / "c.warc.gz", pages))
    assert table["text"].to_pylist() == [german, japanese, german, german, "plain words"]
    assert report.warnings == {"charset_detected": 3}
    assert report.skipped == {} and report.invalid_utf8_documents == 0
    examples = [p for p in report.problems if p["reason"] == "charset_detected"]
    assert [p["row"] for p in examples] == [0, 1, 2]
    assert "no charset declared" in examples[1]["detail"] and "shift_jis" in examples[1]["detail"]
    summary = json.loads(json.dumps(report.to_dict()))
    assert summary["warnings"] == {"charset_detected": 3}
    assert ReadReport.from_dict(summary) == report


def test_declared_charsets_win_in_order(tmp_path):
    text = "café – “quoted”"
    meta = "<html><head><meta http-equiv='Content-Type' content='text/html; charset=cp1252'>"
    pages = [
        # the HTTP header beats the meta tag
        ("http://e.com/1", [("Content-Type", "text/html; charset=utf-8")],
         f"{meta}</head><body><p>{text}</p>".encode()),
        # the meta tag when the header says nothing
        ("http://e.com/2", HTML, f"{meta}</head><body><p>{text}</p>".encode("cp1252")),
        # a byte-order mark beats a wrong header
        ("http://e.com/3", [("Content-Type", "text/html; charset=iso-8859-1")],
         f"<p>{text}</p>".encode("utf-16")),
        # a Latin-1 label decodes as Windows-1252 (curly quotes in 0x93/0x94)
        ("http://e.com/4", [("Content-Type", "text/plain; charset=ISO-8859-1")],
         text.encode("cp1252")),
        # a meta tag saying UTF-16 on an ASCII-readable page means UTF-8
        ("http://e.com/5", HTML, f"<meta charset='utf-16'><p>{text}</p>".encode()),
    ]  # fmt: skip
    table, report = read_warc_file(write_warc(tmp_path / "d.warc", pages))
    assert table["text"].to_pylist() == [text] * 5
    assert report.warnings == {} and "warnings" not in report.to_dict()
    assert report.invalid_utf8_documents == 0


def test_declared_charset_is_trusted_and_unknown_one_detected():
    wrong = decode_payload("Grüße".encode("cp1252"), "utf-8", html=False)
    assert wrong.text == "Gr\ufffd\ufffde" and wrong.invalid and wrong.source == "header"
    unknown = decode_payload("Grüße aus Köln".encode("cp1252"), "x-klingon", html=False)
    assert unknown.text == "Grüße aus Köln" and unknown.source == "detected"
    assert "'x-klingon' unknown" in unknown.detail
    not_text = decode_payload(b"plain", "base64", html=False)  # a bytes-to-bytes codec
    assert not_text.text == "plain" and not_text.source == "utf-8"
    cut = decode_payload("naï".encode()[:-1], None, html=True)  # a body cut mid-character
    assert cut.source == "utf-8" and cut.invalid and cut.text == "na\ufffd"
    undefined = decode_payload(b"\x81\x93x\x94", "windows-1252", html=False)
    assert undefined.text == "\x81“x”" and not undefined.invalid


# --------------------------------------------------------------------------- WARC reading


def test_warc_modes_and_empty_main_content(tmp_path):
    pages = [
        ("http://e.com/a", HTML, site_page("Alpha", words(30, 1)).encode()),
        ("http://e.com/hub", HTML, f"<body><nav><ul>{NAV}</ul></nav></body>".encode()),
    ]
    path = write_warc(tmp_path / "m.warc.gz", pages)
    main, report = read_warc_file(path)
    assert main["text"].to_pylist() == [f"Alpha\n{words(30, 1)}", ""]  # read, not skipped
    assert report.warnings == {"html_no_main_content": 1} and report.skipped == {}
    full, report = read_warc_file(path, html_text="full")
    texts = full["text"].to_pylist()
    assert FOOTER in texts[0] and words(3, 100) in texts[1]
    assert report.warnings == {}


def test_malformed_pages_in_a_warc_are_read(tmp_path):
    bodies = [b"<p>broken <b>markup", b"\xff\xfe\x00<", b"", b"<" * 10000, b"\x00\x01\x02"]
    pages = [(f"http://e.com/{i}", HTML, body) for i, body in enumerate(bodies)]
    table, report = read_warc_file(write_warc(tmp_path / "bad.warc", pages), html_text="full")
    assert table.num_rows == len(bodies) and report.skipped == {}
    assert table["text"].to_pylist()[0] == "broken markup"


# --------------------------------------------------------------------------- dedup


def test_dedup_main_content_avoids_false_duplicates_and_refingerprints(tmp_path):
    """Short pages of one site: their shared navigation and footer make them near-
    duplicates as full text; their main content does not."""
    pages = [
        (f"http://e.com/{i}", HTML, site_page(f"Page {i}", words(10, 50 + i)).encode())
        for i in range(4)
    ]
    path = write_warc(tmp_path / "site.warc.gz", pages)
    out = tmp_path / "out"
    run = dict(id_column="url", backend="cpu", scheduler="threads", workers=1, progress=False)
    main = engine.dedup([path], out=str(out), **run)
    assert main.clusters["cluster_size"].to_pylist() == [1, 1, 1, 1]
    full = engine.dedup([path], out=str(out), html_text="full", **run)  # same folder
    assert full.clusters["cluster_size"].to_pylist() == [4, 4, 4, 4]
    assert full.summary["counts"]["partitions_reused"] == 0
    again = engine.dedup([path], out=str(out), html_text="full", **run)
    assert again.summary["counts"]["partitions_reused"] == 1
    params = DedupParams()
    assert signature_fingerprint(params, ReadOptions()) != signature_fingerprint(
        params, ReadOptions(html_text="full")
    )


def test_cli_html_text(tmp_path):
    pages = [
        (f"http://e.com/{i}", HTML, site_page(f"Page {i}", words(10, 80 + i)).encode())
        for i in range(3)
    ]
    path = write_warc(tmp_path / "site.warc", pages)
    run = ["--id-column", "url", "--scheduler", "threads", "--backend", "cpu", "-q"]
    for mode, sizes in (("full", [3, 3, 3]), ("main", [1, 1, 1])):
        out = tmp_path / mode
        args = ["dedup", path, "--out", str(out), "--html-text", mode, *run]
        result = CliRunner().invoke(cli_main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert pq.read_table(out / "clusters.parquet")["cluster_size"].to_pylist() == sizes
        summary = json.loads((out / "summary.json").read_text())
        assert summary["parameters"]["html_text"] == mode
    bad = CliRunner().invoke(
        cli_main, ["dedup", path, "--out", str(tmp_path / "x"), "--html-text", "article"]
    )
    assert bad.exit_code == 2 and "main" in bad.output and "full" in bad.output
