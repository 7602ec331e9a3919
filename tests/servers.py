"""Throwaway local servers for tests and benchmarks: a free loopback port, a redis-server.

Shared by the test suite and scripts/bench_fleet.py, so both start Redis the same way: Debian's
``redis-server`` on 127.0.0.1, nothing saved to disk, stopped when the block ends.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """A redis-server on a free loopback port, answering PING; yields its ``redis://`` URL."""
    import redis

    server = shutil.which("redis-server")
    if not server:
        raise RuntimeError("redis-server is needed (apt-get install redis-server; .ci/run does it)")
    port = free_port()
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"redis-server on port {port} did not answer within 10 s")
        yield f"redis://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
