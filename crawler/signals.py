"""Signals of our own, sent through Scrapy's signal manager.

Handlers are held by weak reference: connect bound methods of long-lived objects, never lambdas.
"""

#: Sent by WarcCaptureMiddleware for every HTTP exchange (or failure), with ``fetch``: the row
#: for the ``fetches`` table.
fetch_recorded = object()

#: Sent by ArchivePipeline after each commit to archive.db (no arguments): Redis workers drop the
#: claims of requests whose rows are now safe (crawler/distributed.py).
rows_committed = object()
