"""An output folder behind a URL (``--out s3://bucket/run``): staged locally, uploaded
when the run succeeds.

A run cannot write its work files (``_work/``: signatures, shuffle ranges, locks) to an
object store: they are renamed into place, locked and memory-mapped. So a remote ``out``
is written into a local *staging folder* and uploaded at the end
(:func:`remote_output`, entered by :func:`engine.run.output.output_folder`):

- the staging folder is ``$OUROBOROS_CACHE/remote-out/<hash of the URL>`` (default
  ``~/.cache/ouroboros/remote-out/...``); every worker must reach it (the same machine,
  or ``OUROBOROS_CACHE`` on a shared disk);
- before the run, writing to the URL is tried (an empty object ``.ouroboros-probe``,
  removed at once), so a missing bucket or a read-only credential fails in seconds, not
  after the run; a URL that holds objects is refused unless it holds an earlier upload
  (``summary.json``) or this machine staged it;
- the run claims and locks the staging folder like a local one
  (:func:`engine.run.output.claim_output`): rerunning the same command resumes from its
  ``_work/`` (a killed run loses only the tasks in flight);
- after success every file but ``_work/`` is uploaded, each as one object (complete or
  absent), ``summary.json`` last: it is removed first, so its presence marks a finished
  upload. Objects of the previous upload that this run did not write (listed in that
  upload's ``summary.json``) are removed. ``summary.json`` records the upload under
  ``remote_out``: ``url``, ``staging`` (the folder) and ``files``.

The staging folder is kept after the upload, so the run's results stay readable locally
(``DedupResult.out`` is that folder) and a rerun resumes; delete it to reclaim the space.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from engine.run.atomic import TEMPORARY_PREFIX, read_json, write_json_atomic
from engine.run.storage import StorageError, filesystem, is_url, resolve_storage_options

__all__ = ["CACHE_ENV", "local_copy", "remote_output", "staging_folder", "upload_outputs"]

log = logging.getLogger("ouroboros")

CACHE_ENV = "OUROBOROS_CACHE"
SUMMARY = "summary.json"
WORK = "_work"
PROBE = ".ouroboros-probe"


def staging_folder(url: str) -> Path:
    """The local folder that stages the output of ``url`` (absolute; not created)."""
    base = os.environ.get(CACHE_ENV) or os.path.join("~", ".cache", "ouroboros")
    key = hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:16]
    return Path(os.path.abspath(os.path.expanduser(base))) / "remote-out" / key


@contextmanager
def remote_output(url: str, storage_options: Mapping | None = None) -> Iterator[Path]:
    """Yield the staging folder of ``url``; upload its outputs when the block succeeds.

    Raises:
        StorageError: the URL cannot be written (missing bucket, no permission, a
            read-only protocol), names an object, or holds objects that are not an
            earlier output of ouroboros.
    """
    options = resolve_storage_options(storage_options)
    fs, root = filesystem(url, options)
    staging = staging_folder(url)
    _check_target(fs, root, url, staging)
    log.info("--out %s: staging in %s, uploaded when the run ends", url, staging)
    yield staging
    upload_outputs(staging, url, options)


def _check_target(fs, root: str, url: str, staging: Path) -> None:
    probe = f"{root.rstrip('/')}/{PROBE}"
    try:
        fs.invalidate_cache(root)
        if fs.isfile(root):
            raise StorageError(f"--out {url} is an object (a file); give a prefix (a folder)")
        fs.pipe_file(probe, b"")
        fs.rm_file(probe)
        names = [n for n in fs.find(root) if not n.rstrip("/").endswith(PROBE)]
    except StorageError:
        raise
    except (OSError, NotImplementedError, TypeError) as err:
        raise StorageError(
            f"cannot write to --out {url}: {type(err).__name__}: {err}. Check that the "
            "bucket exists and the credentials may write there (storage options: "
            "--storage-options / OUROBOROS_STORAGE_OPTIONS / the filesystem's environment)"
        ) from None
    earlier = f"{root.rstrip('/')}/{SUMMARY}" in names
    if names and not earlier and not (staging / WORK).is_dir():
        raise StorageError(
            f"--out {url} holds {len(names)} objects that are not an ouroboros output "
            f"(e.g. {names[0]}); choose another --out"
        )


def upload_outputs(staging: Path, url: str, storage_options: Mapping | None = None) -> list[str]:
    """Upload every file of ``staging`` but ``_work/`` to ``url`` (``summary.json`` last);
    returns the uploaded paths, relative, ``/``-separated."""
    fs, root = filesystem(url, resolve_storage_options(storage_options))
    root = root.rstrip("/")
    files = sorted(
        path.relative_to(staging).as_posix()
        for path in staging.rglob("*")
        if path.is_file()
        and path.relative_to(staging).parts[0] != WORK
        and not path.name.startswith(TEMPORARY_PREFIX)
    )
    summary_path = staging / SUMMARY
    summary = read_json(summary_path)
    if isinstance(summary, dict):
        summary["remote_out"] = {"url": url, "staging": str(staging), "files": files}
        write_json_atomic(summary_path, summary)
    try:
        previous = _previous_files(fs, f"{root}/{SUMMARY}")
        _remove(fs, f"{root}/{SUMMARY}")  # unfinished from here until it is back
        for rel in files:
            if rel != SUMMARY:
                fs.put_file(str(staging / rel), f"{root}/{rel}")
        for rel in sorted(set(previous) - set(files)):
            _remove(fs, f"{root}/{rel}")
        if SUMMARY in files:
            fs.put_file(str(summary_path), f"{root}/{SUMMARY}")
    except OSError as err:
        raise StorageError(
            f"the run finished but uploading its outputs to {url} failed ({err}); they are "
            f"in {staging}: run the same command again to retry the upload"
        ) from err
    fs.invalidate_cache(root)
    log.info("uploaded %d files to %s", len(files), url)
    return files


def _remove(fs, path: str) -> None:
    try:
        fs.rm_file(path)
    except FileNotFoundError:
        pass


def _previous_files(fs, summary_url: str) -> list[str]:
    """The files an earlier upload listed in its ``summary.json`` (none if absent)."""
    try:
        summary = json.loads(fs.cat_file(summary_url))
    except (OSError, ValueError):
        return []
    files = summary.get("remote_out", {}).get("files", []) if isinstance(summary, dict) else []
    return [f for f in files if isinstance(f, str) and ".." not in f.split("/")]


def local_copy(out: str, storage_options: Mapping | None = None) -> str:
    """A local folder holding the outputs of ``out`` for reading (``inspect``,
    ``report``): ``out`` itself when it is local; for a URL, the staging folder that
    uploaded it when it is still here, else a copy downloaded (``_work/`` is never
    uploaded, so none is read) into ``$OUROBOROS_CACHE/remote-read/<hash>``."""
    if not is_url(out):
        return out
    staging = staging_folder(out)
    summary = read_json(staging / SUMMARY)
    remote = summary.get("remote_out") if isinstance(summary, dict) else None
    if isinstance(remote, dict) and remote.get("url", "").rstrip("/") == out.rstrip("/"):
        return str(staging)
    fs, root = filesystem(out, resolve_storage_options(storage_options))
    root = root.rstrip("/")
    key = hashlib.sha256(out.rstrip("/").encode()).hexdigest()[:16]
    target = staging.parent.parent / "remote-read" / key
    try:
        names = [n for n in fs.find(root) if n.startswith(root + "/")]
    except Exception as err:  # filesystems raise their own kinds
        raise StorageError(f"cannot list {out}: {type(err).__name__}: {err}") from None
    if f"{root}/{SUMMARY}" not in names:
        raise StorageError(f"{out} holds no summary.json: not a finished ouroboros output")
    for name in names:
        local = target / name[len(root) + 1 :]
        local.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(name, str(local))
    log.info("%s: read from a local copy in %s", out, target)
    return str(target)
