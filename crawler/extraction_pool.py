"""Article extraction off the reactor thread: a process pool behind a bounded number of slots.

Why: extraction is CPU work (about 3 ms a page on the profile's CSS selectors, 30-40 ms on the
generic trafilatura path) and Scrapy runs every spider callback on its one reactor thread. Run
inline, extraction stops downloading, WARC writing and SQLite batching while it runs, and the
other cores stay idle. Here the spider's ``parse_article`` awaits :meth:`ExtractionPool.extract`,
which hands the page to a worker process and lets the reactor get on with the crawl.

Backpressure: at most ``GOVARCHIVE_EXTRACT_QUEUE`` pages are in the pool at once. Further pages
wait in their callback for a slot (a ``DeferredSemaphore``); their responses stay counted in
Scrapy's scraper slot, and once ``SCRAPER_SLOT_MAX_ACTIVE_SIZE`` bytes of responses are waiting
the engine stops taking requests from the scheduler. So a slow pool slows the crawl down instead
of buffering pages without bound. Results come back in completion order, not request order:
rows go to the item pipeline, which writes them in batched transactions whatever their order.

Workers are spawned (not forked) after the first :data:`INLINE_FIRST` articles, pages are
extracted inline until they have imported the extractor, and each worker exits by itself once
its crawl is gone, even after a SIGKILL. Like any multiprocessing code, a script that runs a
crawl needs ``if __name__ == "__main__":``: spawned workers import the script again.

``GOVARCHIVE_EXTRACT_WORKERS = 0`` extracts inline, in the callback; the result is the same
(the workers run the same pure :func:`crawler.extract.extract_article` on the same bytes, and a
test crawls the demo replica both ways). ``GOVARCHIVE_GENERIC_EXTRACTION`` (or the environment
variable of that name, for ``govarchive reextract``) ignores the profile's CSS selectors, so
that benchmarks can measure the generic trafilatura path on a portal that has selectors
(:mod:`crawler.generic_extraction`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred, DeferredSemaphore

from crawler.extract import Article, extract_article
from crawler.generic_extraction import GENERIC_ENV, generic_profile, generic_requested
from crawler.profiles import Profile, Selectors

if TYPE_CHECKING:
    from collections.abc import Iterator

    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

__all__ = [
    "GENERIC_ENV",
    "ExtractionPool",
    "default_workers",
    "extraction_pool",
    "generic_profile",
    "generic_requested",
    "shared_workers",
]

_SPIDER_ATTRIBUTE = "_govarchive_extraction_pool"
#: Pools replaced after a worker died, before the crawl falls back to inline extraction.
MAX_RESTARTS = 3
#: Pages extracted inline before the workers start: a routine incremental crawl that finds a
#: handful of new articles never pays the ~1 s of CPU per worker that starting them costs.
INLINE_FIRST = 20


def default_workers() -> int:
    """One worker per core, at most 4, and none on a single core; chosen by ``scripts/bench``.

    Measured on 2 cores: the pool made the default crawl (3 ms a page on the profile's
    selectors) 1.05-1.25x faster than inline extraction, and a crawl on the generic path
    (35 ms a page) 1.6x faster. One reactor thread tops out near 100-150 pages/s, which 4
    workers keep up with even on the generic path; more would only hold memory (~100 MB
    each). A single core gains nothing from handing pages to another process.
    """
    cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(cores, 4)


# -- worker side ------------------------------------------------------------------------------

_worker_profile: Profile | None = None


def _init_worker(profile: Profile, crawl_pid: int) -> None:
    global _worker_profile
    _worker_profile = profile
    threading.Thread(target=_exit_with_crawl, args=(crawl_pid,), daemon=True).start()


def _exit_with_crawl(crawl_pid: int, interval: float = 1.0) -> None:
    """End this worker once the crawl that started it is gone (killed, even with SIGKILL).

    A pool worker waits on its task queue, whose write end it holds itself, so it never sees
    the crawl die: without this, every killed crawl would leave its workers behind for good.
    The crawl's pid comes from the crawl, not from ``getppid()`` here: a crawl killed while
    this worker was starting would otherwise leave it watching its new parent, init.
    """
    while os.getppid() == crawl_pid:
        time.sleep(interval)
    os._exit(1)


def _extract_in_worker(
    body: bytes, url: str, listing_date: str | None = None, profile: Profile | None = None
) -> Article:
    # A pool shared by several portals (a fleet) gets each page's profile with the page.
    return extract_article(body, url, profile or _worker_profile, listing_date)


def _warm_up() -> int:
    """Run once per worker at start, so the first real page does not pay the imports."""
    extract_article(b"<html><body><p>warm up</p></body></html>", "http://localhost/", None)
    return os.getpid()


# -- reactor side -----------------------------------------------------------------------------


def _deferred_from_future(future: Future) -> Deferred:
    """A Deferred fired on the reactor thread when a ``concurrent.futures`` future completes."""
    from twisted.internet import reactor

    deferred: Deferred = Deferred()

    def fire(done: Future) -> None:
        exc = done.exception()
        if exc is not None:
            deferred.errback(exc)
        else:
            deferred.callback(done.result())

    future.add_done_callback(lambda done: reactor.callFromThread(fire, done))
    return deferred


class SharedWorkers:
    """One set of worker processes for every crawler of a process (``govarchive crawl --fleet``).

    Eight portals with a pool each would start 8 x 4 processes on a 2-core machine; sharing one
    pool keeps the process count (and memory) that of one crawl. Pages carry their profile.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.executor: ProcessPoolExecutor | None = None
        self.warm_ups: list[Future] = []

    def start(self) -> ProcessPoolExecutor:
        if self.executor is None:
            self.executor = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(None, os.getpid()),
            )
            self.warm_ups = [self.executor.submit(_warm_up) for _ in range(self.workers)]
        return self.executor

    def discard(self, executor: ProcessPoolExecutor) -> None:
        """Forget a broken executor, so the next :meth:`start` builds a fresh one."""
        if executor is self.executor:
            self.executor = None
            executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        executor, self.executor = self.executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


#: Set by :func:`shared_workers` while a fleet runs; every crawler's pool then uses it.
_shared: SharedWorkers | None = None


@contextmanager
def shared_workers(workers: int | None = None) -> Iterator[SharedWorkers | None]:
    """Within this block, every crawler of the process extracts in one shared pool."""
    global _shared
    count = default_workers() if workers is None else int(workers)
    if count <= 0:
        yield None
        return
    _shared = SharedWorkers(count)
    try:
        yield _shared
    finally:
        shared, _shared = _shared, None
        shared.close()


class ExtractionPool:
    """Extract article pages inline (``workers=0``) or in ``workers`` processes.

    ``max_in_flight`` bounds the pages handed to the pool and not yet returned; callers beyond
    it wait. Use :meth:`extract` from a Scrapy callback (``await``), :meth:`close` at the end.
    """

    def __init__(
        self,
        profile: Profile,
        workers: int = 0,
        max_in_flight: int | None = None,
        *,
        generic: bool = False,
        stats: Any = None,
        inline_first: int = INLINE_FIRST,
    ) -> None:
        self.profile = generic_profile(profile) if generic else profile
        self.workers = max(0, int(workers))
        self.max_in_flight = max(1, int(max_in_flight or 4 * max(self.workers, 1)))
        self.stats = stats
        self._executor: ProcessPoolExecutor | None = None
        self._slots = DeferredSemaphore(self.max_in_flight)
        self._in_flight = 0
        self._closed = False
        self._restarts_left = MAX_RESTARTS
        self._inline_left = inline_first
        self._warm_ups: list[Future] = []
        self._warm = False
        self.shared: SharedWorkers | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, profile: Profile) -> ExtractionPool:
        settings = crawler.settings
        raw_workers = settings.get("GOVARCHIVE_EXTRACT_WORKERS")
        workers = default_workers() if raw_workers in (None, "") else int(raw_workers)
        pool = cls(
            profile,
            workers,
            settings.getint("GOVARCHIVE_EXTRACT_QUEUE") or None,
            generic=generic_requested(settings.get("GOVARCHIVE_GENERIC_EXTRACTION")),
            stats=crawler.stats,
        )
        if _shared is not None and pool.workers:
            pool.shared = _shared
        # Bound method of an object the spider keeps: the weak reference stays alive.
        crawler.signals.connect(pool.close, signal=signals.spider_closed)
        return pool

    @property
    def inline(self) -> bool:
        return self.workers == 0

    def start(self) -> None:
        """Start the worker processes; pages are extracted inline until they are ready."""
        if self.inline or self._executor is not None or self._closed:
            return
        if self.shared is not None:
            self._executor = self.shared.start()
            self._warm = False
            self._warm_ups = self.shared.warm_ups
            return
        # spawn, not fork: the crawl process runs reactor and resolver threads, and forking a
        # threaded process can copy a held lock into the child. Not forkserver either: its
        # server outlives a killed crawl as long as any worker does. A spawned worker imports
        # the extractor in ~0.3 s, once per crawl, while the first listings are fetched.
        context = multiprocessing.get_context("spawn")
        self._executor = ProcessPoolExecutor(
            self.workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(self.profile, os.getpid()),
        )
        self._warm = False
        self._warm_ups = [self._executor.submit(_warm_up) for _ in range(self.workers)]
        logger.info(
            "extraction: %d worker processes, at most %d pages in flight%s",
            self.workers,
            self.max_in_flight,
            " (generic extraction)" if self.profile.selectors == Selectors() else "",
        )

    async def extract(self, body: bytes, url: str, listing_date: str | None = None) -> Article:
        """The extraction of one page, computed in a worker while the reactor keeps crawling.

        ``listing_date`` is the date printed beside the link the crawl followed, if any."""
        if self.inline or self._closed:
            return extract_article(body, url, self.profile, listing_date)
        if self._executor is None:
            if self._inline_left > 0:
                self._inline_left -= 1
                return extract_article(body, url, self.profile, listing_date)
            self.start()
        if not self.ready():  # the workers are still importing the extractor: don't wait
            return extract_article(body, url, self.profile, listing_date)
        if self._slots.tokens == 0:
            self._inc("govarchive/extract_waits")
        await maybe_deferred_to_future(self._slots.acquire())
        self._in_flight += 1
        self._max("govarchive/extract_in_flight_max", self._in_flight)
        executor = self._executor
        try:
            if executor is None:  # the pool gave up (see _replace) while this page waited
                return extract_article(body, url, self.profile, listing_date)
            page_profile = self.profile if self.shared is not None else None
            future = executor.submit(_extract_in_worker, body, url, listing_date, page_profile)
            return await maybe_deferred_to_future(_deferred_from_future(future))
        except BrokenProcessPool:
            # A worker died (killed, out of memory): the page is in the WARC either way.
            # Extract it here and give the next pages a fresh pool.
            if executor is self._executor:  # the first of the pages that were in flight
                self._replace(url)
            return extract_article(body, url, self.profile, listing_date)
        finally:
            self._in_flight -= 1
            self._slots.release()

    def ready(self) -> bool:
        """Whether every worker has started and imported the extractor."""
        if not self._warm and self._executor is not None:
            self._warm = all(future.done() for future in self._warm_ups)
        return self._warm

    def _replace(self, url: str) -> None:
        """A fresh pool after a worker died; inline extraction once workers keep dying.

        Workers that die at once every time are usually a script that starts a crawl without
        ``if __name__ == "__main__":``: spawned workers import the script again.
        """
        executor, self._executor = self._executor, None
        if executor is not None and self.shared is not None:
            self.shared.discard(executor)
        elif executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        self._inc("govarchive/extract_pool_restarts")
        if self._restarts_left <= 0:
            logger.error("extraction workers keep dying; extracting inline from %s on", url)
            self.workers = 0
            return
        self._restarts_left -= 1
        logger.error("an extraction worker died; restarting the pool (at %s)", url)
        self.start()

    def close(self, spider: Spider | None = None) -> None:
        """Stop the workers (after the crawl: every callback has had its result by then)."""
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is not None and self.shared is None:  # a shared pool outlives one crawler
            executor.shutdown(wait=True, cancel_futures=True)

    def _inc(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(key)

    def _max(self, key: str, value: int) -> None:
        if self.stats is not None:
            self.stats.max_value(key, value)


def extraction_pool(spider: Spider) -> ExtractionPool:
    """The spider's extraction pool, created from the crawler's settings on first use."""
    pool = getattr(spider, _SPIDER_ATTRIBUTE, None)
    if pool is None:
        pool = ExtractionPool.from_crawler(spider.crawler, spider.profile)
        setattr(spider, _SPIDER_ATTRIBUTE, pool)
    return pool
