"""Progress reporting (a bar on a terminal, log lines otherwise) and batch prefetching."""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Iterator
from typing import TypeVar

log = logging.getLogger("ouroboros")


class Progress:
    """Counts finished units of work (partitions) and shows it.

    On a TTY (stderr) a tqdm bar; elsewhere a log line at most every ``interval_s``
    seconds and at the end. ``enabled=False`` shows nothing.
    """

    def __init__(self, total: int, desc: str, *, enabled: bool = True, interval_s: float = 10.0):
        self.total = total
        self.desc = desc
        self.done = 0
        self.enabled = enabled
        self.interval_s = interval_s
        self._start = time.monotonic()
        self._last = self._start
        self._bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="part", leave=False)

    def update(self, n: int = 1, detail: str = "") -> None:
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last >= self.interval_s or self.done == self.total:
            self._last = now
            log.info(
                "%s: %d/%d done (%.0fs)%s",
                self.desc,
                self.done,
                self.total,
                now - self._start,
                f" {detail}" if detail else "",
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


T = TypeVar("T")
_DONE = object()


def prefetch(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Yield ``items`` while a background thread produces the next ``depth`` of them.

    Reading and parsing a batch (Python, holds the GIL) then overlaps with hashing the
    previous one (compiled kernels that release the GIL). Memory grows by ``depth``
    batches. An exception in the producer is re-raised here, in order.
    """
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                slots.put((item, None))
        except BaseException as exc:  # handed to the consumer
            slots.put((None, exc))
            return
        slots.put((_DONE, None))

    thread = threading.Thread(target=produce, name="ouroboros-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = slots.get()
            if exc is not None:
                raise exc
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                slots.get_nowait()
            except queue.Empty:
                pass
            thread.join(timeout=0.05)
