"""WARC and SQLite storage of govarchive, readable without Scrapy."""

from archive import warcio_compat

warcio_compat.install()
