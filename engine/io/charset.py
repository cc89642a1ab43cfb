"""Payload bytes to text: which character encoding a WARC response is in.

The first of these that applies decides (:func:`decode_payload`):

1. a byte-order mark (UTF-8, UTF-16, UTF-32): it cannot be there by chance;
2. the ``charset`` of the HTTP ``Content-Type`` header;
3. for HTML, a ``<meta charset=...>`` or ``<meta http-equiv="Content-Type"
   content="...; charset=...">`` in the first :data:`META_SCAN_BYTES` bytes (a meta
   tag that says UTF-16 means UTF-8, as in browsers: the tag was readable as ASCII);
4. nothing declared (or a name Python does not know): UTF-8 when the bytes are valid
   UTF-8 (a sequence cut at the very end included: a truncated body), else the
   encoding detected by resiliparse (uchardet) from the bytes. Such documents are
   counted as ``charset_detected`` in the read report (a warning, not a skip).

Declared ``ISO-8859-1``, ``ASCII`` and ``latin1`` labels decode as Windows-1252, as
browsers do (WHATWG Encoding Standard): pages labelled Latin-1 routinely hold
Windows-1252 quotes and dashes in bytes 0x80-0x9F. A declared encoding is trusted:
bytes it cannot decode become U+FFFD and the document is counted as having invalid
bytes (``invalid_utf8_documents``), never re-guessed.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from resiliparse.parse.encoding import detect_encoding

__all__ = ["CHARSET_DETECTED", "META_SCAN_BYTES", "Decoded", "decode_payload"]

CHARSET_DETECTED = "charset_detected"  # read-report warning reason
META_SCAN_BYTES = 4096  # bytes of an HTML page searched for a meta charset
DETECT_BYTES = 25_000  # bytes the detector looks at

_META_CHARSET = re.compile(
    rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]{1,40})", re.I
)
_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_AS_WINDOWS_1252 = frozenset({"latin-1", "iso8859-1", "ascii"})  # Python codec names


@dataclass(frozen=True)
class Decoded:
    """A decoded payload.

    Attributes:
        text: the payload as text (undecodable bytes as U+FFFD).
        invalid: some bytes could not be decoded.
        charset: the Python codec used (e.g. ``"utf-8"``, ``"cp1252"``, ``"shift_jis"``).
        source: what chose it: ``"bom"``, ``"header"``, ``"meta"``, ``"utf-8"`` (nothing
            declared, valid UTF-8) or ``"detected"``.
        detail: for ``"detected"``, why detection ran and what it found (a report line).
    """

    text: str
    invalid: bool
    charset: str
    source: str
    detail: str = ""


def decode_payload(payload: bytes, declared: str | None, *, html: bool) -> Decoded:
    """Decode a response body (see the module docstring for the order of evidence).

    Args:
        payload: the body, content-decoded (bytes).
        declared: the ``charset`` parameter of the HTTP ``Content-Type``, or None.
        html: look for a meta charset in the page.
    """
    for mark, codec in _BOMS:
        if payload.startswith(mark):
            return _decode(payload[len(mark) :], codec, "bom")
    unknown = []
    codec = _codec(declared, unknown)
    if codec is not None:
        return _decode(payload, codec, "header")
    if html:
        found = _META_CHARSET.search(payload, 0, META_SCAN_BYTES)
        if found is not None:
            codec = _codec(found.group(1).decode("ascii"), unknown)
            if codec is not None:
                return _decode(payload, "utf-8" if codec.startswith("utf-") else codec, "meta")
    try:
        return Decoded(payload.decode("utf-8"), False, "utf-8", "utf-8")
    except UnicodeDecodeError as err:
        if err.reason == "unexpected end of data" and err.end == len(payload):
            return Decoded(payload.decode("utf-8", "replace"), True, "utf-8", "utf-8")
    codec = _codec(detect_encoding(payload, max_len=DETECT_BYTES), []) or "utf-8"
    why = f"charset {unknown[0]!r} unknown" if unknown else "no charset declared"
    decoded = _decode(payload, codec, "detected")
    detail = f"{why} and not UTF-8: decoded as {codec} (detected)"
    return Decoded(decoded.text, decoded.invalid, codec, "detected", detail)


def _codec(name: str | None, unknown: list[str]) -> str | None:
    """Python's codec name for a charset label (Latin-1 labels as cp1252); None for no
    label, or an unknown one (appended to ``unknown``)."""
    if not name:
        return None
    try:
        info = codecs.lookup(name.strip())
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):  # base64, zlib, ...
        unknown.append(name)
        return None
    codec = info.name
    return "cp1252" if codec in _AS_WINDOWS_1252 else codec


def _as_c1(err: UnicodeDecodeError) -> tuple[str, int]:
    """cp1252's five unassigned bytes (0x81 0x8D 0x8F 0x90 0x9D) as the C1 controls of
    the same value, as browsers decode them."""
    return err.object[err.start : err.end].decode("latin-1"), err.end


codecs.register_error("ouroboros-cp1252-c1", _as_c1)


def _decode(payload: bytes, codec: str, source: str) -> Decoded:
    try:
        return Decoded(payload.decode(codec), False, codec, source)
    except UnicodeDecodeError:
        if codec == "cp1252":
            return Decoded(payload.decode(codec, "ouroboros-cp1252-c1"), False, codec, source)
        return Decoded(payload.decode(codec, "replace"), True, codec, source)
