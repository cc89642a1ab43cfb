"""Real human text for the benchmarks, from Debian documentation packages.

Gets prose written by people without any network access beyond Debian's package
archive (the ``apt`` sources this machine already uses):

1. ``apt-get download python3.11-doc linux-doc-6.1`` into ``bench/.cache/debs/``
   (runs ``apt-get update`` once if a download fails; one package may be missing,
   at least one must arrive);
2. ``dpkg-deb -x`` each package into ``bench/.cache/extract/<package>/``;
3. collects documents:

   - Linux kernel docs: ``Documentation/**/*.rst`` and ``*.txt`` (gzipped by Debian)
     as they are;
   - Python docs: the reStructuredText sources ``html/_sources/**/*.txt`` when the
     package ships them, else the HTML pages converted to plain text with
     :mod:`html.parser` (``script``, ``style`` and ``nav`` dropped, plus Sphinx's
     navigation blocks);

4. splits long files at paragraph boundaries (blank lines) into documents of roughly
   1-20 KB (a target size between 2 and 16 KB drawn per file from a hash of its path,
   so the split is deterministic), drops pieces under ``--min-bytes``, and writes
   ``bench/.cache/human_docs.jsonl`` with one ``{"id", "text", "source"}`` per line,
   plus ``human_docs.manifest.json`` (package versions, counts).

Every step is skipped when its output already exists (``--force`` redoes them).

Licences: the Python documentation is under the PSF License Agreement (version 2),
the Linux kernel documentation under GPL-2.0 (some files dual-licensed, see each
file's SPDX line). Keep ``source`` with any text copied out of the cache.

Usage::

    python -m bench.prepare_text              # -> bench/.cache/human_docs.jsonl
    python -m bench.prepare_text --force --python-from html
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

PROG = "python -m bench.prepare_text"
CACHE_DIR = Path(__file__).resolve().parent / ".cache"
DEFAULT_PACKAGES = ("python3.11-doc", "linux-doc-6.1")
HUMAN_DOCS = "human_docs.jsonl"
MANIFEST = "human_docs.manifest.json"

MIN_DOC_BYTES = 1000
MAX_DOC_BYTES = 20_000
TARGET_SIZES = (2000, 3000, 4000, 6000, 8000, 12_000, 16_000)

_BLANK_LINES = re.compile(r"\n[ \t]*\n")


# ---------------------------------------------------------------------------------
# 1-2. download and extract


def download_packages(packages: tuple[str, ...], debs_dir: Path) -> dict[str, Path]:
    """``apt-get download`` each package into ``debs_dir`` unless a ``.deb`` is there.

    Returns ``{package: deb path}`` for the packages that arrived. Raises
    ``RuntimeError`` when none did.
    """
    debs_dir.mkdir(parents=True, exist_ok=True)
    found: dict[str, Path] = {}
    missing: list[str] = []
    for package in packages:
        deb = _find_deb(package, debs_dir)
        if deb is not None:
            print(f"[prepare_text] have {deb.name}", file=sys.stderr)
            found[package] = deb
        else:
            missing.append(package)
    updated = False
    for package in missing:
        for attempt in range(2):
            proc = subprocess.run(
                ["apt-get", "download", package],
                cwd=debs_dir,
                capture_output=True,
                text=True,
            )
            deb = _find_deb(package, debs_dir)
            if proc.returncode == 0 and deb is not None:
                print(f"[prepare_text] downloaded {deb.name}", file=sys.stderr)
                found[package] = deb
                break
            if attempt == 0 and not updated:
                print("[prepare_text] download failed; running apt-get update", file=sys.stderr)
                subprocess.run(["apt-get", "update"], capture_output=True, text=True)
                updated = True
                continue
            print(
                f"[prepare_text] WARNING: could not download {package}: "
                f"{proc.stderr.strip().splitlines()[-1:] or proc.returncode}",
                file=sys.stderr,
            )
            break
    if not found:
        raise RuntimeError(
            f"none of {', '.join(packages)} could be downloaded; check that apt sources "
            "are configured (apt-get update) or put the .deb files in " + str(debs_dir)
        )
    return found


def _find_deb(package: str, debs_dir: Path) -> Path | None:
    debs = sorted(debs_dir.glob(f"{package}_*.deb"))
    return debs[-1] if debs else None


def deb_version(deb: Path) -> str:
    """The package version recorded in a ``.deb`` (``dpkg-deb -f deb Version``)."""
    proc = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True)
    return proc.stdout.strip() or deb.name.split("_")[1]


def extract_package(deb: Path, extract_root: Path, package: str) -> Path:
    """``dpkg-deb -x`` into ``extract_root/package`` (temporary name, then renamed)."""
    target = extract_root / package
    marker = target / ".extracted"
    if marker.exists():
        return target
    extract_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{package}.", dir=extract_root))
    try:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp)], check=True)
        (tmp / ".extracted").write_text(deb.name + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"[prepare_text] extracted {deb.name} -> {target}", file=sys.stderr)
    return target


# ---------------------------------------------------------------------------------
# 3. collect


class _HTMLText(HTMLParser):
    """Visible text of an HTML page: block elements become paragraph breaks."""

    SKIP = {"script", "style", "nav", "head", "title", "noscript", "template", "svg"}
    BLOCK = {
        "p", "div", "section", "article", "br", "li", "ul", "ol", "dl", "dt", "dd",
        "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table", "tr", "blockquote",
        "header", "footer", "aside",
    }  # fmt: skip
    # Sphinx page chrome: sidebars, related links, footers.
    SKIP_CLASSES = {"sphinxsidebar", "related", "footer", "headerlink", "mobile-nav"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._stack: list[tuple[str, bool]] = []
        self._skip_depth = 0
        self._pre_depth = 0

    VOID = {"br", "img", "hr", "meta", "link", "input", "wbr", "col", "area", "base", "source"}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = set((dict(attrs).get("class") or "").split())
        skip = tag in self.SKIP or bool(classes & self.SKIP_CLASSES)
        if tag in self.BLOCK:
            self.parts.append("\n\n")
        if tag in self.VOID:
            return
        self._stack.append((tag, skip))
        if skip:
            self._skip_depth += 1
        if tag == "pre":
            self._pre_depth += 1

    def handle_endtag(self, tag: str) -> None:
        # pop up to the matching tag (HTML in the wild is not always well nested)
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                for name, skip in self._stack[i:]:
                    if skip:
                        self._skip_depth -= 1
                    if name == "pre":
                        self._pre_depth -= 1
                del self._stack[i:]
                break
        if tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._pre_depth:
            self.parts.append(data)
        else:
            self.parts.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        joined = "".join(self.parts).replace("\xb6", "")  # Sphinx pilcrow links
        lines = [line.rstrip() for line in joined.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def html_to_text(html: str) -> str:
    """Plain text of an HTML page (stdlib :mod:`html.parser`; script/style/nav dropped)."""
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    return parser.text()


def _read_text(path: Path) -> str | None:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def linux_files(root: Path) -> Iterator[tuple[str, str]]:
    """``(source, text)`` for every ``Documentation/**/*.rst|txt[.gz]`` of linux-doc."""
    for doc_root in sorted(root.glob("usr/share/doc/linux-doc-*/Documentation")):
        package_dir = doc_root.parent.name
        for path in sorted(doc_root.rglob("*")):
            name = path.name[:-3] if path.name.endswith(".gz") else path.name
            if not path.is_file() or not name.endswith((".rst", ".txt")):
                continue
            text = _read_text(path)
            if text is not None:
                rel = path.relative_to(doc_root.parent).as_posix().removesuffix(".gz")
                yield f"{package_dir}/{rel}", text


def python_files(root: Path, prefer: str = "sources") -> Iterator[tuple[str, str]]:
    """``(source, text)`` for the Python docs: ``_sources`` text, else HTML as text."""
    for html_root in sorted(root.glob("usr/share/doc/python3*/html")):
        if html_root.is_symlink():
            continue
        package_dir = html_root.parent.name
        sources = html_root / "_sources"
        if prefer == "sources" and sources.is_dir():
            for path in sorted(sources.rglob("*.txt")):
                text = _read_text(path)
                if text is not None:
                    yield f"{package_dir}/{path.relative_to(html_root.parent).as_posix()}", text
            continue
        for path in sorted(html_root.rglob("*.html")):
            rel = path.relative_to(html_root)
            if rel.parts[0].startswith("_") or rel.name in ("genindex.html", "search.html"):
                continue
            if rel.name.startswith("genindex-") or rel.name == "py-modindex.html":
                continue
            text = _read_text(path)
            if text is not None:
                yield f"{package_dir}/html/{rel.as_posix()}", html_to_text(text)


def split_document(
    text: str,
    target_bytes: int,
    *,
    min_bytes: int = MIN_DOC_BYTES,
    max_bytes: int = MAX_DOC_BYTES,
) -> list[str]:
    """Split ``text`` at blank lines into pieces of about ``target_bytes`` UTF-8 bytes.

    Paragraphs are accumulated until a piece reaches ``target_bytes``; a paragraph
    longer than ``max_bytes`` is cut at line boundaries. A short tail is merged into
    the previous piece when that stays under ``max_bytes``. Pieces under
    ``min_bytes`` are dropped.
    """
    text = text.replace("\r\n", "\n")
    paragraphs = [p.strip("\n") for p in _BLANK_LINES.split(text)]
    units: list[str] = []
    for para in paragraphs:
        if not para.strip():
            continue
        if len(para.encode()) <= max_bytes:
            units.append(para)
            continue
        chunk: list[str] = []
        size = 0
        for line in para.split("\n"):
            n = len(line.encode()) + 1
            if chunk and size + n > target_bytes:
                units.append("\n".join(chunk))
                chunk, size = [], 0
            chunk.append(line)
            size += n
        if chunk:
            units.append("\n".join(chunk))
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for unit in units:
        n = len(unit.encode()) + 2
        if current and size + n > max_bytes:
            pieces.append("\n\n".join(current))
            current, size = [], 0
        current.append(unit)
        size += n
        if size >= target_bytes:
            pieces.append("\n\n".join(current))
            current, size = [], 0
    if current:
        tail = "\n\n".join(current)
        if pieces and size < min_bytes and len(pieces[-1].encode()) + size <= max_bytes:
            pieces[-1] = pieces[-1] + "\n\n" + tail
        else:
            pieces.append(tail)
    return [p + "\n" for p in pieces if len(p.encode()) >= min_bytes]


def target_size_for(source: str) -> int:
    """Deterministic per-file target piece size in bytes (from a hash of the path)."""
    digest = hashlib.sha1(source.encode()).digest()
    return TARGET_SIZES[digest[0] % len(TARGET_SIZES)]


def collect_documents(
    extracted: dict[str, Path], *, python_from: str = "sources", min_bytes: int = MIN_DOC_BYTES
) -> Iterator[dict]:
    """Documents ``{"id", "text", "source"}`` from the extracted packages, in a fixed order."""
    for package in sorted(extracted):
        root = extracted[package]
        if package.startswith("linux-doc"):
            files = linux_files(root)
        elif package.startswith("python3"):
            files = python_files(root, python_from)
        else:
            continue
        for source, text in files:
            pieces = split_document(text, target_size_for(source), min_bytes=min_bytes)
            for i, piece in enumerate(pieces):
                suffix = f"#{i}" if len(pieces) > 1 else ""
                yield {"id": f"{source}{suffix}", "text": piece, "source": source}


def prepare(
    cache_dir: Path = CACHE_DIR,
    packages: tuple[str, ...] = DEFAULT_PACKAGES,
    *,
    python_from: str = "sources",
    min_bytes: int = MIN_DOC_BYTES,
    force: bool = False,
) -> Path:
    """Run the steps above (skipping finished ones); returns the ``human_docs.jsonl`` path."""
    out = cache_dir / HUMAN_DOCS
    manifest_path = cache_dir / MANIFEST
    if out.exists() and manifest_path.exists() and not force:
        manifest = json.loads(manifest_path.read_text())
        print(
            f"[prepare_text] {out} exists: {manifest['documents']} docs, "
            f"{manifest['bytes'] / 1e6:.1f} MB (use --force to rebuild)"
        )
        return out
    debs = download_packages(packages, cache_dir / "debs")
    if force:
        for package in debs:
            shutil.rmtree(cache_dir / "extract" / package, ignore_errors=True)
    extracted = {
        package: extract_package(deb, cache_dir / "extract", package)
        for package, deb in debs.items()
    }
    counts: dict[str, list[int]] = {}
    tmp = out.with_name(out.name + ".tmp")
    n_docs = n_bytes = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for doc in collect_documents(extracted, python_from=python_from, min_bytes=min_bytes):
            f.write(json.dumps(doc, ensure_ascii=False) + "\n")
            size = len(doc["text"].encode())
            n_docs += 1
            n_bytes += size
            package = doc["source"].split("/", 1)[0]
            entry = counts.setdefault(package, [0, 0])
            entry[0] += 1
            entry[1] += size
    os.replace(tmp, out)
    manifest = {
        "packages": {p: {"deb": d.name, "version": deb_version(d)} for p, d in debs.items()},
        "python_from": python_from,
        "min_bytes": min_bytes,
        "documents": n_docs,
        "bytes": n_bytes,
        "by_source": {k: {"documents": v[0], "bytes": v[1]} for k, v in sorted(counts.items())},
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    for package, (docs, size) in sorted(counts.items()):
        print(f"[prepare_text]   {package}: {docs} docs, {size / 1e6:.1f} MB")
    print(f"[prepare_text] wrote {out}: {n_docs} docs, {n_bytes / 1e6:.1f} MB")
    return out


def load_human_docs(path: Path | str | None = None) -> list[dict]:
    """Read ``human_docs.jsonl`` (default: the cache's); raises with the fix if absent."""
    path = Path(path) if path is not None else CACHE_DIR / HUMAN_DOCS
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; run `python -m bench.prepare_text` first")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    parser.add_argument("--packages", nargs="+", default=list(DEFAULT_PACKAGES))
    parser.add_argument(
        "--python-from",
        choices=("sources", "html"),
        default="sources",
        help="Python docs from the shipped reST sources (default) or from the HTML pages",
    )
    parser.add_argument("--min-bytes", type=int, default=MIN_DOC_BYTES)
    parser.add_argument("--force", action="store_true", help="redo extraction and collection")
    args = parser.parse_args(argv)
    prepare(
        args.cache_dir,
        tuple(args.packages),
        python_from=args.python_from,
        min_bytes=args.min_bytes,
        force=args.force,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
