#!/usr/bin/env python3
"""Summary benchmark for `caad-status` (issue 6: "one with 1,000,000 domains
where the summary answers in under a second").

Builds a database of N domains (1,000,000 by default) and times caad-status
on it:

  summary   caad-status --db DB            (the one-screen summary)
  json      caad-status --db DB --json
  check     caad-status --db DB --check    (the monitoring plugin)
  list      caad-status --db DB list --failing --sort renewal --limit 20

How the database is made. The domains go in through `caad domain import`
(the store's own upsert, one transaction, schema and migrations by the real
code). The state of each domain is what the daemon writes after a sweep: a
domain_state row per domain with result_json in check::to_json's format
and a run of one check (a first sweep ends no run, so check_history stays
empty; schema/0005_history_runs.sql), and for each denied or failing domain a
regression or lookup_failure event with its outbox row. Those rows are
written with SQL from templates that are verbatim result_json values the
daemon's code produced (tests/unit/status_fixture.h's scenario), with the
name substituted, because running a real sweep of a million names needs the
DNS world of bench/sweep (minutes of set-up) and would measure nothing more
for caad-status, which only reads the rows. Shares: 2 % denied, 1 %
lookup_failed, 2 % never checked, 30 % pinned, the rest exposed and
permitted; renewals spread from 5 days past to 90 days ahead, 20 % with only
not_after and 5 % with no date.

It prints the median, min and max wall time of --repeat runs of each command
and the median CPU time (user + sys; the figure to trust on a loaded
machine). The page cache is warm: the database was just written and is
read once before timing. A benchmark prints figures; it never fails on them (exit
status 0 unless something could not run at all).

    python3 bench/status/run.py                          # 1,000,000 domains
    python3 bench/status/run.py --domains 20000          # quick try
    python3 bench/status/run.py --keep /tmp/caad-1m.db   # keep the database

--with-verdict-index adds CREATE INDEX domain_state_verdict ON
domain_state (verdict, exposure) first: the schema has no index on the
verdict, so without it the counts and the at-risk query each read every
domain_state row (result_json included, about 1 KB each); with it both read
the index only.

Standard library only. Needs build/bin/caad and build/bin/caad-status (or
--bin-dir).
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DAY = 86400

# result_json templates: check::to_json output as the daemon stored it for
# one permitted-exposed, one pinned, one denied and one failed domain
# (@D@ stands for the domain's name).
PERMITTED = (
    '{"cas":[{"behaviour":"strictest","ca":"letsencrypt","deciding_record":null,"divergence":null,'
    '"issuer":"letsencrypt.org","outcome":"no_records","reason":"No CAA records apply to @D@, so any '
    'CA, letsencrypt.org included, may issue for it.","verdict":"permitted"}],"cname_chain":'
    '["t.provider.test"],"domain":"@D@","exposure":"exposed","failure":null,"found_at":null,'
    '"nxdomain_tld":null,"queries":1,"reason":"No CAA records apply to @D@, so any CA, '
    'letsencrypt.org included, may issue for it.","records":[],"relevant_owner":null,'
    '"verdict":"permitted","wildcard":false}'
)
PINNED = (
    '{"cas":[{"behaviour":"strictest","ca":"letsencrypt","deciding_record":{"index":0,"record":'
    '"0 issue \\"letsencrypt.org\\""},"divergence":null,"issuer":"letsencrypt.org","outcome":'
    '"authorized","reason":"The CAA record `0 issue \\"letsencrypt.org\\"` at t.provider.test allows '
    'letsencrypt.org to issue for @D@.","verdict":"permitted"}],"cname_chain":["t.provider.test"],'
    '"domain":"@D@","exposure":"pinned","failure":null,"found_at":"@D@","nxdomain_tld":null,'
    '"queries":1,"reason":"The CAA record `0 issue \\"letsencrypt.org\\"` at t.provider.test allows '
    'letsencrypt.org to issue for @D@.","records":["0 issue \\"letsencrypt.org\\""],'
    '"relevant_owner":"t.provider.test","verdict":"permitted","wildcard":false}'
)
DENIED = (
    '{"cas":[{"behaviour":"strictest","ca":"letsencrypt","deciding_record":{"index":0,"record":'
    '"0 issue \\"digicert.com\\""},"divergence":null,"issuer":"letsencrypt.org","outcome":'
    '"not_authorized","reason":"The CAA records at @P@ allow only digicert.com to issue for @D@, not '
    'letsencrypt.org; add `0 issue \\"letsencrypt.org\\"` at @P@ to allow it.","verdict":"denied"}],'
    '"cname_chain":["t.provider.test"],"domain":"@D@","exposure":"exposed","failure":null,'
    '"found_at":"@P@","nxdomain_tld":null,"queries":2,"reason":"The CAA records at @P@ allow only '
    'digicert.com to issue for @D@, not letsencrypt.org; add `0 issue \\"letsencrypt.org\\"` at @P@ '
    'to allow it.","records":["0 issue \\"digicert.com\\""],"relevant_owner":"@P@","verdict":"denied",'
    '"wildcard":false}'
)
FAILED = (
    '{"cas":[{"ca":"letsencrypt","deciding_record":null,"divergence":null,"issuer":"letsencrypt.org",'
    '"outcome":null,"reason":"caad could not find out which CAA records apply to @D@: 127.0.0.1:53 '
    'answered SERVFAIL for CAA @P@ (servfail at @P@); a CA refuses to issue while this lasts.",'
    '"verdict":"lookup_failed"}],"cname_chain":[],"domain":"@D@","exposure":"exposed","failure":'
    '{"detail":"127.0.0.1:53 answered SERVFAIL for CAA @P@","kind":"servfail","name":"@P@","server":'
    '"127.0.0.1:53"},"found_at":null,"nxdomain_tld":null,"queries":1,"reason":"caad could not find out '
    'which CAA records apply to @D@: 127.0.0.1:53 answered SERVFAIL for CAA @P@ (servfail at @P@); a '
    'CA refuses to issue while this lasts.","records":[],"relevant_owner":null,'
    '"verdict":"lookup_failed","wildcard":false}'
)


def rfc3339(t: int) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(db: str, n: int, caad: str, now: int, work: str) -> None:
    config = os.path.join(work, "caad.toml")
    with open(config, "w") as f:
        f.write(f'database = "{db}"\n')
    csv = os.path.join(work, "domains.csv")
    with open(csv, "w") as f:
        f.write("name,renew_at,not_after\n")
        for i in range(n):
            renewal = now - 5 * DAY + (i * 7919) % (95 * DAY)
            bucket = i % 20
            if bucket == 0:  # 5 %: no date
                f.write(f"d{i}.c{i // 250}.test,,\n")
            elif bucket <= 4:  # 20 %: only not_after (renewal = not_after - 30d)
                f.write(f"d{i}.c{i // 250}.test,,{rfc3339(renewal + 30 * DAY)}\n")
            else:
                f.write(f"d{i}.c{i // 250}.test,{rfc3339(renewal)},\n")
    t0 = time.perf_counter()
    subprocess.run([caad, "domain", "import", csv, "--config", config], check=True,
                   stdout=subprocess.DEVNULL)
    print(f"import ({n:,} domains, caad domain import): {time.perf_counter() - t0:.1f} s", flush=True)

    t0 = time.perf_counter()
    con = sqlite3.connect(db)
    con.execute("PRAGMA foreign_keys = ON")
    # Buckets by id % 100: 0-1 denied, 2 lookup_failed, 3-4 never checked,
    # 5-34 pinned, the rest exposed and permitted.
    con.execute(
        """
        UPDATE domain_state SET
          verdict = CASE WHEN domain_id % 100 < 2 THEN 'denied'
                         WHEN domain_id % 100 = 2 THEN 'lookup_failed'
                         ELSE 'permitted' END,
          exposure = CASE WHEN domain_id % 100 BETWEEN 5 AND 34 THEN 'pinned' ELSE 'exposed' END,
          relevant_owner = CASE WHEN domain_id % 100 BETWEEN 5 AND 34 THEN 't.provider.test'
                                WHEN domain_id % 100 < 2 THEN
                                  (SELECT substr(name, instr(name, '.') + 1) FROM domains WHERE id = domain_id)
                                END,
          failure_kind = CASE WHEN domain_id % 100 = 2 THEN 'servfail' END,
          result_json = replace(replace(
              CASE WHEN domain_id % 100 < 2 THEN :denied
                   WHEN domain_id % 100 = 2 THEN :failed
                   WHEN domain_id % 100 BETWEEN 5 AND 34 THEN :pinned
                   ELSE :permitted END,
              '@D@', (SELECT name FROM domains WHERE id = domain_id)),
              '@P@', (SELECT substr(name, instr(name, '.') + 1) FROM domains WHERE id = domain_id)),
          last_checked_at = :now - domain_id % 86400,
          changed_at = :now - 7 * 86400 + domain_id % (7 * 86400),
          next_check_at = :now + 3600 + domain_id % 86400,
          consecutive_failures = CASE WHEN domain_id % 100 = 2 THEN 1 ELSE 0 END,
          run_started_at = :now - domain_id % 86400,
          run_checks = 1
        WHERE domain_id % 100 NOT IN (3, 4)
        """,
        {"denied": DENIED, "failed": FAILED, "pinned": PINNED, "permitted": PERMITTED, "now": now},
    )
    con.execute("UPDATE domain_state SET reason = json_extract(result_json, '$.reason') "
                "WHERE result_json <> ''")
    con.execute(
        "INSERT INTO events (subject, kind, severity, at, data_json) "
        "SELECT d.name, CASE s.verdict WHEN 'denied' THEN 'regression' ELSE 'lookup_failure' END, "
        "'warning', s.changed_at, json_object('domain', d.name, 'verdict', s.verdict, "
        "'reason', s.reason) FROM domain_state AS s JOIN domains AS d ON d.id = s.domain_id "
        "WHERE s.verdict IN ('denied', 'lookup_failed')")
    con.execute(
        "INSERT INTO outbox (event_id, endpoint, state, attempts, next_attempt_at, created_at) "
        "SELECT id, 'ops', CASE WHEN id % 50 = 0 THEN 'pending' ELSE 'delivered' END, 1, at, at "
        "FROM events")
    con.execute(
        "INSERT INTO provider_targets (name, verdict, exposure, relevant_owner, reason, result_json, "
        "last_checked_at, changed_at, next_check_at) VALUES ('t.provider.test', 'permitted', "
        "'exposed', 't.provider.test', 'ok', '', :now - 60, :now - 86400, :now + 240)", {"now": now})
    con.execute("UPDATE daemon SET pid = 1, heartbeat_at = :now - 5, last_sweep_at = :now - 5, "
                "status_line = 'benchmark'", {"now": now})
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    size = os.path.getsize(db)
    print(f"state, events, outbox rows (SQL): {time.perf_counter() - t0:.1f} s; "
          f"database {size / 1e9:.2f} GB", flush=True)


def time_command(argv: list[str], repeat: int) -> tuple[float, float, float, float, str]:
    """Median, min and max wall time, median CPU time (user + sys) and the output."""
    first = subprocess.run(argv, capture_output=True, text=True)  # warm the page cache
    if first.returncode not in (0, 1, 2):
        raise SystemExit(f"{' '.join(argv)} failed ({first.returncode}): {first.stderr.strip()}")
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), min(walls), max(walls), statistics.median(cpus), first.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--domains", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--bin-dir", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--keep", help="write the database here and keep it")
    ap.add_argument("--reuse", help="time an existing database instead of building one")
    ap.add_argument("--with-verdict-index", action="store_true",
                    help="first add the index a future migration could add, "
                         "domain_state (verdict, exposure), and time with it")
    args = ap.parse_args()

    caad = os.path.join(args.bin_dir, "caad")
    status = os.path.join(args.bin_dir, "caad-status")
    for b in (caad, status):
        if not os.access(b, os.X_OK):
            raise SystemExit(f"{b} is missing; build first (./tools/build) or pass --bin-dir")

    work = tempfile.mkdtemp(prefix="caad-status-bench-")
    try:
        now = int(time.time())
        if args.reuse:
            db = args.reuse
        else:
            db = args.keep or os.path.join(work, "caad.db")
            if os.path.exists(db):
                raise SystemExit(f"{db} exists; remove it or use --reuse")
            build(db, args.domains, caad, now, work)

        if args.with_verdict_index:
            t0 = time.perf_counter()
            con = sqlite3.connect(db)
            con.execute("CREATE INDEX IF NOT EXISTS domain_state_verdict "
                        "ON domain_state (verdict, exposure)")
            con.commit()
            con.close()
            print(f"index domain_state (verdict, exposure): {time.perf_counter() - t0:.1f} s")
        print(f"\ncaad-status on {db} (median of {args.repeat}, warm page cache)")
        print(f"{'command':<56} {'median':>8} {'min':>8} {'max':>8} {'cpu':>8}")
        target = None
        for label, extra in [
            ("caad-status", []),
            ("caad-status --json", ["--json"]),
            ("caad-status --check", ["--check"]),
            ("caad-status list --failing --sort renewal --limit 20", ["list", "--failing", "--sort", "renewal", "--limit", "20"]),
        ]:
            med, lo, hi, cpu, out = time_command([status, "--db", db] + extra, args.repeat)
            print(f"{label:<56} {med:>7.3f}s {lo:>7.3f}s {hi:>7.3f}s {cpu:>7.3f}s", flush=True)
            if label == "caad-status":
                target = med
            if label == "caad-status --check":
                check_line = out.strip()
        print(f"\n--check: {check_line}")
        verdict = "PASS" if target is not None and target < 1.0 else "MISS"
        print(f"summary under one second: {verdict} ({target:.3f} s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
