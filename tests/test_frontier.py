"""Crawl bookkeeping on disk: same answers and same order as Scrapy's in-memory structures."""

from pathlib import Path

from scrapy import Request, Spider
from scrapy.dupefilters import RFPDupeFilter
from scrapy.utils.test import get_crawler

from crawler.frontier import DiskDupeFilter, DiskQueueScheduler, DiskSet


def test_disk_set_is_a_set():
    keys = DiskSet()
    assert keys.add("a") and keys.add(b"\x00\x01") and not keys.add("a")
    assert "a" in keys and b"\x00\x01" in keys and "b" not in keys
    keys.update(["b", "a"])
    assert len(keys) == 3


def test_disk_set_persists_in_a_file(tmp_path):
    keys = DiskSet(tmp_path / "seen.sqlite")
    keys.add("x")
    keys.close()
    assert "x" in DiskSet(tmp_path / "seen.sqlite")


URLS = [
    "http://example.org/a?x=1&y=2",
    "http://example.org/a?y=2&x=1",  # the same request once canonicalised
    "http://example.org/b",
    "http://example.org/b#fragment",
    "http://example.org/a?x=1&y=2",
    "http://example.org/c",
]


def test_disk_dupefilter_answers_like_scrapys():
    crawler = get_crawler(Spider)
    ours = DiskDupeFilter.from_crawler(crawler)
    scrapys = RFPDupeFilter.from_crawler(crawler)
    for url in URLS:
        request = Request(url)
        assert ours.request_seen(request) == scrapys.request_seen(request), url
    ours.close("finished")


class _Spider(Spider):
    name = "frontier"

    def parse(self, response):
        return None


def _drain(settings: dict) -> tuple[list[str], Path | None]:
    crawler = get_crawler(
        _Spider, {"SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.ScrapyPriorityQueue", **settings}
    )
    crawler.spider = crawler._create_spider()
    scheduler = DiskQueueScheduler.from_crawler(crawler)
    temporary = scheduler.temporary_dir
    scheduler.open(crawler.spider)
    for index in range(30):
        priority = -1 if index % 3 == 0 else 0
        scheduler.enqueue_request(
            Request(f"http://example.org/{index}", callback=crawler.spider.parse, priority=priority)
        )
    order = []
    while (request := scheduler.next_request()) is not None:
        order.append(request.url)
    stats = crawler.stats.get_stats()
    scheduler.close("finished")
    assert temporary is None or not temporary.exists(), "the queue directory is removed"
    return order, stats


def test_disk_queue_pops_requests_in_the_memory_queue_order():
    on_disk, disk_stats = _drain({})
    in_memory, memory_stats = _drain({"GOVARCHIVE_DISK_QUEUE": False})
    assert on_disk == in_memory and len(on_disk) == 30
    assert disk_stats["scheduler/enqueued/disk"] == 30
    assert memory_stats["scheduler/enqueued/memory"] == 30
