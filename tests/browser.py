"""Headless Chromium driven over the DevTools protocol, with nothing but the standard library.

``--remote-debugging-pipe`` makes Chromium read protocol commands from fd 3 and write replies and
events to fd 4, NUL-terminated JSON: no WebSocket, no port, no extra package (playwright would
want to download its own browser; Debian's ``chromium`` is what we test with). A :class:`Browser`
opens a page, waits for what the test needs, evaluates JavaScript in it, records every
JavaScript error (uncaught exceptions and ``console.error``) and takes screenshots.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

__all__ = ["Browser", "BrowserError"]

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-pipe",
)  # fmt: skip


class BrowserError(Exception):
    pass


class Browser:
    """One Chromium process with one page; use as a context manager."""

    def __init__(self, chromium: str, profile: Path, width: int = 1280, height: int = 900):
        commands_read, self._commands = os.pipe()
        self._events, events_write = os.pipe()

        def child_fds() -> None:  # Chromium expects the pipe on fds 3 (in) and 4 (out)
            # Out of the way first: the pipe's own fds may be 3 or 4 (and close-on-exec).
            high_in, high_out = os.dup(commands_read), os.dup(events_write)
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        self.process = subprocess.Popen(
            [chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=child_fds, close_fds=False,
        )  # fmt: skip
        os.close(commands_read)
        os.close(events_write)
        self._ids = itertools.count(1)
        self._buffer = b""
        self.events: list[dict[str, Any]] = []
        self.session = None
        self.width, self.height = width, height
        try:
            self.session = self._attach()
        except Exception:
            self.close()
            raise

    # -- protocol ------------------------------------------------------------------------------

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError("Chromium did not answer in time")
            ready, _, _ = select.select([self._events], [], [], remaining)
            if ready:
                chunk = os.read(self._events, 1 << 20)
                if not chunk:
                    raise BrowserError("Chromium closed the DevTools pipe")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        """Send a command (to the page once attached) and return its result."""
        number = next(self._ids)
        message = {"id": number, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == number:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def _attach(self) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pages = [
                t for t in self.send("Target.getTargets")["targetInfos"] if t["type"] == "page"
            ]
            if pages:
                break
            time.sleep(0.1)
        else:
            raise BrowserError("Chromium opened no page")
        session = self.send("Target.attachToTarget", targetId=pages[0]["targetId"], flatten=True)
        self.session = session["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=False)  # fmt: skip
        return self.session

    def _pump(self, seconds: float) -> None:
        """Collect events for a while (scripts may still be running)."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._read_message(deadline))
        except BrowserError:
            pass

    # -- what tests use ------------------------------------------------------------------------

    def open(self, url: str, timeout: float = 60) -> None:
        """Load ``url`` and wait for its load event."""
        self.events.clear()
        self.send("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._read_message(deadline))

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)  # fmt: skip
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30) -> Any:
        """Evaluate ``expression`` until it is truthy; its last value."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            self._pump(0.2)
        return value

    def javascript_errors(self) -> list[str]:
        """Uncaught exceptions and console.error calls since the page was opened."""
        self._pump(0.2)
        errors = []
        for event in self.events:
            params = event.get("params", {})
            if event.get("method") == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                errors.append(details.get("exception", {}).get("description") or details["text"])
            elif event.get("method") == "Runtime.consoleAPICalled" and params["type"] == "error":
                errors.append(" ".join(str(a.get("value", a.get("description"))) for a in
                                       params["args"]))  # fmt: skip
            elif event.get("method") == "Log.entryAdded":
                entry = params["entry"]
                if entry["level"] == "error" and entry["source"] in ("javascript", "security"):
                    errors.append(entry["text"])
        return errors

    def screenshot(
        self, path: Path, max_height: int = 3000, from_selector: str | None = None
    ) -> Path:
        """A PNG of the page as tall as its content (up to ``max_height``), from the top or
        from the element ``from_selector`` finds."""
        top = 0
        if from_selector:
            top = self.evaluate(
                f"Math.max(0, document.querySelector({json.dumps(from_selector)})"
                ".getBoundingClientRect().top + window.scrollY - 10)"
            )
        height = (self.evaluate("document.documentElement.scrollHeight") or self.height) - top
        clip = {"x": 0, "y": top, "width": self.width, "height": min(height, max_height),
                "scale": 1}  # fmt: skip
        data = self.send("Page.captureScreenshot", format="png", clip=clip,
                         captureBeyondViewport=True)["data"]  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                try:
                    self.send("Browser.close", timeout=5)
                except (BrowserError, OSError):
                    pass
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            for fd in (self._commands, self._events):
                try:
                    os.close(fd)
                except OSError:
                    pass

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
