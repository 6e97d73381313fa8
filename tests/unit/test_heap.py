"""A resync's big parse must not leave the daemon's RSS at its high-water mark."""

from __future__ import annotations

import os
import threading

import pytest
from lxml import etree

from lpar_eventd import heap


def _rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(heap._TRIM is None, reason="needs glibc's malloc_trim")
def test_memory_of_a_listing_parsed_by_a_worker_goes_back_to_the_os():
    doc = ("<feed>" + "".join(
        f"<entry><id>{i}</id><content><LogicalPartition x='{i}'>running {i}"
        "</LogicalPartition></content></entry>" for i in range(60_000)) + "</feed>").encode()
    pinned = []

    def settle_worker() -> None:
        tree = etree.fromstring(doc)
        pinned.append(etree.fromstring(b"<later/>"))  # allocated after: pins the heap top
        assert len(tree) == 60_000
        del tree

    worker = threading.Thread(target=settle_worker)
    worker.start()
    worker.join()
    held = _rss()
    assert heap.release() is True
    assert held - _rss() > 20 * 2**20, "the freed tree's pages were kept"
