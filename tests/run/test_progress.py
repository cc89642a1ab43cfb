"""Prefetching keeps order, re-raises producer errors and stops early cleanly."""

from __future__ import annotations

import pytest

from engine.run.progress import Progress, prefetch


def test_prefetch_keeps_order():
    assert list(prefetch(iter(range(50)), depth=2)) == list(range(50))


def test_prefetch_reraises_producer_error():
    def broken():
        yield 1
        raise ValueError("bad record")

    seen = []
    with pytest.raises(ValueError, match="bad record"):
        for item in prefetch(broken()):
            seen.append(item)
    assert seen == [1]


def test_prefetch_consumer_may_stop_early():
    gen = prefetch(iter(range(1000)))
    assert next(gen) == 0
    gen.close()


def test_progress_logs_without_tty(caplog):
    caplog.set_level("INFO", logger="ouroboros")
    with Progress(2, "stage", interval_s=0) as bar:
        bar.update()
        bar.update()
    assert "stage: 1/2 done" in caplog.text  # a line while it runs
    assert "stage: 2 tasks done in" in caplog.text  # and one when it ends
