#!/usr/bin/env python3
"""Integration tests of `caad check` (issue 3) against real servers on
loopback: the standard world of dnsworld.py (NSD serving the zones, a
validating unbound resolving through them), started once per test class.

Usage: python3 tests/integration/test_check.py [-v] [PATH_TO_CAAD]
   or: CAAD_BIN=PATH_TO_CAAD python3 tests/integration/test_check.py

What unbound answers for each name is proven by test_dnsworld.py; the
expectations here are what caad must make of those answers (RFC 8659 as in
shared/CAA-NOTES.md §1, and the JSON/exit-status contract of issue 3).
Every run uses
  caad check --resolver 127.0.0.1:PORT --ca letsencrypt.org
             --provider-target t.provider.test --json DOMAIN...
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnsworld  # noqa: E402

CAAD = None  # set in main / setUpModule
RUN_TIMEOUT = 120  # seconds for one caad run; caad's own per-query default is 3 x 2 s

ANY = object()  # "do not check this field"
REQUIRED_FIELDS = ("domain", "wildcard", "verdict", "found_at", "relevant_owner", "records", "cname_chain",
                   "exposure", "reason", "queries")


def norm(name):
    """Compare names without case or trailing dot; None stays None."""
    return None if name is None else name.lower().rstrip(".")


class Run:
    def __init__(self, argv, proc, json_mode):
        self.argv = argv
        self.status = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.results = []
        if json_mode:
            for line in self.stdout.splitlines():
                if not line.strip():
                    continue
                try:
                    self.results.append(json.loads(line))
                except ValueError as e:
                    raise AssertionError("caad printed a line that is not JSON (%s): %r\n%s" % (e, line, self))

    def by_domain(self):
        out = {}
        for r in self.results:
            key = norm(r.get("domain"))
            if key in out:
                raise AssertionError("%s reported twice\n%s" % (key, self))
            out[key] = r
        return out

    def __str__(self):
        return "$ %s\nexit status %s\n--- stdout\n%s--- stderr\n%s" % (
            " ".join(self.argv), self.status, self.stdout, self.stderr)


def caad_path():
    path = CAAD or os.environ.get("CAAD_BIN")
    if not path:
        raise AssertionError("no caad binary: pass its path or set CAAD_BIN")
    if not os.access(path, os.X_OK):
        raise AssertionError("CAAD_BIN=%s is not an executable" % path)
    return path


class CheckTestCase(unittest.TestCase):
    """Base: starts the standard world once per class and runs caad against it."""

    world: dnsworld.World
    use_nsd_directly = False  # True: --resolver points at NSD (no recursion)

    @classmethod
    def setUpClass(cls):
        cls.caad = caad_path()
        cls.world = dnsworld.standard_world()
        cls.world.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.world.stop()

    @classmethod
    def resolver(cls):
        if cls.use_nsd_directly:
            return "127.0.0.1:%d" % cls.world.nsd_port
        return cls.world.resolver

    @classmethod
    def run_caad(cls, *domains, extra=(), json_mode=True, stdin=None, base=True):
        argv = [cls.caad, "check"]
        if base:
            argv += ["--resolver", cls.resolver(), "--ca", "letsencrypt.org",
                     "--provider-target", dnsworld.PROVIDER_TARGET]
        argv += list(extra)
        if json_mode:
            argv.append("--json")
        argv += list(domains)
        proc = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=RUN_TIMEOUT)
        return Run(argv, proc, json_mode)

    def assertResult(self, r, run, *, verdict, found_at=ANY, owner=ANY, exposure=ANY, chain=ANY,
                     records=ANY, n_records=ANY, failure_kinds=None, failure_names=None, wildcard=ANY):
        """Check one JSON object. chain: the alias targets followed from the
        name, in order (the request name itself may or may not lead the list).
        records: substrings that must appear among the records; a string
        starting with '!' must not."""
        ctx = "\n%s\n%s" % (json.dumps(r, indent=1), run)
        for f in REQUIRED_FIELDS:
            self.assertIn(f, r, "field %s missing" % f + ctx)
        self.assertEqual(r["verdict"], verdict, ctx)
        self.assertIn(r["exposure"], ("pinned", "exposed"), ctx)
        self.assertIsInstance(r["reason"], str, ctx)
        self.assertTrue(r["reason"].strip(), "empty reason" + ctx)
        self.assertIsInstance(r["queries"], int, ctx)
        self.assertIsInstance(r["records"], list, ctx)
        self.assertIsInstance(r["cname_chain"], list, ctx)
        if wildcard is not ANY:
            self.assertIs(r["wildcard"], wildcard, ctx)
        else:
            self.assertIs(r["wildcard"], r["domain"].startswith("*."), ctx)
        if found_at is not ANY:
            self.assertEqual(norm(r["found_at"]), norm(found_at), "found_at" + ctx)
        if owner is not ANY:
            self.assertEqual(norm(r["relevant_owner"]), norm(owner), "relevant_owner" + ctx)
        if exposure is not ANY:
            self.assertEqual(r["exposure"], exposure, "exposure" + ctx)
        if chain is not ANY:
            got = [norm(n) for n in r["cname_chain"]]
            start = norm(r["domain"]).removeprefix("*.")
            if got and got[0] == start:
                got = got[1:]
            self.assertEqual(got, [norm(n) for n in chain], "cname_chain" + ctx)
        if records is not ANY:
            text = "\n".join(r["records"])
            for want in records:
                if want.startswith("!"):
                    self.assertNotIn(want[1:], text, "records" + ctx)
                else:
                    self.assertIn(want, text, "records" + ctx)
        if n_records is not ANY:
            self.assertEqual(len(r["records"]), n_records, "records" + ctx)
        if verdict == "lookup_failed":
            self.assertIsInstance(r.get("failure"), dict, "failure missing" + ctx)
            if failure_kinds is not None:
                self.assertIn(r["failure"].get("kind"), failure_kinds, "failure.kind" + ctx)
            if failure_names is not None:
                self.assertIn(norm(r["failure"].get("name")), [norm(n) for n in failure_names],
                              "failure.name" + ctx)
        else:
            self.assertIn(r.get("failure"), (None, {}), "failure set on a result that did not fail" + ctx)
            self.assertGreaterEqual(r["queries"], 0, ctx)


LE = 'issue "letsencrypt.org"'
DC = 'issue "digicert.com"'
P, D, F = "permitted", "denied", "lookup_failed"

# domain -> expectations. Names and what unbound answers: dnsworld.standard_zones().
CASES = {
    # own CAA / inherited
    "own.customer.test": dict(verdict=P, found_at="own.customer.test", owner="own.customer.test",
                              exposure="exposed", chain=[], records=[LE, "iodef"], n_records=2),
    "www.own.customer.test": dict(verdict=P, found_at="own.customer.test", owner="own.customer.test",
                                  exposure="exposed", chain=[]),
    "shop.customer.test": dict(verdict=D, found_at="customer.test", owner="customer.test", exposure="exposed",
                               chain=[], records=[DC], n_records=1),
    # NXDOMAIN is empty: the climb goes on
    "nx.customer.test": dict(verdict=D, found_at="customer.test", owner="customer.test", chain=[]),
    # CNAME to the provider target with CAA: that set overrides the denying parent
    "pinned.customer.test": dict(verdict=P, found_at="pinned.customer.test", owner="t.provider.test",
                                 exposure="pinned", chain=["t.provider.test"], records=[LE, "!digicert"]),
    # CNAME to a target without CAA: climb the *request's* parents (customer.test
    # denies), never the target's (provider.test permits)
    "exposed.customer.test": dict(verdict=D, found_at="customer.test", owner="customer.test",
                                  exposure="exposed", chain=["u.provider.test"], records=[DC, "!letsencrypt"]),
    # CNAME to a target that does not exist: unbound answers NXDOMAIN + the CNAME
    "gone.customer.test": dict(verdict=D, found_at="customer.test", owner="customer.test", exposure="exposed",
                               chain=["nx.provider.test"]),
    # 3 CNAMEs
    "chain.customer.test": dict(verdict=P, found_at="chain.customer.test", owner="t.provider.test",
                                exposure="pinned",
                                chain=["c1.customer.test", "c2.provider.test", "t.provider.test"]),
    # 8 CNAMEs: the CA follows at least 8
    "chain8.customer.test": dict(verdict=P, found_at="chain8.customer.test", owner="t.provider.test",
                                 exposure="pinned",
                                 chain=["h%d.customer.test" % i for i in range(1, 8)] + ["t.provider.test"]),
    # 20 CNAMEs: unbound follows them all, caad caps the chain (16 by default)
    "chain20.customer.test": dict(verdict=F, failure_kinds=["chain_too_long"],
                                  failure_names=["chain20.customer.test"]),
    # unbound answers SERVFAIL (with or without CD) for a CNAME loop
    "loop1.customer.test": dict(verdict=F, failure_kinds=["servfail", "alias_loop"],
                                failure_names=["loop1.customer.test"]),
    # DNAME: below the owner the resolver synthesizes a CNAME
    "t.dn.customer.test": dict(verdict=P, found_at="t.dn.customer.test", owner="t.provider.test",
                               exposure="pinned", records=[LE]),
    "u.dn.customer.test": dict(verdict=D, found_at="customer.test", owner="customer.test", exposure="exposed"),
    # at the DNAME owner itself: its own (empty) data, then the parent
    "dn.customer.test": dict(verdict=D, found_at="customer.test", owner="customer.test", chain=[]),
    # empty non-terminal: NOERROR/NODATA is empty, not a failure
    "ent.customer.test": dict(verdict=D, found_at="customer.test", owner="customer.test"),
    "a.ent.customer.test": dict(verdict=D, found_at="customer.test"),
    # a wildcard CAA record answers for any name below wild.customer.test
    "foo.wild.customer.test": dict(verdict=P, found_at="foo.wild.customer.test",
                                   owner="foo.wild.customer.test", records=[LE]),
    "*.foo.wild.customer.test": dict(verdict=P, wildcard=True, found_at="foo.wild.customer.test"),
    "wild.customer.test": dict(verdict=D, found_at="customer.test"),
    "*.wild.customer.test": dict(verdict=D, wildcard=True, found_at="customer.test"),
    # issuewild "letsencrypt.org" + issue ";" (RFC 8659 "wild3")
    "*.wc.customer.test": dict(verdict=P, wildcard=True, found_at="wc.customer.test", n_records=2),
    "wc.customer.test": dict(verdict=D, wildcard=False, found_at="wc.customer.test"),
    "sub.wc.customer.test": dict(verdict=D, found_at="wc.customer.test"),
    "*.sub.wc.customer.test": dict(verdict=P, wildcard=True, found_at="wc.customer.test"),
    # issue LE + issuewild digicert: issuewild decides for wildcards
    "iw.customer.test": dict(verdict=P, found_at="iw.customer.test"),
    "*.iw.customer.test": dict(verdict=D, wildcard=True, found_at="iw.customer.test"),
    # > 512 bytes: fits in EDNS 1232
    "medium.own.customer.test": dict(verdict=D, found_at="medium.own.customer.test",
                                     n_records=dnsworld.MEDIUM_COUNT, records=["!letsencrypt"]),
    # > 1232 bytes: TC=1 over UDP, complete over TCP. Taking TC as "no CAA"
    # would climb to own.customer.test and wrongly permit.
    "big.own.customer.test": dict(verdict=D, found_at="big.own.customer.test", owner="big.own.customer.test",
                                  n_records=dnsworld.BIG_COUNT, records=["!letsencrypt"]),
    "bigok.customer.test": dict(verdict=P, found_at="bigok.customer.test", n_records=dnsworld.BIG_COUNT,
                                records=[LE]),
    # critical unknown tag (upper case, served via RFC 3597) forbids even with issue LE
    "crit.customer.test": dict(verdict=D, found_at="crit.customer.test", n_records=2),
    # tags match case-insensitively; a critical known tag changes nothing
    "upper.customer.test": dict(verdict=P, found_at="upper.customer.test"),
    "critknown.customer.test": dict(verdict=P, found_at="critknown.customer.test"),
    # delegation to a server that never answers: unbound drops the reply after
    # 1.9 s (discard-timeout), so caad sees timeouts (or SERVFAIL, later)
    "www.dead.customer.test": dict(verdict=F, failure_kinds=["timeout", "servfail"],
                                   failure_names=["www.dead.customer.test"]),
    "todead.customer.test": dict(verdict=F, failure_kinds=["timeout", "servfail"],
                                 failure_names=["todead.customer.test", "www.dead.customer.test"]),
    # the delegated server answers REFUSED; unbound answers SERVFAIL (also with CD)
    "www.refused.customer.test": dict(verdict=F, failure_kinds=["servfail"],
                                      failure_names=["www.refused.customer.test"]),
    # DNSSEC: SERVFAIL that resolves with CD=1 is reported as bogus
    "bad.signed.test": dict(verdict=F, failure_kinds=["dnssec_bogus"], failure_names=["bad.signed.test"]),
    "cnbad.customer.test": dict(verdict=F, failure_kinds=["dnssec_bogus"],
                                failure_names=["cnbad.customer.test", "bad.signed.test"]),
    "signed.test": dict(verdict=P, found_at="signed.test", owner="signed.test"),
    "ok.signed.test": dict(verdict=P, found_at="signed.test", owner="signed.test"),
    # no CAA anywhere on the path (nor at test., and the root is never asked)
    "www.nocaa.test": dict(verdict=P, found_at=None, owner=None, records=[], n_records=0, chain=[],
                           exposure="exposed"),
    "a.b.nothere.nocaa.test": dict(verdict=P, found_at=None, owner=None, n_records=0),
}


class CheckStandardWorldTest(CheckTestCase):
    """caad check through unbound, as in production."""

    batch: Run = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # all the cases in one run: also shows that many names are checked at once
        cls.batch = cls.run_caad(*CASES)

    def test_cases(self):
        results = self.batch.by_domain()
        for domain, want in CASES.items():
            with self.subTest(domain=domain):
                self.assertIn(norm(domain), results, "no result for %s\n%s" % (domain, self.batch))
                self.assertResult(results[norm(domain)], self.batch, **want)

    def test_batch_reports_every_name_once_and_exits_1(self):
        self.assertEqual(sorted(self.batch.by_domain()), sorted(norm(d) for d in CASES), str(self.batch))
        self.assertEqual(self.batch.status, 1, str(self.batch))  # some are denied

    def test_queries_counts_the_climb(self):
        # www.nocaa.test, nocaa.test, test: three empty answers, never the root
        run = self.run_caad("www.nocaa.test")
        self.assertEqual(run.status, 0, str(run))
        self.assertGreaterEqual(run.results[0]["queries"], 3, str(run))
        run = self.run_caad("own.customer.test")
        self.assertGreaterEqual(run.results[0]["queries"], 1, str(run))

    def test_per_ca_results_and_worst_verdict(self):
        # digicert is allowed at shop.customer.test, LE is not: the worst wins.
        # ("cas" is the per-CA list's key in lib/check/check_json.cpp.)
        run = self.run_caad("shop.customer.test", extra=["--ca", "digicert.com"])
        self.assertEqual(run.status, 1, str(run))
        r = run.results[0]
        self.assertEqual(r["verdict"], "denied", str(run))
        per_ca = {c.get("issuer"): c.get("verdict") for c in r.get("cas", [])}
        self.assertEqual(per_ca, {"letsencrypt.org": "denied", "digicert.com": "permitted"}, str(run))

    # exit statuses -----------------------------------------------------------

    def test_exit_0_when_all_permitted(self):
        run = self.run_caad("own.customer.test", "pinned.customer.test", "*.wc.customer.test")
        self.assertEqual(run.status, 0, str(run))
        self.assertEqual(len(run.results), 3, str(run))

    def test_exit_1_when_any_denied(self):
        run = self.run_caad("own.customer.test", "shop.customer.test")
        self.assertEqual(run.status, 1, str(run))
        # denied outranks a lookup failure
        run = self.run_caad("www.refused.customer.test", "shop.customer.test")
        self.assertEqual(run.status, 1, str(run))

    def test_exit_2_when_lookups_fail_and_none_denied(self):
        run = self.run_caad("own.customer.test", "www.refused.customer.test", "bad.signed.test")
        self.assertEqual(run.status, 2, str(run))
        self.assertEqual(sorted(r["verdict"] for r in run.results), ["lookup_failed", "lookup_failed", "permitted"])

    def test_exit_64_on_usage_errors(self):
        run = self.run_caad(json_mode=False)  # no names
        self.assertEqual(run.status, 64, str(run))
        run = self.run_caad("own.customer.test", extra=["--no-such-option"], json_mode=False)
        self.assertEqual(run.status, 64, str(run))

    def test_bad_name_is_reported_and_does_not_stop_the_others(self):
        run = self.run_caad("own.customer.test", "bad..name", "shop.customer.test")
        self.assertIn("bad..name", run.stderr + run.stdout, str(run))
        got = {norm(r["domain"]): r["verdict"] for r in run.results}
        self.assertEqual(got, {"own.customer.test": "permitted", "shop.customer.test": "denied"}, str(run))
        self.assertEqual(run.status, 1, str(run))
        run = self.run_caad("own.customer.test", "bad..name")
        self.assertEqual(run.status, 64, str(run))
        self.assertEqual([r["verdict"] for r in run.results], ["permitted"], str(run))

    # output forms --------------------------------------------------------------

    def test_human_output_one_line_per_name(self):
        run = self.run_caad("own.customer.test", "shop.customer.test", json_mode=False)
        self.assertEqual(run.status, 1, str(run))
        lines = [line for line in run.stdout.splitlines() if line.strip()]
        self.assertEqual(len(lines), 2, str(run))
        for domain, verdict in (("own.customer.test", "permitted"), ("shop.customer.test", "denied")):
            self.assertTrue(any(domain in line and verdict in line for line in lines), str(run))

    def test_explain_traces_the_queries(self):
        run = self.run_caad("www.own.customer.test", "pinned.customer.test", extra=["--explain"], json_mode=False)
        self.assertEqual(run.status, 0, str(run))
        out = run.stdout
        # the climb: the name, then its parent, where the CAA was found
        self.assertIn("www.own.customer.test", out)
        self.assertIn("own.customer.test", out.replace("www.own.customer.test", ""), str(run))
        self.assertIn("CAA", out, str(run))
        # the alias followed
        self.assertIn("t.provider.test", out, str(run))
        self.assertRegex(out, r"(?i)cname|alias", str(run))
        self.assertGreater(len(out.splitlines()), 4, str(run))

    # --file --------------------------------------------------------------------

    def test_file_with_names(self):
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("# names to renew\nown.customer.test\n\n  pinned.customer.test  \n*.wc.customer.test\n"
                    "shop.customer.test\n")
            path = f.name
        try:
            run = self.run_caad(extra=["--file", path])
        finally:
            os.unlink(path)
        got = {norm(r["domain"]): r["verdict"] for r in run.results}
        self.assertEqual(got, {"own.customer.test": "permitted", "pinned.customer.test": "permitted",
                               "*.wc.customer.test": "permitted", "shop.customer.test": "denied"}, str(run))
        self.assertEqual(run.status, 1, str(run))

    def test_file_from_stdin(self):
        run = self.run_caad(extra=["--file", "-"], stdin="own.customer.test\nexposed.customer.test\n")
        got = {norm(r["domain"]): r["verdict"] for r in run.results}
        self.assertEqual(got, {"own.customer.test": "permitted", "exposed.customer.test": "denied"}, str(run))

    def test_file_with_many_names(self):
        names = ["n%d.nocaa.test" % i for i in range(300)] + ["n%d.own.customer.test" % i for i in range(300)]
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("\n".join(names) + "\n")
            path = f.name
        try:
            run = self.run_caad(extra=["--file", path])
        finally:
            os.unlink(path)
        self.assertEqual(run.status, 0, str(run)[:4000])
        results = run.by_domain()
        self.assertEqual(sorted(results), sorted(names))
        self.assertTrue(all(r["verdict"] == "permitted" for r in results.values()))
        self.assertTrue(all(norm(results[n]["found_at"]) == "own.customer.test" for n in names[300:]))

    # the world changes between checks --------------------------------------------

    def test_customer_publishes_a_denying_caa(self):
        run = self.run_caad("www.change.test")
        self.assertEqual(run.results[0]["verdict"], "permitted", str(run))
        try:
            self.world.update_zone("change.test", {"@": ['CAA 0 issue "digicert.com"'], "www": [dnsworld.ADDR]})
            run = self.run_caad("www.change.test")
            self.assertEqual(run.status, 1, str(run))
            self.assertResult(run.results[0], run, verdict=D, found_at="change.test", records=[DC])
        finally:
            self.world.update_zone("change.test", {"@": [dnsworld.LE], "www": [dnsworld.ADDR]})


class CheckAuthoritativeOnlyTest(CheckTestCase):
    """caad pointed straight at NSD, which does not recurse: the checks a full
    resolver would otherwise do are caad's own (CAA-NOTES §6 item 10)."""

    use_nsd_directly = True

    def test_alias_loop_detected_by_caad(self):
        # NSD answers NOERROR with loop1 -> loop2 -> loop1
        run = self.run_caad("loop1.customer.test")
        self.assertEqual(run.status, 2, str(run))
        self.assertResult(run.results[0], run, verdict=F, failure_kinds=["alias_loop"],
                          failure_names=["loop1.customer.test", "loop2.customer.test"])

    def test_referral_is_a_failure(self):
        # NSD answers NOERROR without AA: a referral to dead.customer.test
        run = self.run_caad("www.dead.customer.test")
        self.assertEqual(run.status, 2, str(run))
        self.assertResult(run.results[0], run, verdict=F, failure_kinds=["referral"],
                          failure_names=["www.dead.customer.test"])


def setUpModule():
    global CAAD
    CAAD = caad_path()
    for tool in (dnsworld.NSD, dnsworld.UNBOUND, dnsworld.DRILL):
        if not os.access(tool, os.X_OK):
            raise AssertionError("%s is missing (tools/install-deps installs nsd, unbound, ldnsutils)" % tool)


if __name__ == "__main__":
    # the caad binary may be given as the first non-option argument
    args = sys.argv[1:]
    for i, a in enumerate(args):
        if not a.startswith("-") and os.path.sep in a and os.access(a, os.X_OK):
            CAAD = os.path.abspath(a)
            del args[i]
            break
    dnsworld.install_signal_cleanup()
    unittest.main(argv=[sys.argv[0]] + args)
