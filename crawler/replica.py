"""A static HTTP server for portal replicas: the live site, offline and repeatable.

Tests, ``govarchive demo`` and benchmarks all crawl a *replica* instead of the real portal: a
folder of saved HTML pages plus ``pages.tsv`` mapping each request target (path + query) to a
file (see ``shared/replica/sotttt/README.md``). This module serves such a folder on loopback so
that the crawler runs unchanged against it, with the quirks that matter to a crawler reproduced:

* pages are found as :mod:`crawler.replica_site` says (query order, ``&amp;``, Liferay's
  article ids whatever the section path); everything not in ``pages.tsv`` answers 404;
* ``Last-Modified`` (the replica's crawl time), ``ETag`` and conditional requests (304) exist so
  incremental re-crawls can be tested; HTTP/1.1 keep-alive lets a crawler reuse connections.

It is standard library only (no Scrapy import), so it starts fast inside tests and from a shell:
``python -m crawler.replica DIR [--port N]``.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from crawler.replica_site import (
    DAKNONG_DEMO_REPLICA,
    DEMO_REPLICA,
    ReplicaSite,
    shared_replica,
    split_target,
)

# What callers import from here: the server, and the replica folders it serves.
__all__ = [
    "DAKNONG_DEMO_REPLICA",
    "DEMO_REPLICA",
    "ReplicaServer",
    "ReplicaSite",
    "RequestLog",
    "serve_replica",
    "shared_replica",
    "split_target",
]


class RequestLog:
    """Thread-safe record of the requests a server answered, in order, for tests to inspect."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[tuple[str, str, int]] = []

    def add(self, method: str, target: str, status: int) -> None:
        with self._lock:
            self._entries.append((method, target, status))

    @property
    def entries(self) -> list[tuple[str, str, int]]:
        """``(method, target, status)`` for every request so far (a copy)."""
        with self._lock:
            return list(self._entries)

    @property
    def paths(self) -> list[str]:
        """The request targets (path + query as sent) so far (a copy)."""
        with self._lock:
            return [target for _, target, _ in self._entries]

    def count(self, status: int | None = None) -> int:
        """How many requests were answered, optionally only those with ``status``."""
        with self._lock:
            return sum(1 for e in self._entries if status is None or e[2] == status)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return self.count()

    def __iter__(self):
        return iter(self.paths)

    def __contains__(self, target: object) -> bool:
        return target in self.paths


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a crawler reuses its connections
    server_version = "govarchive-replica/1"
    disable_nagle_algorithm = True  # no 40 ms stalls between a response and the next request
    timeout = 60  # idle keep-alive connections do not hold a thread forever
    server: _Server

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _answer(self, head: bool) -> None:
        status, headers, body = self.server.site.lookup(
            self.path, dict(self.headers.items()), head=head
        )
        reason = self.responses.get(status, ("",))[0]
        lines = [f"{self.protocol_version} {status} {reason}", f"Server: {self.server_version}"]
        lines.append(f"Date: {formatdate(usegmt=True)}")
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        if self.close_connection:
            lines.append("Connection: close")
        head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        # Logged before the answer leaves, so a client that has its answer finds it logged.
        self.server.requests.add(self.command, self.path, status)
        # One write per response: headers and body leave in the same segments.
        self.wfile.write(head_bytes + body)

    def log_message(self, format: str, *args) -> None:
        """Silence the per-request stderr line: ``server.requests`` records requests instead."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # do not wait for idle keep-alive clients on shutdown
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], site: ReplicaSite):
        self.site = site
        self.requests = RequestLog()
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address) -> None:
        # A client that hangs up mid-request (a crawl killed or timing out) is routine here.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive connections so they exit."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class ReplicaServer:
    """A running replica server; ``.url`` is its base URL, ``.requests`` what it answered."""

    def __init__(self, site: ReplicaSite, host: str = "127.0.0.1", port: int = 0):
        self.site = site
        self._server = _Server((host, port), site)
        bound_host, bound_port = self._server.server_address[:2]
        shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
        self.host = str(bound_host)
        self.port = int(bound_port)
        self.url = f"http://{shown}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"replica-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def requests(self) -> RequestLog:
        return self._server.requests

    @property
    def directory(self) -> Path:
        return self.site.directory

    def shutdown(self) -> None:
        """Stop serving, close the listening socket and any idle keep-alive connections."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.close_connections()
        self._server.server_close()

    def __enter__(self) -> ReplicaServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return f"<ReplicaServer {self.url} serving {self.site.directory}>"


def serve_replica(directory: str | Path, host: str = "127.0.0.1", port: int = 0) -> ReplicaServer:
    """Start serving a replica folder in a background thread and return the running server.

    ``port=0`` picks a free port, so parallel tests never collide; read it back from ``.url``.
    Use it as a context manager (or call ``.shutdown()``) to stop it.
    """
    return ReplicaServer(ReplicaSite(directory), host=host, port=port)


def main(argv: list[str] | None = None) -> int:
    """``python -m crawler.replica DIR``: serve a replica until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m crawler.replica", description="Serve a portal replica folder over HTTP."
    )
    parser.add_argument(
        "directory", nargs="?", default=str(DEMO_REPLICA), help="replica folder (has pages.tsv)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    try:
        server = serve_replica(args.directory, host=args.host, port=args.port)
    except (FileNotFoundError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Serving {server.directory} ({len(server.site.pages)} pages) at {server.url}")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        print(f"served {len(server.requests)} requests", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
