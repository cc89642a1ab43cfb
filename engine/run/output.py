"""The output folder of a run: claimed by one command on one list of inputs.

Every command that writes a folder claims it first (:func:`claim_output`; ``reference
add``/``add-human`` use :func:`claim_existing` on an index folder):

- ``OUT/_work/run.json`` records the command and inputs that own the folder; a folder
  owned by another command or other inputs, or holding files ouroboros did not make,
  is refused before anything is written into it.
- ``OUT/_work/lock`` is locked (``flock``, exclusive) until the run ends: a second run
  into the same folder fails at once (:class:`OutputInUse`). The operating system
  releases the lock of a process that dies.
- Temporary files of interrupted writes (``.tmp-*``, :mod:`engine.run.atomic`) are
  removed once the lock is held.
- A full disk (``ENOSPC``) surfaces as :class:`DiskFull`, naming the folder and how to
  resume.
- A folder the claim created is removed again when the run fails before writing
  anything but the claim itself.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from engine.run.atomic import TEMPORARY_PREFIX, read_json, write_json_atomic
from engine.run.remote_out import remote_output
from engine.run.storage import is_url

try:  # POSIX; elsewhere runs are not locked against each other
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

log = logging.getLogger("ouroboros")

WORK = "_work"
RUN_FILE = "run.json"
LOCK_FILE = "lock"
# flock errors of file systems that do not lock (some network mounts)
_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS}


class OutputInUse(ValueError):
    """The output folder holds the results of another command or other inputs, or
    another run is using it now."""


class DiskFull(OSError):
    """No space was left on the device holding the output folder (errno ``ENOSPC``);
    the message names the folder, the stage and how to resume."""

    def __str__(self) -> str:
        return str(self.strerror)


def disk_full(cause: OSError, folder: Path | None, stage: str | None = None) -> DiskFull:
    """A :class:`DiskFull` for ``cause`` met in ``stage`` while writing ``folder``
    (None: a temporary work folder, for a run whose results stay in memory)."""
    where = f" during stage '{stage}'" if stage else ""
    if folder is None:
        message = (
            f"no space left on the device{where} (temporary work folder under "
            f"{tempfile.gettempdir()}; {cause}); free some space or set TMPDIR to a larger "
            "disk, or pass an output folder on one"
        )
    else:
        message = (
            f"no space left on the device holding {folder}{where} ({cause}); free some "
            "space and run the same command again: it will resume from the finished work"
        )
    error = DiskFull(errno.ENOSPC, message)
    error.__cause__ = cause
    return error


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` is a raw ``ENOSPC`` error (not yet a :class:`DiskFull`)."""
    return isinstance(exc, OSError) and not isinstance(exc, DiskFull) and exc.errno == errno.ENOSPC


class Claim:
    """A claimed output folder, locked until :meth:`release` (or the end of a ``with``
    block, or the object's deletion).

    Attributes:
        out: the folder (absolute). created: whether the claim created it.
    """

    def __init__(self, out: Path, created: bool):
        self.out = out
        self.created = created
        self._fd: int | None = None
        work = out / WORK
        work.mkdir(parents=True, exist_ok=True)
        fd = os.open(work / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(fd, out)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        try:  # who holds the lock, for the message of a refused run; informative only
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        except OSError:
            pass

    def release(self) -> None:
        """Unlock the folder (closing the lock file); idempotent."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing releases the flock

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc is not None and self.created and _holds_only_the_claim(self.out):
                shutil.rmtree(self.out, ignore_errors=True)
        finally:
            self.release()
        if exc is not None and is_disk_full(exc):
            raise disk_full(exc, self.out) from exc

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:  # interpreter shutdown
            pass


def claim_output(out: str | os.PathLike, command: str, inputs: Iterable) -> Claim:
    """Claim ``out`` for ``command`` on ``inputs`` and lock it; refuse a folder owned
    by others or in use.

    Use as ``with claim_output(out, command, inputs): ...`` around the whole run (the
    lock is held until the block ends, exception or not). Rerunning the same command
    on the same inputs resumes (changed parameters only recompute the stages that
    depend on them) and first removes the temporary files an interrupted run left
    behind. Anything else is refused before a file is written, because mixing two
    runs' work files would give wrong results.

    Raises:
        OutputInUse: another command or other inputs own ``out``, it holds files
            ouroboros did not make, or another run is using it now.
    """
    out = Path(os.path.abspath(out))
    claim = {"command": command, "inputs": [str(p) for p in inputs]}
    if out.exists() and not out.is_dir():
        raise OutputInUse(f"{out} is a file; --out must be a folder")
    created = not out.exists()
    _check_owner(out, claim)
    try:
        held = Claim(out, created)
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full(exc, out, "claim") from exc
        raise
    try:
        _check_owner(out, claim)  # again under the lock: a run may have claimed meanwhile
        if read_json(out / WORK / RUN_FILE) is None:
            write_json_atomic(out / WORK / RUN_FILE, claim)
        remove_temporaries(out)
    except BaseException as exc:
        held.__exit__(type(exc), exc, None)  # unlock; remove the folder if it is new
        raise
    return held


def claim_existing(
    out: str | os.PathLike, command: str, made_by: str, required: str, kind: str
) -> Claim:
    """Lock ``out`` for ``command`` (e.g. ``reference add``), which changes a folder
    that ``made_by`` (e.g. ``reference build``) made; refuse any other folder.

    ``required``: a file ``out`` must hold (e.g. ``index.json``); ``kind``: what such
    a folder is (e.g. ``reference index``), for the messages. Nothing is written into
    a refused folder.

    Raises:
        OutputInUse: another command owns ``out`` or another run is using it.
        FileNotFoundError: ``out`` or its ``required`` file does not exist.
    """
    out = Path(os.path.abspath(out))
    existing = read_json(out / WORK / RUN_FILE)
    if existing is not None and existing.get("command") != made_by:
        raise OutputInUse(
            f"{out} holds the results of `ouroboros {existing.get('command')}` on "
            f"{existing.get('inputs')}; it is not a {kind}: `ouroboros {command}` "
            f"extends only a folder made by `ouroboros {made_by}`"
        )
    if not (out / required).is_file():
        raise FileNotFoundError(
            f"{out / required} not found: {out} is not a {kind}; make one with "
            f"`ouroboros {made_by}`"
        )
    held = Claim(out, created=False)
    try:
        remove_temporaries(out)
    except BaseException:
        held.release()
        raise
    return held


def _check_owner(out: Path, claim: dict) -> None:
    """Refuse ``out`` unless it is new, empty, or owned by ``claim`` (command and inputs)."""
    existing = read_json(out / WORK / RUN_FILE)
    if existing is not None and existing != claim:
        raise OutputInUse(
            f"{out} holds the results of `ouroboros {existing.get('command')}` on "
            f"{existing.get('inputs')}; this run is `ouroboros {claim['command']}` on "
            f"{claim['inputs']}. Choose another --out, or delete that folder to start over."
        )
    if existing is None and out.is_dir() and any(p.name != WORK for p in out.iterdir()):
        if not _made_by_earlier_version(out, claim):
            raise OutputInUse(
                f"{out} is not empty and was not made by ouroboros; choose another --out"
            )


def _made_by_earlier_version(out: Path, claim: dict) -> bool:
    """Whether ``out`` is the output of ``claim`` from a version that did not record
    its claim (its ``summary.json`` names the same command and inputs)."""
    summary = read_json(out / "summary.json")
    return (
        isinstance(summary, dict)
        and summary.get("command") == claim["command"]
        and [str(p) for p in summary.get("inputs", [])] == claim["inputs"]
    )


def _holds_only_the_claim(out: Path) -> bool:
    """Whether ``out`` holds no file but the claim's own (``_work/run.json``, lock)."""
    claim_files = {out / WORK / RUN_FILE, out / WORK / LOCK_FILE}
    return all(p.is_dir() or p in claim_files for p in out.rglob("*"))


def _lock(fd: int, out: Path) -> None:
    """Lock the open lock file ``fd`` of ``out`` exclusively, without waiting.

    Raises:
        OutputInUse: another process holds the lock (its pid and host named when known).
    """
    if fcntl is None:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in _NO_LOCKS:  # a file system without locks: run unguarded
            log.warning("cannot lock %s (%s); two runs into it at once go undetected", out, exc)
            return
        if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            raise
        raise OutputInUse(
            f"another ouroboros run is using {out}{_read_holder(fd)}; wait for it or "
            "choose another --out"
        ) from None


def _read_holder(fd: int) -> str:
    """`` (process PID on HOST)`` from a lock file, or an empty string."""
    try:
        text = os.pread(fd, 200, 0).decode(errors="replace").split()
    except OSError:
        return ""
    return f" (process {text[0]} on {text[1]})" if len(text) >= 2 else ""


def remove_temporaries(folder: Path) -> int:
    """Remove the ``.tmp-*`` files of interrupted writes under ``folder``; their count."""
    removed = 0
    for path in Path(folder).rglob(f"{TEMPORARY_PREFIX}*"):
        if path.is_file():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def remove_stale(work: Path, keep_names: set[str]) -> None:
    """Remove work folders of earlier parameter sets (names not in ``keep_names``)."""
    for path in work.iterdir():
        if path.is_dir() and path.name not in keep_names:
            shutil.rmtree(path, ignore_errors=True)


def require_documents(n_documents: int, inputs: list, reports: Iterable[dict]) -> None:
    """Raise ``ValueError`` when a run read no document from ``inputs``.

    ``reports``: the read reports (``ReadReport.to_dict()`` form) of the plan and of
    every task; their skip counts go into the message. A run that read nothing has
    nothing to do, and must not look like a success.
    """
    if n_documents > 0:
        return
    skipped: dict[str, int] = {}
    for report in reports:
        for reason, count in report.get("skipped", {}).items():
            skipped[reason] = skipped.get(reason, 0) + int(count)
    shown = ", ".join(f"{reason} {count}" for reason, count in sorted(skipped.items()))
    n = len(inputs)
    raise ValueError(
        f"read 0 documents from {n} input{'' if n == 1 else 's'} (skipped: {shown or 'none'}); "
        "nothing to do. Check the files and --text-column"
    )


@contextmanager
def output_folder(
    out: str | os.PathLike | None, storage_options: Mapping | None = None
) -> Iterator[Path]:
    """The output folder of a run: ``out`` as an absolute path (workers may run in
    another directory; :func:`claim_output` creates it), or a temporary folder that is
    removed when the run ends (``out=None``: results are returned in memory).

    ``out`` may be a URL (``s3://bucket/run``, see :mod:`engine.run.storage`): the run
    writes into a local staging folder, uploaded when the block succeeds
    (:mod:`engine.run.remote_out`; ``storage_options`` None: from the environment).
    """
    if out is not None and is_url(out):
        with remote_output(os.fspath(out), storage_options) as staging:
            yield staging
        return
    if out is not None:
        yield Path(os.path.abspath(out))
        return
    temp = tempfile.mkdtemp(prefix="ouroboros-")
    try:
        yield Path(temp)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
