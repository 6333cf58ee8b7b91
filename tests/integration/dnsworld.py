"""A fake DNS tree on loopback for caad's integration tests.

dnsworld writes zone files for a small DNS tree (the root ".", TLDs such as
"test." and child zones) into a temporary directory, serves them with a real
NSD on 127.0.0.1 and puts a real validating unbound in front of it as the
recursive resolver that caad talks to. Both listen on ports picked at run
time. Only the Python standard library is used, plus the Debian tools nsd,
unbound and ldnsutils (drill, ldns-keygen, ldns-signzone).

Usage from a test::

    import dnsworld
    with dnsworld.standard_world() as world:       # or World([Zone(...), ...])
        world.resolver                              # "127.0.0.1:PORT" for caad
        ans = world.query("pinned.customer.test", "CAA")   # drill via unbound
        ans.rcode, ans.flags, ans.answer            # parsed drill output
        world.update_zone("change.test", {"@": ['CAA 0 issue "digicert.com"']})

World.start() waits until NSD serves every zone and unbound answers;
World.stop() (also called by the context manager, by atexit and on
SIGTERM/SIGINT/SIGHUP once install_signal_cleanup() ran) stops exactly the
processes it started and removes the temporary directory. Set DNSWORLD_KEEP=1 to keep the directory
(configs, zone files, nsd.log, unbound.log) for debugging.

How the resolver reaches the zones: unbound gets a stub-zone for "." and for
every zone of the world, all pointing at 127.0.0.1@NSD_PORT (a delegation
would otherwise send it to port 53). A "dead" zone's stub points at a UDP
port on which the World holds a bound socket that never answers; a "refused"
zone's stub points at a small responder thread of the World that answers
every query with REFUSED (unbound then answers SERVFAIL). The parent zones
still carry the NS delegations (to ns.test., 127.0.0.1), so the tree is
well-formed for anyone who asks NSD directly (World.nsd_port: no recursion,
referrals for delegated names, CNAME loops returned as they are).

DNSSEC: a Zone(signed=True) is signed with a fresh ECDSAP256SHA256 KSK+ZSK
(ldns-keygen / ldns-signzone, NSEC) and its KSK's DS is unbound's only trust
anchor, so every other zone is insecure (unsigned, no anchor above it) and
that zone is secure. Zone(break_rrsig=[(owner, type)]) flips bytes in the
signature of that RRSIG after signing, so unbound finds the RRset bogus.

See standard_world() for the canned tree the tests share and what unbound
answers for each of its names.
"""

from __future__ import annotations

import atexit
import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

NSD = os.environ.get("DNSWORLD_NSD", "/usr/sbin/nsd")
UNBOUND = os.environ.get("DNSWORLD_UNBOUND", "/usr/sbin/unbound")
UNBOUND_CHECKCONF = os.environ.get("DNSWORLD_UNBOUND_CHECKCONF", "/usr/sbin/unbound-checkconf")
NSD_CHECKCONF = os.path.join(os.path.dirname(NSD), "nsd-checkconf")
NSD_CHECKZONE = os.path.join(os.path.dirname(NSD), "nsd-checkzone")
DRILL = shutil.which("drill") or "/usr/bin/drill"
LDNS_KEYGEN = shutil.which("ldns-keygen") or "/usr/bin/ldns-keygen"
LDNS_SIGNZONE = shutil.which("ldns-signzone") or "/usr/bin/ldns-signzone"

LOOPBACK = "127.0.0.1"
NS_HOST = "ns.test."  # every delegation names this server; its address is 127.0.0.1
DEFAULT_TTL = 300
NEGATIVE_TTL = 60


class WorldError(RuntimeError):
    """A server did not start, did not answer in time, or a tool failed."""


# --------------------------------------------------------------------------
# Names


def fqdn(name: str) -> str:
    """Lower-case absolute form: 'Customer.Test' -> 'customer.test.', '.' -> '.'."""
    name = name.strip().lower()
    if name in ("", "."):
        return "."
    return name if name.endswith(".") else name + "."


def is_subdomain(name: str, zone: str) -> bool:
    name, zone = fqdn(name), fqdn(zone)
    return zone == "." or name == zone or name.endswith("." + zone)


def parent_zone_of(zone: str, zones: Iterable[str]) -> str | None:
    """The closest zone in `zones` that strictly encloses `zone`."""
    zone = fqdn(zone)
    best = None
    for z in zones:
        z = fqdn(z)
        if z != zone and is_subdomain(zone, z):
            if best is None or len(z) > len(best):
                best = z
    return best


def rfc3597_caa(flags: int, tag: str, value: str) -> str:
    """CAA rdata in RFC 3597 generic syntax, for records NSD 4.6 refuses in
    presentation format (upper-case tags, tags longer than 15 characters)."""
    t = tag.encode("ascii")
    v = value.encode("utf-8")
    data = bytes([flags & 0xFF, len(t)]) + t + v
    return "CAA \\# %d %s" % (len(data), data.hex())


# --------------------------------------------------------------------------
# Zones


@dataclass
class Zone:
    """One zone of the world.

    records maps an owner ("@", a relative name such as "www", or an absolute
    name ending in ".") to a list of record texts "TYPE RDATA" or
    "TTL TYPE RDATA", e.g. {'@': ['CAA 0 issue "letsencrypt.org"'],
    'www': ['CNAME t.provider.test.']}. SOA, apex NS and the NS delegations
    of child zones are added by the World.

    kind: "served" (NSD serves it), "dead" (unbound is pointed at a socket
    that never answers) or "refused" (unbound is pointed at a responder that
    answers REFUSED to everything).
    """

    name: str
    records: Mapping[str, Sequence[str]] = field(default_factory=dict)
    kind: str = "served"
    signed: bool = False
    break_rrsig: Sequence[tuple[str, str]] = ()
    serial: int = 1

    def __post_init__(self) -> None:
        self.name = fqdn(self.name)
        if self.kind not in ("served", "dead", "refused"):
            raise ValueError("Zone kind must be served, dead or refused: %r" % self.kind)
        if (self.signed or self.break_rrsig) and self.kind != "served":
            raise ValueError("only a served zone can be signed")
        if self.break_rrsig and not self.signed:
            raise ValueError("break_rrsig needs signed=True")
        self.records = {k: list(v) for k, v in dict(self.records).items()}
        self.break_rrsig = [(self.absolute(o), t.upper()) for o, t in self.break_rrsig]

    def absolute(self, owner: str) -> str:
        owner = owner.strip()
        if owner == "@":
            return self.name
        if owner.endswith("."):
            return fqdn(owner)
        return fqdn(owner + "." + self.name) if self.name != "." else fqdn(owner)

    @property
    def served(self) -> bool:
        return self.kind == "served"


def _record_lines(zone: Zone) -> list[str]:
    lines = []
    for owner, rrs in zone.records.items():
        absolute = zone.absolute(owner)
        if not is_subdomain(absolute, zone.name):
            raise ValueError("%s is not inside zone %s" % (absolute, zone.name))
        for rr in rrs:
            rr = rr.strip()
            first = rr.split(None, 1)[0]
            ttl_part = "" if first.isdigit() else "%d\t" % DEFAULT_TTL
            lines.append("%s\t%sIN\t%s" % (absolute, ttl_part, rr))
    return lines


def zone_text(zone: Zone, delegations: Sequence[str], extra: Sequence[str] = ()) -> str:
    """The zone file for `zone`: SOA, apex NS, its records, NS delegations to
    the child zones in `delegations`, and `extra` lines."""
    out = [
        "$ORIGIN %s" % zone.name,
        "$TTL %d" % DEFAULT_TTL,
        "%s\t%d\tIN\tSOA\t%s hostmaster.test. %d 3600 600 86400 %d"
        % (zone.name, DEFAULT_TTL, NS_HOST, zone.serial, NEGATIVE_TTL),
        "%s\t%d\tIN\tNS\t%s" % (zone.name, DEFAULT_TTL, NS_HOST),
    ]
    for child in sorted(delegations):
        out.append("%s\t%d\tIN\tNS\t%s" % (child, DEFAULT_TTL, NS_HOST))
    out.extend(extra)
    out.extend(_record_lines(zone))
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------
# drill


@dataclass
class Answer:
    """A parsed drill reply. Records are tuples (owner, ttl, class, type, rdata)
    with owner lower-cased and rdata as drill prints it."""

    rcode: str | None = None  # "NOERROR", "SERVFAIL", ... None when there was no reply
    flags: frozenset = frozenset()  # {"qr", "rd", "ra", "aa", "tc", "ad", "cd"}
    answer: list = field(default_factory=list)
    authority: list = field(default_factory=list)
    additional: list = field(default_factory=list)
    edns_udp: int | None = None
    msg_size: int | None = None
    timed_out: bool = False  # drill still had no reply when our timeout ran out
    no_reply: bool = False  # no DNS reply at all: timed_out, or drill gave up itself
    raw: str = ""
    stderr: str = ""

    def rrs(self, rtype: str, section: str = "answer") -> list:
        return [r for r in getattr(self, section) if r[3] == rtype.upper()]

    def rdata(self, rtype: str, section: str = "answer") -> list[str]:
        return [r[4] for r in self.rrs(rtype, section)]

    def __str__(self) -> str:
        if self.no_reply:
            return "<no reply%s>\n%s" % (" (timed out)" if self.timed_out else "", self.stderr)
        return self.raw


_SECTION_RE = re.compile(r"^;; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:")


def parse_drill(text: str) -> Answer:
    ans = Answer(raw=text)
    section = None
    for line in text.splitlines():
        m = re.search(r"rcode: (\w+)", line)
        if line.startswith(";; ->>HEADER<<-") and m:
            ans.rcode = m.group(1).upper()
            continue
        if line.startswith(";; flags:"):
            flags = line[len(";; flags:"):].split(";", 1)[0]
            ans.flags = frozenset(f.lower() for f in flags.split())
            continue
        m = _SECTION_RE.match(line)
        if m:
            section = m.group(1).lower()
            continue
        if line.startswith(";; QUESTION SECTION"):
            section = None
            continue
        m = re.match(r"^;; EDNS: .*udp: (\d+)", line)
        if m:
            ans.edns_udp = int(m.group(1))
            continue
        m = re.match(r"^;; MSG SIZE\s+rcvd: (\d+)", line)
        if m:
            ans.msg_size = int(m.group(1))
            continue
        if not line.strip() or line.startswith(";"):
            continue
        if section:
            parts = line.split(None, 4)
            if len(parts) >= 4:
                owner, ttl, cls, rtype = parts[:4]
                rdata = parts[4] if len(parts) > 4 else ""
                getattr(ans, section).append((owner.lower(), int(ttl), cls, rtype.upper(), rdata))
    return ans


def drill(name: str, rtype: str = "A", *, port: int, server: str = LOOPBACK, tcp: bool = False,
          dnssec: bool = False, cd: bool = False, rd: bool = True, bufsize: int | None = None,
          timeout: float = 5.0) -> Answer:
    """Send one query with drill and parse the reply. A reply that does not
    come within `timeout` seconds gives Answer(timed_out=True)."""
    cmd = [DRILL, "-p", str(port)]
    cmd.append("-t" if tcp else "-u")
    if dnssec:
        cmd.append("-D")
    flags = ("CD" if cd else "") + ("" if rd else "rd")
    if flags:
        cmd += ["-o", flags]
    if bufsize:
        cmd += ["-b", str(bufsize)]
    cmd += ["@" + server, name, rtype]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return Answer(timed_out=True, no_reply=True, stderr=err)
    ans = parse_drill(proc.stdout)
    ans.stderr = proc.stderr
    if ans.rcode is None:
        # drill gave up on its own (e.g. "Error: error sending query: Could not send or receive")
        ans.no_reply = True
    return ans


def poll(predicate: Callable[[], object], *, deadline: float, interval: float = 0.05,
         what: str = "condition") -> object:
    """Call predicate until it returns something truthy or `deadline` seconds
    have passed (then raise WorldError). The interval is only the pause between
    attempts, never a guess at how long something takes."""
    end = time.monotonic() + deadline
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= end:
            raise WorldError("timed out after %.1fs waiting for %s" % (deadline, what))
        time.sleep(interval)


# --------------------------------------------------------------------------
# Processes and ports


try:  # loaded here, not in the child: no imports between fork and exec
    import ctypes

    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except Exception:  # pragma: no cover - not Linux / no ctypes
    _prctl = None


def _pdeathsig() -> None:  # runs in the child between fork and exec
    """Ask the kernel to send SIGTERM to the server if the thread that started
    it dies without cleaning up (e.g. the test is SIGKILLed), so no server
    outlives its test. Start worlds from the main thread."""
    if _prctl is not None:
        _prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


def free_port() -> int:
    """A port that is free for both UDP and TCP on 127.0.0.1 right now. The
    caller retries when a server fails to bind it (someone else took it)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind((LOOPBACK, 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind((LOOPBACK, port))
                except OSError:
                    continue
                return port
    raise WorldError("no free port on 127.0.0.1")


class _Server:
    """One server process that we started: its own session/process group,
    so stop() can reach the children it forked (NSD forks) and nothing else."""

    def __init__(self, name: str, argv: list[str], log_path: str, cwd: str) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.out_path = log_path + ".stdout"
        self._out = open(self.out_path, "ab")
        self.proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=_pdeathsig)
        self.pgid = self.proc.pid  # start_new_session: pgid == pid

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def group_alive(self) -> bool:
        try:
            os.killpg(self.pgid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:  # pragma: no cover
            return True

    def signal(self, sig: int) -> None:
        if self.alive():
            self.proc.send_signal(sig)

    def logs(self) -> str:
        out = []
        for p in (self.log_path, self.out_path):
            try:
                with open(p, errors="replace") as f:
                    out.append(f.read()[-4000:])
            except OSError:
                pass
        return "\n".join(out)

    def stop(self, deadline: float = 5.0) -> None:
        """SIGTERM the process, wait, SIGKILL its process group after the
        deadline. The group is the one created for this process only."""
        try:
            if self.alive():
                self.proc.terminate()
                try:
                    self.proc.wait(deadline)
                except subprocess.TimeoutExpired:
                    pass
            if self.alive() or self.group_alive():
                # NSD: the process we started is "nsd: xfrd"; the "nsd: main" and
                # "nsd: server" processes it forked take about 1.5 s to follow
                end = time.monotonic() + deadline
                while self.group_alive() and time.monotonic() < end:
                    time.sleep(0.02)
                if self.group_alive():
                    try:
                        os.killpg(self.pgid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            self.proc.wait(deadline)
        finally:
            self._out.close()


class RcodeResponder:
    """A UDP responder on 127.0.0.1 that answers every query with one RCODE
    (REFUSED by default), echoing the question. Runs in a thread; stop()
    closes it. Used for Zone(kind="refused")."""

    def __init__(self, rcode: int = 5) -> None:
        self.rcode = rcode
        self.queries = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))
        self.sock.settimeout(0.1)  # how often the thread looks at the stop flag
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="dnsworld-rcode", daemon=True)
        self._thread.start()

    @staticmethod
    def reply_to(query: bytes, rcode: int) -> bytes | None:
        if len(query) < 12 or query[2] & 0x80:  # too short, or itself a response
            return None
        qdcount = int.from_bytes(query[4:6], "big")
        end = 12
        if qdcount == 1:
            while end < len(query) and query[end] != 0:
                if query[end] & 0xC0:
                    return None
                end += 1 + query[end]
            end += 5  # root label + QTYPE + QCLASS
            if end > len(query):
                return None
        flags = 0x8000 | (query[2] << 8 & 0x7900) | rcode  # QR, opcode and RD copied
        return (query[0:2] + flags.to_bytes(2, "big") + (1 if qdcount == 1 else 0).to_bytes(2, "big")
                + bytes(6) + query[12:end if qdcount == 1 else 12])

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            reply = self.reply_to(data, self.rcode)
            if reply is not None:
                self.queries += 1
                try:
                    self.sock.sendto(reply, peer)
                except OSError:
                    pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


# --------------------------------------------------------------------------
# The world

_live_worlds: "set[World]" = set()  # started and not yet stopped


def _stop_all_worlds() -> None:
    for w in list(_live_worlds):
        try:
            w.stop()
        except Exception as e:  # pragma: no cover
            print("dnsworld: cleanup failed: %s" % e, file=sys.stderr)


atexit.register(_stop_all_worlds)


def _die_cleanly(signum, frame) -> None:
    # Stop every world here and leave: raising SystemExit instead would be
    # caught by unittest as a test error and the run would go on.
    signal.signal(signum, signal.SIG_IGN)
    print("dnsworld: signal %d, stopping the servers" % signum, file=sys.stderr)
    _stop_all_worlds()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(128 + signum)


def install_signal_cleanup() -> None:
    """On SIGTERM/SIGHUP/SIGINT (ctest's timeout, Ctrl-C) stop every running
    World, remove its directory, and exit with 128+signal. Only replaces
    default handlers (and Python's SIGINT one), only in the main thread.
    SIGKILL cannot be caught: then the kernel's parent-death signal stops the
    servers (see _pdeathsig) and only the temporary directory stays behind."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        if signal.getsignal(sig) in (signal.SIG_DFL, signal.default_int_handler, None):
            signal.signal(sig, _die_cleanly)


class World:
    """NSD + unbound serving `zones` on loopback. See the module docstring."""

    def __init__(self, zones: Sequence[Zone], *, unbound_options: Mapping[str, object] | None = None,
                 start_deadline: float = 15.0, keep_dir: bool | None = None) -> None:
        by_name: dict[str, Zone] = {}
        for z in zones:
            if z.name in by_name:
                raise ValueError("zone %s given twice" % z.name)
            by_name[z.name] = z
        if "." not in by_name:
            by_name["."] = Zone(".")
        if "test." not in by_name:
            by_name["test."] = Zone("test.")
        # ns.test. is the name server of every delegation: give it an address.
        tz = by_name["test."]
        tz.records.setdefault("ns", [])
        if not any(r.split()[0].upper() == "A" for r in tz.records["ns"]):
            tz.records["ns"].append("A %s" % LOOPBACK)
        self.zones: dict[str, Zone] = by_name
        self.unbound_options = dict(unbound_options or {})
        self.start_deadline = start_deadline
        self.keep_dir = (os.environ.get("DNSWORLD_KEEP") == "1") if keep_dir is None else keep_dir
        self.dir: str | None = None
        self.nsd: _Server | None = None
        self.unbound: _Server | None = None
        self.nsd_port: int | None = None
        self.resolver_port: int | None = None
        self.dead_port: int | None = None
        self._dead_sock: socket.socket | None = None
        self._refuser: RcodeResponder | None = None
        self._keys: dict[str, list[str]] = {}  # zone -> key base names (KSK first)
        self._trust_anchors: list[str] = []

    # -- public API ---------------------------------------------------------

    @property
    def resolver(self) -> str:
        """The recursive resolver, as caad's --resolver takes it."""
        return "%s:%d" % (LOOPBACK, self.resolver_port)

    def __enter__(self) -> "World":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "World":
        if self.dir is not None:
            raise WorldError("this World is already running")
        _live_worlds.add(self)
        self._trust_anchors = []
        self.dir = tempfile.mkdtemp(prefix="dnsworld-")
        self._dead_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._dead_sock.bind((LOOPBACK, 0))  # bound, never read: queries to it time out
        self.dead_port = self._dead_sock.getsockname()[1]
        if any(z.kind == "refused" for z in self.zones.values()):
            self._refuser = RcodeResponder(5)
        for z in self.zones.values():
            if z.signed:
                self._make_keys(z)
        for z in self.zones.values():
            if z.served:
                self._write_zone(z)
        self._start_nsd()
        self._start_unbound()
        return self

    def stop(self) -> None:
        """Stop exactly the servers this World started; remove its directory.
        Safe to call more than once, and again after an interrupted call."""
        errors = []
        for attr in ("unbound", "nsd"):
            srv = getattr(self, attr)
            if srv is not None:
                try:
                    srv.stop()
                    setattr(self, attr, None)
                except Exception as e:  # pragma: no cover
                    errors.append(e)
        if self._dead_sock is not None:
            self._dead_sock.close()
            self._dead_sock = None
        if self._refuser is not None:
            self._refuser.stop()
            self._refuser = None
        if self.dir and not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        elif self.dir:
            print("dnsworld: kept %s" % self.dir, file=sys.stderr)
        self.dir = None
        if not errors:
            _live_worlds.discard(self)
        else:
            raise errors[0]

    @property
    def pids(self) -> list[int]:
        return [s.pid for s in (self.nsd, self.unbound) if s is not None]

    def query(self, name: str, rtype: str = "CAA", **kw) -> Answer:
        """drill through unbound (the resolver caad uses). Keywords as for drill()."""
        return drill(name, rtype, port=self.resolver_port, **kw)

    def query_nsd(self, name: str, rtype: str = "CAA", **kw) -> Answer:
        """drill straight at NSD (authoritative, no recursion)."""
        kw.setdefault("rd", False)
        return drill(name, rtype, port=self.nsd_port, **kw)

    def update_zone(self, name: str, records: Mapping[str, Sequence[str]] | None = None, *,
                    flush: bool = True, deadline: float = 10.0) -> None:
        """Replace a served zone's records (None: keep them), bump its serial,
        re-sign it if signed, make NSD reload it (SIGHUP), poll NSD until it
        serves the new serial, then flush unbound's cache (by restarting
        unbound on the same port) unless flush=False.

        The restart leaves the resolver port closed for a few tens of
        milliseconds. A test whose client runs throughout (the daemon) should
        build the World with unbound_options={"cache-max-ttl": 1,
        "cache-max-negative-ttl": 1}, call update_zone(..., flush=False) and
        then wait_resolver_sees(...): the change shows within about a second."""
        zone = self.zones[fqdn(name)]
        if not zone.served:
            raise ValueError("%s is not served by NSD" % zone.name)
        if records is not None:
            zone.records = {k: list(v) for k, v in records.items()}
        zone.serial += 1
        path = self._write_zone(zone)
        st = os.stat(path)  # make sure the mtime moved even within one clock tick
        os.utime(path, ns=(st.st_atime_ns, max(st.st_mtime_ns, time.time_ns()) + 1_000_000_000))
        self.nsd.signal(signal.SIGHUP)

        def served() -> bool:
            ans = self.query_nsd(zone.name, "SOA", timeout=2)
            soa = ans.rdata("SOA")
            return bool(soa) and soa[0].split()[2] == str(zone.serial)

        poll(served, deadline=deadline, what="NSD to serve %s serial %d" % (zone.name, zone.serial))
        if flush:
            self.flush_resolver()

    def wait_resolver_sees(self, name: str, rtype: str, predicate: Callable[[Answer], object], *,
                           deadline: float = 10.0, **kw) -> Answer:
        """Poll the resolver until predicate(answer) is true; return that answer."""
        box: list[Answer] = []

        def check() -> bool:
            a = self.query(name, rtype, timeout=2, **kw)
            box[:] = [a]
            return bool(predicate(a))

        poll(check, deadline=deadline, what="resolver to show the new %s %s" % (name, rtype))
        return box[0]

    def flush_resolver(self) -> None:
        """Empty unbound's caches (answers, infra cache of dead servers, keys):
        restart it on the same port and wait until it answers."""
        if self.unbound is not None:
            self.unbound.stop()
            self.unbound = None
        self._start_unbound(port=self.resolver_port)

    # -- building -----------------------------------------------------------

    def _path(self, *parts: str) -> str:
        return os.path.join(self.dir, *parts)

    @staticmethod
    def _file_label(zone: str) -> str:
        return "root" if zone == "." else zone.rstrip(".")

    def _delegations(self, zone: Zone) -> list[str]:
        return [c for c in self.zones if parent_zone_of(c, self.zones) == zone.name]

    def _make_keys(self, zone: Zone) -> None:
        keydir = self._path("keys")
        os.makedirs(keydir, exist_ok=True)
        bases = []
        for ksk in (True, False):
            cmd = [LDNS_KEYGEN, "-a", "ECDSAP256SHA256", "-r", "/dev/urandom"]
            if ksk:
                cmd.append("-k")
            cmd.append(zone.name)
            out = _run(cmd, cwd=keydir).strip()
            bases.append(os.path.join(keydir, out))
        self._keys[zone.name] = bases
        with open(bases[0] + ".ds") as f:
            self._trust_anchors.append(f.read().strip())

    def _write_zone(self, zone: Zone) -> str:
        extra = []
        if zone.name == ".":
            extra.append("%s\t%d\tIN\tA\t%s" % (NS_HOST, DEFAULT_TTL, LOOPBACK))  # glue for test.
        text = zone_text(zone, self._delegations(zone), extra)
        label = self._file_label(zone.name)
        path = self._path(label + ".zone")
        if zone.signed:
            unsigned = self._path(label + ".unsigned")
            with open(unsigned, "w") as f:
                f.write(text)
            now = int(time.time())
            _run([LDNS_SIGNZONE, "-i", str(now - 86400), "-e", str(now + 30 * 86400), "-f", path,
                  "-o", zone.name, unsigned] + self._keys[zone.name])
            if zone.break_rrsig:
                with open(path) as f:
                    signed_text = f.read()
                signed_text = break_signatures(signed_text, zone.break_rrsig)
                with open(path, "w") as f:
                    f.write(signed_text)
        else:
            with open(path, "w") as f:
                f.write(text)
        if os.path.exists(NSD_CHECKZONE):  # a clear error now instead of a zone NSD skips
            _run([NSD_CHECKZONE, zone.name, path])
        return path

    # -- NSD ------------------------------------------------------------------

    def _nsd_conf(self, port: int) -> str:
        d = self.dir
        lines = [
            "server:",
            "  ip-address: %s" % LOOPBACK,
            "  port: %d" % port,
            "  do-ip6: no",
            "  server-count: 1",
            "  reuseport: no",
            '  username: ""',
            '  chroot: ""',
            '  zonesdir: "%s"' % d,
            '  database: ""',
            '  zonelistfile: "%s/nsd.zonelist"' % d,
            '  xfrdfile: "%s/nsd.xfrd.state"' % d,
            '  xfrdir: "%s"' % d,
            '  pidfile: "%s/nsd.pid"' % d,
            '  logfile: "%s/nsd.log"' % d,
            '  cookie-secret-file: "%s/nsd.cookiesecrets"' % d,
            "  verbosity: 1",
            "  hide-version: yes",
            "  zonefiles-check: yes",
            "  tcp-count: 200",
            # Debian's NSD limits answers per source to 200/s (RRL); every query
            # comes from 127.0.0.1 here, so a checker's burst would be dropped
            "  rrl-ratelimit: 0",
            "  rrl-whitelist-ratelimit: 0",
            "remote-control:",
            "  control-enable: no",
        ]
        for z in sorted(self.zones.values(), key=lambda z: z.name):
            if z.served:
                lines += ["zone:", '  name: "%s"' % z.name,
                          '  zonefile: "%s/%s.zone"' % (d, self._file_label(z.name))]
        return "\n".join(lines) + "\n"

    def _start_nsd(self) -> None:
        last = ""
        for attempt in range(5):
            port = free_port()
            conf = self._path("nsd.conf")
            with open(conf, "w") as f:
                f.write(self._nsd_conf(port))
            if os.path.exists(NSD_CHECKCONF):
                _run([NSD_CHECKCONF, conf])
            srv = _Server("nsd", [NSD, "-d", "-c", conf], self._path("nsd.log"), self.dir)
            self.nsd, self.nsd_port = srv, port
            served = [z.name for z in self.zones.values() if z.served]
            if self._wait_ready(srv, port, served, rd=False):
                return
            last = srv.logs()
            srv.stop()
            self.nsd = None
            if not re.search(r"bind|address already in use|can't bind", last, re.I):
                break
        raise WorldError("NSD did not start:\n%s" % last)

    # -- unbound ----------------------------------------------------------------

    def _unbound_conf(self, port: int) -> str:
        d = self.dir
        opts: dict[str, object] = {
            "interface": LOOPBACK,
            "port": port,
            "outgoing-interface": LOOPBACK,
            "do-ip4": "yes",
            "do-ip6": "no",
            "do-udp": "yes",
            "do-tcp": "yes",
            "do-daemonize": "no",
            "chroot": '""',
            "username": '""',
            "directory": '"%s"' % d,
            "pidfile": '"%s/unbound.pid"' % d,
            "use-syslog": "no",
            "logfile": '"%s/unbound.log"' % d,
            "log-servfail": "yes",
            "val-log-level": 2,
            "verbosity": 1,
            "num-threads": 1,
            "so-reuseport": "no",
            # room for a checker's burst (caad check defaults to 256 lookups in flight);
            # beyond num-queries-per-thread unbound drops requests
            "outgoing-range": 1024,
            "num-queries-per-thread": 1024,
            "msg-cache-size": "4m",
            "rrset-cache-size": "4m",
            "key-cache-size": "1m",
            "neg-cache-size": "1m",
            "infra-cache-numhosts": 100,
            "prefetch": "no",
            "serve-expired": "no",
            "do-not-query-localhost": "no",
            "access-control": "127.0.0.0/8 allow",
            "module-config": '"validator iterator"',
            # replies to clients: like the 2020 DNS flag day, at most 1232 bytes
            # over UDP, so big RRsets come back TC=1 and need TCP
            "edns-buffer-size": 1232,
            "max-udp-size": 1232,
        }
        opts.update(self.unbound_options)
        lines = ["server:"]
        for k, v in opts.items():
            for item in (v if isinstance(v, (list, tuple)) else [v]):
                lines.append("  %s: %s" % (k, item))
        # unbound refuses RFC 6761 names such as test. by default (local zones)
        tlds = sorted({z.name.split(".")[-2] for z in self.zones.values() if z.name != "."})
        for tld in tlds:
            lines.append('  local-zone: "%s." nodefault' % tld)
        if self._trust_anchors:
            ta = self._path("trust-anchors")
            with open(ta, "w") as f:
                f.write("\n".join(self._trust_anchors) + "\n")
            lines.append('  trust-anchor-file: "%s"' % ta)
        lines += ["remote-control:", "  control-enable: no"]
        for z in sorted(self.zones.values(), key=lambda z: z.name):
            target = {"dead": self.dead_port,
                      "refused": self._refuser.port if self._refuser else None}.get(z.kind, self.nsd_port)
            lines += ["stub-zone:", '  name: "%s"' % z.name, "  stub-addr: %s@%d" % (LOOPBACK, target),
                      "  stub-prime: no"]
        return "\n".join(lines) + "\n"

    def _start_unbound(self, port: int | None = None) -> None:
        last = ""
        for attempt in range(5):
            p = port if port is not None else free_port()
            conf = self._path("unbound.conf")
            with open(conf, "w") as f:
                f.write(self._unbound_conf(p))
            _run([UNBOUND_CHECKCONF, conf])
            srv = _Server("unbound", [UNBOUND, "-d", "-c", conf], self._path("unbound.log"), self.dir)
            self.unbound, self.resolver_port = srv, p
            if self._wait_ready(srv, p, ["test."], rd=True):
                return
            last = srv.logs()
            srv.stop()
            self.unbound = None
            if not re.search(r"bind|address already in use|could not open ports", last, re.I):
                break
            if port is not None and attempt >= 2:
                break
        raise WorldError("unbound did not start:\n%s" % last)

    def _wait_ready(self, srv: _Server, port: int, names: Sequence[str], rd: bool) -> bool:
        """Poll until the server answers the SOA query for each of `names`
        (NSD: authoritatively, so every zone is loaded), or it exits, or the
        deadline passes."""
        end = time.monotonic() + self.start_deadline
        # TCP first: a port nobody listens on yet refuses at once, where a UDP
        # query would wait for drill's timeout. Then one query over UDP.
        pending = [(n, True) for n in names] + [(names[0], False)]
        while time.monotonic() < end:
            if not srv.alive():
                return False
            name, tcp = pending[0]
            ans = drill(name, "SOA", port=port, rd=rd, tcp=tcp, timeout=1.0)
            if (ans.rcode == "NOERROR" and [r[0] for r in ans.rrs("SOA")] == [fqdn(name)]
                    and (rd or "aa" in ans.flags)):
                pending.pop(0)
                if not pending:
                    return True
                continue
            time.sleep(0.02)
        return False


def break_signatures(signed_text: str, targets: Iterable[tuple[str, str]]) -> str:
    """Corrupt the signature of each RRSIG whose owner and covered type are in
    `targets` (flip bits in the middle of the signature), leaving the RRSIG
    well-formed so that the zone still loads but does not validate."""
    targets = {(fqdn(o), t.upper()) for o, t in targets}
    found = set()
    out = []
    for line in signed_text.splitlines():
        parts = line.split()
        if len(parts) >= 13 and parts[3] == "RRSIG" and (fqdn(parts[0]), parts[4].upper()) in targets:
            sig = bytearray(base64.b64decode("".join(parts[12:])))
            for i in range(len(sig) // 3, len(sig) // 3 + 4):
                sig[i] ^= 0x5A
            parts = parts[:12] + [base64.b64encode(bytes(sig)).decode()]
            found.add((fqdn(parts[0]), parts[4].upper()))
            line = "\t".join(parts)
        out.append(line)
    missing = targets - found
    if missing:
        raise WorldError("no RRSIG to break for %s" % sorted(missing))
    return "\n".join(out) + "\n"


def _run(cmd: list[str], cwd: str | None = None, check: bool = True) -> str:
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)
    if check and proc.returncode != 0:
        raise WorldError("%s failed (%d):\n%s%s" % (" ".join(cmd), proc.returncode, proc.stdout, proc.stderr))
    return proc.stdout


# --------------------------------------------------------------------------
# The standard world

LE = 'CAA 0 issue "letsencrypt.org"'
DIGICERT = 'CAA 0 issue "digicert.com"'
ADDR = "A 127.0.0.10"  # data only; nothing ever connects to it

PROVIDER_TARGET = "t.provider.test"  # what the tests pass as --provider-target
BIG_COUNT = 60  # CAA records in the big RRsets (about 2 kB, > 1232)
MEDIUM_COUNT = 20  # about 700 bytes: > 512, < 1232
CHAIN8_LENGTH = 8  # the CA must follow at least 8 CNAMEs (erratum 5065)
CHAIN20_LENGTH = 20  # longer than caad follows (16); unbound still follows it


def _many_caa(n: int, with_le: bool) -> list[str]:
    rrs = ['CAA 0 issue "ca%02d.example.net"' % i for i in range(n - (1 if with_le else 0))]
    if with_le:
        rrs.append(LE)
    return rrs


def standard_zones() -> list[Zone]:
    """The canned tree. Verdicts are for --ca letsencrypt.org with
    --provider-target t.provider.test; 'unbound:' says what the resolver
    answers for the CAA query (checked by test_dnsworld.py).

    customer.test (apex: 0 issue "digicert.com", so LE is denied there)
      own.customer.test        own CAA LE -> permitted, found_at itself
      www.own.customer.test    A only -> inherits own.customer.test -> permitted
      shop.customer.test       A only -> inherits customer.test -> denied
      nx.customer.test         NXDOMAIN -> customer.test -> denied
      pinned.customer.test     CNAME t.provider.test (CAA LE) -> permitted, pinned
                               unbound: NOERROR, answer = CNAME + CAA at t.provider.test
      exposed.customer.test    CNAME u.provider.test (no CAA; provider.test apex
                               has LE, which must NOT be used) -> climbs to
                               customer.test -> denied, exposed
                               unbound: NOERROR, answer = CNAME only, authority = SOA provider.test
      gone.customer.test       CNAME nx.provider.test (NXDOMAIN) -> denied
                               unbound: NXDOMAIN, answer = CNAME
      chain.customer.test      CNAME c1.customer.test CNAME c2.provider.test CNAME
                               t.provider.test -> permitted, pinned (3 CNAMEs)
      chain8.customer.test     8 CNAMEs (h1..h7.customer.test) to t.provider.test -> permitted
                               unbound: NOERROR, answer = 8 CNAME + CAA
      chain20.customer.test    20 CNAMEs (k1..k19.customer.test) to t.provider.test;
                               unbound follows it all (NOERROR, 20 CNAME + CAA);
                               caad's cap (16) -> lookup_failed chain_too_long
      loop1.customer.test      CNAME loop2 CNAME loop1 -> unbound: SERVFAIL -> lookup_failed
      dn.customer.test         DNAME provider.test.; NODATA for CAA at the owner
      t.dn.customer.test       via DNAME to t.provider.test -> permitted, pinned
                               unbound: NOERROR, answer = DNAME + synthesized CNAME + CAA
      u.dn.customer.test       via DNAME to u.provider.test (no CAA) -> climbs
                               dn.customer.test (empty), customer.test -> denied
      ent.customer.test        empty non-terminal (a.ent has an A) -> NOERROR/NODATA -> denied
      a.ent.customer.test      A only -> denied
      *.wild.customer.test     CAA LE (wildcard): foo.wild.customer.test -> permitted
                               (answer owned by foo.wild.customer.test);
                               wild.customer.test is an empty non-terminal -> denied
      wc.customer.test         0 issuewild "letsencrypt.org" + 0 issue ";":
                               *.wc -> permitted, wc -> denied,
                               sub.wc (A) -> denied, *.sub.wc -> permitted
      iw.customer.test         issue LE + issuewild digicert: iw -> permitted, *.iw -> denied
      medium.own.customer.test 20 CAA (~0.7 kB), none LE -> denied (parent permits)
      big.own.customer.test    60 CAA (~2 kB), none LE -> denied: unbound UDP reply is
                               TC=1, complete over TCP. Reading TC as "no CAA" would
                               wrongly climb to own.customer.test and permit.
      bigok.customer.test      60 CAA with LE last -> permitted (parent denies)
      crit.customer.test       issue LE + 128 "TBS" (upper-case, RFC 3597) -> denied
      upper.customer.test      0 "ISSUE" "letsencrypt.org" (RFC 3597) -> permitted
      critknown.customer.test  128 issue "letsencrypt.org" -> permitted
      www.dead.customer.test   dead.customer.test is delegated to a server that never
                               answers -> lookup_failed (timeout, or SERVFAIL once
                               unbound has marked the server down)
      todead.customer.test     CNAME www.dead.customer.test -> lookup_failed
      www.refused.customer.test  refused.customer.test's server answers REFUSED ->
                               unbound: SERVFAIL (no records) -> lookup_failed
      cnbad.customer.test      CNAME bad.signed.test (bogus) -> lookup_failed (dnssec_bogus)
    provider.test (apex: 0 issue "letsencrypt.org" -- must never apply to customers)
      t.provider.test          CAA LE: the provider target
      u.provider.test          A only (a target without CAA)
      c2.provider.test         CNAME t.provider.test (middle of chain.customer.test)
    signed.test (DNSSEC, the only trust anchor; apex CAA LE)
      signed.test              unbound: NOERROR + AD
      ok.signed.test           A only -> NODATA (secure) -> permitted, found_at signed.test
      bad.signed.test          CAA LE with a corrupted RRSIG: unbound SERVFAIL; with CD:
                               NOERROR + the CAA -> lookup_failed, kind dnssec_bogus
    nocaa.test                 no CAA anywhere (nor in test. or the root)
      www.nocaa.test           -> permitted, found_at null
      a.b.nothere.nocaa.test   NXDOMAIN all the way -> permitted, found_at null
    change.test                apex CAA LE; tests rewrite it with World.update_zone
    """
    chains = {}
    for head, prefix, length in (("chain8", "h", CHAIN8_LENGTH), ("chain20", "k", CHAIN20_LENGTH)):
        hops = [head] + ["%s%d" % (prefix, i) for i in range(1, length)]
        for i, h in enumerate(hops):
            nxt = hops[i + 1] + ".customer.test." if i + 1 < len(hops) else PROVIDER_TARGET + "."
            chains[h] = ["CNAME " + nxt]

    customer = {
        "@": [DIGICERT, ADDR],
        "own": [LE, 'CAA 0 iodef "mailto:security@customer.test"', ADDR],
        "www.own": [ADDR],
        "shop": [ADDR],
        "pinned": ["CNAME t.provider.test."],
        "exposed": ["CNAME u.provider.test."],
        "gone": ["CNAME nx.provider.test."],
        "chain": ["CNAME c1.customer.test."],
        "c1": ["CNAME c2.provider.test."],
        "loop1": ["CNAME loop2.customer.test."],
        "loop2": ["CNAME loop1.customer.test."],
        "dn": ["DNAME provider.test."],
        "a.ent": [ADDR],
        "*.wild": [LE, ADDR],
        "wc": ['CAA 0 issuewild "letsencrypt.org"', 'CAA 0 issue ";"', ADDR],
        "sub.wc": [ADDR],
        "iw": [LE, 'CAA 0 issuewild "digicert.com"', ADDR],
        "medium.own": _many_caa(MEDIUM_COUNT, with_le=False),
        "big.own": _many_caa(BIG_COUNT, with_le=False),
        "bigok": _many_caa(BIG_COUNT, with_le=True),
        "crit": [LE, rfc3597_caa(128, "TBS", "Unknown")],
        "upper": [rfc3597_caa(0, "ISSUE", "letsencrypt.org")],
        "critknown": ['CAA 128 issue "letsencrypt.org"'],
        "todead": ["CNAME www.dead.customer.test."],
        "cnbad": ["CNAME bad.signed.test."],
        **chains,
    }
    provider = {
        "@": [LE],
        "t": [LE, ADDR],
        "u": [ADDR],
        "c2": ["CNAME t.provider.test."],
    }
    signed = {
        "@": [LE],
        "ok": [ADDR],
        "bad": [LE, ADDR],
    }
    return [
        Zone("."),
        Zone("test."),
        Zone("customer.test.", customer),
        Zone("dead.customer.test.", kind="dead"),
        Zone("refused.customer.test.", kind="refused"),
        Zone("provider.test.", provider),
        Zone("signed.test.", signed, signed=True, break_rrsig=[("bad", "CAA")]),
        Zone("nocaa.test.", {"www": [ADDR]}),
        Zone("change.test.", {"@": [LE], "www": [ADDR]}),
    ]


def standard_world(**kw) -> World:
    """A World (not yet started) holding standard_zones(). Use as a context
    manager or call start()/stop()."""
    return World(standard_zones(), **kw)


if __name__ == "__main__":
    # Manual use: python3 dnsworld.py  -> serves the standard world until Ctrl-C.
    install_signal_cleanup()
    with standard_world() as w:
        print("resolver %s  nsd 127.0.0.1:%d  dead 127.0.0.1:%d  dir %s"
              % (w.resolver, w.nsd_port, w.dead_port, w.dir), flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
