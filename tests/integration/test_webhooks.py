#!/usr/bin/env python3
"""Webhook alerts from `caad run` to a real HTTP receiver on loopback (issue 5).

The receiver is a small threaded http.server on a port picked at run time.
It records every request (path, headers, body, when, what it answered) and
answers as each test tells it: 200 by default, or a script of 500s, 429 with
Retry-After, 410 Gone, or a slow answer that outlasts caad's timeout; it can
also be stopped (the port closed: connection refused) and started again on
the same port. caad runs as a subprocess against NSD + unbound (dnsworld.py),
with a configuration written here, and the tests read its SQLite database
read-only to see the outbox rows move.

* every format's payload shape (slack, mattermost, discord, teams, generic)
  and what each alert says; the generic one's Standard Webhooks signature,
  checked here with hmac/hashlib/base64; `caad webhook test` and its exit
  status;
* receiver down, then back: delivered later, exactly once;
* 500s, then success; 429 with Retry-After (seconds and HTTP date);
* a slow receiver: the request times out and is retried;
* 410 Gone disables the endpoint; a new URL and SIGHUP enable it again;
* caad restarted in the middle of a backoff: the pending row survives, waits
  out its backoff, and is delivered once;
* a burst of 30 regressions becomes one digest message.

Usage: test_webhooks.py [CAAD_BIN]  (or CAAD_BIN in the environment)
"""

import base64
import email.utils
import hashlib
import hmac
import http.server
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnsworld  # noqa: E402
from dnsworld import World, Zone  # noqa: E402
import test_daemon  # noqa: E402
from test_daemon import DC1, LE1, caad_bin, poll  # noqa: E402

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
FORMATS = ("slack", "mattermost", "discord", "teams", "generic")


def verify_signature(secret: str, headers: dict, body: bytes) -> bool:
    """The Standard Webhooks check a receiver does, written from the spec."""
    key = base64.b64decode(secret[len("whsec_"):])
    signed = b"%s.%s.%s" % (headers["webhook-id"].encode(), headers["webhook-timestamp"].encode(), body)
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    candidates = [s.split(",", 1)[1] for s in headers["webhook-signature"].split(" ") if s.startswith("v1,")]
    return any(hmac.compare_digest(expected, c) for c in candidates)


class Request:
    def __init__(self, path, headers, body, answered):
        self.path = path
        self.headers = headers  # lower-case names
        self.body = body
        self.at = time.monotonic()
        self.answered = answered

    def json(self):
        return json.loads(self.body)

    @property
    def id(self):
        return self.headers.get("webhook-id")

    def __repr__(self):
        return "<%s %s %s>" % (self.path, self.id, self.answered)


class Receiver:
    """A recording HTTP receiver on 127.0.0.1 that answers as it is told."""

    def __init__(self):
        self.requests = []
        self.script = []  # (status, headers, delay) for the next requests, in order
        self.lock = threading.Lock()
        self.server = None
        self.thread = None
        self.port = 0
        self.placeholder = None  # holds the port while stopped
        self.start()

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    status, headers, delay = receiver.script.pop(0) if receiver.script else (200, {}, 0)
                    receiver.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                     body, status))
                if delay:
                    time.sleep(delay)
                try:
                    payload = b"ok" if status < 300 else b"nope"
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args):
                pass

        if self.placeholder:
            self.placeholder.close()
            self.placeholder = None
        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.server = server
        self.port = server.server_address[1]
        self.thread = threading.Thread(target=server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        """Closes the port: connections are refused until start(). A socket
        bound to the port without listening keeps it, so that no server of a
        test running meanwhile is given it (one that answered 405 did)."""
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
            self.placeholder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.placeholder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.placeholder.bind(("127.0.0.1", self.port))

    def close(self):
        """Stops for good: the port is given up too."""
        self.stop()
        if self.placeholder:
            self.placeholder.close()
            self.placeholder = None

    def answer(self, status, headers=None, delay=0):
        with self.lock:
            self.script.append((status, headers or {}, delay))

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def posts(self, path=None):
        with self.lock:
            return [r for r in self.requests if path is None or r.path == path]


class Daemon:
    """One `caad run` process, its configuration and its database."""

    def __init__(self, workdir: str, resolver: str, hooks):
        self.workdir = workdir
        self.db = os.path.join(workdir, "caad.db")
        self.config = os.path.join(workdir, "caad.toml")
        self.log = os.path.join(workdir, "caad.log")
        self.secret = os.path.join(workdir, "hook.secret")
        with open(self.secret, "w") as f:
            f.write(SECRET + "\n")
        self.resolver = resolver
        self.proc = None
        self.logf = None
        self.metrics_port = dnsworld.free_port()
        self.write_config(hooks)

    def write_config(self, hooks):
        lines = [
            'database = "%s"' % self.db,
            'metrics_listen = "127.0.0.1:%d"' % self.metrics_port,
            'resolvers = ["%s"]' % self.resolver,
            "timeout_ms = 500",
            "batch_size = 100",
            'log_level = "debug"',
            "",
            "[schedule]",
            # Re-checks every 2 s find nothing new (no events), but keep the
            # daemon awake, so that a domain added while it runs is seen at once.
            'interval_far = "2s"',
            'interval_near = "2s"',
            'interval_week = "2s"',
            'interval_day = "2s"',
            "jitter = 0.0",
            "",
            "[[ca]]",
            'name = "letsencrypt"',
            'issuer = "letsencrypt.org"',
            "",
        ]
        for hook in hooks:
            lines.append("[[webhook]]")
            for key, value in hook.items():
                if key == "secret_file" and value is True:
                    value = self.secret
                lines.append("%s = %s" % (key, json.dumps(value)))
            lines.append("")
        with open(self.config, "w") as f:
            f.write("\n".join(lines))

    def caad(self, *args, input_text=None, check=True):
        run = subprocess.run([caad_bin(), *args, "--config", self.config], input=input_text,
                             capture_output=True, text=True, timeout=60)
        if check and run.returncode != 0:
            raise AssertionError("caad %s failed (%d):\n%s%s" % (args, run.returncode, run.stdout, run.stderr))
        return run

    def start(self):
        self.logf = open(self.log, "a")
        self.proc = subprocess.Popen([caad_bin(), "run", "--config", self.config], stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        poll(lambda: os.path.exists(self.db) and self.read("SELECT heartbeat_at FROM daemon")[0][0] > 0,
             20, "the daemon's first heartbeat")

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None or self.proc.poll() is not None:
            return
        started = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.logf.close()
        if sig == signal.SIGTERM:
            assert self.proc.returncode == 0, "caad run exited with %d" % self.proc.returncode
            assert time.monotonic() - started < 5.0, "caad run took more than 5 s to stop"

    def logs(self) -> str:
        with open(self.log) as f:
            return f.read()

    def read(self, sql, params=()):
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=5)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    def metric(self, name_and_labels) -> float:
        """One sample from the daemon's /metrics, 0 when absent."""
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port, timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name_and_labels + " "):
                    return float(line.split()[-1])
        return 0.0

    def outbox(self, endpoint=None):
        """Outbox rows as dicts, oldest first."""
        sql = ("SELECT o.id, o.endpoint, o.state, o.attempts, o.next_attempt_at, o.last_error, o.delivered_at, "
               "e.subject, e.kind FROM outbox o JOIN events e ON e.id = o.event_id")
        rows = self.read(sql + (" WHERE o.endpoint = ?" if endpoint else "") + " ORDER BY o.id",
                         (endpoint,) if endpoint else ())
        keys = ("id", "endpoint", "state", "attempts", "next_attempt_at", "last_error", "delivered_at", "subject",
                "kind")
        return [dict(zip(keys, r)) for r in rows]


def hook(name, fmt, url, **extra):
    h = {"name": name, "format": fmt, "url": url}
    if fmt == "generic":
        h["secret_file"] = True
    h.update(extra)
    return h


class WebhookTest(unittest.TestCase):
    world = None

    @classmethod
    def setUpClass(cls):
        zones = [
            # Every name under cust.test inherits a CAA that denies letsencrypt.org;
            # www aliases to a provider target that has no CAA of its own.
            Zone("cust.test", {"@": [DC1], "www": ["1 CNAME t.provider.test."]}),
            Zone("provider.test", {"t": ["1 A 192.0.2.1"]}),
            Zone("ok.test", {"@": [LE1]}),
        ]
        cls.world = World(zones)
        cls.world.start()

    @classmethod
    def tearDownClass(cls):
        if cls.world:
            cls.world.stop()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="caad-webhook-test-")
        self.receiver = Receiver()
        self.daemon = None

    def tearDown(self):
        if self.daemon and self.daemon.proc and self.daemon.proc.poll() is None:
            self.daemon.stop(signal.SIGKILL)
        if self.daemon and os.environ.get("CAAD_TEST_VERBOSE"):
            print(self.daemon.logs())
        self.receiver.close()
        self.tmp.cleanup()

    def run_daemon(self, hooks, domains=(), renew_at=None):
        d = self.daemon = Daemon(self.tmp.name, self.world.resolver, hooks)
        if domains:
            args = ["domain", "add", *domains]
            if renew_at:
                args += ["--renew-at", renew_at]
            d.caad(*args)
        d.start()
        return d

    def wait(self, predicate, deadline, what):
        try:
            return poll(predicate, deadline, what)
        except AssertionError as e:
            logs = self.daemon.logs()[-6000:] if self.daemon else ""
            raise AssertionError("%s\nreceived: %r\n--- caad log ---\n%s" % (e, self.receiver.posts(), logs)) from None

    def delivered(self, endpoint, count=1):
        rows = self.daemon.outbox(endpoint)
        return len(rows) >= count and all(r["state"] == "delivered" for r in rows) and rows

    # ---- the tests --------------------------------------------------------------

    def test_every_format_says_everything_and_generic_is_signed(self):
        r = self.receiver
        renew = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 20 * 86400))
        hooks = [hook(f, f, r.url("/" + f)) for f in FORMATS]
        d = self.run_daemon(hooks, ["www.cust.test"], renew_at=renew)
        for f in FORMATS:
            self.wait(lambda f=f: self.delivered(f), 20, "delivery to " + f)
        ids = {row["endpoint"]: "caad-outbox-%d" % row["id"] for row in d.outbox()}
        for f in FORMATS:
            posts = r.posts("/" + f)
            self.assertEqual(len(posts), 1, "%s got %r" % (f, posts))
            p = posts[0]
            self.assertEqual(p.id, ids[f], "the webhook-id is the outbox row's")
            self.assertTrue(p.headers["user-agent"].startswith("caad/"))
            self.assertEqual(p.headers["content-type"], "application/json")
            self.assertLess(abs(int(p.headers["webhook-timestamp"]) - time.time()), 300)
            text = json.dumps(p.json(), ensure_ascii=False)
            # What every alert says: domain, verdict per CA, blocking record and
            # where it lives, CNAME chain, renewal and days left, remedy.
            for part in ("www.cust.test", "letsencrypt.org", "denied", 'digicert.com', "cust.test",
                         "t.provider.test", renew, "days left" if f != "generic" else "days_left",
                         "Publish a CAA record allowing letsencrypt.org at your provider target"):
                self.assertIn(part, text, "%s does not say %r:\n%s" % (f, part, text))

        slack = r.posts("/slack")[0].json()
        self.assertIn("text", slack)
        self.assertEqual(slack["blocks"][0]["type"], "header")
        self.assertTrue(slack["blocks"][0]["text"]["text"].startswith("WARNING: CAA now denies renewal of www.cust.test"))

        mattermost = r.posts("/mattermost")[0].json()
        self.assertIn("text", mattermost)
        self.assertEqual(mattermost["attachments"][0]["color"], "#ECB22E")
        self.assertNotIn("blocks", mattermost)

        discord = r.posts("/discord")[0].json()
        self.assertEqual(discord["allowed_mentions"], {"parse": []})
        embed = discord["embeds"][0]
        self.assertEqual(embed["color"], 0xECB22E)
        self.assertLessEqual(len(discord["content"]), 2000)
        self.assertLessEqual(len(embed["title"]), 256)
        self.assertLessEqual(len(embed["fields"]), 25)
        self.assertTrue(all(0 < len(x["value"]) <= 1024 for x in embed["fields"]))

        teams = r.posts("/teams")[0].json()
        self.assertEqual(teams["type"], "message")
        attachment = teams["attachments"][0]
        self.assertEqual(attachment["contentType"], "application/vnd.microsoft.card.adaptive")
        self.assertEqual(attachment["content"]["type"], "AdaptiveCard")
        self.assertEqual(attachment["content"]["version"], "1.4")
        self.assertEqual(attachment["content"]["body"][0]["style"], "warning")

        generic = r.posts("/generic")[0]
        g = generic.json()
        self.assertEqual(g["type"], "caad.regression")
        self.assertRegex(g["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(g["data"]["domain"], "www.cust.test")
        self.assertEqual(g["data"]["severity"], "warning")
        self.assertEqual(g["data"]["cname_chain"], ["t.provider.test"])
        self.assertEqual(g["data"]["relevant_owner"], "cust.test")
        self.assertIn(g["data"]["days_left"], (19, 20))
        self.assertTrue(verify_signature(SECRET, generic.headers, generic.body), "the signature does not verify")
        # A changed byte does not verify.
        self.assertFalse(verify_signature(SECRET, generic.headers, generic.body.replace(b"cust", b"cusT")))
        for f in ("slack", "mattermost", "discord", "teams"):
            self.assertNotIn("webhook-signature", r.posts("/" + f)[0].headers)

        # caad webhook test: a sample alert to each, exit 0 on 2xx.
        for f in FORMATS:
            run = d.caad("webhook", "test", f)
            self.assertIn("HTTP 200", run.stdout)
            self.assertIn("delivered", run.stdout)
        tests = [p for p in r.posts() if p.id.startswith("caad-test-")]
        self.assertEqual(len(tests), len(FORMATS))
        generic_test = [p for p in tests if p.path == "/generic"][0]
        self.assertTrue(verify_signature(SECRET, generic_test.headers, generic_test.body))
        self.assertIn("test message", generic_test.json()["data"]["title"])
        # No URL path (the secret of a chat webhook) in the logs.
        self.assertNotIn("/slack", d.logs())
        d.stop()

    def test_webhook_test_reports_failures(self):
        r = self.receiver
        d = Daemon(self.tmp.name, self.world.resolver,
                   [hook("bad", "slack", r.url("/bad")), hook("down", "discord", "http://127.0.0.1:9/x")])
        r.answer(500)
        run = d.caad("webhook", "test", "bad", check=False)
        self.assertEqual(run.returncode, 1, run.stdout + run.stderr)
        self.assertIn("HTTP 500", run.stdout)
        run = d.caad("webhook", "test", "down", check=False)
        self.assertEqual(run.returncode, 1)
        self.assertIn("no response", run.stdout)
        run = d.caad("webhook", "test", "nothere", check=False)
        self.assertEqual(run.returncode, 64)
        self.assertIn("no [[webhook]] named nothere", run.stderr)

    def test_receiver_down_then_back_is_delivered_once(self):
        r = self.receiver
        url = r.url("/hook")
        r.stop()
        d = self.run_daemon([hook("h", "generic", url, retry_min="1s", retry_max="2s")], ["down.cust.test"])
        row = self.wait(lambda: [x for x in d.outbox("h") if x["attempts"] >= 2], 20, "two failed attempts")[0]
        self.assertEqual(row["state"], "pending")
        self.assertIn("no response", row["last_error"])
        self.assertEqual(r.posts(), [])
        r.start()
        self.wait(lambda: self.delivered("h"), 20, "delivery once the receiver is back")
        time.sleep(1.5)  # nothing more may arrive
        posts = r.posts("/hook")
        self.assertEqual(len(posts), 1, posts)
        self.assertEqual(posts[0].id, "caad-outbox-%d" % row["id"])
        d.stop()

    def test_500s_then_success_with_backoff(self):
        r = self.receiver
        r.answer(500)
        r.answer(503)
        d = self.run_daemon([hook("h", "slack", r.url("/hook"), retry_min="1s", retry_max="2s")], ["five.cust.test"])
        row = self.wait(lambda: self.delivered("h"), 30, "delivery after two 5xx")[0]
        self.assertEqual(row["attempts"], 3)
        posts = r.posts("/hook")
        self.assertEqual([p.answered for p in posts], [500, 503, 200])
        self.assertEqual(len({p.id for p in posts}), 1, "a retry changed the webhook-id")
        # Backoff: 1 s, then 2 s (3 s capped by retry_max), each ±20%.
        self.assertGreaterEqual(posts[1].at - posts[0].at, 0.75)
        self.assertGreaterEqual(posts[2].at - posts[1].at, 1.55)
        self.assertIn("HTTP 503", d.logs())
        # Every attempt is counted in the daemon's metrics by its result.
        self.assertEqual(d.metric('caad_webhook_deliveries_total{result="retry"}'), 2)
        self.assertEqual(d.metric('caad_webhook_deliveries_total{result="delivered"}'), 1)
        d.stop()

    def test_429_and_503_honour_retry_after(self):
        r = self.receiver
        r.answer(429, {"Retry-After": "3"})
        d = self.run_daemon([hook("h", "generic", r.url("/hook"), retry_min="1s", retry_max="1s")], ["busy.cust.test"])
        self.wait(lambda: len(r.posts()) >= 1, 20, "the first request")
        # The next answer (in about 3 s): 503 with an HTTP date 6 s from now,
        # so still 2 to 3 s ahead when caad reads it.
        r.answer(503, {"Retry-After": email.utils.formatdate(time.time() + 6, usegmt=True)})
        self.wait(lambda: self.delivered("h"), 30, "delivery after 429 and 503")
        posts = r.posts("/hook")
        self.assertEqual([p.answered for p in posts], [429, 503, 200])
        # Without Retry-After the backoff would be about 1 s.
        self.assertGreaterEqual(posts[1].at - posts[0].at, 2.9)
        self.assertGreaterEqual(posts[2].at - posts[1].at, 1.9)
        self.assertIn("Retry-After", d.logs())
        d.stop()

    def test_slow_receiver_times_out_and_is_retried(self):
        r = self.receiver
        r.answer(200, delay=4)
        d = self.run_daemon([hook("h", "mattermost", r.url("/hook"), timeout="2s", retry_min="1s", retry_max="1s")],
                            ["slow.cust.test"])
        row = self.wait(lambda: self.delivered("h"), 30, "delivery after a timeout")[0]
        self.assertEqual(row["attempts"], 2)
        self.assertIn("timeout", row["last_error"])
        posts = r.posts("/hook")
        self.assertEqual(len(posts), 2)
        self.assertEqual(posts[0].id, posts[1].id, "the retry keeps the webhook-id, so the receiver can de-duplicate")
        self.assertGreaterEqual(posts[1].at - posts[0].at, 2.0)
        d.stop()

    def test_410_disables_the_endpoint_until_its_url_changes(self):
        r = self.receiver
        r.answer(410)
        d = self.run_daemon([hook("h", "discord", r.url("/gone"))], ["gone.cust.test"])
        self.wait(lambda: d.read("SELECT name, reason FROM webhook_endpoints"), 20, "the endpoint disabled")
        self.assertEqual(d.read("SELECT name FROM webhook_endpoints"), [("h",)])
        row = d.outbox("h")[0]
        self.assertEqual(row["state"], "pending")
        self.assertIn("HTTP 410", row["last_error"])
        self.assertIn("disabled", d.logs())
        # Another alert: nothing is sent to a disabled endpoint.
        d.caad("domain", "add", "gone2.cust.test")
        self.wait(lambda: len(d.outbox("h")) == 2, 20, "a second outbox row")
        time.sleep(2)
        self.assertEqual(len(r.posts()), 1)
        # A new URL and SIGHUP: both alerts go, in order.
        d.write_config([hook("h", "discord", r.url("/new"))])
        d.proc.send_signal(signal.SIGHUP)
        self.wait(lambda: self.delivered("h", 2), 20, "delivery to the new url")
        self.assertEqual(d.read("SELECT count(*) FROM webhook_endpoints"), [(0,)])
        posts = r.posts("/new")
        self.assertEqual([p.id for p in posts], ["caad-outbox-%d" % x["id"] for x in d.outbox("h")])
        d.stop()

    def test_restart_in_the_middle_of_a_backoff(self):
        r = self.receiver
        r.answer(500)
        d = self.run_daemon([hook("h", "generic", r.url("/hook"), retry_min="5s", retry_max="5s")],
                            ["restart.cust.test"])
        row = self.wait(lambda: [x for x in d.outbox("h") if x["attempts"] == 1], 20, "the first failed attempt")[0]
        self.assertEqual(row["state"], "pending")
        self.assertGreater(row["next_attempt_at"], time.time())
        d.stop()
        self.assertEqual(d.outbox("h")[0]["state"], "pending", "the pending row did not survive the stop")
        d.start()
        self.wait(lambda: self.delivered("h"), 30, "delivery after the restart")
        posts = r.posts("/hook")
        self.assertEqual([p.answered for p in posts], [500, 200])
        self.assertEqual(posts[0].id, posts[1].id)
        # The backoff (4 to 5 s, as recorded in the outbox) held across the restart.
        self.assertGreaterEqual(posts[1].at - posts[0].at, 3.5)
        self.assertEqual(d.outbox("h")[0]["attempts"], 2)
        d.stop()

    def test_a_burst_becomes_one_digest(self):
        r = self.receiver
        names = ["b%02d.cust.test" % i for i in range(30)]
        d = Daemon(self.tmp.name, self.world.resolver,
                   [hook("chat", "slack", r.url("/chat")), hook("relay", "generic", r.url("/relay"))])
        self.daemon = d
        d.caad("domain", "import", "-", input_text="name\n" + "\n".join(names) + "\n")
        d.start()
        self.wait(lambda: self.delivered("chat", 30) and self.delivered("relay", 30), 30, "all 60 rows delivered")
        chat = r.posts("/chat")
        self.assertEqual(len(chat), 1, "a burst of 30 went out as %d messages" % len(chat))
        self.assertTrue(chat[0].id.startswith("caad-digest-"))
        body = chat[0].json()
        self.assertIn("30 CAA alerts", body["text"])
        self.assertIn("By kind: 30 regression", json.dumps(body))
        self.assertIn("more not shown", json.dumps(body))
        relay = r.posts("/relay")
        self.assertEqual(len(relay), 1)
        g = relay[0].json()
        self.assertEqual(g["type"], "caad.digest")
        self.assertEqual(g["data"]["count"], 30)
        self.assertEqual(g["data"]["by_kind"], {"regression": 30})
        self.assertEqual(sorted(g["data"]["outbox_ids"]), sorted(x["id"] for x in d.outbox("relay")))
        self.assertEqual(len(g["data"]["examples"]), 10)
        self.assertTrue(verify_signature(SECRET, relay[0].headers, relay[0].body))
        d.stop()


if __name__ == "__main__":
    dnsworld.install_signal_cleanup()
    args = [a for a in sys.argv[1:] if not (os.path.sep in a and os.access(a, os.X_OK))]
    bins = [a for a in sys.argv[1:] if a not in args]
    if bins:
        test_daemon.CAAD = bins[0]
    unittest.main(argv=[sys.argv[0]] + args)
