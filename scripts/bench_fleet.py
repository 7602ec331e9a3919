#!/usr/bin/env python3
"""Fleet and Redis-worker benchmark (``scripts/bench --fleet`` runs this).

Fleet: 8 portals on 8 loopback addresses (127.0.0.2 ... 127.0.0.9), each a copy of the bundled
demo replica rewritten to its own host name with its own profile (crawler/replica_copies.py), so
rows never collide and politeness applies per portal. Every portal is crawled alone, then all
together by one ``govarchive crawl --fleet``, each with a polite ``DOWNLOAD_DELAY`` of 0.5 s
(AutoThrottle off so that the delay is the only pacing). Reported: the fleet's wall time against
the slowest portal crawled alone in the same run (``fleet_wall_vs_slowest``; target <= 1.25).

Workers: one ``govarchive crawl --redis`` worker against two on the same replica (the shared full
replica when present, else the demo), politeness off, plus the disk-frontier crawl as baseline.
Each worker run starts with an empty Redis database on a redis-server this script starts.

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from crawler.replica import DEMO_REPLICA, shared_replica  # noqa: E402
from crawler.replica_copies import renamed_portal  # noqa: E402

FAST = {"AUTOTHROTTLE_ENABLED": "0", "DOWNLOAD_DELAY": "0", "CONCURRENT_REQUESTS_PER_DOMAIN": "8"}
POLITE = {"AUTOTHROTTLE_ENABLED": "0", "DOWNLOAD_DELAY": "0.5"}


def _govarchive() -> str:
    found = Path(sys.executable).with_name("govarchive")
    return str(found) if found.exists() else "govarchive"


def _settings(values: dict[str, str]) -> list[str]:
    return [arg for key, value in values.items() for arg in ("-s", f"{key}={value}")]


def _serve(directory: Path, host: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.replica", str(directory), "--host", host, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    match = re.search(r"at (http://\S+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"replica server on {host} did not start: {line!r}")
    return proc, match.group(1)


def _timed(cmd: list[str], log: Path) -> float:
    started = time.perf_counter()
    with open(log, "w") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}; see {log}")
    return wall


def _articles(data: Path) -> int:
    with sqlite3.connect(data / "archive.db") as db:
        return db.execute("SELECT count(*) FROM articles").fetchone()[0]


def fleet(work: Path, portals: int, articles: int, say) -> dict:
    servers = []
    entries = []
    try:
        for number in range(2, 2 + portals):
            name = f"fleet{number}"
            copy, profile = renamed_portal(DEMO_REPLICA, "sotttt", name, f"{name}.example.gov.vn",
                                           work / "portals")  # fmt: skip
            proc, url = _serve(copy, f"127.0.0.{number}")
            servers.append(proc)
            entries.append((name, profile, url))
        alone = {}
        for name, profile, url in entries:
            data = work / f"alone-{name}"
            cmd = [_govarchive(), "crawl", str(profile), "--data", str(data), "--base-url", url,
                   "--max-articles", str(articles), *_settings(POLITE)]  # fmt: skip
            alone[name] = _timed(cmd, work / f"alone-{name}.log")
            say(f"  {name} alone: {alone[name]:.1f}s, {_articles(data)} articles")
        fleet_file = work / "fleet.toml"
        fleet_file.write_text(
            "".join(
                f'[[portals]]\nportal = "{profile}"\nbase_url = "{url}"\n\n'
                for _, profile, url in entries
            )
        )
        data = work / "fleet"
        cmd = [_govarchive(), "crawl", "--fleet", str(fleet_file), "--data", str(data),
               "--max-articles", str(articles), *_settings(POLITE)]  # fmt: skip
        fleet_wall = _timed(cmd, work / "fleet.log")
        fleet_articles = _articles(data)
        say(f"  fleet of {portals}: {fleet_wall:.1f}s, {fleet_articles} articles")
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait()
    slowest = max(alone.values())
    return {
        "fleet_portals": portals,
        "fleet_max_articles_per_portal": articles,
        "fleet_download_delay_s": float(POLITE["DOWNLOAD_DELAY"]),
        "fleet_alone_wall_s": {k: round(v, 1) for k, v in alone.items()},
        "fleet_slowest_alone_s": round(slowest, 1),
        "fleet_sum_alone_s": round(sum(alone.values()), 1),
        "fleet_wall_s": round(fleet_wall, 1),
        "fleet_articles": fleet_articles,
        "fleet_wall_vs_slowest": round(fleet_wall / slowest, 3),
        "fleet_wall_vs_sum_alone": round(fleet_wall / sum(alone.values()), 3),
    }


def workers(work: Path, source: Path, say) -> dict:
    import redis

    from tests.servers import redis_server

    replica, url = _serve(source, "127.0.0.1")
    results = {}
    try:
        with redis_server(work) as base_url:
            client = redis.Redis.from_url(base_url)
            data = work / "disk"
            wall = _timed([_govarchive(), "crawl", "sotttt", "--data", str(data), "--base-url", url,
                           *_settings(FAST)], work / "disk.log")  # fmt: skip
            results["workers_disk_frontier_s"] = round(wall, 1)
            results["workers_articles_single"] = _articles(data)
            say(f"  disk frontier, one process: {wall:.1f}s, {_articles(data)} articles")
            for count, db in ((1, 1), (2, 2)):
                client.flushall()
                redis_url = f"{base_url}/{db}"
                procs = []
                started = time.perf_counter()
                for n in range(count):
                    wdata = work / f"redis{count}-w{n}"
                    cmd = [_govarchive(), "crawl", "sotttt", "--redis", redis_url, "--data",
                           str(wdata), "--base-url", url, *_settings(FAST)]  # fmt: skip
                    log = open(work / f"redis{count}-w{n}.log", "w")  # noqa: SIM115
                    procs.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log))
                for proc, log in procs:
                    proc.wait()
                    log.close()
                wall = time.perf_counter() - started
                got = [_articles(work / f"redis{count}-w{n}") for n in range(count)]
                results[f"workers_redis_{count}_s"] = round(wall, 1)
                results[f"workers_redis_{count}_articles"] = got
                say(f"  scrapy-redis, {count} worker(s): {wall:.1f}s, articles per worker {got}")
    finally:
        replica.terminate()
        replica.wait()
    results["workers_2_vs_1"] = round(results["workers_redis_2_s"] / results["workers_redis_1_s"],
                                      3)  # fmt: skip
    results["workers_redis_1_vs_disk"] = round(
        results["workers_redis_1_s"] / results["workers_disk_frontier_s"], 3
    )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench --fleet", description=__doc__)
    parser.add_argument("--portals", type=int, default=8, help="portals in the fleet (max 8)")
    parser.add_argument("--articles", type=int, default=30, help="--max-articles per portal")
    parser.add_argument("--source", help="replica for the worker runs (default: shared, else demo)")
    parser.add_argument("--no-workers", action="store_true", help="skip the Redis worker runs")
    parser.add_argument("--no-fleet", action="store_true", help="skip the fleet runs")
    parser.add_argument("--work", help="work directory (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="govarchive-bench-fleet-"))
    work.mkdir(parents=True, exist_ok=True)

    def say(message: str) -> None:
        print(message, flush=True)

    results: dict = {"cores": __import__("os").cpu_count()}
    try:
        if not args.no_fleet:
            say(f"fleet: {args.portals} portals, DOWNLOAD_DELAY 0.5 s, {args.articles} articles")
            results.update(fleet(work, min(args.portals, 8), args.articles, say))
        if not args.no_workers:
            source = Path(args.source) if args.source else (shared_replica() or DEMO_REPLICA)
            say(f"workers: {source}, politeness off")
            results["workers_source"] = str(source)
            results.update(workers(work, source, say))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if "fleet_wall_vs_slowest" in results:
        say(f"fleet_wall_vs_slowest {results['fleet_wall_vs_slowest']} (target <= 1.25)")
    print(json.dumps(results, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
