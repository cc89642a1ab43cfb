"""Inputs behind fsspec URLs (``s3://``, ``gs://``, ``hf://``, ``https://``): listing,
sizes, Parquet footers and opening, for the planner and the format readers.

What a URL is and where its storage options come from: :mod:`engine.run.storage`.

Planning (:class:`RemoteInputs`, used by :func:`engine.io.plan_parts`):

- a URL naming an object is one file; a URL naming a prefix ("folder") is every object
  under it, in sorted order, hidden ones (a path component starting with ``.``) and
  folder markers (keys ending in ``/``) left out, like the local walk;
- sizes come from the listing, Parquet footers are read remotely, so Parquet files are
  split into groups of row groups as locally; a plain JSONL file is one part per file
  (splitting it at line starts would mean reading all of it in the driver);
- a missing object or prefix is the same ``InputError`` as a missing local input,
  naming the URL; the same URL given twice is counted as ``duplicate_input``; an
  uploaded Ouroboros output (a ``summary.json`` recording ``remote_out``,
  :mod:`engine.run.remote_out`) is an error when given, counted as ``ouroboros_output``
  inside a prefix. The local checks for links and special files do not apply.

Reading: every reader opens its part through :func:`open_input`, which opens a local
path with :func:`open` and a URL with the fsspec filesystem of the part's storage
options (:attr:`engine.io.InputPart.storage_options`), in the worker.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import BinaryIO

import pyarrow.parquet as pq

from engine.io.report import InputError, ReadReport
from engine.run.storage import (
    StorageError,
    filesystem,
    is_url,
    options_for,
    resolve_storage_options,
)

__all__ = [
    "RemoteInputs",
    "input_size",
    "is_remote",
    "open_input",
    "open_parquet",
    "parquet_metadata",
]

OUTPUT_SUMMARY = "summary.json"  # with a "remote_out" entry: an uploaded output


def is_remote(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a URL read through fsspec (a protocol other than ``file://``)."""
    return is_url(path)


def open_input(
    path: str, storage_options: Mapping | None = None, *, buffering: int = -1
) -> BinaryIO:
    """Open an input file for binary reading: ``open(path, "rb", buffering)`` for a
    local path, the fsspec file (seekable, buffered) for a URL.

    Raises:
        OSError: the file cannot be opened (``FileNotFoundError`` when it is gone).
        StorageError: the URL's filesystem cannot be made (see
            :func:`engine.run.storage.filesystem`).
    """
    if not is_url(path):
        return open(path, "rb", buffering=buffering)
    fs, inner = filesystem(path, storage_options)
    try:
        return fs.open(inner, "rb")
    except TypeError as err:  # options checked only when the first request is made
        raise StorageError(f"cannot open {path}: storage options refused ({err})") from None


def input_size(path: str, storage_options: Mapping | None = None) -> int:
    """The size of an input file in bytes (``FileNotFoundError`` when it is gone)."""
    if not is_url(path):
        return os.path.getsize(path)
    fs, inner = filesystem(path, storage_options)
    return int(fs.size(inner) or 0)


def parquet_metadata(path: str, storage_options: Mapping | None = None) -> pq.FileMetaData:
    """The footer of a local or remote Parquet file (only the footer is fetched)."""
    if not is_url(path):
        return pq.read_metadata(path)
    with open_input(path, storage_options) as stream:
        return pq.read_metadata(stream)


class _ParquetSource:
    """A :class:`pyarrow.parquet.ParquetFile` over a local path or a remote file object;
    ``close`` closes the remote file too."""

    def __init__(self, path: str, storage_options: Mapping | None, **kwargs) -> None:
        self._stream = open_input(path, storage_options) if is_url(path) else None
        try:
            self.file = pq.ParquetFile(self._stream or path, **kwargs)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    def __enter__(self) -> pq.ParquetFile:
        return self.file

    def __exit__(self, *exc) -> None:
        self.close()


def open_parquet(path: str, storage_options: Mapping | None = None, **kwargs) -> _ParquetSource:
    """``with open_parquet(path, options, **kwargs) as parquet:`` a
    :class:`pyarrow.parquet.ParquetFile` (``kwargs`` go to it) of a local or remote file."""
    return _ParquetSource(path, storage_options, **kwargs)


class RemoteInputs:
    """The remote inputs of one plan: their files, sizes and storage options.

    Args:
        storage_options: options given explicitly (None: from the environment, see
            :func:`engine.run.storage.resolve_storage_options`), resolved at the first URL.
        report: where a URL given twice is counted; None raises instead.
    """

    def __init__(self, storage_options: Mapping | None, report: ReadReport | None) -> None:
        self._given_options = storage_options
        self._options: dict | None = None
        self.report = report
        self.sizes: dict[str, int] = {}  # file URL -> bytes, from the listing

    @property
    def options(self) -> dict:
        if self._options is None:
            self._options = resolve_storage_options(self._given_options)
        return self._options

    def holds(self, path: str) -> bool:
        """Whether ``path`` is one of the remote files listed here."""
        return path in self.sizes

    def options_for(self, path: str) -> dict | None:
        """The storage options a part of ``path`` carries (None for a local file)."""
        return options_for(path, self.options) if self.holds(path) else None

    def add_input(self, given: str) -> list[tuple[str, str]]:
        """The files of one URL as ``(given spelling, URL to open)``, in sorted order.

        Raises:
            InputError: the URL does not exist or cannot be listed.
            StorageError: the filesystem cannot be made with the storage options.
        """
        fs, root = filesystem(given, self.options)
        entries = self._list(fs, root, given)
        files = []
        for rel, name, size in entries:
            url = fs.unstrip_protocol(name)
            spelled = given if rel is None else f"{given.rstrip('/')}/{rel}"
            if url in self.sizes:
                self._repeat(spelled)
                continue
            self.sizes[url] = size
            files.append((spelled, url))
        return files

    def _list(self, fs, root: str, given: str) -> list[tuple[str | None, str, int]]:
        """``(path relative to root or None for the root itself, name, size)`` entries."""
        try:
            fs.invalidate_cache(root)  # see objects written since an earlier listing
            info = fs.info(root)
            if info.get("type") != "directory":
                return [(None, info["name"], int(info.get("size") or 0))]
            found = fs.find(root, detail=True)
        except FileNotFoundError:
            raise InputError(
                f"input not found: {given!r}. Check the URL (bucket, key or prefix) and "
                "that the storage options point at the right server"
            ) from None
        except TypeError as err:  # s3fs checks its options at the first request
            raise StorageError(f"cannot open {given}: storage options refused ({err})") from None
        except OSError as err:
            raise InputError(f"cannot read input {given!r}: {err}") from None
        except Exception as err:  # filesystems raise their own kinds (e.g. no credentials)
            raise InputError(
                f"cannot read input {given!r}: {type(err).__name__}: {err}. Give credentials "
                "and the endpoint with --storage-options / storage_options= / "
                "OUROBOROS_STORAGE_OPTIONS or the filesystem's environment (AWS_*, ...)"
            ) from None
        prefix = root.rstrip("/") + "/"
        outputs = self._outputs(fs, prefix, found, given)
        entries = []
        for name in sorted(found):
            rel = name[len(prefix) :] if name.startswith(prefix) else name
            if name.endswith("/") or any(p.startswith(".") for p in rel.split("/")):
                continue  # a folder marker, or hidden
            if not any(name.startswith(output) for output in outputs):
                entries.append((rel, name, int(found[name].get("size") or 0)))
        return entries

    def _outputs(self, fs, prefix: str, found: dict, given: str) -> list[str]:
        """Prefixes under ``prefix`` that hold an uploaded Ouroboros output (a
        ``summary.json`` that records ``remote_out``), each counted as
        ``ouroboros_output``; ``prefix`` itself is an error."""
        outputs = []
        for name in sorted(n for n in found if n.rsplit("/", 1)[-1] == OUTPUT_SUMMARY):
            try:
                uploaded = "remote_out" in json.loads(fs.cat_file(name))
            except (OSError, ValueError, TypeError):
                continue
            if not uploaded:
                continue
            folder = name[: -len(OUTPUT_SUMMARY)]
            if folder == prefix:
                raise InputError(
                    f"{given!r} is an Ouroboros output (its summary.json records an upload): "
                    "its files are results, not documents. Pass the input files instead"
                )
            outputs.append(folder)
            spelled = f"{given.rstrip('/')}/{folder[len(prefix) :].rstrip('/')}"
            detail = "an Ouroboros output (summary.json records an upload); not read"
            if self.report is None:
                raise InputError(f"{spelled}: {detail}. Place --out outside the input prefixes")
            self.report.count_skip("ouroboros_output", spelled, detail=detail)
        return outputs

    def _repeat(self, given: str) -> None:
        detail = "same object as an earlier input; read once"
        if self.report is None:
            raise InputError(f"{given}: {detail}. Give each file once")
        self.report.count_skip("duplicate_input", given, detail=detail)
