"""The exit codes every ``govarchive`` command shares; cron jobs and fleet scripts test them.

A module of its own so that commands which never crawl (``reextract``, ``search``, ``verify``)
start without importing Scrapy.
"""

EXIT_OK = 0
#: The command ran to its end but some pages or portals failed (see the log and the crawl row).
EXIT_ERRORS = 1
EXIT_USAGE = 2
#: Another crawl holds the data directory.
EXIT_LOCKED = 3
