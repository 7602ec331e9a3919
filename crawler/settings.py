"""Scrapy settings for govarchive: the one home of crawl defaults.

Defaults are polite, because government portals are often small servers: AutoThrottle on,
two requests at a time per host, robots.txt obeyed, and a User-Agent that says who we are and
how to reach the archivist (``GOVARCHIVE_CONTACT``). Override per run with ``-s NAME=VALUE``.
"""

BOT_NAME = "govarchive"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# -- govarchive -------------------------------------------------------------------------------
GOVARCHIVE_DATA_DIR = "data"
GOVARCHIVE_CONTACT = "set GOVARCHIVE_CONTACT to your e-mail"
GOVARCHIVE_WARC_MAX_SIZE = 1_000_000_000
# Rows are written in transactions of this many items (one upsert per row is ~15x slower).
GOVARCHIVE_BATCH_SIZE = 200
# Documents linked from articles (PDF, DOC, XLS...) are fetched so the WARC holds them too.
GOVARCHIVE_FETCH_ATTACHMENTS = True
# Walk every listing page even when an earlier full walk finished (`govarchive crawl --full`).
GOVARCHIVE_FULL = False
# Archived articles published within this many days are fetched again (conditionally) on every
# run, to catch silent edits and take-downs. 0 turns rechecks off.
GOVARCHIVE_RECHECK_DAYS = 7

# -- throughput (measured by scripts/bench) -----------------------------------------------------
# Article extraction runs in this many worker processes, off the reactor thread (0: inline, in
# the spider callback; None: one per core, at most 4). See crawler/extraction_pool.py.
GOVARCHIVE_EXTRACT_WORKERS = None
# At most this many pages are being extracted at once; more wait (default: 4 per worker).
GOVARCHIVE_EXTRACT_QUEUE = None
# Ignore the profile's CSS selectors and take the generic trafilatura path (benchmarks).
GOVARCHIVE_GENERIC_EXTRACTION = False
# Scrapy starts CONCURRENT_ITEMS asyncio tasks for every response's output, even for the one
# row of an article page: at the default 100 that is ~1.5 ms of CPU per response, ~20% of the
# crawl. Our pipeline is synchronous, so a few are plenty.
CONCURRENT_ITEMS = 8
# Scrapy re-reads a generator callback's source on every response to look for `return value`
# (its cache is keyed by short-lived bound methods): ~0.3 ms per response for a lint.
WARN_ON_GENERATOR_RETURN_VALUE = False
# Memory that stays flat on long backfills: request fingerprints, pending requests (and the
# spider's article ids) live on disk, in temporary files removed after the crawl. Same requests
# in the same order as Scrapy's memory queues. See crawler/frontier.py.
DUPEFILTER_CLASS = "crawler.frontier.DiskDupeFilter"
SCHEDULER = "crawler.frontier.DiskQueueScheduler"
GOVARCHIVE_DISK_QUEUE = True
# Redis workers (`govarchive crawl PORTAL --redis URL`, crawler/distributed.py): the worker id in
# WARC file names (default HOST-PID), heartbeat period, how long a silent worker is presumed
# dead (its claims requeued), and how long the whole frontier must stay idle before workers end.
GOVARCHIVE_REDIS_URL = None
GOVARCHIVE_WORKER_ID = None
GOVARCHIVE_REDIS_HEARTBEAT = 1.0
GOVARCHIVE_REDIS_WORKER_TIMEOUT = 30.0
GOVARCHIVE_REDIS_IDLE_SECONDS = 3.0

# -- politeness -------------------------------------------------------------------------------
ROBOTSTXT_OBEY = True
USER_AGENT = (
    "govarchive/0.1 (+https://github.com/govarchive/govarchive; archiving public news; "
    "contact: {contact})"
)
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

# -- robustness (crawler/robustness.py; its decisions: crawler/fetch_policy.py) ---------------
# Bounds the whole download, body included: a page that drips forever is cut off too.
DOWNLOAD_TIMEOUT = 60
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 3
# Waits before retries: Retry-After when the server sends one (up to GOVARCHIVE_RETRY_AFTER_MAX
# seconds; a longer one fails the page), else GOVARCHIVE_RETRY_BACKOFF seconds, doubling.
GOVARCHIVE_RETRY_BACKOFF = 2.0
GOVARCHIVE_RETRY_BACKOFF_MAX = 60.0
GOVARCHIVE_RETRY_AFTER_MAX = 120.0
RETRY_GIVE_UP_LOG_LEVEL = "WARNING"
REDIRECT_MAX_TIMES = 10
# Listing pages walked per section at most (a profile's links.max_pages overrides): calendars
# and broken pagers link "the next page" forever.
GOVARCHIVE_MAX_LISTING_PAGES = 1000
# Discovery (crawler/discovery.py): every crawl starts at the home page and reads robots.txt
# Sitemap: lines, /sitemap.xml and the RSS/Atom feeds pages announce; profile start_paths are
# hints. Candidate pages (links that are neither articles nor pager links) are checked at most
# this many links from the home page, and at most this many per crawl.
GOVARCHIVE_DISCOVERY = True
GOVARCHIVE_SITEMAPS = True
GOVARCHIVE_DISCOVERY_DEPTH = 3
GOVARCHIVE_MAX_DISCOVERY_PAGES = 500
# Sitemaps read per crawl at most (an index names the others), and the size of one, gunzipped.
GOVARCHIVE_MAX_SITEMAPS = 100
GOVARCHIVE_SITEMAP_MAX_SIZE = 50 * 1024 * 1024
# `govarchive crawl` refuses to start with less free space than this in the data directory.
GOVARCHIVE_MIN_FREE_MB = 100
# Error pages (404, 500) reach the spider so they are archived and recorded, not silently dropped.
HTTPERROR_ALLOW_ALL = True

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": None,
    "crawler.middlewares.ContactUserAgentMiddleware": 500,
    # Never leave the portal, whatever let a request through (before robots.txt, at 100).
    "crawler.robustness.PortalHostsMiddleware": 60,
    # Retries wait (Retry-After, backoff); redirects stay on the portal and out of loops.
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.robustness.BackoffRetryMiddleware": 550,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.robustness.PortalRedirectMiddleware": 600,
    # Below the retries: final answers only. PDFs and empty pages are not extracted.
    "crawler.robustness.ContentSniffMiddleware": 540,
    # Above HttpCompressionMiddleware (590) and every other built-in: sees the wire bytes.
    "crawler.middlewares.WarcCaptureMiddleware": 950,
    # Redis workers only (--redis): a request that finally failed releases its claim.
    "crawler.claims.ClaimDownloaderMiddleware": 10,
}
SPIDER_MIDDLEWARES = {
    # Session ids, listing loops and page caps, errbacks: see crawler/robustness.py.
    "crawler.robustness.ListingGuardMiddleware": 950,
    # Links found broken (404/410) lately are not requested again: see crawler/brokenlinks.py.
    "crawler.brokenlinks.KnownBrokenLinksMiddleware": 900,
    # An exception in a spider callback stops the crawl: see crawler/fatal.py.
    "crawler.fatal.FatalErrorsMiddleware": 990,
    # Redis workers only (--redis): a handled response releases its claim at the next commit.
    "crawler.claims.ClaimSpiderMiddleware": 10,
}
# Days a broken link (a 404/410 of a linked page never archived) is not requested again;
# `--full` rechecks them all.
GOVARCHIVE_BROKEN_RECHECK_DAYS = 30
# A crawl that extracted at least this many article pages reports profile drift when most of
# them missed the profile's body selector or had no date.
GOVARCHIVE_DRIFT_MIN_PAGES = 10
# MB kept free in the data directory during a crawl, released at the first "disk full" so the
# crawl can still commit its last rows and close its WARC file (crawler/fatal.py).
GOVARCHIVE_DISK_RESERVE_MB = 1
EXTENSIONS = {
    "crawler.progress.ProgressLine": 500,
}
# A live progress line on stderr (the CLI turns it on when stderr is a terminal).
GOVARCHIVE_PROGRESS = False
ITEM_PIPELINES = {
    "crawler.pipelines.ArchivePipeline": 300,
}

LOG_LEVEL = "INFO"
TELNETCONSOLE_ENABLED = False
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"
