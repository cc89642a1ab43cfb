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


MB = 1e6


class Progress:
    """Counts finished tasks of one stage and shows how it goes.

    On a TTY (stderr) a tqdm bar; elsewhere a log line at most every ``interval_s``
    seconds. Both show, when the tasks' results say (dicts with ``documents`` and
    ``bytes``), documents/s and MB/s of text, and an ETA from the tasks done so far;
    results with ``reused: True`` are counted as reused (a resumed run). When the stage
    ends, one log line sums it up (:meth:`close`). ``enabled=False`` shows nothing.
    """

    def __init__(self, total: int, desc: str, *, enabled: bool = True, interval_s: float = 10.0):
        self.total = total
        self.desc = desc
        self.done = 0
        self.reused = 0
        self.documents = 0
        self.bytes = 0
        self.enabled = enabled
        self.interval_s = interval_s
        self._start = time.monotonic()
        self._last = self._start
        self._closed = False
        self._bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="part", leave=False)

    def update(self, n: int = 1, detail: str = "", result=None) -> None:
        """``n`` more tasks done; ``result``: the finished task's result, if any."""
        self.done += n
        if isinstance(result, dict):
            self.reused += bool(result.get("reused"))
            self.documents += int(result.get("documents") or 0)
            self.bytes += int(result.get("bytes") or 0)
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            rates = self.rates()
            if rates:
                self._bar.set_postfix_str(rates, refresh=False)
            return
        now = time.monotonic()
        if now - self._last >= self.interval_s and self.done < self.total:
            self._last = now
            log.info(
                "%s: %d/%d done (%.0fs)%s%s",
                self.desc,
                self.done,
                self.total,
                now - self._start,
                self._rates_and_eta(now),
                f" {detail}" if detail else "",
            )

    def rates(self) -> str:
        """``"1,234 docs/s, 5.6 MB/s"`` over the stage so far ("" before any)."""
        seconds = max(time.monotonic() - self._start, 1e-9)
        parts = []
        if self.documents:
            parts.append(f"{self.documents / seconds:,.0f} docs/s")
        if self.bytes:
            parts.append(f"{self.bytes / MB / seconds:,.1f} MB/s")
        return ", ".join(parts)

    def _rates_and_eta(self, now: float) -> str:
        text = self.rates()
        if 0 < self.done < self.total:
            eta = (now - self._start) / self.done * (self.total - self.done)
            text = f"{text}, ETA {eta:.0f}s" if text else f"ETA {eta:.0f}s"
        return f"; {text}" if text else ""

    def close(self) -> None:
        """End the bar and log the stage's one summary line (once)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._closed or not self.enabled:
            self._closed = True
            return
        self._closed = True
        seconds = time.monotonic() - self._start
        what = f"{self.done} task{'' if self.done == 1 else 's'}"
        if self.total and self.reused == self.done:
            log.info("%s: reused from the previous run (%s, %.1fs)", self.desc, what, seconds)
            return
        counts = []
        if self.documents:
            counts.append(f"{self.documents:,} documents")
        if self.bytes:
            counts.append(f"{self.bytes / MB:,.1f} MB")
        if self.reused:
            counts.append(f"{self.reused} reused")
        rates = self.rates()
        log.info(
            "%s: %s done in %.1fs%s%s",
            self.desc,
            what,
            seconds,
            f", {', '.join(counts)}" if counts else "",
            f" ({rates})" if rates else "",
        )

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
