#!/usr/bin/env python3
"""`caad run` with metrics_listen, scraped over loopback (issue 7).

Runs the daemon (test_daemon.Daemon) against NSD + unbound on loopback with
a permitted, a denied and a failing domain, then reads GET /metrics and
GET /healthz the way Prometheus and a load balancer would:

* every caad_ family is there with HELP and TYPE, build info carries the version;
* caad_checks_total grows between scrapes, caad_domains matches the database,
  DNS answers are counted by RCODE, the failing domain has its own series;
* the earliest at-risk renewal is the denied domain's renewal time;
* /healthz says ok, unknown paths are 404, other methods 405, junk 400;
* SIGTERM: the daemon stops cleanly with the listener open.

Usage: test_metrics.py [CAAD_BIN]  (or CAAD_BIN in the environment)
"""

import calendar
import os
import re
import signal
import socket
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnsworld  # noqa: E402
import test_daemon  # noqa: E402
from dnsworld import World, Zone  # noqa: E402
from test_daemon import DC1, LE1, Daemon, poll  # noqa: E402

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """{(name, frozenset(labels)): value}, and {name: type}; fails on any malformed line."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if line.startswith("# HELP "):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise AssertionError("malformed metrics line: %r" % line)
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples, types


def get(port, path, method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def raw(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out.decode(errors="replace")
            out += chunk


class MetricsTest(unittest.TestCase):
    world = None

    @classmethod
    def setUpClass(cls):
        zones = [
            Zone("ok.test", {"@": [LE1]}),
            Zone("bad.test", {"@": [DC1]}),
            Zone("broken.test", kind="refused"),  # its server refuses: unbound says SERVFAIL
        ]
        cls.world = World(zones, unbound_options={"cache-max-ttl": 1, "cache-max-negative-ttl": 1})
        cls.world.start()

    @classmethod
    def tearDownClass(cls):
        if cls.world:
            cls.world.stop()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="caad-metrics-test-")
        self.daemon = None

    def tearDown(self):
        if self.daemon and self.daemon.proc and self.daemon.proc.poll() is None:
            self.daemon.stop(signal.SIGKILL)
        self.tmp.cleanup()

    def test_scrape(self):
        port = dnsworld.free_port()
        d = self.daemon = Daemon(self.tmp.name, self.world.resolver)
        with open(d.config) as f:
            text = f.read()
        # metrics_listen is a top-level key: it goes before the first table.
        text = text.replace("[schedule]", 'metrics_listen = "127.0.0.1:%d"\n\n[schedule]' % port, 1)
        with open(d.config, "w") as f:
            f.write(text)
        renewal = "2031-05-01T00:00:00Z"
        d.caad("domain", "add", "ok.test", "bad.test", "--renew-at", renewal)
        d.caad("domain", "add", "broken.test")
        d.start()
        try:
            self.check_scrapes(d, port, calendar.timegm(time.strptime(renewal, "%Y-%m-%dT%H:%M:%SZ")))
        except AssertionError as e:
            raise AssertionError("%s\n--- caad log ---\n%s" % (e, d.logs()[-6000:])) from None
        took = d.stop()
        self.assertEqual(d.proc.returncode, 0)
        self.assertLess(took, 5.5)

    def scrape(self, port):
        status, headers, body = get(port, "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        return parse_metrics(body)

    def check_scrapes(self, d, port, renewal_ts):
        def denied_counted():
            s, _ = self.scrape(port)
            return s.get(("caad_domains", frozenset({("verdict", "denied"), ("exposure", "exposed")}))) == 1 and \
                s.get(("caad_domains", frozenset({("verdict", "lookup_failed"), ("exposure", "exposed")}))) == 1
        poll(denied_counted, 30, "caad_domains to show the denied and the failing domain")

        samples, types = self.scrape(port)
        for name, kind in {
            "caad_checks_total": "counter", "caad_check_failures_total": "counter",
            "caad_check_duration_seconds": "histogram", "caad_dns_queries_total": "counter",
            "caad_domains": "gauge", "caad_earliest_at_risk_renewal_timestamp_seconds": "gauge",
            "caad_webhook_deliveries_total": "counter", "caad_outbox_depth": "gauge",
            "caad_last_sweep_timestamp_seconds": "gauge", "caad_build_info": "gauge",
            "caad_domain_failing": "gauge",
        }.items():
            self.assertEqual(types.get(name), kind, name)

        build = [k for k in samples if k[0] == "caad_build_info"]
        self.assertEqual(len(build), 1)
        self.assertRegex(dict(build[0][1])["version"], r"^\d+\.\d+\.\d+$")

        # caad_domains matches the database, series by series.
        rows = d.read("SELECT s.verdict, s.exposure, count(*) FROM domains d JOIN domain_state s "
                      "ON s.domain_id = d.id WHERE d.enabled GROUP BY 1, 2")
        for verdict, exposure, count in rows:
            self.assertEqual(samples.get(("caad_domains", frozenset({("verdict", verdict), ("exposure", exposure)}))),
                             count, (verdict, exposure))
        total = sum(v for k, v in samples.items() if k[0] == "caad_domains")
        self.assertEqual(total, 3)

        # The failing domain has its own series; permitted and denied ones do not.
        failing = [dict(k[1]) for k in samples if k[0] == "caad_domain_failing"]
        self.assertEqual([f["domain"] for f in failing], ["broken.test"])
        self.assertGreater(sum(v for k, v in samples.items() if k[0] == "caad_check_failures_total"), 0)

        # The denied domain renews at renewal_ts: the earliest at-risk renewal.
        self.assertEqual(samples[("caad_earliest_at_risk_renewal_timestamp_seconds", frozenset())], renewal_ts)
        self.assertGreater(samples[("caad_dns_queries_total", frozenset({("rcode", "NOERROR")}))], 0)
        self.assertGreater(samples[("caad_last_sweep_timestamp_seconds", frozenset())], time.time() - 60)
        count = samples[("caad_check_duration_seconds_count", frozenset())]
        checks = sum(v for k, v in samples.items() if k[0] == "caad_checks_total")
        self.assertEqual(count, checks)
        inf = samples[("caad_check_duration_seconds_bucket", frozenset({("le", "+Inf")}))]
        self.assertEqual(inf, count)

        # The cadence is seconds: checks_total grows between scrapes.
        def grew():
            s, _ = self.scrape(port)
            return sum(v for k, v in s.items() if k[0] == "caad_checks_total") > checks
        poll(grew, 20, "caad_checks_total to grow")

        status, _, body = get(port, "/healthz")
        self.assertEqual((status, body), (200, "ok\n"))
        self.assertEqual(get(port, "/nothing")[0], 404)
        self.assertEqual(get(port, "/metrics", method="POST")[0], 405)
        self.assertTrue(raw(port, b"NONSENSE\r\n\r\n").startswith("HTTP/1.1 400 "))
        self.assertTrue(raw(port, b"GET /healthz HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n")
                        .startswith("HTTP/1.1 431 "))
        # Scrapes keep working after the bad requests.
        self.assertEqual(get(port, "/healthz")[0], 200)


if __name__ == "__main__":
    dnsworld.install_signal_cleanup()
    args = [a for a in sys.argv[1:] if not (os.path.sep in a and os.access(a, os.X_OK))]
    bins = [a for a in sys.argv[1:] if a not in args]
    if bins:
        test_daemon.CAAD = bins[0]
    unittest.main(argv=[sys.argv[0]] + args)
