"""Claims of a Redis worker: when a request popped from the shared queue is done with.

A worker claims each request it pops (crawler/distributed.py); the claim stays in Redis until
nothing of the request's work can be lost any more, and a dead worker's claims go back to the
queue. "Done" means: the callback has ended, and every output it yielded has been handed on,
each request queued in Redis and each row through the pipeline into its batch, whose commit then
drops the claim. Scrapy hands a callback's outputs on concurrently, after the callback has
ended, so outputs are counted one by one (:class:`ClaimSpiderMiddleware` counts them out, the
scheduler and the ``item_*`` signals count them in). A request that finally failed, or was
replaced by a retry or a redirect (which go to the queue themselves), is done at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.exceptions import NotConfigured

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

__all__ = ["CLAIM", "PARENT_CLAIM", "ClaimDownloaderMiddleware", "ClaimLedger",
           "ClaimSpiderMiddleware"]  # fmt: skip

#: On a claimed request: its claim id.
CLAIM = "govarchive_claim"
#: On a request a callback yielded: the claim of the response it came from.
PARENT_CLAIM = "govarchive_parent_claim"


class ClaimLedger:
    """Which claims are done, waiting for the next commit to be dropped from Redis."""

    def __init__(self) -> None:
        self.finished: list[str] = []
        # Claim -> outputs of its callback not yet handed on.
        self.outstanding: dict[str, int] = {}
        self.exhausted: set[str] = set()

    def finish(self, claim: str) -> None:
        self.finished.append(claim)

    def take_finished(self) -> list[str]:
        finished, self.finished = self.finished, []
        return finished

    def yielded(self, claim: str, output: Any) -> None:
        """A callback of ``claim`` yielded ``output``: not in Redis or the pipeline yet."""
        self.outstanding[claim] = self.outstanding.get(claim, 0) + 1
        if isinstance(output, Request):
            output.meta[PARENT_CLAIM] = claim

    def handed_on(self, claim: str) -> None:
        self.outstanding[claim] = self.outstanding.get(claim, 0) - 1
        self._finish_if_done(claim)

    def callback_ended(self, claim: str) -> None:
        self.exhausted.add(claim)
        self._finish_if_done(claim)

    def item_handed_on(self, response: Response | None) -> None:
        """An item left the pipeline (scraped, dropped or failed): one output handed on."""
        claim = response.meta.get(CLAIM) if response is not None else None
        if claim:
            self.handed_on(claim)

    def _finish_if_done(self, claim: str) -> None:
        if claim in self.exhausted and self.outstanding.get(claim, 0) <= 0:
            self.exhausted.discard(claim)
            self.outstanding.pop(claim, None)
            self.finished.append(claim)


def _ledger(crawler: Crawler) -> ClaimLedger | None:
    """The ledger of the crawl's scheduler, when it is a Redis worker's."""
    engine = getattr(crawler, "engine", None)
    scheduler = getattr(getattr(engine, "_slot", None), "scheduler", None)
    return getattr(scheduler, "claims", None)


class _ClaimMiddleware:
    """Enabled only for Redis workers (``GOVARCHIVE_REDIS_URL``)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler):
        if not crawler.settings.get("GOVARCHIVE_REDIS_URL"):
            raise NotConfigured
        return cls(crawler)

    def _claim(self, meta: dict) -> tuple[ClaimLedger | None, str | None]:
        return _ledger(self.crawler), meta.get(CLAIM)


class ClaimSpiderMiddleware(_ClaimMiddleware):
    """Counts a callback's outputs out, and says when the callback has ended."""

    def process_spider_output(self, response, result, spider=None):
        ledger, claim = self._claim(response.meta)
        for output in result:
            if ledger and claim and output is not None:
                ledger.yielded(claim, output)
            yield output
        if ledger and claim:
            ledger.callback_ended(claim)

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any], spider: Spider | None = None
    ) -> AsyncIterator[Any]:
        ledger, claim = self._claim(response.meta)
        async for output in result:
            if ledger and claim and output is not None:
                ledger.yielded(claim, output)
            yield output
        if ledger and claim:
            ledger.callback_ended(claim)

    def process_spider_exception(self, response, exception, spider=None) -> None:
        ledger, claim = self._claim(response.meta)
        if ledger and claim:
            ledger.callback_ended(claim)


class ClaimDownloaderMiddleware(_ClaimMiddleware):
    """A request that finally failed (retries exhausted, robots.txt, off the portal) has
    nothing more to give: its claim is done. Outermost, so retries come first."""

    def process_exception(self, request: Request, exception: Exception, spider=None) -> None:
        ledger, claim = self._claim(request.meta)
        if ledger and claim:
            ledger.finish(claim)
        return None
