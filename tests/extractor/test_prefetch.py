import threading
import time

import pytest

from extractor.sync.prefetch import prefetch


def test_items_arrive_in_order_and_complete():
    assert list(prefetch(iter(range(100)), depth=2)) == list(range(100))


def test_an_error_in_the_producer_reaches_the_caller_after_the_items_before_it():
    def pages():
        yield 1
        yield 2
        raise RuntimeError("page 3 failed")

    seen = []
    with pytest.raises(RuntimeError, match="page 3 failed"):
        for item in prefetch(pages()):
            seen.append(item)
    assert seen == [1, 2]


def test_the_producer_stays_at_most_depth_items_ahead():
    produced = []

    def pages():
        for i in range(10):
            produced.append(i)
            yield i

    it = prefetch(pages(), depth=1)
    assert next(it) == 0
    time.sleep(0.3)
    # one item waits in the queue and the producer may hold one more it could not put yet
    assert len(produced) <= 3
    it.close()


def test_stopping_early_stops_the_producer_and_joins_its_thread():
    closed = threading.Event()

    def pages():
        try:
            yield from range(1_000_000)
        finally:
            closed.set()

    before = threading.active_count()
    for item in prefetch(pages(), depth=1):
        if item == 3:
            break
    assert closed.wait(2)
    assert threading.active_count() == before


def test_work_overlaps():
    def slow_pages():
        for i in range(4):
            time.sleep(0.1)  # "reading" releases the GIL
            yield i

    started = time.monotonic()
    for _ in prefetch(slow_pages()):
        time.sleep(0.1)  # "writing"
    assert time.monotonic() - started < 0.7  # 0.8 s when sequential


def test_depth_must_be_positive():
    with pytest.raises(ValueError):
        list(prefetch([], depth=0))
