"""Where inputs and outputs live: local paths or fsspec URLs, and the storage options
that open them.

A *URL* is a path with a protocol other than ``file``: ``s3://bucket/key``,
``gs://bucket/key``, ``hf://datasets/org/name/file``, ``https://host/file``. Such paths
are opened through `fsspec <https://filesystem-spec.readthedocs.io>`_ (the protocol's
package must be installed: ``s3fs`` for ``s3://``, ``gcsfs`` for ``gs://``,
``huggingface_hub`` for ``hf://``).

Storage options (credentials, endpoints, ...) come from, first to last:

1. ``storage_options`` passed explicitly (the API);
2. the ``OUROBOROS_STORAGE_OPTIONS`` environment variable, a JSON object (the CLI's
   ``--storage-options`` sets it for the run and its local worker processes);
3. the filesystem's own defaults, which read the environment (``AWS_ENDPOINT_URL``,
   ``AWS_ACCESS_KEY_ID``, ``GOOGLE_APPLICATION_CREDENTIALS``, ``HF_TOKEN``, ...).

An options object is either flat (``{"endpoint_url": "http://..."}``: for every
protocol) or keyed by protocol (``{"s3": {...}, "https": {...}}``: each URL gets the
entry of its protocol). Options are resolved in the driver and travel with each task
(:attr:`engine.io.InputPart.storage_options`), so every worker opens its own
filesystem; they are never written to a summary or a fingerprint.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping

__all__ = [
    "STORAGE_OPTIONS_ENV",
    "StorageError",
    "filesystem",
    "is_url",
    "options_for",
    "parse_storage_options",
    "resolve_storage_options",
    "url_protocol",
]

STORAGE_OPTIONS_ENV = "OUROBOROS_STORAGE_OPTIONS"
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")


class StorageError(ValueError):
    """A URL that cannot be opened as given: its protocol's package is missing, or the
    storage options are not a JSON object or are refused by the filesystem."""


def url_protocol(path: str | os.PathLike) -> str | None:
    """The protocol of a URL (``"s3"`` for ``s3://b/k``), lower case; None for a path."""
    match = _URL.match(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else None
    return match.group(1).lower() if match else None


def is_url(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a URL opened through fsspec (a protocol other than ``file``)."""
    return url_protocol(path) not in (None, "file")


def parse_storage_options(text: str | None, source: str = STORAGE_OPTIONS_ENV) -> dict:
    """Storage options from JSON text (an object); ``{}`` for None or blank text.

    Raises:
        StorageError: the text is not a JSON object; ``source`` names where it came from.
    """
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as err:
        raise StorageError(
            f"{source} must be a JSON object such as "
            f'\'{{"endpoint_url": "http://127.0.0.1:9000"}}\', got {text[:80]!r} ({err})'
        ) from None
    if not isinstance(value, dict):
        raise StorageError(f"{source} must be a JSON object, got a {type(value).__name__}")
    return value


def resolve_storage_options(storage_options: Mapping | None = None) -> dict:
    """The storage options of a run: ``storage_options`` when given, else those of the
    ``OUROBOROS_STORAGE_OPTIONS`` environment variable, else ``{}``.

    Raises:
        StorageError: not a mapping, or the variable is not a JSON object.
    """
    if storage_options is not None:
        if not isinstance(storage_options, Mapping):
            raise StorageError(
                f"storage_options must be a dict, got {type(storage_options).__name__}"
            )
        return dict(storage_options)
    return parse_storage_options(os.environ.get(STORAGE_OPTIONS_ENV))


def options_for(url: str, storage_options: Mapping | None) -> dict:
    """The options that apply to ``url``: its protocol's entry of a per-protocol object
    (every key a protocol name, every value an object), else the whole flat object."""
    if not storage_options:
        return {}
    if all(isinstance(value, Mapping) for value in storage_options.values()) and all(
        _is_protocol(key) for key in storage_options
    ):
        return dict(storage_options.get(url_protocol(url) or "", {}))
    return dict(storage_options)


def _is_protocol(name: str) -> bool:
    import fsspec

    return name in fsspec.available_protocols()


def filesystem(url: str, storage_options: Mapping | None = None):
    """``(fsspec filesystem, path inside it)`` for ``url`` with ``storage_options``
    (the resolved options of the run: :func:`options_for` picks the URL's entry).

    Raises:
        StorageError: the protocol is unknown or its package is not installed, or the
            filesystem refuses the options.
    """
    import fsspec.core

    options = options_for(url, storage_options)
    try:
        return fsspec.core.url_to_fs(url, **options)
    except ImportError as err:
        raise StorageError(f"cannot open {url}: {err}") from None
    except ValueError as err:  # an unknown protocol
        raise StorageError(f"cannot open {url}: {err}") from None
    except TypeError as err:  # an option the filesystem does not take
        raise StorageError(
            f"cannot open {url}: the {url_protocol(url)} filesystem refuses the storage "
            f"options {sorted(options)} ({err}); check --storage-options / "
            f"{STORAGE_OPTIONS_ENV}"
        ) from None
