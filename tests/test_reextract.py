"""`govarchive reextract`: the WARC files alone are enough to rebuild the articles."""

import shutil
import sqlite3

from .conftest import govarchive

#: The public contract of `articles` (issue: archive a portal end to end).
CONTRACT = ("url", "portal", "title", "published_at", "published_raw", "author", "category",
            "text", "language", "posted_by", "source", "crawled_at", "warc_filename",
            "warc_offset", "warc_record_id")  # fmt: skip


def articles(data, columns=CONTRACT):
    with sqlite3.connect(data / "archive.db") as db:
        return db.execute(f"select {', '.join(columns)} from articles order by url").fetchall()


def test_deleted_database_comes_back_from_the_warc_files(crawled, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(crawled.data, data)
    for path in data.glob("archive.db*"):
        path.unlink()

    result = govarchive("reextract", "--data", str(data))

    assert result.returncode == 0, result.stderr
    rebuilt = articles(data)
    assert rebuilt == articles(crawled.data)
    extra = ("warc_length", "warc_payload_digest", "fetched_url", "extractor", "article_id")
    assert articles(data, extra) == articles(crawled.data, extra)
    with sqlite3.connect(data / "archive.db") as db:
        [(found,)] = db.execute(
            "select count(*) from articles_fts where articles_fts match 'hoi nghi'"
        ).fetchall()
    assert found > 0


def test_a_changed_extraction_is_kept_as_a_new_version(crawled, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(crawled.data, data)
    with sqlite3.connect(data / "archive.db") as db:
        [(url, text)] = db.execute("select url, text from articles order by url limit 1")
        # As an older extractor might have left it: the row differs from what the bytes give.
        db.execute("update articles set text = 'old extraction' where url = ?", [url])

    result = govarchive("reextract", "--data", str(data), "--workers", "2")

    assert result.returncode == 0, result.stderr
    assert "1 changed" in result.stdout
    with sqlite3.connect(data / "archive.db") as db:
        assert db.execute("select text from articles where url = ?", [url]).fetchone()[0] == text
        versions = db.execute(
            "select version, reason, text from article_versions where article_url = ? "
            "order by version",
            [url],
        ).fetchall()
    assert versions == [(1, "first", "old extraction"), (2, "reextract", text)]


def test_reextract_without_warc_files_is_a_usage_error(tmp_path):
    result = govarchive("reextract", "--data", str(tmp_path))
    assert result.returncode == 2
    assert "no WARC files here" in result.stderr
