"""A headless Debian `chromium` driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
JSON messages ended by a NUL byte, the browser reading fd 3 and writing fd 4), with the standard
library only: no websocket client, no chromedriver.

    with HeadlessBrowser() as browser:
        page = browser.open("http://127.0.0.1:9901/")
        browser.evaluate(page, "document.title")
        browser.requested_urls()   # every URL the page asked for, as Network.requestWillBeSent saw it

Every read has a deadline; the browser is stopped by the PID this module started.
"""

import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

import harness

BROWSER = shutil.which("chromium") or "/usr/bin/chromium"
# Any host name but the loopback address resolves to nothing, so a page that tried the network
# would fail there too; the test reads the requests themselves to see that it never tried.
ISOLATION_FLAGS = [
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--no-proxy-server",
    # The browser's own background traffic (updates, sync, field trials) is not the page's.
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--no-first-run", "--no-default-browser-check",
]


class HeadlessBrowser:
    def __init__(self, timeout=10.0):
        self.timeout = timeout
        self.dir = tempfile.TemporaryDirectory(prefix="rpcgate-chromium-")
        self.proc = None
        self.buffer = b""
        self.last_id = 0
        self.events = []
        self.to_browser = self.from_browser = -1

    def start(self):
        to_read, to_write = os.pipe()
        from_read, from_write = os.pipe()
        # Copies above 4 first, so that neither dup2 in the child overwrites the other's source.
        high_read, high_write = fcntl.fcntl(to_read, fcntl.F_DUPFD, 10), fcntl.fcntl(from_write, fcntl.F_DUPFD, 10)

        def pipes_to_3_and_4():
            os.dup2(high_read, 3)
            os.dup2(high_write, 4)

        stderr = open(os.path.join(self.dir.name, "stderr.log"), "wb")
        try:
            self.proc = subprocess.Popen(
                [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                 "--user-data-dir=" + os.path.join(self.dir.name, "profile")] + ISOLATION_FLAGS + ["about:blank"],
                stdin=subprocess.DEVNULL, stdout=stderr, stderr=subprocess.STDOUT,
                preexec_fn=pipes_to_3_and_4, pass_fds=(3, 4))
        finally:
            stderr.close()
            for fd in (to_read, from_write, high_read, high_write):
                os.close(fd)
        self.to_browser, self.from_browser = to_write, from_read
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.call("Browser.close", timeout=5)
            except Exception:
                pass
            harness.stop_process(self.proc, timeout=5)
        for fd in (self.to_browser, self.from_browser):
            if fd >= 0:
                os.close(fd)
        self.to_browser = self.from_browser = -1
        self.dir.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def stderr_tail(self, lines=20):
        try:
            with open(os.path.join(self.dir.name, "stderr.log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def _read_message(self, deadline):
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from chromium in time\n" + self.stderr_tail())
            ready, _, _ = select.select([self.from_browser], [], [], left)
            if ready:
                chunk = os.read(self.from_browser, 1 << 16)
                if not chunk:
                    raise EOFError("chromium closed the DevTools pipe\n" + self.stderr_tail())
                self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=None, timeout=None):
        """Sends one command and returns its result; events read meanwhile go to self.events."""
        self.last_id += 1
        message = {"id": self.last_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") != self.last_id:
                self.events.append(answer)
                continue
            if "error" in answer:
                raise RuntimeError("%s: %s" % (method, answer["error"]))
            return answer.get("result", {})

    def open(self, url):
        """A new tab with the Network and Runtime domains on, navigated to `url`; its session id."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Network.enable", session=session)
        self.call("Runtime.enable", session=session)
        self.call("Page.navigate", {"url": url}, session=session)
        return session

    def evaluate(self, session, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session)
        if "exceptionDetails" in result:
            raise RuntimeError("%s: %s" % (expression, result["exceptionDetails"]))
        return result["result"].get("value")

    def requested_urls(self):
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def page_errors(self):
        """Uncaught exceptions and console errors of the page."""
        errors = []
        for e in self.events:
            if e.get("method") == "Runtime.exceptionThrown":
                errors.append(json.dumps(e["params"]["exceptionDetails"])[:500])
            elif e.get("method") == "Runtime.consoleAPICalled" and e["params"].get("type") == "error":
                errors.append(json.dumps(e["params"].get("args"))[:500])
        return errors
