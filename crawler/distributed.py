"""Past one machine: workers that share one frontier and one duplicate filter through Redis.

``govarchive crawl PORTAL --redis redis://HOST:PORT/DB --data DIR`` swaps the disk frontier of
crawler/frontier.py for **scrapy-redis**: its ``RFPDupeFilter`` (a Redis set of request
fingerprints) and its priority queue (a Redis sorted set), so any number of processes on any
machines crawl one portal together. Each worker keeps its own data directory, WARC files named
``PORTAL-WORKER-...`` and rows; ``govarchive merge`` brings them together (archive/merge.py).

scrapy-redis pops requests destructively and its spiders idle forever; an archive needs a crawl
that ends and a killed worker that loses nothing. :class:`SharedScheduler` (a subclass of
scrapy-redis' ``Scheduler``) adds, all under ``govarchive:PORTAL:``:

``requests`` / ``dupefilter``
    scrapy-redis' queue and fingerprints, for the current run of the portal.
``inflight:WORKER``
    Claims. A request is popped and claimed in one Lua script; the claim is dropped only once
    the rows its response produced are committed to the worker's archive.db and the requests
    it led to are in the queue (crawler/claims.py). A worker that dies leaves its claims; the
    others (or the next worker to start) put them back in the queue once its heartbeat is
    older than ``GOVARCHIVE_REDIS_WORKER_TIMEOUT``. The worst case is a page fetched twice,
    never a page lost.
``workers``
    Heartbeats: ``time busy`` per worker, every ``GOVARCHIVE_REDIS_HEARTBEAT`` seconds.
``article_ids`` / ``listed_ids``
    The spider's per-run sets (articles scheduled, archived articles seen in a listing), shared
    so that an article listed under two sections is fetched once by one worker.
``archived`` / ``complete_walk``
    What is archived (article id → URL) and whether a full walk ever finished, kept between runs:
    every worker's incremental crawl knows what all the others archived.

Termination: a worker ends when the queue is empty, no live worker is busy and this has held
for ``GOVARCHIVE_REDIS_IDLE_SECONDS``. The last worker to end clears the run's keys, so the next
cron run starts a fresh frontier (``archived`` stays).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
import uuid
import warnings
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, ScrapyDeprecationWarning
from scrapy.utils.misc import load_object
from scrapy_redis.scheduler import Scheduler as RedisScheduler
from twisted.internet import task

from crawler import signals as govarchive_signals
from crawler.claims import CLAIM, PARENT_CLAIM, ClaimLedger

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

# scrapy-redis 0.9 still calls Spider.log() and passes spider= to the stats: harmless, but a
# warning on every run of a cron job is noise.
warnings.filterwarnings("ignore", category=ScrapyDeprecationWarning, module=r"scrapy_redis\.")

__all__ = [
    "RedisSet",
    "RedisUnavailable",
    "SharedScheduler",
    "default_worker_id",
    "redis_settings",
]

_RETRY_AT = "govarchive_retry_at"  # a monotonic time: meaningless on another machine
_RETRY_AT_WALL = "govarchive_retry_at_wall"

# Pop the best request and claim it for this worker in one step: a worker killed between the
# two would otherwise lose the request. The claim keeps the score, to go back where it was.
_POP_AND_CLAIM = """
local items = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #items == 0 then return false end
redis.call('ZREM', KEYS[1], items[1])
redis.call('HSET', KEYS[2], ARGV[1], items[2] .. '\\n' .. items[1])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3] .. ' 1')
return items[1]
"""
# Filter and queue a request in one step, and only then mark its article id as scheduled: a
# worker killed in between must leave nothing marked that is not in the queue.
_ENQUEUE = """
if ARGV[4] == '0' and redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
if ARGV[5] ~= '' then redis.call('SADD', KEYS[3], ARGV[5]) end
return 1
"""
# Put a (dead or stopping) worker's claims back in the queue and forget the worker.
_REQUEUE = """
local claims = redis.call('HVALS', KEYS[1])
for _, claim in ipairs(claims) do
  local sep = string.find(claim, '\\n', 1, true)
  redis.call('ZADD', KEYS[2], string.sub(claim, 1, sep - 1), string.sub(claim, sep + 1))
end
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return #claims
"""
# A worker leaves after a finished crawl; the last one out clears the run's frontier.
_LEAVE = """
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
if redis.call('HLEN', KEYS[1]) == 0 and redis.call('ZCARD', KEYS[3]) == 0 then
  redis.call('DEL', KEYS[4], KEYS[5], KEYS[6])
  if ARGV[2] == 'full' then redis.call('SET', KEYS[7], '1') end
  return 1
end
return 0
"""


def _score(request: Request) -> float:
    """Priority first, then newest first (lowest score pops first), as Scrapy's own queues
    order requests: a listing's next page goes ahead of the older backlog, so pagination
    chains keep moving instead of waiting behind every article queued before them."""
    return -request.priority * 1e13 - time.time() * 1000


class RedisUnavailable(RuntimeError):
    """The --redis URL is malformed or nothing answers there; the message says which."""


def default_worker_id() -> str:
    """``HOST-PID``: unique among the workers of a run, and readable in WARC file names."""
    host = re.sub(r"[^A-Za-z0-9]+", "-", socket.gethostname().split(".")[0]).strip("-")
    return f"{host or 'host'}-{os.getpid()}"


def redis_settings(url: str) -> dict[str, Any]:
    """The settings that turn a crawl into a worker of the frontier at ``url``.

    Checks the URL and that a Redis server answers there, so a typo is one clear error before
    any crawl starts.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix") or not (parts.hostname or parts.path):
        raise RedisUnavailable(f"--redis {url!r}: expected redis://HOST:PORT/DB")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5).ping()
    except (redis.RedisError, ValueError) as exc:
        raise RedisUnavailable(f"--redis {url}: no Redis server answers there ({exc})") from None
    return {
        "SCHEDULER": "crawler.distributed.SharedScheduler",
        # The claim script pops from a sorted set: scrapy-redis' priority queue.
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "GOVARCHIVE_WORKER_ID": default_worker_id(),
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "REDIS_URL": url,
        # The run's keys outlive each worker; the last one out clears them (see _LEAVE).
        "SCHEDULER_PERSIST": "1",
        "GOVARCHIVE_REDIS_URL": url,
        # Claims are dropped at commits: commit often, so a killed worker re-queues little.
        "GOVARCHIVE_BATCH_SIZE": "50",
    }


class ScheduledIds:
    """The spider's set of scheduled article ids, shared by the workers of a run.

    ``add`` records an id here only; it reaches the shared Redis set when the request that
    carries it is queued in Redis (see ``_ENQUEUE``). An article is thus never marked
    scheduled for the other workers before its request is safe in the queue.
    """

    def __init__(self, server: Any, key: str) -> None:
        self.server = server
        self.key = key
        self.local: set[str] = set()

    def add(self, member: str) -> bool:
        new = member not in self
        self.local.add(member)
        return new

    def __contains__(self, member: object) -> bool:
        return member in self.local or bool(self.server.sismember(self.key, member))


class RedisSet:
    """The two calls the spider makes on its id sets (``add``, ``in``), kept in a Redis set."""

    def __init__(self, server: Any, key: str) -> None:
        self.server = server
        self.key = key

    def add(self, member: str) -> bool:
        return bool(self.server.sadd(self.key, member))

    def __contains__(self, member: object) -> bool:
        return bool(self.server.sismember(self.key, member))


class SharedScheduler(RedisScheduler):
    """scrapy-redis' scheduler with claims, heartbeats, shared spider state and an end."""

    crawler: Crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedScheduler:
        scheduler = super().from_crawler(crawler)
        scheduler.crawler = crawler
        settings = crawler.settings
        scheduler.worker = settings.get("GOVARCHIVE_WORKER_ID") or default_worker_id()
        scheduler.heartbeat = settings.getfloat("GOVARCHIVE_REDIS_HEARTBEAT", 1.0)
        scheduler.worker_timeout = settings.getfloat("GOVARCHIVE_REDIS_WORKER_TIMEOUT", 30.0)
        scheduler.idle_seconds = settings.getfloat("GOVARCHIVE_REDIS_IDLE_SECONDS", 3.0)
        scheduler.claims = ClaimLedger()
        scheduler.idle_since = None
        scheduler.loop = None
        crawler.signals.connect(scheduler.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(scheduler.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(scheduler.item_handed_on, signal=signals.item_dropped)
        crawler.signals.connect(scheduler.item_handed_on, signal=signals.item_error)
        crawler.signals.connect(scheduler.rows_committed, signal=govarchive_signals.rows_committed)
        crawler.signals.connect(scheduler.spider_closed, signal=signals.spider_closed)
        return scheduler

    # -- keys ------------------------------------------------------------------------------

    def _key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    def open(self, spider: Spider) -> None:
        portal = getattr(getattr(spider, "profile", None), "name", spider.name)
        self.prefix = f"govarchive:{portal}"
        self.queue_key = self._key("requests")
        self.dupefilter_key = self._key("dupefilter")
        self.inflight_key = self._key(f"inflight:{self.worker}")
        self.workers_key = self._key("workers")
        if self.df is None:
            cls = load_object(self.dupefilter_cls)
            self.df = cls(self.server, key=self.dupefilter_key,
                          debug=spider.settings.getbool("DUPEFILTER_DEBUG"))  # fmt: skip
        super().open(spider)
        self._pop_and_claim = self.server.register_script(_POP_AND_CLAIM)
        self._enqueue = self.server.register_script(_ENQUEUE)
        self._requeue = self.server.register_script(_REQUEUE)
        self._leave = self.server.register_script(_LEAVE)
        self._beat(busy=True)
        self.requeue_dead_workers()
        # The spider's per-run id sets, shared with the other workers.
        local = getattr(spider, "seen_article_ids", None)
        if hasattr(local, "close"):
            local.close()
        spider.seen_article_ids = ScheduledIds(self.server, self._key("article_ids"))
        spider.listed_known_ids = RedisSet(self.server, self._key("listed_ids"))
        _share_archive_state(spider, self)
        # Check for requests other workers queued more often than Scrapy's 5 s heartbeat.
        self.crawler.engine._SLOT_HEARTBEAT_INTERVAL = min(self.heartbeat, 1.0)
        self.loop = task.LoopingCall(self._tick)
        self.loop.start(self.heartbeat, now=False)
        logger.info("worker %s joined the frontier at %s (%d requests queued)", self.worker,
                    self.prefix, len(self.queue))  # fmt: skip

    # -- queue -----------------------------------------------------------------------------

    def enqueue_request(self, request: Request) -> bool:
        # A retry or redirect of a claimed request replaces it in the queue: its claim is done.
        claim = request.meta.pop(CLAIM, None)
        parent = request.meta.pop(PARENT_CLAIM, None)
        due = request.meta.pop(_RETRY_AT, None)
        if due:
            request.meta[_RETRY_AT_WALL] = due - time.monotonic() + time.time()
        queued = bool(
            self._enqueue(
                keys=[self.dupefilter_key, self.queue_key, self._key("article_ids")],
                args=[
                    self.df.request_fingerprint(request),
                    _score(request),
                    self.queue._encode_request(request),
                    int(request.dont_filter),
                    request.meta.get("article_id") or "",
                ],
            )
        )
        if not queued:
            self.df.log(request, self.spider)
        elif self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        if claim:
            self.claims.finish(claim)
        if parent:  # in Redis now (or a duplicate): one output of the parent handed on
            self.claims.handed_on(parent)
        return queued

    def next_request(self) -> Request | None:
        claim = uuid.uuid4().hex
        data = self._pop_and_claim(
            keys=[self.queue_key, self.inflight_key, self.workers_key],
            args=[claim, self.worker, f"{time.time():.3f}"],
        )
        if not data:
            return None
        request = self.queue._decode_request(data)
        request.meta[CLAIM] = claim
        wall = request.meta.pop(_RETRY_AT_WALL, None)
        if wall:
            request.meta[_RETRY_AT] = wall - time.time() + time.monotonic()
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    # -- claims ----------------------------------------------------------------------------

    def item_handed_on(self, item: Any, response: Response | None = None, **kwargs: Any) -> None:
        self.claims.item_handed_on(response)

    def rows_committed(self) -> None:
        """Rows of every finished claim are in archive.db now: drop those claims."""
        claims = self.claims.take_finished()
        if claims:
            self.server.hdel(self.inflight_key, *claims)

    def requeue_dead_workers(self) -> int:
        """Put back the claims of workers whose heartbeat stopped; returns how many."""
        now = time.time()
        requeued = 0
        for worker, beat in self.server.hgetall(self.workers_key).items():
            worker = worker.decode()
            if worker == self.worker:
                continue
            stamp = float(beat.split()[0])
            if now - stamp > self.worker_timeout:
                count = self._requeue(
                    keys=[self._key(f"inflight:{worker}"), self.queue_key, self.workers_key],
                    args=[worker],
                )
                requeued += count
                logger.warning("worker %s stopped answering: %d claimed requests requeued",
                               worker, count)  # fmt: skip
                if self.stats:
                    self.stats.inc_value("govarchive/redis_requeued", count)
        return requeued

    # -- liveness and the end ----------------------------------------------------------------

    def _busy(self) -> bool:
        engine = self.crawler.engine
        try:
            return not engine.spider_is_idle()
        except RuntimeError:  # the engine slot is gone: closing
            return False

    def _beat(self, busy: bool) -> None:
        self.server.hset(self.workers_key, self.worker, f"{time.time():.3f} {int(busy)}")

    def _tick(self) -> None:
        try:
            self._beat(self._busy())
            self.requeue_dead_workers()
        except Exception:  # a Redis hiccup must not stop the heartbeat loop
            logger.exception("heartbeat to Redis failed")

    def spider_idle(self, spider: Spider) -> None:
        """End only when the whole frontier is done, not when this worker's share is."""
        self._beat(False)
        if len(self.queue) or self.requeue_dead_workers():
            self.idle_since = None
            raise DontCloseSpider
        now = time.time()
        for worker, beat in self.server.hgetall(self.workers_key).items():
            stamp, busy = beat.split()
            if worker.decode() != self.worker and busy == b"1":
                self.idle_since = None
                raise DontCloseSpider
        if self.idle_since is None:
            self.idle_since = now
        if now - self.idle_since < self.idle_seconds:
            raise DontCloseSpider

    def item_scraped(self, item: Any, response: Response, spider: Spider) -> None:
        article_id = item.get("article_id") if hasattr(item, "get") else None
        if article_id and item.get("url"):
            self.server.hset(self._key("archived"), article_id, item["url"])
        self.claims.item_handed_on(response)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        """After the pipeline committed everything: leave the frontier (or hand claims back)."""
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        if reason != "finished":
            count = self._requeue(keys=[self.inflight_key, self.queue_key, self.workers_key],
                                  args=[self.worker])  # fmt: skip
            logger.warning("worker %s stopped (%s): %d claimed requests requeued", self.worker,
                           reason, count)  # fmt: skip
            return
        last = self._leave(
            keys=[
                self.workers_key,
                self.inflight_key,
                self.queue_key,
                self.dupefilter_key,
                self._key("article_ids"),
                self._key("listed_ids"),
                self._key("complete_walk"),
            ],
            args=[self.worker, getattr(spider, "mode", "")],
        )
        logger.info("worker %s left the frontier%s", self.worker,
                    " (the last one: run keys cleared)" if last else "")  # fmt: skip


def _share_archive_state(spider: Spider, scheduler: SharedScheduler) -> None:
    """Make the spider's view of what is archived the union of every worker's.

    Wraps the spider's own ``_archive_state`` (read from this worker's archive.db) rather than
    editing the spider: what this worker has is added to the shared hash, and what any worker
    has comes back; a full walk finished by any worker lets every worker walk incrementally.
    """
    own = spider._archive_state
    server = scheduler.server
    archived_key = scheduler._key("archived")

    def shared_state() -> tuple[str, dict[str, str], list[dict]]:
        mode, known, rechecks = own()
        if known:
            server.hset(archived_key, mapping=known)
        known = {k.decode(): v.decode() for k, v in server.hgetall(archived_key).items()}
        if (
            mode == "full"
            and not spider.settings.getbool("GOVARCHIVE_FULL")
            and server.exists(scheduler._key("complete_walk"))
        ):
            mode = "incremental"
        return mode, known, rechecks

    spider._archive_state = shared_state
