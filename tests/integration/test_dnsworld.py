#!/usr/bin/env python3
"""Self-test of dnsworld.py: proves, with drill through the real unbound (and
straight at NSD where that is the point), that every feature of the standard
world is served the way test_check.py expects. The comments say what unbound
answers for each case; caad's integration tests depend on exactly that.

Run: python3 tests/integration/test_dnsworld.py -v
"""

import os
import socket
import sys
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnsworld  # noqa: E402
from dnsworld import LE, Zone, World  # noqa: E402

LE_RDATA = '0 issue "letsencrypt.org"'
DIGICERT_RDATA = '0 issue "digicert.com"'


def pid_running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def group_running(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


class StandardWorldTest(unittest.TestCase):
    """The canned world, started once for the class."""

    world: World

    @classmethod
    def setUpClass(cls):
        cls.world = dnsworld.standard_world()
        cls.world.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.world.stop()

    # helpers ---------------------------------------------------------------

    def q(self, name, rtype="CAA", **kw):
        ans = self.world.query(name, rtype, **kw)
        self.assertFalse(ans.no_reply, "no reply for %s %s: %s" % (name, rtype, ans))
        return ans

    def assertRcode(self, ans, rcode):
        self.assertEqual(ans.rcode, rcode, str(ans))

    def assertNodata(self, ans, soa_zone):
        """NOERROR, no answer, the zone's SOA in the authority section."""
        self.assertRcode(ans, "NOERROR")
        self.assertEqual(ans.answer, [], str(ans))
        self.assertEqual([r[0] for r in ans.rrs("SOA", "authority")], [dnsworld.fqdn(soa_zone)], str(ans))

    def assertChain(self, ans, links):
        """The answer's CNAME/DNAME records are exactly `links` in order:
        [(owner, type, target), ...]."""
        got = [(r[0], r[3], r[4].lower()) for r in ans.answer if r[3] in ("CNAME", "DNAME")]
        want = [(dnsworld.fqdn(o), t, dnsworld.fqdn(x)) for o, t, x in links]
        self.assertEqual(got, want, str(ans))

    def caa(self, ans, owner=None):
        return sorted(r[4] for r in ans.answer if r[3] == "CAA" and (owner is None or r[0] == dnsworld.fqdn(owner)))

    # the world itself ------------------------------------------------------

    def test_addresses_are_loopback_and_run_time_ports(self):
        w = self.world
        self.assertRegex(w.resolver, r"^127\.0\.0\.1:\d+$")
        ports = {w.resolver_port, w.nsd_port, w.dead_port}
        self.assertEqual(len(ports), 3)
        self.assertNotIn(53, ports)
        self.assertTrue(all(pid_running(p) for p in w.pids))

    def test_root_and_tld_have_no_caa(self):
        # unbound: NOERROR, no answer, SOA of the zone in authority
        self.assertNodata(self.q("."), ".")
        self.assertNodata(self.q("test"), "test")
        # the root serves the TLD delegation and its glue
        self.assertRcode(self.world.query_nsd("test.", "NS"), "NOERROR")

    def test_own_caa(self):
        # unbound: NOERROR, answer = the name's CAA (issue LE + iodef)
        ans = self.q("own.customer.test")
        self.assertRcode(ans, "NOERROR")
        self.assertIn(LE_RDATA, self.caa(ans, "own.customer.test"))
        self.assertEqual(len(ans.rrs("CAA")), 2)

    def test_customer_apex_denies(self):
        self.assertEqual(self.caa(self.q("customer.test")), [DIGICERT_RDATA])

    def test_inherits_from_parent(self):
        # unbound: NOERROR/NODATA at the name, CAA one level up
        self.assertNodata(self.q("www.own.customer.test"), "customer.test")
        self.assertNodata(self.q("shop.customer.test"), "customer.test")

    def test_nxdomain(self):
        # unbound: NXDOMAIN, SOA of the closest zone in authority
        for name, zone in (("nx.customer.test", "customer.test"), ("a.b.nothere.nocaa.test", "nocaa.test"),
                           ("nothere.nocaa.test", "nocaa.test")):
            with self.subTest(name=name):
                ans = self.q(name)
                self.assertRcode(ans, "NXDOMAIN")
                self.assertEqual([r[0] for r in ans.rrs("SOA", "authority")], [dnsworld.fqdn(zone)])

    def test_no_caa_anywhere_on_path(self):
        for name, zone in (("www.nocaa.test", "nocaa.test"), ("nocaa.test", "nocaa.test"), ("test", "test")):
            with self.subTest(name=name):
                self.assertNodata(self.q(name), zone)

    def test_pinned_cname_target_has_caa(self):
        # unbound: NOERROR, answer = CNAME pinned->t.provider.test + CAA owned by t.provider.test
        ans = self.q("pinned.customer.test")
        self.assertRcode(ans, "NOERROR")
        self.assertChain(ans, [("pinned.customer.test", "CNAME", "t.provider.test")])
        self.assertEqual(self.caa(ans, "t.provider.test"), [LE_RDATA])
        self.assertEqual(self.caa(ans, "pinned.customer.test"), [])

    def test_exposed_cname_target_without_caa(self):
        # unbound: NOERROR, answer = the CNAME only, authority = SOA provider.test
        ans = self.q("exposed.customer.test")
        self.assertRcode(ans, "NOERROR")
        self.assertChain(ans, [("exposed.customer.test", "CNAME", "u.provider.test")])
        self.assertEqual(ans.rrs("CAA"), [])
        self.assertEqual([r[0] for r in ans.rrs("SOA", "authority")], ["provider.test."])
        # the target's parent permits LE: a checker that climbs the target's parents is wrong
        self.assertEqual(self.caa(self.q("provider.test")), [LE_RDATA])
        # the customer's parent denies
        self.assertEqual(self.caa(self.q("customer.test")), [DIGICERT_RDATA])

    def test_cname_to_nxdomain_target(self):
        # unbound: NXDOMAIN (rcode of the final target), answer = the CNAME
        ans = self.q("gone.customer.test")
        self.assertRcode(ans, "NXDOMAIN")
        self.assertChain(ans, [("gone.customer.test", "CNAME", "nx.provider.test")])

    def test_chain_of_three(self):
        # unbound: NOERROR, answer = 3 CNAMEs in order + CAA at t.provider.test
        ans = self.q("chain.customer.test")
        self.assertRcode(ans, "NOERROR")
        self.assertChain(ans, [("chain.customer.test", "CNAME", "c1.customer.test"),
                               ("c1.customer.test", "CNAME", "c2.provider.test"),
                               ("c2.provider.test", "CNAME", "t.provider.test")])
        self.assertEqual(self.caa(ans, "t.provider.test"), [LE_RDATA])

    def test_chain_of_eight_and_twenty(self):
        # unbound follows both completely: NOERROR, n CNAMEs + the target's CAA
        for head, n in (("chain8.customer.test", dnsworld.CHAIN8_LENGTH),
                        ("chain20.customer.test", dnsworld.CHAIN20_LENGTH)):
            with self.subTest(head=head):
                ans = self.q(head)
                self.assertRcode(ans, "NOERROR")
                cnames = ans.rrs("CNAME")
                self.assertEqual(len(cnames), n, str(ans))
                self.assertEqual(cnames[0][0], dnsworld.fqdn(head))
                self.assertEqual(cnames[-1][4], "t.provider.test.")
                self.assertEqual(self.caa(ans, "t.provider.test"), [LE_RDATA])

    def test_dname(self):
        # below the owner: NOERROR, answer = DNAME + synthesized CNAME + target data
        ans = self.q("t.dn.customer.test")
        self.assertRcode(ans, "NOERROR")
        self.assertChain(ans, [("dn.customer.test", "DNAME", "provider.test"),
                               ("t.dn.customer.test", "CNAME", "t.provider.test")])
        self.assertEqual(self.caa(ans, "t.provider.test"), [LE_RDATA])
        ans = self.q("u.dn.customer.test")
        self.assertRcode(ans, "NOERROR")
        self.assertChain(ans, [("dn.customer.test", "DNAME", "provider.test"),
                               ("u.dn.customer.test", "CNAME", "u.provider.test")])
        self.assertEqual(ans.rrs("CAA"), [])
        # at the owner itself the DNAME does not apply: NOERROR/NODATA
        self.assertNodata(self.q("dn.customer.test"), "customer.test")

    def test_cname_loop(self):
        # unbound: SERVFAIL with empty sections ("maximum number restarts")
        ans = self.q("loop1.customer.test")
        self.assertRcode(ans, "SERVFAIL")
        self.assertEqual(ans.answer, [])
        # with CD as well: it is not a DNSSEC failure
        self.assertRcode(self.q("loop1.customer.test", cd=True), "SERVFAIL")
        # the authoritative server returns the loop itself with NOERROR
        direct = self.world.query_nsd("loop1.customer.test")
        self.assertRcode(direct, "NOERROR")
        self.assertChain(direct, [("loop1.customer.test", "CNAME", "loop2.customer.test"),
                                  ("loop2.customer.test", "CNAME", "loop1.customer.test")])

    def test_empty_non_terminal(self):
        self.assertNodata(self.q("ent.customer.test"), "customer.test")
        self.assertRcode(self.q("a.ent.customer.test", "A"), "NOERROR")

    def test_wildcard(self):
        # a name matched by *.wild gets the wildcard's CAA, owned by the query name
        ans = self.q("foo.wild.customer.test")
        self.assertRcode(ans, "NOERROR")
        self.assertEqual(self.caa(ans, "foo.wild.customer.test"), [LE_RDATA])
        # the wildcard's parent is an empty non-terminal
        self.assertNodata(self.q("wild.customer.test"), "customer.test")

    def test_issuewild_sets(self):
        self.assertEqual(self.caa(self.q("wc.customer.test")),
                         ['0 issue ";"', '0 issuewild "letsencrypt.org"'])
        self.assertNodata(self.q("sub.wc.customer.test"), "customer.test")
        self.assertEqual(self.caa(self.q("iw.customer.test")),
                         [LE_RDATA, '0 issuewild "digicert.com"'])

    def test_big_rrset_truncated_over_udp_complete_over_tcp(self):
        for name, n, le in (("big.own.customer.test", dnsworld.BIG_COUNT, False),
                            ("bigok.customer.test", dnsworld.BIG_COUNT, True)):
            with self.subTest(name=name):
                # UDP, EDNS 1232 (and even 4096: unbound's max-udp-size is 1232):
                # NOERROR, TC=1, empty answer
                for bufsize in (None, 1232, 4096):
                    udp = self.q(name, bufsize=bufsize)
                    self.assertRcode(udp, "NOERROR")
                    self.assertIn("tc", udp.flags)
                    self.assertEqual(udp.answer, [])
                # TCP: the whole set, > 1232 bytes
                tcp = self.q(name, tcp=True)
                self.assertRcode(tcp, "NOERROR")
                self.assertNotIn("tc", tcp.flags)
                self.assertEqual(len(tcp.rrs("CAA")), n)
                self.assertGreater(tcp.msg_size, 1232)
                self.assertEqual(LE_RDATA in self.caa(tcp), le)

    def test_medium_rrset_needs_edns(self):
        name = "medium.own.customer.test"
        plain = self.q(name)  # no EDNS: 512 bytes, TC=1
        self.assertIn("tc", plain.flags)
        edns = self.q(name, bufsize=1232)  # fits in 1232
        self.assertNotIn("tc", edns.flags)
        self.assertEqual(len(edns.rrs("CAA")), dnsworld.MEDIUM_COUNT)
        self.assertGreater(edns.msg_size, 512)
        self.assertNotIn(LE_RDATA, self.caa(edns))

    def test_rfc3597_records(self):
        # NSD 4.6 would refuse these in presentation format; drill prints them normally
        self.assertEqual(self.caa(self.q("crit.customer.test")), ['0 issue "letsencrypt.org"', '128 TBS "Unknown"'])
        self.assertEqual(self.caa(self.q("upper.customer.test")), ['0 ISSUE "letsencrypt.org"'])
        self.assertEqual(self.caa(self.q("critknown.customer.test")), ['128 issue "letsencrypt.org"'])

    def test_dead_delegation_times_out(self):
        # unbound keeps trying the silent server for ~18 s, but its discard-timeout
        # (1.9 s) drops the reply to the client: the client sees no answer at all.
        for name in ("www.dead.customer.test", "todead.customer.test"):
            with self.subTest(name=name):
                start = time.monotonic()
                ans = self.world.query(name, timeout=3)
                self.assertTrue(ans.timed_out, str(ans))
                self.assertGreaterEqual(time.monotonic() - start, 2.9)
        # the authoritative server answers with a referral (NOERROR, no AA, NS in authority)
        ref = self.world.query_nsd("www.dead.customer.test")
        self.assertRcode(ref, "NOERROR")
        self.assertNotIn("aa", ref.flags)
        self.assertEqual(ref.answer, [])
        self.assertEqual(ref.rrs("NS", "authority")[0][0], "dead.customer.test.")

    def test_refused_delegation_gives_servfail(self):
        # the delegated server answers REFUSED; unbound: SERVFAIL, empty sections, fast
        start = time.monotonic()
        ans = self.q("www.refused.customer.test")
        self.assertRcode(ans, "SERVFAIL")
        self.assertEqual(ans.answer, [])
        self.assertLess(time.monotonic() - start, 2)
        self.assertGreater(self.world._refuser.queries, 0)

    def test_dnssec_secure(self):
        # unbound: NOERROR + AD for the signed zone's data and denials
        ans = self.q("signed.test", dnssec=True)
        self.assertRcode(ans, "NOERROR")
        self.assertIn("ad", ans.flags)
        self.assertEqual(self.caa(ans), [LE_RDATA])
        self.assertTrue(ans.rrs("RRSIG"))
        nodata = self.q("ok.signed.test", dnssec=True)
        self.assertNodata(nodata, "signed.test")
        self.assertIn("ad", nodata.flags)
        # the broken signature covers only bad.signed.test's CAA: its A is fine
        a = self.q("bad.signed.test", "A", dnssec=True)
        self.assertRcode(a, "NOERROR")
        self.assertIn("ad", a.flags)

    def test_other_zones_are_insecure(self):
        ans = self.q("own.customer.test", dnssec=True)
        self.assertRcode(ans, "NOERROR")
        self.assertNotIn("ad", ans.flags)

    def test_dnssec_bogus(self):
        # without CD: SERVFAIL, empty sections
        for name in ("bad.signed.test", "cnbad.customer.test"):
            with self.subTest(name=name):
                ans = self.q(name)
                self.assertRcode(ans, "SERVFAIL")
                self.assertEqual(ans.answer, [])
        # with CD: NOERROR, cd set, no ad, the data (and the RRSIG with DO)
        ans = self.q("bad.signed.test", cd=True, dnssec=True)
        self.assertRcode(ans, "NOERROR")
        self.assertIn("cd", ans.flags)
        self.assertNotIn("ad", ans.flags)
        self.assertEqual(self.caa(ans), [LE_RDATA])
        self.assertEqual(len(ans.rrs("RRSIG")), 1)
        ans = self.q("cnbad.customer.test", cd=True)
        self.assertRcode(ans, "NOERROR")
        self.assertChain(ans, [("cnbad.customer.test", "CNAME", "bad.signed.test")])
        self.assertEqual(self.caa(ans, "bad.signed.test"), [LE_RDATA])

    def test_tcp_answers_like_udp(self):
        self.assertEqual(self.caa(self.q("pinned.customer.test", tcp=True)), [LE_RDATA])

    def test_nsd_serves_every_zone(self):
        for z in self.world.zones.values():
            if z.served:
                with self.subTest(zone=z.name):
                    ans = self.world.query_nsd(z.name, "SOA")
                    self.assertRcode(ans, "NOERROR")
                    self.assertIn("aa", ans.flags)


class LifecycleTest(unittest.TestCase):
    """Starting, changing and stopping worlds of its own."""

    def small_world(self, **kw):
        return World([Zone("change.test", {"@": [LE], "www": ["A 127.0.0.10"]}),
                      Zone("sig.test", {"@": [LE]}, signed=True)], **kw)

    def test_update_zone_reloads_nsd_and_flushes_unbound(self):
        with self.small_world() as w:
            self.assertEqual(w.query("www.change.test").rcode, "NOERROR")
            self.assertEqual(w.query("change.test").rdata("CAA"), [LE_RDATA])
            port = w.resolver_port
            # without a flush, unbound keeps serving the cached set
            w.update_zone("change.test", {"@": ['CAA 0 issue "digicert.com"']}, flush=False)
            self.assertEqual(w.query_nsd("change.test").rdata("CAA"), [DIGICERT_RDATA])
            self.assertEqual(w.query("change.test").rdata("CAA"), [LE_RDATA])
            w.flush_resolver()
            self.assertEqual(w.resolver_port, port)  # same address for a running caad
            self.assertEqual(w.query("change.test").rdata("CAA"), [DIGICERT_RDATA])
            # the default flushes; www is gone now
            w.update_zone("change.test", {"@": [LE, 'CAA 0 issue "digicert.com"']})
            self.assertEqual(sorted(w.query("change.test").rdata("CAA")), [DIGICERT_RDATA, LE_RDATA])
            self.assertEqual(w.query("www.change.test").rcode, "NXDOMAIN")
            # a signed zone is re-signed and still validates
            w.update_zone("sig.test", {"@": ['CAA 0 issue "digicert.com"']})
            ans = w.wait_resolver_sees("sig.test", "CAA", lambda a: a.rdata("CAA") == [DIGICERT_RDATA],
                                       dnssec=True)
            self.assertIn("ad", ans.flags)

    def test_update_without_restart_through_short_cache_ttls(self):
        # For a client that must not see the resolver restart (a running
        # daemon): cap unbound's cache TTLs and poll until the change shows.
        with self.small_world(unbound_options={"cache-max-ttl": 1, "cache-max-negative-ttl": 1}) as w:
            self.assertEqual(w.query("change.test").rdata("CAA"), [LE_RDATA])
            pid = w.unbound.pid
            w.update_zone("change.test", {"@": ['CAA 0 issue "digicert.com"']}, flush=False)
            start = time.monotonic()
            w.wait_resolver_sees("change.test", "CAA", lambda a: a.rdata("CAA") == [DIGICERT_RDATA], deadline=5)
            self.assertLess(time.monotonic() - start, 3)
            self.assertEqual(w.unbound.pid, pid)  # same process throughout

    def test_stop_ends_exactly_its_processes_and_removes_its_dir(self):
        w = self.small_world()
        w.start()
        pids = w.pids
        nsd_group = w.nsd.pgid
        directory = w.dir
        ports = (w.resolver_port, w.nsd_port)
        self.assertEqual(len(pids), 2)
        self.assertTrue(all(pid_running(p) for p in pids))
        self.assertTrue(os.path.isdir(directory))
        w.stop()
        self.assertFalse(any(pid_running(p) for p in pids))
        self.assertFalse(group_running(nsd_group))  # NSD's forked children too
        self.assertFalse(os.path.exists(directory))
        for port in ports:  # the ports are free again
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", port))
        w.stop()  # twice is fine

    def test_context_manager_stops_on_exception(self):
        holder = {}
        with self.assertRaises(ZeroDivisionError):
            with self.small_world() as w:
                holder["pids"], holder["dir"] = w.pids, w.dir
                1 / 0
        self.assertFalse(any(pid_running(p) for p in holder["pids"]))
        self.assertFalse(os.path.exists(holder["dir"]))

    def test_retries_when_the_port_is_taken(self):
        # Hand NSD a port that someone else holds first: it must fail to bind
        # and the World must retry with another one.
        blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        blocker.bind(("127.0.0.1", 0))
        taken = blocker.getsockname()[1]
        real = dnsworld.free_port
        calls = []

        def fake():
            calls.append(1)
            return taken if len(calls) == 1 else real()

        dnsworld.free_port = fake
        try:
            with self.small_world() as w:
                self.assertNotEqual(w.nsd_port, taken)
                self.assertEqual(w.query("change.test").rdata("CAA"), [LE_RDATA])
        finally:
            dnsworld.free_port = real
            blocker.close()
        self.assertGreaterEqual(len(calls), 3)  # taken, NSD's retry, unbound

    def test_failed_start_cleans_up(self):
        w = World([Zone("broken.test", {"@": ["CAA this is not a record"]})])
        with self.assertRaises(dnsworld.WorldError):
            with w:
                pass
        self.assertIsNone(w.dir)
        self.assertIsNone(w.nsd)

    def test_break_signatures_needs_a_target(self):
        with self.assertRaises(dnsworld.WorldError):
            dnsworld.break_signatures("x. 1 IN A 127.0.0.1\n", [("x.", "CAA")])


def tearDownModule():
    # every World a test started has been stopped
    assert not dnsworld._live_worlds, "worlds left running: %r" % dnsworld._live_worlds


if __name__ == "__main__":
    for tool in (dnsworld.NSD, dnsworld.UNBOUND, dnsworld.DRILL, dnsworld.LDNS_KEYGEN, dnsworld.LDNS_SIGNZONE):
        if not os.access(tool, os.X_OK):
            sys.exit("test_dnsworld: %s is missing (tools/install-deps installs nsd, unbound, ldnsutils)" % tool)
    dnsworld.install_signal_cleanup()
    unittest.main()
