#!/usr/bin/env python3
"""Lookup benchmark for `caad check` (issue 3, "Speed").

Generates a synthetic DNS world of customer domains, serves it with NSD
behind a validating unbound on 127.0.0.1 (tests/integration/dnsworld.py),
writes the plain RFC 8659 query list for the same domains (every CAA query
a checker without any reuse sends), and then measures on the same servers:

  dnsperf   -n 1 over the plain query list          (what a plain checker costs)
  caad      check --file names.txt --json            (what caad costs)

It prints domains/s, queries sent, peak RSS and caad's time as a ratio of
dnsperf's, against the targets of issue 3: ratio <= 1.0, peak RSS < 100 MB.
A benchmark prints figures; it never fails on them (exit status 0 unless
something could not run at all).

    python3 bench/lookup/run.py                      # 100,000 domains
    python3 bench/lookup/run.py --domains 2000       # quick try
    python3 bench/lookup/run.py --concurrency 256,1000,2000

Standard library only. Needs nsd, unbound, ldnsutils (drill) and dnsperf;
everything listens on 127.0.0.1 on ports picked at run time, and every
server this script starts is stopped before it exits.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import select
import signal
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import dnsworld  # noqa: E402
from dnsworld import Zone  # noqa: E402

# Long TTLs (positive and negative) so that nothing expires in unbound's cache
# between the warm-up and the measured runs, however long a full run takes:
# every measured run is then served from the same warm cache. dnsworld reads
# these module globals when it writes the zone files.
dnsworld.DEFAULT_TTL = 3600
dnsworld.NEGATIVE_TTL = 3600

TLD = "test."
PROVIDER = "provider.test."
TARGET = "t.provider.test."  # the provider target with CAA (pinned)
NOCAA_TARGET = "u.provider.test."  # a provider target without CAA (exposed)
MIDDLE = "c2.provider.test."  # CNAME -> TARGET, the middle of 3-CNAME chains
LE_ISSUER = "letsencrypt.org"
LE = 'CAA 0 issue "letsencrypt.org"'
DIGICERT = 'CAA 0 issue "digicert.com"'
ADDR = "A 127.0.0.10"

# Share of each kind of customer domain (percent).
MIX = [
    ("own", 20),  # its own CAA (half letsencrypt, half digicert)
    ("inherit", 15),  # A only; CAA at its customer zone's apex
    ("inherit2", 10),  # www.X where X is an empty non-terminal; CAA at the apex
    ("pinned", 20),  # CNAME t.provider.test (CAA letsencrypt)
    ("exposed", 10),  # CNAME u.provider.test (no CAA): climbs its own parents
    ("chain2", 5),  # CNAME hN.zone -> t.provider.test
    ("chain3", 5),  # CNAME hN.zone -> c2.provider.test -> t.provider.test
    ("nocaa", 15),  # A only, in a zone without CAA under test. (no CAA anywhere)
]

UNBOUND_OPTIONS = {
    # room for the whole world in the caches, and for thousands of queries in flight
    "msg-cache-size": "64m",
    "rrset-cache-size": "64m",
    "num-queries-per-thread": 4096,
    "outgoing-range": 8192,
    # absorb bursts from 127.0.0.1 without drops (net.core.rmem_max allows 4 MB here)
    "so-rcvbuf": "4m",
    "so-sndbuf": "4m",
}

CAAD_TIMEOUT = 1800  # seconds: a run that takes longer is killed and reported
DNSPERF_TIMEOUT = 1800


# --------------------------------------------------------------------------
# The world


class Model:
    """What the world holds, for computing the plain query list and the
    verdicts a correct checker must give."""

    def __init__(self) -> None:
        self.caa: dict[str, list[str]] = {}  # owner -> issuer values of "issue" records
        self.cname: dict[str, str] = {}  # owner -> target

    def add(self, owner: str, rr: str) -> None:
        kind, _, rdata = rr.partition(" ")
        if kind == "CAA":
            value = rdata.split(None, 2)[2].strip('"')
            self.caa.setdefault(owner, []).append(value)
        elif kind == "CNAME":
            self.cname[owner] = rdata.strip().lower()

    def final(self, name: str) -> tuple[str, int]:
        """The end of name's CNAME chain (as the resolver follows it) and its length."""
        hops = 0
        while name in self.cname and hops < 16:
            name = self.cname[name]
            hops += 1
        return name, hops

    def plain(self, name: str) -> tuple[list[str], str | None, int]:
        """RFC 8659 climb without reuse: the names queried, the owner of the
        relevant RRset (None: no CAA anywhere), and whether it came through
        the first query's alias chain (hops)."""
        asked = []
        n = name
        while n != ".":
            asked.append(n)
            end, hops = self.final(n)
            if end in self.caa:
                return asked, end, hops if n == name else 0
            n = n.split(".", 1)[1] or "."
        return asked, None, 0


def generate(n_domains: int, n_zones: int, seed: int):
    """Builds the zones, the list of customer domains and the model."""
    rng = random.Random(seed)
    model = Model()
    zone_names = ["c%04d.%s" % (i, TLD) for i in range(n_zones)]
    # one zone in five has no CAA at all; of the others 3 in 4 allow letsencrypt
    apex = {}
    for i, z in enumerate(zone_names):
        apex[z] = None if i % 5 == 0 else (DIGICERT if i % 5 == 4 else LE)
    with_caa = [z for z in zone_names if apex[z]]
    without_caa = [z for z in zone_names if not apex[z]]
    if not with_caa or not without_caa:
        raise SystemExit("need at least 5 zones (--zones)")
    records: dict[str, dict[str, list[str]]] = {z: {} for z in zone_names}
    for z in zone_names:
        if apex[z]:
            records[z]["@"] = [apex[z], ADDR]
            model.add(z, apex[z])
        else:
            records[z]["@"] = [ADDR]

    provider = {"@": [LE], "t": [LE, ADDR], "u": [ADDR], "c2": ["CNAME " + TARGET]}
    for owner, rrs in provider.items():
        for rr in rrs:
            model.add(PROVIDER if owner == "@" else owner + "." + PROVIDER, rr)

    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    domains = []  # (name, kind)
    counts = {k: 0 for k in kinds}
    for i in range(n_domains):
        kind = rng.choices(kinds, weights)[0]
        if kind in ("inherit", "inherit2"):
            zone = rng.choice(with_caa)
        elif kind == "nocaa":
            zone = rng.choice(without_caa)
        else:
            zone = rng.choice(zone_names)
        label = "d%06d" % i
        rrs = records[zone]
        if kind == "own":
            own = LE if rng.random() < 0.5 else DIGICERT
            rrs[label] = [own, ADDR]
        elif kind in ("inherit", "nocaa"):
            rrs[label] = [ADDR]
        elif kind == "inherit2":
            rrs["www." + label] = [ADDR]
            label = "www." + label
        elif kind == "pinned":
            rrs[label] = ["CNAME " + TARGET]
        elif kind == "exposed":
            rrs[label] = ["CNAME " + NOCAA_TARGET]
        elif kind == "chain2":
            rrs[label] = ["CNAME h%06d.%s" % (i, zone)]
            rrs["h%06d" % i] = ["CNAME " + TARGET]
        elif kind == "chain3":
            rrs[label] = ["CNAME h%06d.%s" % (i, zone)]
            rrs["h%06d" % i] = ["CNAME " + MIDDLE]
        for owner in [label] + (["h%06d" % i] if kind.startswith("chain") else []):
            for rr in rrs[owner]:
                model.add(owner + "." + zone, rr)
        domains.append((label + "." + zone, kind))
        counts[kind] += 1

    zones = [Zone("."), Zone(TLD), Zone(PROVIDER, provider)]
    zones += [Zone(z, records[z]) for z in zone_names]
    return zones, domains, model, counts


def expect(model: Model, name: str) -> tuple[list[str], str, str]:
    """For one customer domain: the plain RFC 8659 query list, and the verdict
    (for letsencrypt.org) and exposure (provider target TARGET) it must get."""
    asked, owner, hops = model.plain(name)
    if owner is None:
        verdict = "permitted"
    else:
        verdict = "permitted" if LE_ISSUER in model.caa[owner] else "denied"
    exposure = "pinned" if owner == TARGET and hops > 0 else "exposed"
    return asked, verdict, exposure


class BenchWorld(dnsworld.World):
    """dnsworld's World, with a linear-time delegation map: World._delegations
    looks up every zone's parent among all zones for each zone it writes
    (cubic in the number of zones), which takes minutes for a few hundred."""

    _children: dict[str, list[str]] | None = None

    def _delegations(self, zone):
        if self._children is None:
            children: dict[str, list[str]] = {}
            for name in self.zones:
                if name == ".":
                    continue
                parent = name.split(".", 1)[1] or "."
                while parent not in self.zones:
                    parent = parent.split(".", 1)[1] or "."
                children.setdefault(parent, []).append(name)
            self._children = children
        return self._children.get(zone.name, [])


# --------------------------------------------------------------------------
# Running things


def _pdeathsig():  # in the child, between fork and exec: die with us
    getattr(dnsworld, "_pdeathsig", lambda: None)()


def proc_cpu(pid: int) -> float:
    """User+system CPU seconds of a process (all its threads) so far."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def run_dnsperf(port: int, path: str, clients: int, outstanding: int, threads: int, edns: bool,
                log: str) -> dict:
    cmd = ["dnsperf", "-s", dnsworld.LOOPBACK, "-p", str(port), "-d", path, "-n", "1",
           "-c", str(clients), "-q", str(outstanding), "-T", str(threads), "-t", "5"]
    if edns:
        cmd.append("-e")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          stdin=subprocess.DEVNULL, timeout=DNSPERF_TIMEOUT, preexec_fn=_pdeathsig)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # dnsperf is the only child waited for meanwhile
    with open(log, "a") as f:
        f.write("$ %s\n%s\n" % (" ".join(cmd), proc.stdout))
    out = proc.stdout

    def num(pattern, conv=float):
        m = re.search(pattern, out)
        return conv(m.group(1)) if m else None

    r = {
        "cmd": cmd,
        "sent": num(r"Queries sent:\s+(\d+)", int),
        "completed": num(r"Queries completed:\s+(\d+)", int),
        "lost": num(r"Queries lost:\s+(\d+)", int),
        "time": num(r"Run time \(s\):\s+([\d.]+)"),
        "qps": num(r"Queries per second:\s+([\d.]+)"),
        "rcodes": (re.search(r"Response codes:\s+(.*)", out) or [None, ""])[1],
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "status": proc.returncode,
    }
    if proc.returncode != 0 or r["time"] is None:
        raise RuntimeError("dnsperf failed (%d):\n%s" % (proc.returncode, out[-3000:]))
    return r


def vm_hwm_kb(pid: int) -> int | None:
    """The peak resident set size of a running process so far (VmHWM)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def wait_with_rusage(proc: subprocess.Popen, timeout: float, sample_hwm: bool = False):
    """Waits for the child (killing it after `timeout` seconds); returns its
    exit status, resource usage and, with sample_hwm, the largest VmHWM seen
    while sampling every 10 ms. Sleeps on a pidfd where there is one, so the
    wall time is exact and the waiting costs next to no CPU."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        fd = None
    deadline = time.monotonic() + timeout
    hwm = None
    while True:  # bounded by the deadline
        if sample_hwm:
            h = vm_hwm_kb(proc.pid)
            hwm = h if hwm is None or (h is not None and h > hwm) else hwm
        pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            break
        left = deadline - time.monotonic()
        if left <= 0:
            proc.kill()
            _, st, ru = os.wait4(proc.pid, 0)
            break
        pause = min(left, 0.01 if sample_hwm else left)
        if fd is not None:
            select.select([fd], [], [], pause)
        else:
            time.sleep(min(pause, 0.005))
    if fd is not None:
        os.close(fd)
    proc.returncode = os.waitstatus_to_exitcode(st)
    return proc.returncode, ru, hwm


def run_caad(caad: str, resolver: str, names: str, out_path: str, concurrency: int | None,
             extra: list[str], json_output: bool = True) -> dict:
    cmd = [caad, "check", "--resolver", resolver, "--ca", LE_ISSUER, "--provider-target",
           TARGET.rstrip(".")] + (["--json"] if json_output else []) + ["--file", names]
    if concurrency:
        cmd += ["--concurrency", str(concurrency)]
    cmd += extra
    timev = os.access("/usr/bin/time", os.X_OK)
    tfile = out_path + ".time"
    argv = (["/usr/bin/time", "-v", "-o", tfile] + cmd) if timev else cmd
    err_path = out_path + ".stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                preexec_fn=_pdeathsig)
        status, rusage, hwm = wait_with_rusage(proc, CAAD_TIMEOUT, sample_hwm=not timev)
        wall = time.perf_counter() - start
    r = {"cmd": cmd, "wall": wall, "status": status}
    if timev:
        with open(tfile) as f:
            tv = f.read()
        # GNU time puts its own notes (e.g. "Command exited with non-zero status 1") first
        m = re.search(r"Maximum resident set size \(kbytes\):\s+(\d+)", tv)
        r["rss_kb"] = int(m.group(1)) if m else None
        m1 = re.search(r"User time \(seconds\):\s+([\d.]+)", tv)
        m2 = re.search(r"System time \(seconds\):\s+([\d.]+)", tv)
        r["user"] = float(m1.group(1)) if m1 else None
        r["sys"] = float(m2.group(1)) if m2 else None
        m = re.search(r"Exit status:\s+(\d+)", tv)
        if m:
            r["status"] = int(m.group(1))
        r["rss_via"] = "/usr/bin/time -v"
    else:
        # wait4's ru_maxrss would count this Python process's own RSS, which the
        # child had between fork and exec (the kernel folds it in at exec), so
        # the peak comes from sampling the child's VmHWM instead
        r["rss_kb"] = hwm
        r["user"], r["sys"] = rusage.ru_utime, rusage.ru_stime
        r["rss_via"] = "VmHWM sampled every 10 ms (no /usr/bin/time)"
    with open(err_path, errors="replace") as f:
        r["stderr"] = f.read()[-2000:]
    return r


def read_results(path: str, expected: dict[str, tuple[str, str]]) -> dict:
    verdicts: dict[str, int] = {}
    queries = 0
    lines = 0
    mismatches = []
    seen = set()
    failures: dict[str, int] = {}
    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            lines += 1
            try:
                j = json.loads(line)
            except ValueError:
                mismatches.append("not JSON: %r" % line[:200])
                continue
            name = str(j.get("domain", "")).lower().rstrip(".") + "."
            seen.add(name)
            v = j.get("verdict")
            verdicts[v] = verdicts.get(v, 0) + 1
            queries += int(j.get("queries") or 0)
            if v == "lookup_failed":
                kind = (j.get("failure") or {}).get("kind", "?")
                failures[kind] = failures.get(kind, 0) + 1
                continue  # counted as overload, not as a wrong answer
            want = expected.get(name)
            if want is None:
                mismatches.append("%s: not one of the generated domains" % name)
            elif (v, j.get("exposure")) != want:
                mismatches.append("%s: %s/%s, expected %s/%s" % (name, v, j.get("exposure"), *want))
    missing = len(set(expected) - seen)
    return {"lines": lines, "verdicts": verdicts, "queries": queries, "mismatches": mismatches,
            "missing": missing, "failures": failures}


def fmt_mb(kb):
    return "n/a" if kb is None else "%.1f MB" % (kb / 1024.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--domains", type=int, default=100_000, help="customer domains (default 100000)")
    ap.add_argument("--zones", type=int, default=None,
                    help="customer zones (default: domains/250, at least 10)")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--caad", default=os.environ.get("CAAD_BIN", os.path.join(ROOT, "build", "bin", "caad")),
                    help="caad binary (default build/bin/caad or $CAAD_BIN)")
    ap.add_argument("--concurrency", default="",
                    help="comma-separated --concurrency values for caad, one run each "
                         "(default: caad's own default)")
    ap.add_argument("--caad-arg", action="append", default=[],
                    help="extra argument passed to caad check (repeatable)")
    ap.add_argument("--repeat", type=int, default=1, help="measured rounds (dnsperf + caad each); medians shown")
    ap.add_argument("--clients", type=int, default=8, help="dnsperf -c (default 8)")
    ap.add_argument("--outstanding", type=int, default=1000, help="dnsperf -q (default 1000)")
    ap.add_argument("--dnsperf-threads", type=int, default=1, help="dnsperf -T (default 1)")
    ap.add_argument("--no-edns", action="store_true", help="dnsperf without -e (caad always sends EDNS0)")
    ap.add_argument("--unbound-threads", type=int, default=1, help="unbound num-threads (default 1)")
    ap.add_argument("--also-human", action="store_true",
                    help="diagnostic: also time each caad run without --json (its output is not checked)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory and the world's")
    args = ap.parse_args()
    if args.domains < 10 or args.repeat < 1 or args.repeat > 20:
        ap.error("--domains must be >= 10 and --repeat 1..20")
    n_zones = args.zones or max(10, args.domains // 250)
    concurrencies = [int(c) for c in args.concurrency.split(",") if c.strip()] or [None]
    if not (os.path.isfile(args.caad) and os.access(args.caad, os.X_OK)):
        print("no caad binary at %s: build it with ./tools/build" % args.caad, file=sys.stderr)
        return 2
    for tool in ("dnsperf", dnsworld.NSD, dnsworld.UNBOUND):
        if not shutil.which(tool):
            print("%s is not installed" % tool, file=sys.stderr)
            return 2

    dnsworld.install_signal_cleanup()  # SIGTERM/SIGINT/SIGHUP stop the servers and exit
    work = tempfile.mkdtemp(prefix="caad-bench-")
    if not args.keep:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            then = signal.getsignal(sig)
            if callable(then):
                def remove_work_then(signum, frame, then=then):
                    shutil.rmtree(work, ignore_errors=True)
                    then(signum, frame)
                signal.signal(sig, remove_work_then)
    try:
        return bench(args, n_zones, concurrencies, work)
    finally:
        if args.keep:
            print("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


def bench(args, n_zones: int, concurrencies: list, work: str) -> int:
    t0 = time.perf_counter()
    zones, domains, model, counts = generate(args.domains, n_zones, args.seed)
    names_path = os.path.join(work, "names.txt")
    plain_path = os.path.join(work, "plain.txt")
    expected = {}
    plain_lines = 0
    expected_counts: dict[str, int] = {}
    with open(names_path, "w") as names, open(plain_path, "w") as plain:
        for name, _kind in domains:
            names.write(name.rstrip(".") + "\n")
            asked, verdict, exposure = expect(model, name)
            for q in asked:
                plain.write("%s CAA\n" % q.rstrip("."))
            plain_lines += len(asked)
            expected[name] = (verdict, exposure)
            expected_counts[verdict] = expected_counts.get(verdict, 0) + 1
    records = sum(len(rrs) for z in zones for rrs in z.records.values())
    t_gen = time.perf_counter() - t0
    print("world: %d domains in %d customer zones (+ root, test., provider.test), %d records; "
          "plain list %d queries; generated in %.1f s" % (len(domains), n_zones, records, plain_lines, t_gen))
    print("mix: " + ", ".join("%s %d" % (k, counts[k]) for k, _ in MIX))
    print("expected verdicts: " + ", ".join("%s %d" % kv for kv in sorted(expected_counts.items())))

    load_before = os.getloadavg()
    options = dict(UNBOUND_OPTIONS)
    options["num-threads"] = args.unbound_threads
    t0 = time.perf_counter()
    world = BenchWorld(zones, unbound_options=options, start_deadline=300.0, keep_dir=args.keep or None)
    with world as w:
        t_start = time.perf_counter() - t0
        print("servers: NSD 127.0.0.1:%d, unbound %s (%d thread%s); started in %.1f s"
              % (w.nsd_port, w.resolver, args.unbound_threads, "" if args.unbound_threads == 1 else "s",
                 t_start))
        log = os.path.join(work, "dnsperf.log")
        dp_args = (args.clients, args.outstanding, args.dnsperf_threads, not args.no_edns, log)

        ub_before = proc_cpu(w.unbound.pid)
        warm = run_dnsperf(w.resolver_port, plain_path, *dp_args)
        print("warm-up: dnsperf %d queries in %.2f s (%.0f qps), lost %s, rcodes %s; unbound CPU %.2f s"
              % (warm["sent"], warm["time"], warm["qps"], warm["lost"], warm["rcodes"],
                 proc_cpu(w.unbound.pid) - ub_before))

        dnsperf_runs = []
        caad_runs: dict = {c: [] for c in concurrencies}
        human_runs: dict = {c: [] for c in concurrencies}
        for rnd in range(args.repeat):
            ub_before = proc_cpu(w.unbound.pid)
            d = run_dnsperf(w.resolver_port, plain_path, *dp_args)
            d["unbound_cpu"] = proc_cpu(w.unbound.pid) - ub_before
            dnsperf_runs.append(d)
            print("round %d: dnsperf %d sent, %d lost, %.2f s, %.0f qps, dnsperf CPU %.2f s, unbound CPU %.2f s"
                  % (rnd + 1, d["sent"], d["lost"] or 0, d["time"], d["qps"], d["cpu"], d["unbound_cpu"]),
                  flush=True)
            for c in concurrencies:
                out_path = os.path.join(work, "caad-c%s-r%d.jsonl" % (c or "default", rnd))
                ub_before = proc_cpu(w.unbound.pid)
                r = run_caad(args.caad, w.resolver, names_path, out_path, c, args.caad_arg)
                r["unbound_cpu"] = proc_cpu(w.unbound.pid) - ub_before
                r.update(read_results(out_path, expected))
                caad_runs[c].append(r)
                print("round %d: caad --concurrency %s: %.2f s, %d queries, exit %s, peak RSS %s, "
                      "CPU user %.2f s sys %.2f s, unbound CPU %.2f s, verdicts %s"
                      % (rnd + 1, c or "default", r["wall"], r["queries"], r["status"], fmt_mb(r["rss_kb"]),
                         r["user"] or 0, r["sys"] or 0, r["unbound_cpu"],
                         ", ".join("%s %d" % kv for kv in sorted(r["verdicts"].items()))), flush=True)
                if r["status"] not in (0, 1, 2):
                    print("  caad exit status %s; stderr:\n%s" % (r["status"], r["stderr"]))
                if args.also_human:
                    h = run_caad(args.caad, w.resolver, names_path, out_path + ".txt", c, args.caad_arg,
                                 json_output=False)
                    human_runs[c].append(h)
                    print("round %d: caad --concurrency %s without --json (diagnostic): %.2f s, CPU user %.2f s "
                          "sys %.2f s" % (rnd + 1, c or "default", h["wall"], h["user"] or 0, h["sys"] or 0),
                          flush=True)
    load_after = os.getloadavg()

    # ---- summary
    def med(runs, key):
        vals = [r[key] for r in runs if r.get(key) is not None]
        return statistics.median(vals) if vals else float("nan")

    def spread(runs, key):
        vals = [r[key] for r in runs]
        return "" if len(vals) < 2 else " (runs %.2f-%.2f)" % (min(vals), max(vals))

    d_time = med(dnsperf_runs, "time")
    n = len(domains)
    print()
    print("== Lookups (issue 3): %d domains, %d customer zones; %s; %d CPUs; load average %.2f before, %.2f after"
          % (n, n_zones, time.strftime("%Y-%m-%d %H:%M"), os.cpu_count() or 0, load_before[0], load_after[0]))
    print("caad:    %s" % args.caad)
    print("plain RFC 8659 list: %d queries (%.2f per domain)" % (plain_lines, plain_lines / n))
    print("dnsperf: %d sent, %d lost, %.3f s%s, %.0f qps  [-c %d -q %d -T %d%s; median of %d]"
          % (dnsperf_runs[0]["sent"], max(d["lost"] or 0 for d in dnsperf_runs), d_time,
             spread(dnsperf_runs, "time"), med(dnsperf_runs, "qps"), args.clients, args.outstanding,
             args.dnsperf_threads, "" if args.no_edns else " -e", len(dnsperf_runs)))
    print("    dnsperf CPU %.2f s, unbound CPU %.2f s" % (med(dnsperf_runs, "cpu"), med(dnsperf_runs, "unbound_cpu")))
    rc = 0
    for c in concurrencies:
        runs = caad_runs[c]
        wall = med(runs, "wall")
        rss = max(r["rss_kb"] or 0 for r in runs)
        last = runs[-1]
        ratio = wall / d_time
        print("caad --concurrency %s: %.3f s%s, %.0f domains/s, %d queries sent (%.2f per domain, %.0f%% of "
              "the plain list)" % (c or "default", wall, spread(runs, "wall"), n / wall, last["queries"],
                                   last["queries"] / n, 100.0 * last["queries"] / plain_lines))
        print("    ratio caad/dnsperf %.2f (target <= 1.0): %s" % (ratio, "PASS" if ratio <= 1.0 else "MISS"))
        print("    peak RSS %s (target < 100 MB): %s  [%s]"
              % (fmt_mb(rss), "PASS" if rss < 100 * 1024 else "MISS", last["rss_via"]))
        user, sys_ = med(runs, "user"), med(runs, "sys")
        print("    caad CPU user %.2f s + sys %.2f s = %.0f%% of its wall time; unbound CPU %.2f s"
              % (user, sys_, 100.0 * (user + sys_) / wall, med(runs, "unbound_cpu")))
        if human_runs[c]:
            hw = med(human_runs[c], "wall")
            print("    without --json (diagnostic): %.3f s, ratio %.2f, CPU user %.2f s + sys %.2f s"
                  % (hw, hw / d_time, med(human_runs[c], "user"), med(human_runs[c], "sys")))
        print("    verdicts " + ", ".join("%s %d" % kv for kv in sorted(last["verdicts"].items())))
        for r in runs:
            failed = r["verdicts"].get("lookup_failed", 0)
            if failed:
                print("    WARNING: %d lookup_failed in one run (%s): the resolver was overloaded or dropped "
                      "queries" % (failed, ", ".join("%s %d" % kv for kv in sorted(r["failures"].items()))))
            if r["lines"] != n or r["missing"]:
                print("    WARNING: %d result lines for %d domains, %d domains missing"
                      % (r["lines"], n, r["missing"]))
            if r["mismatches"]:
                print("    WARNING: %d results differ from what the world implies, e.g.:" % len(r["mismatches"]))
                for m in r["mismatches"][:5]:
                    print("      " + m)
            if r["status"] not in (0, 1, 2):
                rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
