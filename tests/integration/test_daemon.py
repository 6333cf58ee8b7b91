#!/usr/bin/env python3
"""`caad run` against real NSD + unbound on loopback (issue 4).

The daemon runs as a subprocess on a configuration written here, with a
cadence of seconds. The tests change zones while it runs and read its SQLite
database (read-only, as caad-status will) to see the state, the events and
the outbox rows appear:

* a customer publishes a denying CAA: a regression event and an outbox row;
  the record goes away again: a recovery event;
* the provider target's CAA stops permitting: one critical
  provider_target_broken event that names how many pinned domains it affects;
* kill -9 in the middle of a sweep, restart: every domain ends up checked,
  each with exactly one event, and PRAGMA integrity_check is ok;
* a sweep with tiny batches, where due-domain fetches (on their own
  connection) keep overlapping writes, checks every domain exactly once;
* writes that fail (a file size limit stops the WAL from growing) pause new
  checks with a growing pause instead of re-checking in a loop; once the
  limit goes, the sweep completes with one event per domain;
* SIGHUP with a broken file keeps the old configuration; SIGTERM stops the
  daemon within 5 seconds with status 0.

Usage: test_daemon.py [CAAD_BIN]  (or CAAD_BIN in the environment)
"""

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnsworld  # noqa: E402
from dnsworld import World, Zone  # noqa: E402

CAAD = None
LE1 = '1 CAA 0 issue "letsencrypt.org"'
DC1 = '1 CAA 0 issue "digicert.com"'
BULK = 200


def caad_bin() -> str:
    path = CAAD or os.environ.get("CAAD_BIN")
    if not path or not os.access(path, os.X_OK):
        raise AssertionError("no caad binary: pass its path or set CAAD_BIN")
    return path


def poll(predicate, deadline: float, what: str, interval: float = 0.1):
    end = time.monotonic() + deadline
    last = None
    while time.monotonic() < end:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.0f s waiting for %s (last: %r)" % (deadline, what, last))


class Daemon:
    """One `caad run` process and its files."""

    def __init__(self, workdir: str, resolver: str, *, targets=(), concurrency=64, max_qps=0, batch_size=50,
                 cadence="2s", log_level="debug"):
        self.workdir = workdir
        self.db = os.path.join(workdir, "caad.db")
        self.config = os.path.join(workdir, "caad.toml")
        self.log = os.path.join(workdir, "caad.log")
        secret = os.path.join(workdir, "hook.secret")
        with open(secret, "w") as f:
            f.write("whsec_dGVzdHNlY3JldA==\n")
        self.text = "\n".join([
            'database = "%s"' % self.db,
            'resolvers = ["%s"]' % resolver,
            "provider_targets = [%s]" % ", ".join('"%s"' % t for t in targets),
            "concurrency = %d" % concurrency,
            "max_qps = %d" % max_qps,
            "timeout_ms = 500",
            "batch_size = %d" % batch_size,
            'log_level = "%s"' % log_level,
            "",
            "[schedule]",
            'interval_far = "%s"' % cadence,
            'interval_near = "%s"' % cadence,
            'interval_week = "%s"' % cadence,
            'interval_day = "%s"' % ("1s" if cadence == "2s" else cadence),
            'failure_retry_min = "1s"',
            'failure_retry_max = "2s"',
            "jitter = 0.0",
            'target_interval = "1s"',
            "",
            "[[ca]]",
            'name = "letsencrypt"',
            'issuer = "letsencrypt.org"',
            'profile = "letsencrypt"',
            "",
            "[[webhook]]",
            'name = "hooks"',
            'format = "generic"',
            'url = "http://127.0.0.1:9/caad"',
            'secret_file = "%s"' % secret,
            "",
        ])
        with open(self.config, "w") as f:
            f.write(self.text)
        self.proc = None

    def caad(self, *args, input_text=None, check=True):
        run = subprocess.run([caad_bin(), *args, "--config", self.config], input=input_text,
                             capture_output=True, text=True, timeout=60)
        if check and run.returncode != 0:
            raise AssertionError("caad %s failed (%d):\n%s%s" % (args, run.returncode, run.stdout, run.stderr))
        return run

    def start(self, file_size_limit=None):
        """file_size_limit: the daemon's soft RLIMIT_FSIZE in bytes (the hard
        limit stays, so that lift_file_size_limit can raise it again)."""
        def limit():
            if file_size_limit is not None:
                _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
                resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, hard))
        self.logf = open(self.log, "a")
        self.proc = subprocess.Popen([caad_bin(), "run", "--config", self.config], stdout=self.logf,
                                     stderr=subprocess.STDOUT, preexec_fn=limit)
        poll(lambda: self.read("SELECT heartbeat_at FROM daemon")[0][0] > 0 if os.path.exists(self.db) else False,
             20, "the daemon's first heartbeat")

    def stop(self, sig=signal.SIGTERM, deadline=5.0) -> float:
        """Sends sig; returns how long the daemon took to exit."""
        if self.proc is None:
            return 0.0
        started = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=deadline + 5)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        took = time.monotonic() - started
        self.logf.close()
        return took

    def lift_file_size_limit(self):
        _, hard = resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE, (hard, hard))

    def logs(self) -> str:
        with open(self.log) as f:
            return f.read()

    def read(self, sql, params=()):
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=5)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    def verdict(self, name):
        rows = self.read("SELECT s.verdict, s.exposure FROM domains d JOIN domain_state s ON s.domain_id = d.id "
                         "WHERE d.name = ?", (name,))
        return rows[0] if rows else None

    def events(self, subject, kind):
        return self.read("SELECT id, severity, data_json FROM events WHERE subject = ? AND kind = ? ORDER BY id",
                         (subject, kind))


class DaemonTest(unittest.TestCase):
    world = None

    @classmethod
    def setUpClass(cls):
        zones = [
            Zone("shop.test", {"@": [LE1]}),
            Zone("provider.test", {"t": [LE1]}),
            Zone("cust.test", {"@": [DC1], "www": ["1 CNAME t.provider.test."], "app": ["1 CNAME t.provider.test."]}),
            Zone("bulk.test", {"@": [DC1]}),
        ]
        cls.world = World(zones, unbound_options={"cache-max-ttl": 1, "cache-max-negative-ttl": 1})
        cls.world.start()

    @classmethod
    def tearDownClass(cls):
        if cls.world:
            cls.world.stop()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="caad-daemon-test-")
        self.daemon = None

    def tearDown(self):
        if self.daemon and self.daemon.proc and self.daemon.proc.poll() is None:
            self.daemon.stop(signal.SIGKILL)
        if self.daemon and os.environ.get("CAAD_TEST_VERBOSE"):
            print(self.daemon.logs())
        self.tmp.cleanup()

    def fail_with_logs(self, fn, *args):
        try:
            return fn(*args)
        except AssertionError as e:
            raise AssertionError("%s\n--- caad log ---\n%s" % (e, self.daemon.logs()[-6000:])) from None

    def test_regression_recovery_and_provider_target(self):
        d = self.daemon = Daemon(self.tmp.name, self.world.resolver, targets=["t.provider.test"])
        d.caad("domain", "add", "shop.test", "www.cust.test", "app.cust.test")
        d.start()
        # The heartbeat carries the counts, read before any check.
        status = d.read("SELECT status_line FROM daemon")[0][0]
        self.assertRegex(status, r"^domains 3, due [0-3], denied 0, failing 0, checks \d+, in flight \d+$")
        self.fail_with_logs(poll, lambda: all(d.verdict(n) == ("permitted", e) for n, e in
                                             (("shop.test", "exposed"), ("www.cust.test", "pinned"),
                                              ("app.cust.test", "pinned"))), 20, "first checks: permitted")
        self.assertEqual(d.events("shop.test", "regression"), [])

        # The customer publishes a denying CAA while caad runs.
        self.world.update_zone("shop.test", {"@": [DC1]}, flush=False)
        self.world.wait_resolver_sees("shop.test", "CAA", lambda a: "digicert" in " ".join(a.rdata("CAA")))
        rows = self.fail_with_logs(poll, lambda: d.events("shop.test", "regression"), 20, "a regression event")
        self.assertEqual(len(rows), 1)
        data = json.loads(rows[0][2])
        self.assertEqual(data["verdict"], "denied")
        self.assertIn("digicert.com", json.dumps(data["records"]))
        outbox = d.read("SELECT endpoint, state FROM outbox WHERE event_id = ?", (rows[0][0],))
        self.assertEqual(outbox, [("hooks", "pending")])

        # The record goes away again: a recovery follows.
        self.world.update_zone("shop.test", {"@": [LE1]}, flush=False)
        self.world.wait_resolver_sees("shop.test", "CAA", lambda a: "letsencrypt" in " ".join(a.rdata("CAA")))
        self.fail_with_logs(poll, lambda: d.events("shop.test", "recovery"), 20, "a recovery event")
        self.assertEqual(len(d.events("shop.test", "regression")), 1, "the regression was raised once")

        # The provider target stops permitting: one critical event naming the pinned count.
        self.world.update_zone("provider.test", {"t": [DC1]}, flush=False)
        self.world.wait_resolver_sees("t.provider.test", "CAA", lambda a: "digicert" in " ".join(a.rdata("CAA")))
        rows = self.fail_with_logs(poll, lambda: d.events("t.provider.test", "provider_target_broken"), 20,
                                   "a provider_target_broken event")
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][1], "critical")
        self.assertEqual(json.loads(rows[0][2])["pinned_domains"], 2)
        self.world.update_zone("provider.test", {"t": [LE1]}, flush=False)
        self.world.wait_resolver_sees("t.provider.test", "CAA", lambda a: "letsencrypt" in " ".join(a.rdata("CAA")))
        self.fail_with_logs(poll, lambda: d.events("t.provider.test", "provider_target_recovered"), 20,
                            "a provider_target_recovered event")

        took = d.stop(signal.SIGTERM)
        self.assertEqual(d.proc.returncode, 0, d.logs()[-3000:])
        self.assertLess(took, 5.0)
        self.assertEqual(d.read("PRAGMA integrity_check"), [("ok",)])

    def test_kill_9_in_a_sweep_loses_and_duplicates_nothing(self):
        d = self.daemon = Daemon(self.tmp.name, self.world.resolver, concurrency=4, max_qps=100)
        names = ["d%03d.bulk.test" % i for i in range(BULK)]
        d.caad("domain", "import", "-", input_text="name\n" + "\n".join(names) + "\n")
        d.start()
        # Kill it once some, but not all, first checks are written.
        self.fail_with_logs(poll, lambda: 0 < d.read("SELECT COUNT(*) FROM events")[0][0], 30, "the first events")
        d.stop(signal.SIGKILL)
        written = d.read("SELECT COUNT(*) FROM events")[0][0]
        self.assertLess(written, BULK, "the sweep finished before the kill; the test proves nothing")
        self.assertEqual(d.read("PRAGMA integrity_check"), [("ok",)])

        d.start()
        self.fail_with_logs(poll, lambda: d.read("SELECT COUNT(*) FROM domain_state WHERE verdict = 'denied'")[0][0]
                            == BULK, 60, "every domain checked after the restart")
        d.stop(signal.SIGTERM)
        per_subject = dict(d.read("SELECT subject, COUNT(*) FROM events WHERE kind = 'regression' GROUP BY subject"))
        self.assertEqual(sorted(per_subject), sorted(names), "a domain's event was lost")
        self.assertEqual(set(per_subject.values()), {1}, "an event was written twice")
        self.assertEqual(d.read("PRAGMA integrity_check"), [("ok",)])
        outbox = d.read("SELECT COUNT(*) FROM outbox")[0][0]
        self.assertEqual(outbox, BULK)

    def test_overlapping_fetches_and_writes_check_each_domain_once(self):
        # batch_size 3: a fetch reads 3 due domains while writes of 3 results
        # complete all the time, so fetches keep reading domains whose write
        # lands meanwhile. A domain read as it was before its write would be
        # checked twice: a second regression event, and more checks than
        # domains. With an hour's cadence, nothing is due twice legitimately.
        n = 1500
        d = self.daemon = Daemon(self.tmp.name, self.world.resolver, concurrency=64, batch_size=3, cadence="1h")
        names = ["o%04d.bulk.test" % i for i in range(n)]
        d.caad("domain", "import", "-", input_text="name\n" + "\n".join(names) + "\n")
        d.start()
        self.fail_with_logs(poll, lambda: d.read("SELECT COUNT(*) FROM domain_state WHERE verdict = 'denied'")[0][0]
                            == n, 60, "every domain checked")
        time.sleep(1.0)  # a duplicate check, if any, has time to land
        d.stop(signal.SIGTERM)
        self.assertEqual(d.proc.returncode, 0, d.logs()[-3000:])
        per_subject = dict(d.read("SELECT subject, COUNT(*) FROM events WHERE kind = 'regression' GROUP BY subject"))
        self.assertEqual(sorted(per_subject), sorted(names), "a domain's event was lost")
        self.assertEqual(set(per_subject.values()), {1}, "a domain was checked twice")
        self.assertEqual(d.read("SELECT SUM(run_checks) FROM domain_state"), [(n,)])
        self.assertIn("stopped after %d checks, %d events" % (n, n), d.logs())

    def test_failed_writes_pause_new_checks_until_writes_succeed(self):
        # A file size limit stops the WAL from growing past 1 MB (and no
        # checkpoint comes before 4 MB), so every write fails after the
        # first few, as on a full disk (SQLite says "disk I/O error"). Without a pause the daemon would
        # re-check the dropped domains at once, fail again and again, and
        # log a failure for every batch.
        n = 3000
        d = self.daemon = Daemon(self.tmp.name, self.world.resolver, concurrency=64, batch_size=20, cadence="1h",
                                 log_level="info")
        names = ["w%04d.bulk.test" % i for i in range(n)]
        d.caad("domain", "import", "-", input_text="name\n" + "\n".join(names) + "\n")
        d.start(file_size_limit=1 << 20)
        self.fail_with_logs(poll, lambda: "no new checks for 1 s" in d.logs(), 30, "the first failed write")
        time.sleep(5.0)
        # Pauses of 1, 2 and 4 s, each followed by a round of failed writes
        # (the lookups that start after a pause, and those running when it
        # began), however many batches fail in each. A small write may still
        # fit under the limit after the first failures, which ends the pause
        # and starts the count again: only what follows the last one counts.
        logs = d.logs()
        since = logs[logs.rfind("results are written again") + 1:]
        pauses = since.count("no new checks for")
        self.assertIn("no new checks for 2 s", since, "the pause does not grow")
        self.assertLessEqual(pauses, 3, "failed writes are retried without a pause")
        self.assertLessEqual(since.count("failed writes in a row)"), 30, "failed writes are retried without a pause")
        self.assertIsNone(d.proc.poll(), "the daemon died of the file size limit")
        self.assertLess(d.read("SELECT COUNT(*) FROM domain_state WHERE verdict = 'denied'")[0][0], n)

        # The disk has room again: the next write after the pause succeeds
        # and the sweep completes, every domain checked once.
        d.lift_file_size_limit()
        self.fail_with_logs(poll, lambda: d.read("SELECT COUNT(*) FROM domain_state WHERE verdict = 'denied'")[0][0]
                            == n, 90, "every domain checked after the limit went")
        self.assertIn("results are written again", d.logs())
        took = d.stop(signal.SIGTERM)
        self.assertEqual(d.proc.returncode, 0, d.logs()[-3000:])
        self.assertLess(took, 5.0)
        per_subject = dict(d.read("SELECT subject, COUNT(*) FROM events WHERE kind = 'regression' GROUP BY subject"))
        self.assertEqual(sorted(per_subject), sorted(names), "a domain's event was lost")
        self.assertEqual(set(per_subject.values()), {1}, "a domain's event was written twice")
        self.assertEqual(d.read("PRAGMA integrity_check"), [("ok",)])

    def test_sighup_keeps_a_good_configuration_and_sigterm_is_prompt(self):
        d = self.daemon = Daemon(self.tmp.name, self.world.resolver)
        d.caad("domain", "add", "shop.test")
        d.start()
        with open(d.config, "a") as f:
            f.write("\nno_such_key = 1\n")
        d.proc.send_signal(signal.SIGHUP)
        self.fail_with_logs(poll, lambda: "keeping the old configuration" in d.logs(), 10, "the reload error")
        self.assertIn("no_such_key", d.logs())
        self.assertIsNone(d.proc.poll(), "a bad configuration stopped the daemon")
        with open(d.config, "w") as f:
            f.write(d.text)
        d.proc.send_signal(signal.SIGHUP)
        self.fail_with_logs(poll, lambda: "configuration reloaded" in d.logs(), 10, "the reload")
        took = d.stop(signal.SIGTERM)
        self.assertEqual(d.proc.returncode, 0)
        self.assertLess(took, 5.0)

    def test_domain_commands(self):
        d = self.daemon = Daemon(self.tmp.name, self.world.resolver)
        run = d.caad("domain", "import", "-", "--dry-run", input_text="name,renew_at\nshop.test,2027-01-15\n")
        self.assertIn("would add", run.stdout)
        self.assertEqual(d.read("SELECT COUNT(*) FROM domains"), [(0,)])
        bad = d.caad("domain", "import", "-", check=False,
                     input_text="name,renew_at\nshop.test,2027-01-15\nbad..name,\n")
        self.assertEqual(bad.returncode, 65, bad.stderr)
        self.assertIn(":3:", bad.stderr)
        self.assertEqual(d.read("SELECT COUNT(*) FROM domains"), [(0,)], "a bad import wrote something")
        d.caad("domain", "import", "-", input_text='{"name": "shop.test", "renew_at": "2027-01-15"}\n')
        listed = d.caad("domain", "list", "--json").stdout.splitlines()
        self.assertEqual(json.loads(listed[0])["renew_at"], "2027-01-15T00:00:00Z")
        self.assertEqual(d.caad("domain", "remove", "shop.test").returncode, 0)
        self.assertEqual(d.caad("domain", "remove", "shop.test", check=False).returncode, 1)
        # A large import prints the first 20 changes and the counts; --verbose all of them.
        many = "name\n" + "".join("m%02d.bulk.test\n" % i for i in range(30))
        lines = d.caad("domain", "import", "-", input_text=many).stdout.splitlines()
        self.assertEqual(len(lines), 22, lines)
        self.assertEqual(lines[20], "… and 10 more (--verbose lists every one)")
        self.assertEqual(lines[21], "added 30, updated 0, unchanged 0")
        again = many.replace(".bulk.test", ".bulk.test,,,2027-01-15").replace("name\n", "name,wildcard,ca,renew_at\n")
        lines = d.caad("domain", "import", "-", "--verbose", "--dry-run", input_text=again).stdout.splitlines()
        self.assertEqual(len(lines), 31, lines)
        self.assertTrue(all(line.startswith("would update") for line in lines[:30]), lines)


if __name__ == "__main__":
    dnsworld.install_signal_cleanup()
    args = [a for a in sys.argv[1:] if not (os.path.sep in a and os.access(a, os.X_OK))]
    bins = [a for a in sys.argv[1:] if a not in args]
    if bins:
        CAAD = bins[0]
    unittest.main(argv=[sys.argv[0]] + args)
