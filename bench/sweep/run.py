#!/usr/bin/env python3
"""Daemon sweep benchmark for `caad run` (issue 4, "Benchmark").

Builds the lookups benchmark's synthetic DNS world (bench/lookup/run.py: N
customer domains in NSD zones behind a validating unbound on 127.0.0.1),
stores the same N domains in caad's SQLite database with
`caad domain import`, and then measures on the same warm resolver:

  check   caad check --json --file names.txt           (no database)
  sweep   caad run --config cfg, from its start until every stored domain
          has been checked once (polled from the database, read-only)

It prints domains/s for the import, the check and the sweep, the overhead of
the database (sweep_time / check_time - 1) and both peak RSS figures against
the targets of issue 4: overhead < 20 %, daemon peak RSS < 150 MB at one
million domains. A benchmark prints figures; it never fails on them (exit
status 0 unless something could not run at all).

    python3 bench/sweep/run.py                          # 1,000,000 domains
    python3 bench/sweep/run.py --quick                  # 20,000 domains, to try it
    python3 bench/sweep/run.py --domains 200000 --concurrency 256 --batch-size 500

Standard library only. Needs nsd, unbound and ldnsutils (as the lookups
benchmark does), dnsperf for the warm-up (without it a `caad check` pass warms
the resolver), and /usr/bin/time for the check's peak RSS. Everything listens
on 127.0.0.1 on ports picked at run time; every process this script starts is
stopped before it exits.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import re
import resource
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _load_lookup_bench():
    """bench/lookup/run.py as a module (it is a script in a directory that is
    not a package). Importing it also sets dnsworld's TTLs to one hour."""
    path = os.path.join(ROOT, "bench", "lookup", "run.py")
    spec = importlib.util.spec_from_file_location("caad_bench_lookup", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


lookup = _load_lookup_bench()
dnsworld = lookup.dnsworld

# The lookups benchmark's options, with caches big enough for a million
# domains: one message per question caad asks (about 1.1 per domain) and the
# RRsets behind them. With 256m each, a million domains did not fit: unbound
# evicted the warm-up's answers in LRU order, so the measured runs, which ask
# in the same order, missed nearly every time (NSD as busy as in the warm-up).
UNBOUND_OPTIONS = dict(lookup.UNBOUND_OPTIONS)
UNBOUND_OPTIONS.update({"msg-cache-size": "1g", "rrset-cache-size": "1g"})

CA_NAME = "letsencrypt"
TARGET = lookup.TARGET.rstrip(".")
SWEEP_TIMEOUT = 3600  # seconds: a sweep that takes longer is stopped and reported
IMPORT_TIMEOUT = 1800
COUNT_EVERY = 5.0  # seconds between counts of the unchecked domains during the sweep
STOP_DEADLINE = 5.0  # issue 4: the daemon exits within 5 seconds of SIGTERM
TARGET_OVERHEAD = 0.20
TARGET_RSS_KB = 150 * 1024


# --------------------------------------------------------------------------
# Files


def write_inputs(work: str, domains, model, seed: int):
    """names.txt (for caad check), import.csv (for caad domain import),
    plain.txt (dnsperf warm-up) and the expected verdict/exposure per name."""
    rng = random.Random(seed + 1)
    names_path = os.path.join(work, "names.txt")
    csv_path = os.path.join(work, "import.csv")
    plain_path = os.path.join(work, "plain.txt")
    expected: dict[str, tuple[str, str]] = {}
    counts: dict[str, int] = {}
    plain_lines = 0
    today = int(time.time()) // 86400 * 86400
    with open(names_path, "w") as names, open(csv_path, "w") as csv, open(plain_path, "w") as plain:
        csv.write("name,ca,not_after\n")
        for name, _kind in domains:
            text = name.rstrip(".")
            names.write(text + "\n")
            # Certificates that expire in 75-89 days: with the default renewal at a
            # third of a 90-day lifetime, renewal is 45-59 days away, so every
            # domain is on the daily cadence and none comes due twice in a sweep.
            not_after = time.strftime("%Y-%m-%d", time.gmtime(today + rng.randint(75, 89) * 86400))
            csv.write("%s,%s,%s\n" % (text, CA_NAME, not_after))
            asked, verdict, exposure = lookup.expect(model, name)
            for q in asked:
                plain.write("%s CAA\n" % q.rstrip("."))
            plain_lines += len(asked)
            expected[text] = (verdict, exposure)
            counts[verdict] = counts.get(verdict, 0) + 1
    return names_path, csv_path, plain_path, plain_lines, expected, counts


def write_config(work: str, resolver: str, args) -> tuple[str, str]:
    db = os.path.join(work, "caad.db")
    cfg = os.path.join(work, "caad.toml")
    with open(cfg, "w") as f:
        f.write(
            "# written by bench/sweep/run.py\n"
            "database = %s\n"
            "resolvers = [%s]\n"
            "provider_targets = [%s]\n"
            "concurrency = %d\n"
            "batch_size = %d\n"
            "timeout_ms = 2000\n"
            "attempts = 3\n"
            "log_level = \"info\"\n"
            "\n"
            "# defaults: daily checks while renewal is more than 30 days away, so\n"
            "# nothing is checked twice during the sweep\n"
            "[schedule]\n"
            "\n"
            "[[ca]]\n"
            "name = %s\n"
            "issuer = \"letsencrypt.org\"\n"
            % (json.dumps(db), json.dumps(resolver), json.dumps(TARGET), args.concurrency, args.batch_size,
               json.dumps(CA_NAME)))
    return cfg, db


# --------------------------------------------------------------------------
# Processes


def proc_group_cpu(pgid: int) -> float:
    """CPU seconds of every process in a process group (NSD forks)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def timed(cmd: list[str], out_path: str, timeout: float) -> dict:
    """Runs cmd under /usr/bin/time -v (when there is one) with stdout and
    stderr to files; returns wall time, exit status, peak RSS and CPU."""
    timev = os.access("/usr/bin/time", os.X_OK)
    tfile = out_path + ".time"
    argv = (["/usr/bin/time", "-v", "-o", tfile] + cmd) if timev else cmd
    with open(out_path, "wb") as out, open(out_path + ".stderr", "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                preexec_fn=lookup._pdeathsig)
        status, rusage, hwm = lookup.wait_with_rusage(proc, timeout, sample_hwm=not timev)
        wall = time.perf_counter() - start
    r = {"cmd": cmd, "wall": wall, "status": status, "rss_kb": hwm,
         "user": rusage.ru_utime, "sys": rusage.ru_stime}
    if timev:
        with open(tfile) as f:
            tv = f.read()
        for key, pattern, conv in (("rss_kb", r"Maximum resident set size \(kbytes\):\s+(\d+)", int),
                                   ("user", r"User time \(seconds\):\s+([\d.]+)", float),
                                   ("sys", r"System time \(seconds\):\s+([\d.]+)", float),
                                   ("status", r"Exit status:\s+(\d+)", int)):
            m = re.search(pattern, tv)
            r[key] = conv(m.group(1)) if m else None
    with open(out_path + ".stderr", errors="replace") as f:
        r["stderr"] = f.read()[-2000:]
    return r


def proc_stat(pid: int) -> tuple[float, int | None]:
    """(CPU seconds so far, VmHWM in kB) of a running process."""
    cpu = lookup.proc_cpu(pid)
    return cpu, lookup.vm_hwm_kb(pid)


# --------------------------------------------------------------------------
# The sweep


class Poller:
    """Watches the database for the end of the sweep, read-only.

    `caad domain import` stores every new domain with next_check_at = 0, and
    every written check result moves it into the future (a lookup failure
    too, by its retry time), so no row with next_check_at = 0 is left
    exactly when every domain has been checked once. Both queries walk the
    next_check_at index: `done()` (EXISTS) reads one index entry whatever
    the size of the database; `remaining()` (count) reads the unchecked part
    of the index, so it runs only every few seconds, for the progress lines
    and the rate. The obvious `last_checked_at = 0` has no index and reads
    the whole table with its result_json (about 1.2 GB at a million domains)
    on every poll; it is run once after the sweep, to confirm."""

    EXISTS = "SELECT EXISTS (SELECT 1 FROM domain_state WHERE next_check_at = 0)"
    COUNT = "SELECT count(*) FROM domain_state WHERE next_check_at = 0"

    def __init__(self, db: str) -> None:
        self.db = db
        self.conn = None
        self.polls = 0
        self.seconds = 0.0  # wall time spent in queries
        self.errors = 0

    def _one(self, sql: str) -> int | None:
        start = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=5.0,
                                            isolation_level=None, check_same_thread=False)
            n = self.conn.execute(sql).fetchone()[0]
        except sqlite3.Error:
            self.errors += 1
            n = None
            if self.conn is not None:
                self.conn.close()
                self.conn = None
        self.seconds += time.perf_counter() - start
        self.polls += 1
        return n

    def done(self) -> bool:
        return self._one(self.EXISTS) == 0

    def remaining(self) -> int | None:
        return self._one(self.COUNT)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def run_sweep(caad: str, cfg: str, db: str, n: int, work: str, args, log_name: str = "caad-run.log") -> dict:
    log_path = os.path.join(work, log_name)
    poller = Poller(db)
    r: dict = {"log": log_path, "timeline": []}
    self_before = resource.getrusage(resource.RUSAGE_SELF)
    with open(log_path, "wb") as log:
        start = time.perf_counter()
        proc = subprocess.Popen([caad, "run", "--config", cfg, "--log-level", args.log_level],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=lookup._pdeathsig)
        r["start_wall"] = time.time()
        deadline = start + args.sweep_timeout
        last_n, last_t = n, start
        next_count = start  # when to count the rest again (progress, rate)
        next_report = start + 30.0
        eta = None  # when the sweep should end, from the last two counts
        left = n
        done_at = None
        try:
            while True:  # bounded by the deadline, or the daemon exiting
                now = time.perf_counter()
                if proc.poll() is not None:
                    r["died"] = proc.returncode
                    break
                if now >= deadline:
                    r["timed_out"] = True
                    break
                if poller.done():
                    done_at = time.perf_counter()
                    break
                now = time.perf_counter()
                if now >= next_count:
                    counted = poller.remaining()
                    now = time.perf_counter()
                    tl = r["timeline"]
                    if counted is not None:
                        if tl and tl[-1][1] > counted:
                            rate_now = (tl[-1][1] - counted) / max(now - start - tl[-1][0], 1e-9)
                            eta = now + counted / rate_now
                        tl.append((now - start, counted))
                        left = counted
                    next_count = now + COUNT_EVERY
                    if now >= next_report:
                        print("  sweep: %.0f s, %d of %d checked (%.0f domains/s lately)"
                              % (now - start, n - left, n, (last_n - left) / max(now - last_t, 1e-9)),
                              flush=True)
                        last_n, last_t, next_report = left, now, now + 30.0
                # every --poll-interval seconds; every 0.1 s from a second before the
                # predicted end, so that the end is seen within about 0.1 s, and
                # until there is a prediction (a sweep shorter than COUNT_EVERY
                # would otherwise be timed to the next whole poll interval)
                pause = args.poll_interval
                if eta is None or now + pause >= eta - 1.0:
                    pause = 0.1
                time.sleep(pause)
            r["hwm_kb"] = lookup.vm_hwm_kb(proc.pid)
            r["cpu"] = lookup.proc_cpu(proc.pid)
            r["threads_cpu"] = thread_cpu(proc.pid)
        finally:
            poller.close()
            stop_start = time.perf_counter()
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_DEADLINE)
                r["stop_time"] = time.perf_counter() - stop_start
                r["exit"] = proc.returncode
                r["stopped_in_time"] = True
            except subprocess.TimeoutExpired:
                r["stopped_in_time"] = False
                grace = 300 if args.wrap else 10  # a profiler writes its data at exit
                try:
                    proc.wait(grace)
                    r["exit"] = proc.returncode
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    r["exit"] = "killed (SIGKILL after %.0f s)" % (STOP_DEADLINE + grace)
                r["stop_time"] = time.perf_counter() - stop_start
    self_after = resource.getrusage(resource.RUSAGE_SELF)
    r["done"] = done_at is not None
    r["wall"] = (done_at - start) if done_at is not None else None
    r["polls"] = poller.polls
    r["poll_seconds"] = poller.seconds
    r["poll_errors"] = poller.errors
    r["poll_cpu"] = (self_after.ru_utime - self_before.ru_utime) + (self_after.ru_stime - self_before.ru_stime)
    r["ready_at"] = log_ready_offset(log_path, r["start_wall"])
    return r


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of the loop thread (the main thread: DNS, assessing,
    scheduling), of the database writer ("caad-db": writes, history, heartbeat),
    of the reader ("caad-db-read": due fetches, status counts) and of any other threads;
    and, from /proc/.../schedstat, the seconds each of the first three was
    ready to run but waited for a CPU ("loop_wait", "db_wait", "read_wait")."""
    out = {"loop": 0.0, "db": 0.0, "read": 0.0, "other": 0.0,
           "loop_wait": 0.0, "db_wait": 0.0, "read_wait": 0.0}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    tick = os.sysconf("SC_CLK_TCK")
    for tid in tids:
        base = "/proc/%d/task/%s/" % (pid, tid)
        try:
            with open(base + "stat") as f:
                comm, rest = f.read().split("(", 1)[1].rsplit(")", 1)
            fields = rest.split()
            kind = ("loop" if int(tid) == pid else "db" if comm == "caad-db"
                    else "read" if comm == "caad-db-read" else "other")
            out[kind] += (int(fields[11]) + int(fields[12])) / tick
            if kind != "other":
                with open(base + "schedstat") as f:
                    out[kind + "_wait"] += int(f.read().split()[1]) / 1e9
        except (OSError, ValueError, IndexError):
            continue
    return out


def log_ready_offset(path: str, start_wall: float) -> float | None:
    """Seconds from the daemon's start to its "caad: ready" log line."""
    try:
        with open(path, errors="replace") as f:
            for line in f:
                if "caad: ready" in line:
                    m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{3})", line)
                    if not m:
                        return None
                    t = time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")) + int(m.group(2)) / 1000
                    return t - start_wall
    except OSError:
        pass
    return None


def log_pauses(lines: list[str], min_gap: float = 0.5) -> list[tuple[float, float]]:
    """(seconds since the first line, length) of each pause of at least
    min_gap seconds between consecutive timestamped log lines. In this world
    about one domain in five is denied and logs a regression event on its
    first check, so the event lines sample the sweep's progress finely; a
    pause means no check finished in that time."""
    stamps = []
    for line in lines:
        m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{3}) ", line)
        if m:
            stamps.append(time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")) + int(m.group(2)) / 1000)
    return [(stamps[i] - stamps[0], stamps[i + 1] - stamps[i]) for i in range(len(stamps) - 1)
            if stamps[i + 1] - stamps[i] >= min_gap]


def read_db(db: str, expected: dict[str, tuple[str, str]]) -> dict:
    """What the database holds after the sweep (read-only)."""
    conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30.0)
    try:
        q = lambda sql: conn.execute(sql).fetchall()  # noqa: E731
        r = {
            "domains": q("SELECT count(*) FROM domains")[0][0],
            "unchecked": q("SELECT count(*) FROM domain_state WHERE last_checked_at = 0")[0][0],
            "verdicts": dict(q("SELECT verdict, count(*) FROM domain_state GROUP BY verdict")),
            "exposures": dict(q("SELECT exposure, count(*) FROM domain_state WHERE verdict <> '' "
                                "GROUP BY exposure")),
            "failures": dict(q("SELECT coalesce(failure_kind, '?'), count(*) FROM domain_state "
                               "WHERE verdict = 'lookup_failed' GROUP BY 1")),
            "history": q("SELECT count(*) FROM check_history")[0][0],
            "history_subjects": q("SELECT count(DISTINCT subject) FROM check_history")[0][0],
            # Every check is counted once: in the run going on (domain_state)
            # or in a finished run (check_history); schema/0005_history_runs.sql.
            "checks_counted": q("SELECT coalesce(sum(run_checks), 0) FROM domain_state")[0][0]
                              + q("SELECT coalesce(sum(checks), 0) FROM check_history")[0][0],
            "events": dict(q("SELECT kind, count(*) FROM events GROUP BY kind")),
            "outbox": q("SELECT count(*) FROM outbox")[0][0],
            "targets": q("SELECT name, verdict FROM provider_targets"),
            "state_json_bytes": q("SELECT coalesce(sum(length(result_json)), 0) FROM domain_state")[0][0],
        }
        mismatches = []
        for name, wildcard, verdict, exposure in conn.execute(
                "SELECT d.name, d.wildcard, s.verdict, s.exposure FROM domains AS d "
                "JOIN domain_state AS s ON s.domain_id = d.id"):
            if verdict == "lookup_failed":
                continue
            want = expected.get(("*." if wildcard else "") + name)
            if want is None:
                mismatches.append("%s: not one of the generated domains" % name)
            elif (verdict, exposure) != want:
                mismatches.append("%s: %s/%s, expected %s/%s" % (name, verdict, exposure, *want))
        r["mismatches"] = mismatches
    finally:
        conn.close()
    return r


def file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def fmt_mb(kb):
    return "n/a" if kb is None else "%.1f MB" % (kb / 1024.0)


def fmt_counts(d: dict) -> str:
    return ", ".join("%s %d" % (k or "(none)", v) for k, v in sorted(d.items())) or "none"


def rate(n: int, seconds) -> str:
    return "n/a" if not seconds else "%.0f domains/s" % (n / seconds)


# --------------------------------------------------------------------------
# Main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--domains", type=int, default=1_000_000, help="customer domains (default 1000000)")
    ap.add_argument("--quick", action="store_true", help="20,000 domains, to try the script")
    ap.add_argument("--zones", type=int, default=None,
                    help="customer zones (default: domains/250, at least 10)")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--caad", default=os.environ.get("CAAD_BIN", os.path.join(ROOT, "build", "bin", "caad")),
                    help="caad binary (default build/bin/caad or $CAAD_BIN)")
    ap.add_argument("--concurrency", type=int, default=256,
                    help="lookups in flight, for caad check and the daemon alike (default 256, caad's default)")
    ap.add_argument("--batch-size", type=int, default=500,
                    help="the daemon's batch_size: due domains taken and results written at once "
                         "(default 500, caad's default)")
    ap.add_argument("--log-level", default="info", choices=["debug", "info", "warn", "error"],
                    help="the daemon's log level during the sweep (debug: a line per check)")
    ap.add_argument("--poll-interval", type=float, default=1.0,
                    help="seconds between database polls during the sweep (default 1)")
    ap.add_argument("--sweep-timeout", type=float, default=SWEEP_TIMEOUT,
                    help="stop the sweep after this many seconds (default %d)" % SWEEP_TIMEOUT)
    ap.add_argument("--unbound-threads", type=int, default=1, help="unbound num-threads (default 1)")
    ap.add_argument("--cache-size", default=UNBOUND_OPTIONS["msg-cache-size"],
                    help="unbound msg-cache-size and rrset-cache-size (default %(default)s)")
    ap.add_argument("--wrap", default="",
                    help="diagnostic: run the measured caad check and caad run under this command prefix, e.g. "
                         "'valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%%p' (it must exec caad in "
                         "the same process); times and RSS then describe the wrapper, not caad")
    ap.add_argument("--keep", action="store_true", help="keep the work directory and the world's")
    ap.add_argument("--no-second-sweep", action="store_true",
                    help="skip the second sweep (every domain due again, each result as before)")
    args = ap.parse_args()
    if args.quick:
        args.domains = 20_000
    if args.domains < 10:
        ap.error("--domains must be >= 10")
    if not 0.1 <= args.poll_interval <= 2.0:
        ap.error("--poll-interval must be 0.1 to 2 seconds")
    n_zones = args.zones or max(10, args.domains // 250)
    if not (os.path.isfile(args.caad) and os.access(args.caad, os.X_OK)):
        print("no caad binary at %s: build it with ./tools/build" % args.caad, file=sys.stderr)
        return 2
    for tool in (dnsworld.NSD, dnsworld.UNBOUND):
        if not shutil.which(tool):
            print("%s is not installed" % tool, file=sys.stderr)
            return 2

    dnsworld.install_signal_cleanup()  # SIGTERM/SIGINT/SIGHUP stop the servers and exit
    work = tempfile.mkdtemp(prefix="caad-sweep-")
    if not args.keep:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            then = signal.getsignal(sig)
            if callable(then):
                def remove_work_then(signum, frame, then=then):
                    shutil.rmtree(work, ignore_errors=True)
                    then(signum, frame)
                signal.signal(sig, remove_work_then)
    try:
        return bench(args, n_zones, work)
    finally:
        if args.keep:
            print("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


def bench(args, n_zones: int, work: str) -> int:
    t_all = time.perf_counter()
    t0 = time.perf_counter()
    zones, domains, model, mix = lookup.generate(args.domains, n_zones, args.seed)
    names_path, csv_path, plain_path, plain_lines, expected, expected_counts = \
        write_inputs(work, domains, model, args.seed)
    n = len(domains)
    records = sum(len(rrs) for z in zones for rrs in z.records.values())
    print("world: %d domains in %d customer zones, %d records; generated in %.1f s"
          % (n, n_zones, records, time.perf_counter() - t0))
    print("mix: " + ", ".join("%s %d" % (k, mix[k]) for k, _ in lookup.MIX))
    print("expected verdicts: " + fmt_counts(expected_counts), flush=True)

    options = dict(UNBOUND_OPTIONS)
    options["msg-cache-size"] = options["rrset-cache-size"] = args.cache_size
    options["num-threads"] = args.unbound_threads
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    world = lookup.BenchWorld(zones, unbound_options=options, start_deadline=900.0, keep_dir=args.keep or None)
    with world as w:
        t_world = time.perf_counter() - t0
        print("servers: NSD 127.0.0.1:%d, unbound %s (%d thread%s, caches %s); started in %.1f s"
              % (w.nsd_port, w.resolver, args.unbound_threads, "" if args.unbound_threads == 1 else "s",
                 args.cache_size, t_world), flush=True)
        cfg, db = write_config(work, w.resolver, args)

        # ---- import
        imp = timed([args.caad, "domain", "import", "--config", cfg, csv_path],
                    os.path.join(work, "import.out"), IMPORT_TIMEOUT)
        imp_lines = 0
        imp_report = ""
        with open(os.path.join(work, "import.out"), errors="replace") as f:
            for line in f:  # one line per domain added, then the totals
                imp_lines += 1
                imp_report = line.strip() or imp_report
        imp_report = "%s (%d lines of output)" % (imp_report, imp_lines)
        print("import: %.2f s, %s, exit %s, peak RSS %s: %s"
              % (imp["wall"], rate(n, imp["wall"]), imp["status"], fmt_mb(imp["rss_kb"]), imp_report),
              flush=True)
        if imp["status"] != 0:
            print("caad domain import failed:\n%s" % imp["stderr"], file=sys.stderr)
            return 1
        db_after_import = file_size(db) + file_size(db + "-wal")

        # ---- warm-up: every answer the measured runs need into unbound's cache
        ub = w.unbound.pid
        nsd_pgid = w.nsd.pgid
        ub0, nsd0 = lookup.proc_cpu(ub), proc_group_cpu(nsd_pgid)
        t0 = t_warm = time.perf_counter()
        if shutil.which("dnsperf"):
            d = lookup.run_dnsperf(w.resolver_port, plain_path, 8, 1000, 1, True, os.path.join(work, "dnsperf.log"))
            how = "dnsperf, %d queries (plain list), %s lost, rcodes %s" % (d["sent"], d["lost"], d["rcodes"])
        else:
            c = lookup.run_caad(args.caad, w.resolver, names_path, os.path.join(work, "warm.jsonl"),
                                args.concurrency, [])
            how = "caad check (no dnsperf), exit %s" % c["status"]
        print("warm-up: %s in %.1f s; unbound CPU %.1f s, NSD CPU %.1f s"
              % (how, time.perf_counter() - t0, lookup.proc_cpu(ub) - ub0, proc_group_cpu(nsd_pgid) - nsd0),
              flush=True)

        measured = args.caad
        if args.wrap:  # a script that execs the prefix, so that the pid stays the wrapper's
            measured = os.path.join(work, "caad-wrapped")
            with open(measured, "w") as f:
                f.write("#!/bin/sh\nexec %s %s \"$@\"\n" % (args.wrap, shlex.quote(os.path.abspath(args.caad))))
            os.chmod(measured, 0o755)
            print("diagnostic: measured runs wrapped in: %s" % args.wrap)

        # ---- (a) caad check --file
        ub0, nsd0 = lookup.proc_cpu(ub), proc_group_cpu(nsd_pgid)
        out_path = os.path.join(work, "check.jsonl")
        chk = lookup.run_caad(measured, w.resolver, names_path, out_path, args.concurrency, [])
        chk["unbound_cpu"] = lookup.proc_cpu(ub) - ub0
        chk["nsd_cpu"] = proc_group_cpu(nsd_pgid) - nsd0
        chk.update(lookup.read_results(out_path, {k + ".": v for k, v in expected.items()}))
        print("check: %.2f s, %s, exit %s, peak RSS %s, CPU user %.1f s sys %.1f s; unbound CPU %.1f s, "
              "NSD CPU %.1f s" % (chk["wall"], rate(n, chk["wall"]), chk["status"], fmt_mb(chk["rss_kb"]),
                                  chk["user"] or 0, chk["sys"] or 0, chk["unbound_cpu"], chk["nsd_cpu"]),
              flush=True)
        os.remove(out_path)  # hundreds of MB at a million domains; the counts are kept

        # ---- (b) caad run, until every stored domain has been checked once
        ub0, nsd0 = lookup.proc_cpu(ub), proc_group_cpu(nsd_pgid)
        print("sweep: caad run --config %s --log-level %s" % (cfg, args.log_level), flush=True)
        sw = run_sweep(measured, cfg, db, n, work, args)
        sw["unbound_cpu"] = lookup.proc_cpu(ub) - ub0
        sw["nsd_cpu"] = proc_group_cpu(nsd_pgid) - nsd0
        print("sweep: %s, exit %s after SIGTERM in %.2f s; peak RSS %s, CPU %.1f s (%s); unbound CPU %.1f s, "
              "NSD CPU %.1f s"
              % ("%.2f s" % sw["wall"] if sw["done"] else "NOT DONE", sw.get("exit"), sw.get("stop_time", 0),
                 fmt_mb(sw.get("hwm_kb")), sw.get("cpu") or 0,
                 ", ".join("%s %.1f s" % kv for kv in sorted(sw.get("threads_cpu", {}).items())),
                 sw["unbound_cpu"], sw["nsd_cpu"]), flush=True)
        # ---- (c) the same again, as the daily cadence does: every stored domain
        # due at once, each result found before (nothing new to write but times)
        sw2 = None
        if not args.no_second_sweep and sw["done"]:
            con = sqlite3.connect(db, timeout=30)
            try:
                con.execute("UPDATE domain_state SET next_check_at = 0")
                con.commit()
            finally:
                con.close()
            ub0, nsd0 = lookup.proc_cpu(ub), proc_group_cpu(nsd_pgid)
            print("second sweep: every domain due again", flush=True)
            sw2 = run_sweep(measured, cfg, db, n, work, args, "caad-run-second.log")
            sw2["unbound_cpu"] = lookup.proc_cpu(ub) - ub0
            print("second sweep: %s, exit %s; peak RSS %s, CPU %.1f s (%s); unbound CPU %.1f s"
                  % ("%.2f s" % sw2["wall"] if sw2["done"] else "NOT DONE", sw2.get("exit"),
                     fmt_mb(sw2.get("hwm_kb")), sw2.get("cpu") or 0,
                     ", ".join("%s %.1f s" % kv for kv in sorted(sw2.get("threads_cpu", {}).items())),
                     sw2["unbound_cpu"]), flush=True)
        warm_age = time.perf_counter() - t_warm
    load_after = os.getloadavg()

    dbr = read_db(db, expected)
    db_size, wal_size = file_size(db), file_size(db + "-wal")
    with open(sw["log"], errors="replace") as f:
        log_lines = f.readlines()
    log_levels: dict[str, int] = {}
    for line in log_lines:
        m = re.match(r"\S+ \S+ (\w+):", line)
        if m:
            log_levels[m.group(1)] = log_levels.get(m.group(1), 0) + 1
    if args.keep:
        print("daemon log: %s" % sw["log"])

    # ---- summary
    print()
    print("== Daemon sweep (issue 4): %d domains, %d customer zones; %s; %d CPUs; load average %.2f before, "
          "%.2f after; total %.0f s"
          % (n, n_zones, time.strftime("%Y-%m-%d %H:%M"), os.cpu_count() or 0, load_before[0], load_after[0],
             time.perf_counter() - t_all))
    print("caad: %s; concurrency %d, batch_size %d" % (args.caad, args.concurrency, args.batch_size))
    print("import:  %.2f s, %s; peak RSS %s; database %.1f MB after the import"
          % (imp["wall"], rate(n, imp["wall"]), fmt_mb(imp["rss_kb"]), db_after_import / 1e6))
    print("check:   %.2f s, %s; peak RSS %s [%s]; CPU user %.1f s + sys %.1f s"
          % (chk["wall"], rate(n, chk["wall"]), fmt_mb(chk["rss_kb"]), chk["rss_via"], chk["user"] or 0,
             chk["sys"] or 0))
    if sw["done"]:
        print("sweep:   %.2f s, %s (from exec to the poll that saw every domain checked; polls every %.1f s, "
              "0.1 s in the first %.0f s and near the end); ready after %s"
              % (sw["wall"], rate(n, sw["wall"]), args.poll_interval, COUNT_EVERY,
                 "n/a" if sw["ready_at"] is None else "%.2f s" % sw["ready_at"]))
    else:
        print("sweep:   NOT DONE (%s)" % ("timed out after %.0f s" % args.sweep_timeout if sw.get("timed_out")
                                          else "caad run exited with %s" % sw.get("died")))
    thr = sw.get("threads_cpu", {})
    print("         daemon CPU %.1f s (%s); unbound CPU %.1f s, NSD CPU %.1f s (check: unbound %.1f s, NSD %.1f s)"
          % (sw.get("cpu") or 0, ", ".join("%s %.1f s" % kv for kv in sorted(thr.items())),
             sw["unbound_cpu"], sw["nsd_cpu"], chk["unbound_cpu"], chk["nsd_cpu"]))
    chk_cpu = (chk["user"] or 0) + (chk["sys"] or 0)
    loop_cpu = thr.get("loop", 0.0)
    pool_cpu = thr.get("db", 0.0) + thr.get("read", 0.0) + thr.get("other", 0.0)
    if chk_cpu and sw.get("cpu"):
        # What an otherwise idle 2-core machine allows: each thread needs its own CPU
        # time, and caad plus unbound cannot use more than two cores together.
        bound_chk = max(chk_cpu, (chk_cpu + chk["unbound_cpu"]) / 2)
        bound_sw = max(loop_cpu, thr.get("db", 0.0), thr.get("read", 0.0),
                       (loop_cpu + pool_cpu + sw["unbound_cpu"]) / 2)
        print("         CPU per domain: check %.0f us, daemon %.0f us (loop %.0f + db and others %.0f) = %.2fx; "
              "lower bound on an idle 2-core machine: check %.1f s, sweep %.1f s (%+.0f %%)"
              % (1e6 * chk_cpu / n, 1e6 * sw["cpu"] / n, 1e6 * loop_cpu / n, 1e6 * pool_cpu / n,
                 sw["cpu"] / chk_cpu, bound_chk, bound_sw, 100 * (bound_sw / bound_chk - 1)))
    pauses = log_pauses(log_lines)
    if pauses:
        starts = [at for at, _ in pauses]
        spacing = sorted(b - a for a, b in zip(starts, starts[1:]))
        print("         pauses >= 0.5 s between the daemon's log lines: %d, %.1f s in all (%.0f %% of the sweep), "
              "longest %.2f s%s"
              % (len(pauses), sum(g for _, g in pauses), 100 * sum(g for _, g in pauses) / (sw["wall"] or 1),
                 max(g for _, g in pauses),
                 ", one every %.1f s (median)" % spacing[len(spacing) // 2] if spacing else ""))
    print("         polling: %d queries, %.2f s in them, %.2f s CPU of this script during the sweep%s"
          % (sw["polls"], sw["poll_seconds"], sw["poll_cpu"],
             ", %d errors" % sw["poll_errors"] if sw["poll_errors"] else ""))
    rc = 0
    if sw["done"]:
        overhead = sw["wall"] / chk["wall"] - 1.0
        print("overhead of the database: sweep / check - 1 = %+.1f %% (target < %.0f %%): %s"
              % (100 * overhead, 100 * TARGET_OVERHEAD, "PASS" if overhead < TARGET_OVERHEAD else "MISS"))
    else:
        print("overhead of the database: n/a (the sweep did not finish): MISS")
    if sw2 is not None and sw2["done"]:
        overhead2 = sw2["wall"] / chk["wall"] - 1.0
        thr2 = sw2.get("threads_cpu", {})
        print("second sweep: %.2f s, %s; daemon CPU %.1f s (loop %.1f s, db %.1f s, read %.1f s, other %.1f s; "
              "waiting for a CPU: loop %.1f s, db %.1f s, read %.1f s); overhead %+.1f %% (target < %.0f %%): %s"
              % (sw2["wall"], rate(n, sw2["wall"]), sw2.get("cpu") or 0, thr2.get("loop", 0.0),
                 thr2.get("db", 0.0), thr2.get("read", 0.0), thr2.get("other", 0.0),
                 thr2.get("loop_wait", 0.0), thr2.get("db_wait", 0.0), thr2.get("read_wait", 0.0),
                 100 * overhead2, 100 * TARGET_OVERHEAD,
                 "PASS" if overhead2 < TARGET_OVERHEAD else "MISS"))
    hwm = max(sw.get("hwm_kb") or 0, (sw2 or {}).get("hwm_kb") or 0) or None
    print("peak RSS: daemon %s [VmHWM before SIGTERM] (target < 150 MB): %s; check %s"
          % (fmt_mb(hwm), "PASS" if hwm is not None and hwm < TARGET_RSS_KB else "MISS", fmt_mb(chk["rss_kb"])))
    if n < 1_000_000:
        print("    (the targets are for 1,000,000 domains; this run has %d)" % n)
    print("stop: SIGTERM -> exit %s in %.2f s (must be 0 within %.0f s): %s"
          % (sw.get("exit"), sw.get("stop_time", 0), STOP_DEADLINE,
             "ok" if sw.get("exit") == 0 and sw.get("stopped_in_time") else "NOT OK"))
    print("database: %.1f MB + WAL %.1f MB; %d domains, %d checks in the history (%d finished runs, "
          "%d subjects), events %s, %d outbox rows; result_json in domain_state %.1f MB"
          % (db_size / 1e6, wal_size / 1e6, dbr["domains"], dbr["checks_counted"], dbr["history"],
             dbr["history_subjects"], fmt_counts(dbr["events"]), dbr["outbox"], dbr["state_json_bytes"] / 1e6))
    print("    provider targets: %s; daemon log: %d lines (%s)"
          % (", ".join("%s %s" % t for t in dbr["targets"]) or "none", len(log_lines), fmt_counts(log_levels)))

    # ---- sanity
    db_verdicts = {k: v for k, v in dbr["verdicts"].items() if k}
    chk_verdicts = chk["verdicts"]
    same = db_verdicts == chk_verdicts
    print("verdicts: database %s; check %s; world %s: %s"
          % (fmt_counts(db_verdicts), fmt_counts(chk_verdicts), fmt_counts(expected_counts),
             "match" if same and db_verdicts == expected_counts else "DIFFER"))
    print("exposure (database): %s" % fmt_counts(dbr["exposures"]))
    if dbr["unchecked"]:
        print("WARNING: %d domains were never checked (last_checked_at = 0)" % dbr["unchecked"])
    sweeps = 2 if sw2 is not None and sw2["done"] else 1
    if dbr["checks_counted"] != sweeps * n:
        print("WARNING: the history counts %d checks for %d domains and %d sweep(s): %s"
              % (dbr["checks_counted"], n, sweeps,
                 "some were checked more than once" if dbr["checks_counted"] > sweeps * n else "checks missing"))
    for what, failures, count in (("database", dbr["failures"], db_verdicts.get("lookup_failed", 0)),
                                  ("check", chk["failures"], chk_verdicts.get("lookup_failed", 0))):
        if count:
            print("WARNING: %d lookup_failed in the %s (%s): the resolver was overloaded or dropped queries"
                  % (count, what, fmt_counts(failures)))
    for what, mism in (("database", dbr["mismatches"]), ("check", chk["mismatches"])):
        if mism:
            print("WARNING: %d %s results differ from what the world implies, e.g.:" % (len(mism), what))
            for m in mism[:5]:
                print("      " + m)
    if chk["lines"] != n or chk["missing"]:
        print("WARNING: check printed %d result lines for %d domains, %d domains missing"
              % (chk["lines"], n, chk["missing"]))
    if chk["status"] not in (0, 1, 2):
        print("WARNING: caad check exit status %s:\n%s" % (chk["status"], chk["stderr"]))
        rc = 1
    if not sw["done"] or sw.get("exit") != 0:
        tail = "".join(log_lines[-20:])
        print("daemon log (last lines):\n%s" % tail)
        rc = 1
    if warm_age > min(dnsworld.DEFAULT_TTL, dnsworld.NEGATIVE_TTL):
        print("WARNING: %.0f s from the warm-up to the end of the sweep, longer than the world's TTLs (%d s): "
              "answers expired in unbound's cache during the measured runs" % (warm_age, dnsworld.DEFAULT_TTL))
    if chk["nsd_cpu"] > 1.0 or sw["nsd_cpu"] > 1.0:
        print("WARNING: NSD used CPU during a measured run: unbound's cache did not hold the whole world "
              "(raise --cache-size)")
    return rc


if __name__ == "__main__":
    sys.exit(main())
